//! Where NetworkAttachmentDefinitions come from: the seam [`resolve_with`]
//! reads them through.
//!
//! * [`kube::Client`]: a live GET per NAD ([`get_nad`]), what the thin
//!   plugin does;
//! * the informer's cache in the thick daemon (`informers::NadCache`, feature
//!   `runtime`), with a live GET when the cache misses;
//! * a [`BTreeMap`] keyed by `(namespace, name)`, or a slice or `Vec` of
//!   NADs: tests and embedders that hold the objects already.
//!
//! Every source answers the same [`Error::NadGet`] texts, "not found"
//! included, so plans and messages do not depend on where NADs come from.
//!
//! ```
//! # async fn demo() -> Result<(), multus_k8s::Error> {
//! use std::collections::BTreeMap;
//! use multus_k8s::nad::NetworkAttachmentDefinition;
//! use multus_k8s::nad_source::NadSource;
//!
//! let nad: NetworkAttachmentDefinition = serde_json::from_str(
//!     r#"{"metadata":{"name":"macvlan-conf","namespace":"default"},"spec":{"config":"{}"}}"#).unwrap();
//! let nads = vec![nad];
//! assert_eq!(nads.nad("default", "macvlan-conf").await?.config(), "{}");
//! let err = nads.nad("default", "missing").await.unwrap_err();
//! assert!(err.is_nad_not_found());
//! # Ok(()) }
//! ```
//!
//! [`resolve_with`]: crate::resolve::resolve_with

use std::collections::BTreeMap;
use std::future::Future;

use crate::Error;
use crate::nad::{
    NetworkAttachmentDefinition, check_nad_names, get_nad, nad_error, not_found_reason,
};

/// A source of NetworkAttachmentDefinitions.
///
/// Generic, not `dyn`: callers are generic over the source (as over
/// `kube::Client`), and the future is `Send` so a multi-threaded daemon can
/// resolve on any worker.
pub trait NadSource {
    /// The NAD `namespace/name`, or [`Error::NadGet`] (with
    /// `not_found: true` when there is no such NAD).
    fn nad(
        &self,
        namespace: &str,
        name: &str,
    ) -> impl Future<Output = Result<NetworkAttachmentDefinition, Error>> + Send;
}

impl<S: NadSource + Sync + ?Sized> NadSource for &S {
    fn nad(
        &self,
        namespace: &str,
        name: &str,
    ) -> impl Future<Output = Result<NetworkAttachmentDefinition, Error>> + Send {
        (**self).nad(namespace, name)
    }
}

/// A live GET per NAD ([`get_nad`]).
impl NadSource for kube::Client {
    fn nad(
        &self,
        namespace: &str,
        name: &str,
    ) -> impl Future<Output = Result<NetworkAttachmentDefinition, Error>> + Send {
        get_nad(self, namespace, name)
    }
}

/// The answer of an in-memory source: the NAD, or the API server's 404.
fn found(
    namespace: &str,
    name: &str,
    nad: Option<&NetworkAttachmentDefinition>,
) -> Result<NetworkAttachmentDefinition, Error> {
    check_nad_names(namespace, name)?;
    nad.cloned()
        .ok_or_else(|| nad_error(namespace, name, not_found_reason(name), true))
}

/// NADs keyed by `(namespace, name)`.
impl NadSource for BTreeMap<(String, String), NetworkAttachmentDefinition> {
    fn nad(
        &self,
        namespace: &str,
        name: &str,
    ) -> impl Future<Output = Result<NetworkAttachmentDefinition, Error>> + Send {
        let result = found(
            namespace,
            name,
            self.get(&(namespace.to_owned(), name.to_owned())),
        );
        std::future::ready(result)
    }
}

/// NADs found by their `metadata.namespace` and `metadata.name`.
impl NadSource for [NetworkAttachmentDefinition] {
    fn nad(
        &self,
        namespace: &str,
        name: &str,
    ) -> impl Future<Output = Result<NetworkAttachmentDefinition, Error>> + Send {
        let nad = self.iter().find(|n| {
            n.metadata.namespace.as_deref() == Some(namespace)
                && n.metadata.name.as_deref() == Some(name)
        });
        std::future::ready(found(namespace, name, nad))
    }
}

/// NADs found by their `metadata.namespace` and `metadata.name`.
impl NadSource for Vec<NetworkAttachmentDefinition> {
    fn nad(
        &self,
        namespace: &str,
        name: &str,
    ) -> impl Future<Output = Result<NetworkAttachmentDefinition, Error>> + Send {
        self.as_slice().nad(namespace, name)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn nad(ns: &str, name: &str) -> NetworkAttachmentDefinition {
        serde_json::from_value(serde_json::json!({
            "metadata": {"name": name, "namespace": ns},
            "spec": {"config": format!("{{\"name\":\"{name}\"}}")}
        }))
        .unwrap()
    }

    #[tokio::test]
    async fn in_memory_sources_answer_like_the_api() {
        let map: BTreeMap<_, _> = [(("ns1".to_owned(), "a".to_owned()), nad("ns1", "a"))].into();
        let list = vec![nad("ns1", "a"), nad("ns2", "a")];
        assert_eq!(
            map.nad("ns1", "a").await.unwrap().config(),
            r#"{"name":"a"}"#
        );
        assert_eq!(
            list.nad("ns2", "a")
                .await
                .unwrap()
                .metadata
                .namespace
                .as_deref(),
            Some("ns2")
        );
        for err in [
            map.nad("ns2", "a").await.unwrap_err(),
            list.nad("ns3", "a").await.unwrap_err(),
        ] {
            assert!(err.is_nad_not_found());
            assert!(
                err.to_string().ends_with(
                    r#"): network-attachment-definitions.k8s.cni.cncf.io "a" not found"#
                ),
                "{err}"
            );
        }
        let err = list.nad("ns1", "a/b").await.unwrap_err();
        assert!(err.to_string().contains("invalid name \"a/b\""), "{err}");
    }
}
