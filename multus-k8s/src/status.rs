//! Writing the `k8s.v1.cni.cncf.io/network-status` annotation.
//!
//! As upstream (`SetNetworkStatus` and the NAD client's
//! `setPodNetworkStatus`): nothing is written when there are no entries;
//! otherwise the pod is read, its UID checked against the runtime's (static
//! pods exempt), the annotation set to
//! [`multus_annotations::render_network_status`] of the entries, and the pod
//! written through the `pods/status` subresource. A 409 Conflict re-reads
//! the pod, re-applies the annotation and tries again, with client-go's
//! `DefaultRetry` timing ([`Backoff::DEFAULT_RETRY`]: 5 attempts, 10 ms
//! apart, jitter 0.1). A pod deleted meanwhile (404 on the read or the
//! write) is not an error: [`StatusWrite::PodGone`].
//!
//! **System namespaces:** upstream means to skip pods in `systemNamespaces`
//! but compares the pod *name* with that list, so in practice it writes the
//! status of every pod (and skips pods named like a namespace, e.g. a pod
//! called `kube-system`). This crate writes the status of every pod: that is
//! what users of upstream observe and what operators reading network-status
//! rely on, including for pods in `kube-system`.

use std::hash::{BuildHasher, Hasher};
use std::time::Duration;

use k8s_openapi::api::core::v1::Pod;
use kube::Api;
use kube::api::PostParams;
use multus_annotations::{NETWORK_STATUS_ANNOTATION, NetworkStatus, render_network_status};

use crate::Error;
use crate::error::describe_kube_error;
use crate::names::path_segment;
use crate::pod::is_static_pod;

/// Retry timing on conflicts (client-go `wait.Backoff`).
///
/// Any field values are accepted: a pause that works out negative or NaN is
/// no pause, one beyond [`Backoff::MAX_PAUSE`] (or infinite) is that maximum.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Backoff {
    /// Attempts in all.
    pub steps: u32,
    /// Pause before the second attempt.
    pub duration: Duration,
    /// Multiplier of the pause after each attempt.
    pub factor: f64,
    /// Each pause is lengthened by up to this fraction, at random.
    pub jitter: f64,
}

impl Backoff {
    /// client-go `retry.DefaultRetry`: 5 steps, 10 ms, factor 1, jitter 0.1.
    pub const DEFAULT_RETRY: Self = Self {
        steps: 5,
        duration: Duration::from_millis(10),
        factor: 1.0,
        jitter: 0.1,
    };

    /// The longest pause between two attempts, whatever `duration`, `factor`
    /// and `jitter` work out to (an infinite `factor` would otherwise wait
    /// forever). A pause that works out negative or NaN is no pause.
    pub const MAX_PAUSE: Duration = Duration::from_secs(60);

    fn pause(&self, retry: u32) -> Duration {
        let base =
            self.duration.as_secs_f64() * self.factor.powi(retry.try_into().unwrap_or(i32::MAX));
        Self::clamped(base * (1.0 + self.jitter * random_unit()))
    }

    /// `secs` as a pause within `[0, MAX_PAUSE]`; NaN is 0.
    fn clamped(secs: f64) -> Duration {
        if secs.is_nan() || secs <= 0.0 {
            Duration::ZERO
        } else {
            Duration::try_from_secs_f64(secs).map_or(Self::MAX_PAUSE, |d| d.min(Self::MAX_PAUSE))
        }
    }
}

impl Default for Backoff {
    fn default() -> Self {
        Self::DEFAULT_RETRY
    }
}

/// A number in `[0, 1)`, good enough for jitter.
fn random_unit() -> f64 {
    let mut h = std::collections::hash_map::RandomState::new().build_hasher();
    h.write_u64(0);
    // 53 random bits → [0, 1).
    (h.finish() >> 11) as f64 / (1u64 << 53) as f64
}

/// What [`write_network_status`] did.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum StatusWrite {
    /// No entries: nothing was read or written.
    Skipped,
    /// Written; `attempts` counts the writes (1 + conflicts).
    Written {
        /// How many writes it took.
        attempts: u32,
    },
    /// The pod no longer exists.
    PodGone,
}

/// Writes `entries` as the pod's network-status annotation with
/// [`Backoff::DEFAULT_RETRY`]; see the module docs. `expected_uid` is the
/// runtime's `K8S_POD_UID` (`""`: no check).
///
/// ```no_run
/// # async fn demo(client: kube::Client, entries: Vec<multus_annotations::NetworkStatus>) -> Result<(), multus_k8s::Error> {
/// use multus_k8s::status::{write_network_status, StatusWrite};
/// match write_network_status(&client, "default", "samplepod", "", &entries).await? {
///     StatusWrite::PodGone => eprintln!("pod deleted meanwhile"),
///     _ => {}
/// }
/// # Ok(()) }
/// ```
pub async fn write_network_status(
    client: &kube::Client,
    namespace: &str,
    name: &str,
    expected_uid: &str,
    entries: &[NetworkStatus],
) -> Result<StatusWrite, Error> {
    write_network_status_with(
        client,
        namespace,
        name,
        expected_uid,
        entries,
        Backoff::DEFAULT_RETRY,
    )
    .await
}

/// [`write_network_status`] with a chosen backoff.
pub async fn write_network_status_with(
    client: &kube::Client,
    namespace: &str,
    name: &str,
    expected_uid: &str,
    entries: &[NetworkStatus],
    backoff: Backoff,
) -> Result<StatusWrite, Error> {
    if entries.is_empty() {
        return Ok(StatusWrite::Skipped);
    }
    let pod_id = format!("{namespace}/{name}");
    let failed = |reason: String| Error::StatusWrite {
        pod: pod_id.clone(),
        reason,
    };
    let ns_segment = path_segment("namespace", namespace).map_err(|e| failed(e.to_string()))?;
    let name_segment = path_segment("name", name).map_err(|e| failed(e.to_string()))?;
    let name = name_segment.as_ref();
    let value = render_network_status(entries);
    let api: Api<Pod> = Api::namespaced(client.clone(), &ns_segment);

    let mut attempts = 0;
    loop {
        let mut pod = match api.get(name).await {
            Ok(pod) => pod,
            Err(e) if is_code(&e, 404) => return Ok(StatusWrite::PodGone),
            Err(e) => return Err(failed(describe_kube_error(&e))),
        };
        let actual = pod.metadata.uid.as_deref().unwrap_or_default();
        if !expected_uid.is_empty() && actual != expected_uid && !is_static_pod(&pod) {
            return Err(Error::StatusUidMismatch {
                pod: pod_id,
                expected: expected_uid.to_owned(),
                actual: actual.to_owned(),
            });
        }
        pod.metadata
            .annotations
            .get_or_insert_with(Default::default)
            .insert(NETWORK_STATUS_ANNOTATION.to_owned(), value.clone());
        attempts += 1;
        match api.replace_status(name, &PostParams::default(), &pod).await {
            Ok(_) => return Ok(StatusWrite::Written { attempts }),
            Err(e) if is_code(&e, 404) => return Ok(StatusWrite::PodGone),
            Err(e) if is_conflict(&e) && attempts < backoff.steps => {
                tokio::time::sleep(backoff.pause(attempts - 1)).await;
            }
            Err(e) => return Err(failed(describe_kube_error(&e))),
        }
    }
}

fn is_code(err: &kube::Error, code: u16) -> bool {
    matches!(err, kube::Error::Api(s) if s.code == code)
}

/// client-go `IsConflict`: reason `Conflict` (or a 409 without reason).
fn is_conflict(err: &kube::Error) -> bool {
    matches!(err, kube::Error::Api(s) if s.reason == "Conflict" || (s.code == 409 && s.reason.is_empty()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn pauses_have_bounded_jitter() {
        for retry in 0..4 {
            let p = Backoff::DEFAULT_RETRY.pause(retry);
            assert!(
                p >= Duration::from_millis(10) && p <= Duration::from_millis(11),
                "{p:?}"
            );
        }
        let grow = Backoff {
            factor: 5.0,
            jitter: 0.0,
            ..Backoff::DEFAULT_RETRY
        };
        assert_eq!(grow.pause(2), Duration::from_millis(250));
    }

    #[test]
    fn any_field_values_give_a_bounded_pause() {
        let with = |factor: f64, jitter: f64| Backoff {
            factor,
            jitter,
            ..Backoff::DEFAULT_RETRY
        };
        let max = Backoff::MAX_PAUSE;
        for (backoff, retry, expected) in [
            (with(f64::INFINITY, 0.0), 1, max),
            (with(1e300, 0.0), 3, max),
            (with(1.0, f64::INFINITY), 0, max), // or 0 when the random part is 0: checked below
            (with(-1.0, 0.0), 1, Duration::ZERO),
            (with(f64::NAN, 0.0), 1, Duration::ZERO),
            (with(1.0, f64::NEG_INFINITY), 0, Duration::ZERO),
            (with(-2.0, 0.5), 1, Duration::ZERO),
            (with(1.0, f64::NAN), 0, Duration::ZERO),
            (with(0.0, 0.0), 1, Duration::ZERO),
        ] {
            let p = backoff.pause(retry);
            let ok = p == expected || (backoff.jitter.is_infinite() && p == Duration::ZERO);
            assert!(ok, "{backoff:?} retry {retry}: {p:?}");
        }
        let slow = Backoff {
            duration: Duration::from_secs(3600),
            ..with(1.0, 0.0)
        };
        assert_eq!(slow.pause(0), max);
        assert_eq!(Backoff::clamped(f64::INFINITY), max);
        assert_eq!(Backoff::clamped(-0.0), Duration::ZERO);
        assert_eq!(Backoff::clamped(0.5), Duration::from_millis(500));
    }
}
