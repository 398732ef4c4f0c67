//! Reading the pod: upstream's bounded retry, "pod not found", and the UID
//! check.
//!
//! The thin plugin polls (upstream `multus.go` `getPod`): the first GET at
//! once, then one every [`PodRetry::interval`], each with its own
//! [`PodRetry::attempt_timeout`], for at most [`PodRetry::total`]; only
//! ServiceUnavailable (503), InternalError (500), "connection refused" and
//! "connection reset" are retried. NotFound ends the poll with
//! [`PodLookup::NotFound`]. Any other failure, or the poll running out,
//! leads to one last GET; its NotFound is still "not found", anything else
//! is `error waiting for pod: <err>`. With the API server down the whole
//! read takes about `total + attempt_timeout` (2.75 s).
//!
//! Then the UID check: the runtime's `K8S_POD_UID` must be the pod's UID
//! (static pods, whose `kubernetes.io/config.source` is not `api`, are
//! exempt). [`PodLookup::for_add`] turns a mismatch into upstream's error,
//! [`PodLookup::for_del`] into "proceed without the pod".

use std::time::{Duration, Instant};

use k8s_openapi::api::core::v1::Pod;
use kube::Api;

use crate::Error;
use crate::error::{describe_kube_error, error_chain};
use crate::names::check_path_segment;

/// Annotation kubelet sets on pods it did not get from the API server.
pub const CONFIG_SOURCE_ANNOTATION: &str = "kubernetes.io/config.source";

/// Timing of the pod read.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct PodRetry {
    /// Pause between attempts.
    pub interval: Duration,
    /// Timeout of each attempt (and of the last GET).
    pub attempt_timeout: Duration,
    /// How long to keep polling.
    pub total: Duration,
}

impl PodRetry {
    /// The thin plugin's timing: 250 ms, 250 ms, 2.5 s.
    pub const THIN: Self = Self {
        interval: Duration::from_millis(250),
        attempt_timeout: Duration::from_millis(250),
        total: Duration::from_millis(2500),
    };
}

impl Default for PodRetry {
    fn default() -> Self {
        Self::THIN
    }
}

/// What reading the pod found.
#[derive(Debug, Clone, PartialEq)]
pub enum PodLookup {
    /// The pod, with the runtime's UID (or a static pod, or no UID given).
    Found(Box<Pod>),
    /// The API says there is no such pod. On ADD upstream then returns an
    /// empty result without running anything.
    NotFound,
    /// A pod of that name exists but is not the pod the runtime means.
    UidMismatch {
        /// The pod that was read.
        pod: Box<Pod>,
        /// `K8S_POD_UID` from the runtime.
        expected: String,
    },
}

impl PodLookup {
    /// The ADD rule: a UID mismatch is an error (upstream's text), "not
    /// found" is `Ok(None)`.
    pub fn for_add(self) -> Result<Option<Pod>, Error> {
        match self {
            Self::Found(pod) => Ok(Some(*pod)),
            Self::NotFound => Ok(None),
            Self::UidMismatch { pod, expected } => {
                let meta = &pod.metadata;
                let pod_id = format!(
                    "{}/{}",
                    meta.namespace.as_deref().unwrap_or_default(),
                    meta.name.as_deref().unwrap_or_default()
                );
                Err(Error::PodUidMismatch {
                    expected,
                    actual: meta.uid.clone().unwrap_or_default(),
                }
                .in_pod(&pod_id, None))
            }
        }
    }

    /// The DEL rule: without the right pod, proceed without one (only the
    /// delegate cache is used).
    pub fn for_del(self) -> Option<Pod> {
        match self {
            Self::Found(pod) => Some(*pod),
            Self::NotFound | Self::UidMismatch { .. } => None,
        }
    }
}

/// Whether kubelet got the pod from somewhere other than the API server
/// (annotation `kubernetes.io/config.source` present and not `api`).
pub fn is_static_pod(pod: &Pod) -> bool {
    pod.metadata
        .annotations
        .as_ref()
        .and_then(|a| a.get(CONFIG_SOURCE_ANNOTATION))
        .is_some_and(|source| source != "api")
}

/// The UID check: `Ok` when `expected` is empty, equals the pod's UID, or
/// the pod is static; else [`Error::PodUidMismatch`].
pub fn check_pod_uid(pod: &Pod, expected: &str) -> Result<(), Error> {
    let actual = pod.metadata.uid.as_deref().unwrap_or_default();
    if expected.is_empty() || actual == expected || is_static_pod(pod) {
        Ok(())
    } else {
        Err(Error::PodUidMismatch {
            expected: expected.to_owned(),
            actual: actual.to_owned(),
        })
    }
}

/// Reads the pod `namespace/name` with upstream's retry, then checks its UID
/// against `expected_uid` (`""`: no check).
///
/// ```no_run
/// # async fn demo(client: kube::Client) -> Result<(), multus_k8s::Error> {
/// use multus_k8s::pod::{lookup_pod, PodRetry};
/// let pod = lookup_pod(&client, "default", "pod-case-01", "8b7b...", PodRetry::THIN)
///     .await?
///     .for_add()?;
/// # Ok(()) }
/// ```
pub async fn lookup_pod(
    client: &kube::Client,
    namespace: &str,
    name: &str,
    expected_uid: &str,
    retry: PodRetry,
) -> Result<PodLookup, Error> {
    let pod_id = format!("{namespace}/{name}");
    let in_pod = |e: Error| e.in_pod(&pod_id, None);
    check_path_segment("namespace", namespace).map_err(in_pod)?;
    check_path_segment("name", name).map_err(in_pod)?;
    let api: Api<Pod> = Api::namespaced(client.clone(), namespace);
    let pod = match poll(&api, name, retry).await.map_err(in_pod)? {
        Some(pod) => pod,
        None => return Ok(PodLookup::NotFound),
    };
    Ok(match check_pod_uid(&pod, expected_uid) {
        Ok(()) => PodLookup::Found(pod),
        Err(_) => PodLookup::UidMismatch {
            pod,
            expected: expected_uid.to_owned(),
        },
    })
}

/// One GET's outcome.
enum Attempt {
    Found(Box<Pod>),
    NotFound,
    Retriable(String),
    Failed(String),
}

async fn attempt(api: &Api<Pod>, name: &str, timeout: Duration) -> Attempt {
    match tokio::time::timeout(timeout, api.get(name)).await {
        Ok(Ok(pod)) => Attempt::Found(Box::new(pod)),
        Ok(Err(e)) if is_not_found(&e) => Attempt::NotFound,
        Ok(Err(e)) if is_retriable(&e) => Attempt::Retriable(describe_kube_error(&e)),
        Ok(Err(e)) => Attempt::Failed(describe_kube_error(&e)),
        Err(_) => Attempt::Failed(format!("timed out after {} ms", timeout.as_millis())),
    }
}

/// `Ok(None)` = not found.
async fn poll(api: &Api<Pod>, name: &str, retry: PodRetry) -> Result<Option<Box<Pod>>, Error> {
    let start = Instant::now();
    loop {
        match attempt(api, name, retry.attempt_timeout).await {
            Attempt::Found(pod) => return Ok(Some(pod)),
            Attempt::NotFound => return Ok(None),
            Attempt::Failed(_) => break,
            Attempt::Retriable(_) => {}
        }
        if start.elapsed() + retry.interval > retry.total {
            break;
        }
        tokio::time::sleep(retry.interval).await;
    }
    // One last live GET.
    match attempt(api, name, retry.attempt_timeout).await {
        Attempt::Found(pod) => Ok(Some(pod)),
        Attempt::NotFound => Ok(None),
        Attempt::Retriable(reason) | Attempt::Failed(reason) => Err(Error::GetPod { reason }),
    }
}

fn is_not_found(err: &kube::Error) -> bool {
    matches!(err, kube::Error::Api(s) if s.code == 404)
}

/// upstream's `isCriticalRequestRetriable`: ServiceUnavailable,
/// InternalError, connection refused, connection reset.
fn is_retriable(err: &kube::Error) -> bool {
    if let kube::Error::Api(status) = err {
        return status.code == 503
            || status.code == 500
            || status.reason == "ServiceUnavailable"
            || status.reason == "InternalError";
    }
    if has_io_kind(
        err,
        &[
            std::io::ErrorKind::ConnectionRefused,
            std::io::ErrorKind::ConnectionReset,
        ],
    ) {
        return true;
    }
    let text = error_chain(err).to_ascii_lowercase();
    text.contains("connection refused") || text.contains("connection reset")
}

fn has_io_kind(err: &(dyn std::error::Error + 'static), kinds: &[std::io::ErrorKind]) -> bool {
    let mut current: Option<&(dyn std::error::Error + 'static)> = Some(err);
    while let Some(e) = current {
        if let Some(io) = e.downcast_ref::<std::io::Error>()
            && kinds.contains(&io.kind())
        {
            return true;
        }
        current = e.source();
    }
    false
}

#[cfg(test)]
mod tests {
    use super::*;
    use k8s_openapi::apimachinery::pkg::apis::meta::v1::ObjectMeta;

    fn pod(uid: &str, source: Option<&str>) -> Pod {
        Pod {
            metadata: ObjectMeta {
                name: Some("p".into()),
                namespace: Some("default".into()),
                uid: Some(uid.into()),
                annotations: source.map(|s| {
                    [(CONFIG_SOURCE_ANNOTATION.to_owned(), s.to_owned())]
                        .into_iter()
                        .collect()
                }),
                ..ObjectMeta::default()
            },
            ..Pod::default()
        }
    }

    #[test]
    fn uid_check() {
        assert!(check_pod_uid(&pod("a", None), "a").is_ok());
        assert!(check_pod_uid(&pod("a", None), "").is_ok());
        let e = check_pod_uid(&pod("b", None), "a").unwrap_err();
        assert_eq!(
            e.to_string(),
            r#"expected pod UID "a" but got "b" from Kube API"#
        );
        assert!(check_pod_uid(&pod("b", Some("api")), "a").is_err());
        assert!(check_pod_uid(&pod("b", Some("file")), "a").is_ok());
    }

    #[test]
    fn add_and_del_rules() {
        let mismatch = PodLookup::UidMismatch {
            pod: Box::new(pod("b", None)),
            expected: "a".into(),
        };
        let e = mismatch.clone().for_add().unwrap_err();
        assert_eq!(
            e.to_string(),
            r#"expected pod UID "a" but got "b" from Kube API (pod default/p)"#
        );
        assert_eq!(mismatch.for_del(), None);
        assert_eq!(PodLookup::NotFound.for_add().unwrap(), None);
        let found = PodLookup::Found(Box::new(pod("a", None)));
        assert!(found.clone().for_del().is_some());
        assert!(found.for_add().unwrap().is_some());
    }
}
