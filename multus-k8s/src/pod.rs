//! Reading the pod: a bounded retry, "pod not found", and the UID check.
//!
//! The thin plugin polls, as upstream's `getPod` does: the first GET at
//! once, then one every [`PodRetry::interval`]; ServiceUnavailable (503),
//! InternalError (500), "connection refused" and "connection reset" are
//! retried. NotFound ends the poll with [`PodLookup::NotFound`]. Any other
//! failure gets one more GET at once (upstream's last live GET); its
//! NotFound is still "not found", anything else is
//! `error waiting for pod: <err>`.
//!
//! Where this differs from upstream: the whole read is bounded by one budget,
//! [`PodRetry::total`] (default [`DEFAULT_POD_LOOKUP_TIMEOUT`], 2.75 s: what
//! upstream's 2.5 s of polling plus its last 250 ms GET add up to; the
//! multus config key `podLookupTimeout` sets it). Upstream cuts every GET at
//! 250 ms and does not retry a timeout, so an API server 260 ms away fails
//! every pod. Here the first GET may take [`PodRetry::attempt_timeout`], a
//! timed-out GET is retried, and each retry may wait twice as long as the
//! one before, never past the budget: a hung connection is still abandoned
//! quickly, and a slow but working API server is waited for.
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
use crate::names::path_segment;

/// Annotation kubelet sets on pods it did not get from the API server.
pub const CONFIG_SOURCE_ANNOTATION: &str = "kubernetes.io/config.source";

pub use multus_types::DEFAULT_POD_LOOKUP_TIMEOUT;

/// Timing of the pod read.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct PodRetry {
    /// Pause between attempts.
    pub interval: Duration,
    /// Timeout of the first attempt; each timed-out attempt doubles it for the next.
    pub attempt_timeout: Duration,
    /// The budget of the whole read: no GET runs past it.
    pub total: Duration,
}

impl PodRetry {
    /// The thin plugin's timing: 250 ms pauses, a first GET of 250 ms, 2.75 s in all.
    pub const THIN: Self = Self {
        interval: Duration::from_millis(250),
        attempt_timeout: Duration::from_millis(250),
        total: DEFAULT_POD_LOOKUP_TIMEOUT,
    };

    /// The same retry with another budget (the config's `podLookupTimeout`).
    #[must_use]
    pub fn with_total(self, total: Duration) -> Self {
        Self { total, ..self }
    }
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
    let ns_segment = path_segment("namespace", namespace).map_err(in_pod)?;
    let name_segment = path_segment("name", name).map_err(in_pod)?;
    let api: Api<Pod> = Api::namespaced(client.clone(), &ns_segment);
    let pod = match poll(&api, &name_segment, retry).await.map_err(in_pod)? {
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
    /// Worth another try: upstream's retriable errors.
    Retriable(String),
    /// No answer in time: another try may wait longer.
    TimedOut,
    Failed(String),
}

async fn attempt(api: &Api<Pod>, name: &str, timeout: Duration) -> Attempt {
    match tokio::time::timeout(timeout, api.get(name)).await {
        Ok(Ok(pod)) => Attempt::Found(Box::new(pod)),
        Ok(Err(e)) if is_not_found(&e) => Attempt::NotFound,
        Ok(Err(e)) if is_retriable(&e) => Attempt::Retriable(describe_kube_error(&e)),
        Ok(Err(e)) => Attempt::Failed(describe_kube_error(&e)),
        Err(_) => Attempt::TimedOut,
    }
}

/// `Ok(None)` = not found.
async fn poll(api: &Api<Pod>, name: &str, retry: PodRetry) -> Result<Option<Box<Pod>>, Error> {
    let deadline = Instant::now() + retry.total;
    let remaining = || deadline.saturating_duration_since(Instant::now());
    let mut timeout = retry.attempt_timeout;
    let mut last_get_done = false;
    let timed_out = || format!("timed out after {} ms", retry.total.as_millis());
    let mut reason = timed_out();
    while !remaining().is_zero() {
        match attempt(api, name, timeout.min(remaining())).await {
            Attempt::Found(pod) => return Ok(Some(pod)),
            Attempt::NotFound => return Ok(None),
            Attempt::Retriable(why) => reason = why,
            Attempt::TimedOut => {
                reason = timed_out();
                timeout = timeout.saturating_mul(2);
            }
            // Upstream's last live GET, at once; a second failure is final.
            Attempt::Failed(why) if last_get_done => return Err(Error::GetPod { reason: why }),
            Attempt::Failed(why) => {
                reason = why;
                last_get_done = true;
                continue;
            }
        }
        tokio::time::sleep(retry.interval.min(remaining())).await;
    }
    Err(Error::GetPod { reason })
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
