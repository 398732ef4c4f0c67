//! Informers for the thick daemon (feature `runtime`): caches of this
//! node's pods and of every NetworkAttachmentDefinition, kept current by
//! watches, so a CNI request reads memory instead of the API.
//!
//! Built on kube-runtime: [`watcher()`] turns LIST + WATCH into events,
//! [`WatchStreamExt::default_backoff`] spaces out retries after watch errors,
//! and a [`reflector`] writes the events into a [`Store`]. Only readers leave
//! this module: [`PodCache`] and [`NadCache`].
//!
//! As upstream's daemon does:
//! * pods are watched with the field selector `spec.nodeName=<node>` when a
//!   node name is given (`MULTUS_NODE_NAME`), and trimmed to what Multus
//!   reads ([`trim_pod`]);
//! * NADs are watched in all namespaces;
//! * start-up waits for each cache to be filled up to a timeout
//!   ([`DEFAULT_SYNC_TIMEOUT`], 20 s) and then goes on either way
//!   ([`SyncReport`] says which caches made it);
//! * a pod is looked up with the thick rules ([`PodCache::lookup_pod`]): the
//!   cache polled every 50 ms up to 2.5 s (a missing pod is waited for on
//!   ADD only), then one live GET.
//!
//! Where this differs from upstream: a cache that never filled (RBAC, API
//! down at start-up) is not polled; the pod is read live with the thin
//! plugin's retry ([`crate::pod::lookup_pod`]). On ADD, a cached pod with
//! another UID is treated as not yet updated and waited for like a missing
//! one; the final live GET decides.
//!
//! ```no_run
//! # async fn demo(client: kube::Client) -> Result<(), multus_k8s::Error> {
//! use multus_k8s::informers::{CachedPodRetry, DEFAULT_SYNC_TIMEOUT, Informers};
//! let (informers, report) = Informers::start(client, Some("node-1"), DEFAULT_SYNC_TIMEOUT).await;
//! if !report.all_synced() {
//!     // log it; the caches go on filling in the background
//! }
//! let pod = informers
//!     .pods
//!     .lookup_pod("default", "pod-1", "3f1a...", true, CachedPodRetry::THICK)
//!     .await?
//!     .for_add()?;
//! // resolve_with(Some(&informers.nads), Some(&client), &request)
//! # Ok(()) }
//! ```

use std::future::Future;
use std::sync::Arc;
use std::time::{Duration, Instant};

use futures_util::{FutureExt, Stream, StreamExt};
use k8s_openapi::api::core::v1::{Pod, PodSpec, PodStatus};
use k8s_openapi::apimachinery::pkg::apis::meta::v1::ObjectMeta;
use kube::Api;
use kube::runtime::reflector::{self, ObjectRef, Store, store::Writer};
use kube::runtime::{WatchStreamExt, watcher};
use tokio::task::JoinHandle;

use crate::Error;
use crate::error::describe_kube_error;
use crate::nad::{NetworkAttachmentDefinition, get_nad};
use crate::nad_source::NadSource;
use crate::names::path_segment;
use crate::pod::{PodLookup, PodRetry, check_pod_uid, lookup_pod};

/// How long start-up waits for each cache (upstream: 20 s).
pub const DEFAULT_SYNC_TIMEOUT: Duration = Duration::from_secs(20);

/// `timeoutSeconds` of each watch: under the one-minute read timeout of
/// [`crate::client`]'s clients, so a quiet watch is ended by the server and
/// resumed, not cut by the client as an error.
pub const WATCH_TIMEOUT_SECS: u32 = 50;

/// Timing of a pod lookup in the cache.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct CachedPodRetry {
    /// Pause between looks into the cache.
    pub interval: Duration,
    /// How long the cache is polled before the live GET.
    pub total: Duration,
    /// Timeout of the one live GET after the polling.
    pub live_get_timeout: Duration,
}

impl CachedPodRetry {
    /// Upstream's thick timing: every 50 ms up to 2.5 s, then a live GET of 50 ms.
    pub const THICK: Self = Self {
        interval: Duration::from_millis(50),
        total: Duration::from_millis(2500),
        live_get_timeout: Duration::from_millis(50),
    };
}

impl Default for CachedPodRetry {
    fn default() -> Self {
        Self::THICK
    }
}

/// Trims a pod to what Multus reads: metadata name, namespace, uid,
/// annotations and resourceVersion; `spec.nodeName`; and
/// `status.resourceClaimStatuses` (DRA). Everything else (managedFields,
/// containers, volumes, ...) is dropped, which keeps a node's cache small.
pub fn trim_pod(pod: &mut Pod) {
    let meta = std::mem::take(&mut pod.metadata);
    pod.metadata = ObjectMeta {
        name: meta.name,
        namespace: meta.namespace,
        uid: meta.uid,
        annotations: meta.annotations,
        resource_version: meta.resource_version,
        ..ObjectMeta::default()
    };
    pod.spec = pod.spec.take().map(|spec| PodSpec {
        node_name: spec.node_name,
        ..PodSpec::default()
    });
    pod.status = pod
        .status
        .take()
        .and_then(|status| status.resource_claim_statuses)
        .map(|claims| PodStatus {
            resource_claim_statuses: Some(claims),
            ..PodStatus::default()
        });
}

/// Writes pod watch events, trimmed, into `writer`'s store.
pub(crate) fn reflect_pods<S>(writer: Writer<Pod>, events: S) -> impl Stream<Item = S::Item>
where
    S: Stream<Item = watcher::Result<watcher::Event<Pod>>>,
{
    events.modify(trim_pod).reflect(writer)
}

/// Writes NAD watch events into `writer`'s store.
pub(crate) fn reflect_nads<S>(
    writer: Writer<NetworkAttachmentDefinition>,
    events: S,
) -> impl Stream<Item = S::Item>
where
    S: Stream<Item = watcher::Result<watcher::Event<NetworkAttachmentDefinition>>>,
{
    events.reflect(writer)
}

/// Drives a reflector stream for good; watch errors are retried by the
/// backoff and reported through `tracing`.
async fn drive<K, S>(resource: &'static str, stream: S)
where
    S: Stream<Item = watcher::Result<watcher::Event<K>>>,
{
    let mut stream = std::pin::pin!(stream);
    while let Some(event) = stream.next().await {
        if let Err(error) = event {
            tracing::warn!(resource, error = %error, "watch failed, retrying with backoff");
        }
    }
}

/// Whether a store has been filled once (an initial list completed).
fn is_ready<K>(store: &Store<K>) -> bool
where
    K: kube::Resource + Clone + 'static,
    K::DynamicType: Eq + std::hash::Hash + Clone,
{
    store
        .wait_until_ready()
        .now_or_never()
        .is_some_and(|r| r.is_ok())
}

/// Waits up to `timeout` for a store to be filled once.
async fn wait_ready<K>(store: &Store<K>, timeout: Duration) -> bool
where
    K: kube::Resource + Clone + 'static,
    K::DynamicType: Eq + std::hash::Hash + Clone,
{
    matches!(
        tokio::time::timeout(timeout, store.wait_until_ready()).await,
        Ok(Ok(()))
    )
}

/// Every NetworkAttachmentDefinition, from a watch of all namespaces. As a
/// [`NadSource`], a miss is read live, so a NAD created a moment ago (not yet
/// in the cache) is never missed.
#[derive(Clone)]
pub struct NadCache {
    store: Store<NetworkAttachmentDefinition>,
    client: kube::Client,
}

impl NadCache {
    /// A cache over `store` (filled by whoever holds its writer), reading
    /// misses through `client`.
    pub fn new(store: Store<NetworkAttachmentDefinition>, client: kube::Client) -> Self {
        Self { store, client }
    }

    /// The cached NAD `namespace/name`.
    pub fn get(&self, namespace: &str, name: &str) -> Option<Arc<NetworkAttachmentDefinition>> {
        self.store.get(&ObjectRef::new(name).within(namespace))
    }

    /// The underlying store (every cached NAD: `store().state()`).
    pub fn store(&self) -> &Store<NetworkAttachmentDefinition> {
        &self.store
    }

    /// Whether the first list has been cached.
    pub fn is_ready(&self) -> bool {
        is_ready(&self.store)
    }

    /// Waits up to `timeout` for the first list; `false` when it did not come.
    pub async fn wait_until_ready(&self, timeout: Duration) -> bool {
        wait_ready(&self.store, timeout).await
    }
}

impl NadSource for NadCache {
    fn nad(
        &self,
        namespace: &str,
        name: &str,
    ) -> impl Future<Output = Result<NetworkAttachmentDefinition, Error>> + Send {
        let cached = self.get(namespace, name);
        let client = self.client.clone();
        let (namespace, name) = (namespace.to_owned(), name.to_owned());
        async move {
            match cached {
                Some(nad) => Ok((*nad).clone()),
                None => get_nad(&client, &namespace, &name).await,
            }
        }
    }
}

/// The pods of this node (or of every node without a node name), trimmed by
/// [`trim_pod`].
#[derive(Clone)]
pub struct PodCache {
    store: Store<Pod>,
    client: kube::Client,
}

impl PodCache {
    /// A cache over `store` (filled by whoever holds its writer), reading
    /// live through `client` when the cache cannot answer.
    pub fn new(store: Store<Pod>, client: kube::Client) -> Self {
        Self { store, client }
    }

    /// The cached pod `namespace/name`.
    pub fn get(&self, namespace: &str, name: &str) -> Option<Arc<Pod>> {
        self.store.get(&ObjectRef::new(name).within(namespace))
    }

    /// The underlying store (every cached pod: `store().state()`).
    pub fn store(&self) -> &Store<Pod> {
        &self.store
    }

    /// Whether the first list has been cached.
    pub fn is_ready(&self) -> bool {
        is_ready(&self.store)
    }

    /// Waits up to `timeout` for the first list; `false` when it did not come.
    pub async fn wait_until_ready(&self, timeout: Duration) -> bool {
        wait_ready(&self.store, timeout).await
    }

    /// Looks the pod up with the thick rules, then checks its UID against
    /// `expected_uid` (`""`: no check), with the same outcome as
    /// [`crate::pod::lookup_pod`].
    ///
    /// The cache is polled every `retry.interval` up to `retry.total`. A
    /// missing pod ends the lookup with [`PodLookup::NotFound`] at once,
    /// unless `retry_not_found` (upstream does that on ADD): then it is
    /// waited for, and after `retry.total` one live GET (at most
    /// `retry.live_get_timeout`) decides: its 404 is `NotFound`, another
    /// failure `error waiting for pod: <err>`. A cache that was never filled
    /// is skipped: the pod is read live with [`PodRetry::THIN`].
    pub async fn lookup_pod(
        &self,
        namespace: &str,
        name: &str,
        expected_uid: &str,
        retry_not_found: bool,
        retry: CachedPodRetry,
    ) -> Result<PodLookup, Error> {
        if !self.is_ready() {
            let mut found =
                lookup_pod(&self.client, namespace, name, expected_uid, PodRetry::THIN).await?;
            if let PodLookup::Found(pod) | PodLookup::UidMismatch { pod, .. } = &mut found {
                trim_pod(pod);
            }
            return Ok(found);
        }
        let deadline = Instant::now() + retry.total;
        loop {
            if let Some(pod) = self.get(namespace, name) {
                let pod = Box::new((*pod).clone());
                if !retry_not_found || check_pod_uid(&pod, expected_uid).is_ok() {
                    return Ok(outcome(pod, expected_uid));
                }
            } else if !retry_not_found {
                return Ok(PodLookup::NotFound);
            }
            let remaining = deadline.saturating_duration_since(Instant::now());
            if remaining.is_zero() {
                break;
            }
            tokio::time::sleep(retry.interval.min(remaining)).await;
        }
        self.live_get(namespace, name, expected_uid, retry.live_get_timeout)
            .await
    }

    /// Upstream's last live GET after the cache could not answer.
    async fn live_get(
        &self,
        namespace: &str,
        name: &str,
        expected_uid: &str,
        timeout: Duration,
    ) -> Result<PodLookup, Error> {
        let pod_id = format!("{namespace}/{name}");
        let in_pod = |e: Error| e.in_pod(&pod_id, None);
        let ns_segment = path_segment("namespace", namespace).map_err(in_pod)?;
        let name_segment = path_segment("name", name).map_err(in_pod)?;
        let api: Api<Pod> = Api::namespaced(self.client.clone(), &ns_segment);
        match tokio::time::timeout(timeout, api.get(&name_segment)).await {
            Ok(Ok(mut pod)) => {
                trim_pod(&mut pod);
                Ok(outcome(Box::new(pod), expected_uid))
            }
            Ok(Err(kube::Error::Api(status))) if status.code == 404 => Ok(PodLookup::NotFound),
            Ok(Err(e)) => Err(in_pod(Error::GetPod {
                reason: describe_kube_error(&e),
            })),
            Err(_) => Err(in_pod(Error::GetPod {
                reason: format!("timed out after {} ms", timeout.as_millis()),
            })),
        }
    }
}

impl std::fmt::Debug for NadCache {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("NadCache")
            .field("cached", &self.store.len())
            .field("ready", &self.is_ready())
            .finish_non_exhaustive()
    }
}

impl std::fmt::Debug for PodCache {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("PodCache")
            .field("cached", &self.store.len())
            .field("ready", &self.is_ready())
            .finish_non_exhaustive()
    }
}

/// The UID check of a pod that was found.
fn outcome(pod: Box<Pod>, expected_uid: &str) -> PodLookup {
    match check_pod_uid(&pod, expected_uid) {
        Ok(()) => PodLookup::Found(pod),
        Err(_) => PodLookup::UidMismatch {
            pod,
            expected: expected_uid.to_owned(),
        },
    }
}

/// The NAD cache and the future that keeps it current (LIST + WATCH of
/// every namespace, retried with kube-runtime's default backoff). The
/// future runs until dropped; spawn it, or use [`Informers::start`].
pub fn nad_informer(client: kube::Client) -> (NadCache, impl Future<Output = ()> + Send + 'static) {
    let (store, writer) = reflector::store();
    let api: Api<NetworkAttachmentDefinition> = Api::all(client.clone());
    let config = watcher::Config::default().timeout(WATCH_TIMEOUT_SECS);
    let events = watcher(api, config).default_backoff();
    let run = drive(
        "network-attachment-definitions",
        reflect_nads(writer, events),
    );
    (NadCache::new(store, client), run)
}

/// The pod cache and the future that keeps it current: pods of
/// `node_name` (field selector `spec.nodeName=<node>`; every pod when
/// `None`), trimmed, retried with kube-runtime's default backoff.
pub fn pod_informer(
    client: kube::Client,
    node_name: Option<&str>,
) -> (PodCache, impl Future<Output = ()> + Send + 'static) {
    let (store, writer) = reflector::store();
    let api: Api<Pod> = Api::all(client.clone());
    let mut config = watcher::Config::default().timeout(WATCH_TIMEOUT_SECS);
    if let Some(node) = node_name.filter(|n| !n.is_empty()) {
        config = config.fields(&format!("spec.nodeName={node}"));
    }
    let events = watcher(api, config).default_backoff();
    let run = drive("pods", reflect_pods(writer, events));
    (PodCache::new(store, client), run)
}

/// Which caches were filled within the start-up timeout.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[must_use]
pub struct SyncReport {
    /// The pod cache.
    pub pods_synced: bool,
    /// The NAD cache.
    pub nads_synced: bool,
}

impl SyncReport {
    /// Both caches were filled.
    pub fn all_synced(&self) -> bool {
        self.pods_synced && self.nads_synced
    }
}

/// Both caches, their watches running on the tokio runtime; dropping this
/// stops the watches (clones of the caches then stop changing).
#[derive(Debug)]
pub struct Informers {
    /// This node's pods.
    pub pods: PodCache,
    /// Every NetworkAttachmentDefinition.
    pub nads: NadCache,
    tasks: Vec<JoinHandle<()>>,
}

impl Informers {
    /// Starts both informers (on the current tokio runtime) and waits up to
    /// `sync_timeout` ([`DEFAULT_SYNC_TIMEOUT`] upstream) for each cache to be
    /// filled; then returns either way, saying which were. A timeout is also
    /// reported through `tracing` (warn).
    pub async fn start(
        client: kube::Client,
        node_name: Option<&str>,
        sync_timeout: Duration,
    ) -> (Self, SyncReport) {
        let (pods, pods_run) = pod_informer(client.clone(), node_name);
        let (nads, nads_run) = nad_informer(client);
        let informers = Self {
            pods,
            nads,
            tasks: vec![tokio::spawn(pods_run), tokio::spawn(nads_run)],
        };
        let (pods_synced, nads_synced) = tokio::join!(
            informers.pods.wait_until_ready(sync_timeout),
            informers.nads.wait_until_ready(sync_timeout)
        );
        for (synced, resource) in [
            (pods_synced, "pods"),
            (nads_synced, "network-attachment-definitions"),
        ] {
            if !synced {
                tracing::warn!(
                    resource,
                    timeout_ms = sync_timeout.as_millis() as u64,
                    "informer cache not synced in time, going on"
                );
            }
        }
        let report = SyncReport {
            pods_synced,
            nads_synced,
        };
        (informers, report)
    }
}

impl Drop for Informers {
    fn drop(&mut self) {
        for task in &self.tasks {
            task.abort();
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use futures_util::stream;
    use watcher::Event;

    fn pod(name: &str, node: &str) -> Pod {
        serde_json::from_value(serde_json::json!({
            "metadata": {
                "name": name, "namespace": "default", "uid": format!("uid-{name}"),
                "resourceVersion": "7", "labels": {"app": "x"},
                "annotations": {"k8s.v1.cni.cncf.io/networks": "net1"},
                "managedFields": [{"manager": "kubectl", "operation": "Apply"}]
            },
            "spec": {"nodeName": node, "containers": [{"name": "c", "image": "busybox"}]},
            "status": {"phase": "Running", "podIP": "10.0.0.1",
                       "resourceClaimStatuses": [{"name": "gpu", "resourceClaimName": "pod-gpu"}]}
        }))
        .unwrap()
    }

    fn nad(ns: &str, name: &str) -> NetworkAttachmentDefinition {
        serde_json::from_value(serde_json::json!({
            "metadata": {"name": name, "namespace": ns}, "spec": {"config": "{}"}
        }))
        .unwrap()
    }

    /// A client whose every request fails (nothing listens on port 1).
    fn dead_client() -> kube::Client {
        let config = kube::Config::new("http://127.0.0.1:1".parse().unwrap());
        kube::Client::try_from(config).unwrap()
    }

    async fn feed<K, S: Stream<Item = watcher::Result<Event<K>>>>(s: S) {
        s.for_each(|_| async {}).await;
    }

    #[tokio::test]
    async fn pods_are_cached_trimmed() {
        let (store, writer) = reflector::store();
        let cache = PodCache::new(store, dead_client());
        assert!(!cache.is_ready());
        let events = stream::iter([
            Ok(Event::Init),
            Ok(Event::InitApply(pod("a", "n1"))),
            Ok(Event::InitDone),
            Ok(Event::Apply(pod("b", "n1"))),
        ]);
        feed(reflect_pods(writer, events)).await;
        assert!(cache.is_ready());
        let a = cache.get("default", "a").unwrap();
        let expected: Pod = serde_json::from_value(serde_json::json!({
            "metadata": {"name": "a", "namespace": "default", "uid": "uid-a",
                         "resourceVersion": "7",
                         "annotations": {"k8s.v1.cni.cncf.io/networks": "net1"}},
            "spec": {"nodeName": "n1", "containers": []},
            "status": {"resourceClaimStatuses": [{"name": "gpu", "resourceClaimName": "pod-gpu"}]}
        }))
        .unwrap();
        assert_eq!(*a, expected);
        assert!(cache.get("default", "b").is_some());
        assert!(cache.get("other", "a").is_none());
    }

    #[tokio::test]
    async fn deletions_and_relists_replace_the_cache() {
        let (store, writer) = reflector::store();
        let cache = NadCache::new(store, dead_client());
        let events = stream::iter([
            Ok(Event::Init),
            Ok(Event::InitApply(nad("ns1", "a"))),
            Ok(Event::InitApply(nad("ns2", "b"))),
            Ok(Event::InitDone),
            Ok(Event::Delete(nad("ns1", "a"))),
            Err(watcher::Error::NoResourceVersion),
            Ok(Event::Apply(nad("ns1", "c"))),
            // A re-list (after a 410) that no longer has c.
            Ok(Event::Init),
            Ok(Event::InitApply(nad("ns2", "b"))),
            Ok(Event::InitDone),
        ]);
        feed(reflect_nads(writer, events)).await;
        let mut names: Vec<String> = cache
            .store()
            .state()
            .iter()
            .map(|n| n.metadata.name.clone().unwrap())
            .collect();
        names.sort();
        assert_eq!(names, ["b"]);
        assert_eq!(cache.nad("ns2", "b").await.unwrap().config(), "{}");
        // A miss goes to the API (dead here): the live GET's error, in get_nad's words.
        let err = cache.nad("ns1", "a").await.unwrap_err();
        assert!(
            err.to_string().starts_with(
                "getKubernetesDelegate: cannot find a network-attachment-definition (a) in namespace (ns1): "
            ),
            "{err}"
        );
    }

    #[tokio::test]
    async fn lookups_in_a_filled_cache() {
        let (store, writer) = reflector::store();
        let cache = PodCache::new(store, dead_client());
        let events = stream::iter([
            Ok(Event::Init),
            Ok(Event::InitApply(pod("a", "n1"))),
            Ok(Event::InitDone),
        ]);
        feed(reflect_pods(writer, events)).await;
        let quick = CachedPodRetry {
            interval: Duration::from_millis(10),
            total: Duration::from_millis(50),
            live_get_timeout: Duration::from_millis(50),
        };
        let found = cache
            .lookup_pod("default", "a", "uid-a", true, quick)
            .await
            .unwrap();
        assert!(matches!(found, PodLookup::Found(_)));
        // Not on ADD: a missing pod is "not found" at once, without the API.
        let missing = cache
            .lookup_pod("default", "zz", "", false, quick)
            .await
            .unwrap();
        assert_eq!(missing, PodLookup::NotFound);
        let mismatch = cache
            .lookup_pod("default", "a", "other", false, quick)
            .await
            .unwrap();
        assert!(matches!(mismatch, PodLookup::UidMismatch { .. }));
        // On ADD the cache is waited on, then the live GET fails (dead API).
        let err = cache
            .lookup_pod("default", "zz", "", true, quick)
            .await
            .unwrap_err();
        assert!(
            err.to_string().starts_with("error waiting for pod: ")
                && err.to_string().ends_with("(pod default/zz)"),
            "{err}"
        );
    }
}
