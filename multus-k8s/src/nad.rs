//! The NetworkAttachmentDefinition resource (`k8s.cni.cncf.io/v1`).
//!
//! A hand-written type with the `k8s_openapi` resource traits, so
//! `kube::Api<NetworkAttachmentDefinition>` works without the CRD derive
//! (and its schema machinery).

use std::collections::BTreeMap;

use k8s_openapi::apimachinery::pkg::apis::meta::v1::ObjectMeta;
use kube::Api;
use serde::Deserialize;

use crate::Error;
use crate::error::describe_kube_error;
use crate::names::path_segment;

/// A NetworkAttachmentDefinition, as read from the API.
///
/// ```
/// use multus_k8s::nad::NetworkAttachmentDefinition;
/// let nad: NetworkAttachmentDefinition = serde_json::from_str(r#"{
///     "apiVersion": "k8s.cni.cncf.io/v1", "kind": "NetworkAttachmentDefinition",
///     "metadata": {"name": "macvlan-conf-1", "namespace": "default"},
///     "spec": {"config": "{\"cniVersion\":\"0.3.0\",\"type\":\"macvlan\"}"}}"#).unwrap();
/// assert_eq!(nad.config(), r#"{"cniVersion":"0.3.0","type":"macvlan"}"#);
/// assert_eq!(nad.resource_name(), None);
/// ```
#[derive(Debug, Clone, PartialEq, Default, Deserialize)]
pub struct NetworkAttachmentDefinition {
    /// Standard object metadata.
    #[serde(default)]
    pub metadata: ObjectMeta,
    /// `spec`; the standard allows it to be missing.
    #[serde(default)]
    pub spec: Option<NetworkAttachmentDefinitionSpec>,
}

/// `spec` of a NetworkAttachmentDefinition.
#[derive(Debug, Clone, PartialEq, Eq, Default, Deserialize)]
pub struct NetworkAttachmentDefinitionSpec {
    /// The CNI config (single plugin or list) as a JSON string; empty means
    /// "look the network up by name in confDir".
    #[serde(default)]
    pub config: Option<String>,
}

impl NetworkAttachmentDefinition {
    /// `spec.config`, `""` when absent.
    pub fn config(&self) -> &str {
        self.spec
            .as_ref()
            .and_then(|s| s.config.as_deref())
            .unwrap_or("")
    }

    /// The `k8s.v1.cni.cncf.io/resourceName` annotation, when set and non-empty.
    pub fn resource_name(&self) -> Option<&str> {
        self.annotations()
            .get(multus_annotations::RESOURCE_NAME_ANNOTATION)
            .map(String::as_str)
            .filter(|s| !s.is_empty())
    }

    /// `metadata.annotations` (empty when absent).
    pub fn annotations(&self) -> &BTreeMap<String, String> {
        static EMPTY: BTreeMap<String, String> = BTreeMap::new();
        self.metadata.annotations.as_ref().unwrap_or(&EMPTY)
    }
}

impl k8s_openapi::Resource for NetworkAttachmentDefinition {
    const API_VERSION: &'static str = "k8s.cni.cncf.io/v1";
    const GROUP: &'static str = "k8s.cni.cncf.io";
    const KIND: &'static str = "NetworkAttachmentDefinition";
    const VERSION: &'static str = "v1";
    const URL_PATH_SEGMENT: &'static str = "network-attachment-definitions";
    type Scope = k8s_openapi::NamespaceResourceScope;
}

impl k8s_openapi::Metadata for NetworkAttachmentDefinition {
    type Ty = ObjectMeta;

    fn metadata(&self) -> &ObjectMeta {
        &self.metadata
    }

    fn metadata_mut(&mut self) -> &mut ObjectMeta {
        &mut self.metadata
    }
}

/// The [`Error::NadGet`] of `namespace/name`: upstream's
/// `getKubernetesDelegate: cannot find a network-attachment-definition ...`.
pub(crate) fn nad_error(namespace: &str, name: &str, reason: String, not_found: bool) -> Error {
    Error::NadGet {
        namespace: namespace.to_owned(),
        name: name.to_owned(),
        reason,
        not_found,
    }
}

/// The API server's words for a NAD that does not exist.
pub(crate) fn not_found_reason(name: &str) -> String {
    format!("network-attachment-definitions.k8s.cni.cncf.io \"{name}\" not found")
}

/// Checks that `namespace` and `name` can be part of an API path (the
/// refusal is a "not found" [`Error::NadGet`], as without a request).
pub(crate) fn check_nad_names<'a>(
    namespace: &'a str,
    name: &'a str,
) -> Result<(std::borrow::Cow<'a, str>, std::borrow::Cow<'a, str>), Error> {
    path_segment("namespace", namespace)
        .and_then(|ns| Ok((ns, path_segment("name", name)?)))
        .map_err(|e| nad_error(namespace, name, e.to_string(), true))
}

/// GETs `namespace/name` (a live read, no retry, as the thin plugin does).
/// The error is upstream's `getKubernetesDelegate: cannot find a
/// network-attachment-definition (<name>) in namespace (<ns>): <reason>`;
/// names that cannot be part of an API path are refused the same way
/// without a request.
pub async fn get_nad(
    client: &kube::Client,
    namespace: &str,
    name: &str,
) -> Result<NetworkAttachmentDefinition, Error> {
    let (ns_segment, name_segment) = check_nad_names(namespace, name)?;
    let api: Api<NetworkAttachmentDefinition> = Api::namespaced(client.clone(), &ns_segment);
    api.get(&name_segment).await.map_err(|e| {
        let not_found = matches!(&e, kube::Error::Api(s) if s.code == 404);
        nad_error(namespace, name, describe_kube_error(&e), not_found)
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn spec_may_be_missing_or_empty() {
        let nad: NetworkAttachmentDefinition =
            serde_json::from_str(r#"{"metadata":{"name":"macvlan-conf-2"}}"#).unwrap();
        assert_eq!(nad.config(), "");
        let nad: NetworkAttachmentDefinition =
            serde_json::from_str(r#"{"metadata":{"name":"x"},"spec":{}}"#).unwrap();
        assert_eq!(nad.config(), "");
        let nad: NetworkAttachmentDefinition = serde_json::from_str(
            r#"{"metadata":{"name":"x","annotations":{"k8s.v1.cni.cncf.io/resourceName":"intel.com/sriov"}},"spec":{"config":null}}"#,
        )
        .unwrap();
        assert_eq!(nad.config(), "");
        assert_eq!(nad.resource_name(), Some("intel.com/sriov"));
    }

    #[test]
    fn resource_url() {
        use kube::Resource;
        assert_eq!(
            NetworkAttachmentDefinition::url_path(&(), Some("testns1")),
            "/apis/k8s.cni.cncf.io/v1/namespaces/testns1/network-attachment-definitions"
        );
    }
}
