//! Test-only support for multus-rs: a stand-in Kubernetes API server, a stand-in kubelet
//! pod-resources server (in [`kubelet`]), and (in [`netns`])
//! fixtures for privileged tests — the privilege gate, network namespaces and host links
//! removed on drop, `ip -j` readers.
//!
//! No real kube-apiserver can run where the tests run, so this crate serves the part of the
//! Kubernetes API that Multus uses — core v1 Pods (with the `status` subresource), Namespaces and
//! Events, events.k8s.io/v1 Events, k8s.cni.cncf.io/v1 NetworkAttachmentDefinitions, and
//! resource.k8s.io/v1 ResourceClaims, ResourceSlices and DeviceClasses (DRA) — as real
//! Kubernetes JSON over HTTP/1.1 on loopback. The real `kube` client (through a kubeconfig) and
//! the real `multus` binary talk to it exactly as they would to a cluster.
//!
//! Semantics follow the API server where Multus can observe them:
//! - a uid and `creationTimestamp` are assigned on create, `metadata.resourceVersion` comes from
//!   one global counter bumped on every write;
//! - a PUT (or a PATCH that sets `metadata.resourceVersion`) with a stale resourceVersion answers
//!   409 `Conflict`; a missing object answers 404 `NotFound` (`pods "x" not found`,
//!   `network-attachment-definitions.k8s.cni.cncf.io "x" not found`); creating an existing
//!   object answers 409 `AlreadyExists`; errors are `Status` objects;
//! - writes to `pods/{name}/status` take the status and the metadata (annotations, labels) but
//!   keep the spec, as the pods/status strategy does; writes to the pod itself keep the status;
//! - PATCH accepts JSON patch, merge patch, and strategic merge patch and server-side apply
//!   bodies (both applied as merge patches: lists are replaced, not merged by key);
//! - LIST honours `labelSelector` and `fieldSelector` (equality and set terms) and answers the
//!   global `metadata.resourceVersion`; `dryRun` writes are checked and answered but not stored;
//! - `?watch=true` streams newline-delimited `ADDED`/`MODIFIED`/`DELETED` events of the matching
//!   objects (chunked) from `resourceVersion` on (`""`/`"0"`: the current state first), with a
//!   `BOOKMARK` every second when `allowWatchBookmarks=true`, until `timeoutSeconds`; an object
//!   that stops (starts) matching the selectors is `DELETED` (`ADDED`) for that watch; a
//!   resourceVersion older than the kept history (the last 10 000 writes, or since
//!   [`ApiServer::compact_watch_history`]) gets an `ERROR` event with a 410 `Expired` Status, so
//!   kube's watcher lists again.
//!
//! Fault switches on the handle make the server answer errors (409, 429, 500, 503, ...), delay
//! answers, or go down (refuse connections), and every request is logged with the status it got,
//! so tests can check retries, timeouts and API-down behaviour.
//!
//! The server runs on a thread of its own, so the same handle works from `#[tokio::test]`s (any
//! flavour) and from plain `#[test]`s that run the `multus` binary. Dropping the handle shuts the
//! server down. The `stand-in-apiserver` binary runs one as a process, for tests of binaries and
//! for demo scripts; it has `/_control/` endpoints for the same switches (see the binary's
//! `--help`).
//!
//! ```no_run
//! # async fn demo() -> Result<(), Box<dyn std::error::Error>> {
//! use multus_testsupport::ApiServer;
//! use serde_json::json;
//!
//! let server = ApiServer::start().await?;
//! server.insert_nad("default", "macvlan-conf-1", Some(r#"{"cniVersion":"0.3.1","type":"macvlan"}"#), &[]);
//! server.insert_pod(json!({
//!     "apiVersion": "v1", "kind": "Pod",
//!     "metadata": {"name": "pod-case-01", "namespace": "default",
//!                  "annotations": {"k8s.v1.cni.cncf.io/networks": "macvlan-conf-1"}},
//!     "spec": {"containers": [{"name": "c", "image": "busybox"}]}
//! }));
//! server.write_kubeconfig("/tmp/kubeconfig")?;
//! server.inject_status_conflicts(2);
//! // ... run the code under test against the kubeconfig ...
//! let writes = server.requests_matching("PUT", "/api/v1/namespaces/default/pods/pod-case-01/status");
//! assert_eq!(writes.iter().map(|r| r.status).collect::<Vec<_>>(), [Some(409), Some(409), Some(200)]);
//! # Ok(()) }
//! ```

use std::io;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use serde::Serialize;
use serde_json::{Value, json};
use tokio::sync::{oneshot, watch};

mod faults;
pub mod kubelet;
mod manifest;
pub mod netns;
mod patch;
mod resources;
mod selector;
mod server;
mod store;
mod watches;

pub use faults::{Fault, RequestRecord, path_matches};
pub use manifest::{
    STAND_IN_TOKEN, kubeconfig_yaml, parse_manifests, read_manifests, write_kubeconfig_file,
};

use faults::POD_STATUS_PATH;
use resources::{NAD_TYPE, NAMESPACE_TYPE, POD_TYPE};
use server::{Ack, Shared, lock};

/// Errors of the test-support helpers.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// A manifest file could not be read.
    #[error("cannot read {path}: {source}")]
    Read {
        /// The file.
        path: PathBuf,
        /// The I/O error.
        source: io::Error,
    },
    /// A manifest is neither JSON nor YAML.
    #[error("{origin}: not valid YAML or JSON: {message}")]
    Parse {
        /// Where the text came from.
        origin: String,
        /// The parser's message.
        message: String,
    },
    /// An object of a kind the stand-in does not serve.
    #[error(
        "the stand-in API server does not serve apiVersion {api_version:?} kind {kind:?} \
         (it serves v1 Pod, Namespace, Event; events.k8s.io/v1 Event; \
         k8s.cni.cncf.io/v1 NetworkAttachmentDefinition)"
    )]
    Unsupported {
        /// `apiVersion` of the object.
        api_version: String,
        /// `kind` of the object.
        kind: String,
    },
    /// The store rejected the object (no name, wrong namespace, ...).
    #[error("object rejected: {0}")]
    Rejected(String),
    /// The object is not a JSON object, or could not be serialized.
    #[error("not a Kubernetes object: {0}")]
    NotAnObject(String),
}

/// A running stand-in API server. Dropping it shuts the server down.
#[derive(Debug)]
pub struct ApiServer {
    shared: Arc<Shared>,
    addr: SocketAddr,
    ack: watch::Receiver<Ack>,
    thread: Option<JoinHandle<()>>,
}

/// A server thread that has not yet said on which address it listens.
struct Parts {
    shared: Arc<Shared>,
    ack: watch::Receiver<Ack>,
    thread: JoinHandle<()>,
}

impl Parts {
    fn finish(self, addr: SocketAddr) -> ApiServer {
        ApiServer {
            shared: self.shared,
            addr,
            ack: self.ack,
            thread: Some(self.thread),
        }
    }
}

/// The loopback address with an ephemeral port.
fn loopback() -> SocketAddr {
    SocketAddr::from(([127, 0, 0, 1], 0))
}

impl ApiServer {
    /// Starts a server on `127.0.0.1` with an ephemeral port.
    pub async fn start() -> io::Result<Self> {
        Self::start_on(loopback()).await
    }

    /// Starts a server listening on `addr` (port 0 picks a free port).
    pub async fn start_on(addr: SocketAddr) -> io::Result<Self> {
        let (parts, ready) = Self::spawn(addr)?;
        let addr = ready
            .await
            .map_err(|_| io::Error::other("the stand-in API server thread died"))??;
        Ok(parts.finish(addr))
    }

    /// [`ApiServer::start`] for code outside an async runtime (plain `#[test]`s, binaries).
    ///
    /// # Panics
    /// When called from inside an async runtime (use [`ApiServer::start`] there).
    pub fn start_blocking() -> io::Result<Self> {
        Self::start_blocking_on(loopback())
    }

    /// [`ApiServer::start_on`] for code outside an async runtime.
    ///
    /// # Panics
    /// When called from inside an async runtime (use [`ApiServer::start_on`] there).
    pub fn start_blocking_on(addr: SocketAddr) -> io::Result<Self> {
        let (parts, ready) = Self::spawn(addr)?;
        let addr = ready
            .blocking_recv()
            .map_err(|_| io::Error::other("the stand-in API server thread died"))??;
        Ok(parts.finish(addr))
    }

    fn spawn(addr: SocketAddr) -> io::Result<(Parts, oneshot::Receiver<io::Result<SocketAddr>>)> {
        let shared = Arc::new(Shared::new());
        let (ready_tx, ready_rx) = oneshot::channel();
        let (ack_tx, ack_rx) = watch::channel(Ack::default());
        let runtime = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()?;
        let thread_shared = shared.clone();
        let thread = std::thread::Builder::new()
            .name(format!("stand-in-apiserver-{addr}"))
            .spawn(move || {
                runtime.block_on(server::serve(addr, thread_shared, ready_tx, ack_tx));
            })?;
        Ok((
            Parts {
                shared,
                ack: ack_rx,
                thread,
            },
            ready_rx,
        ))
    }

    /// The address the server listens on.
    pub fn addr(&self) -> SocketAddr {
        self.addr
    }

    /// The server URL, `http://127.0.0.1:PORT`.
    pub fn url(&self) -> String {
        format!("http://{}", self.addr)
    }

    /// A kubeconfig pointing at this server (see [`kubeconfig_yaml`]).
    pub fn kubeconfig(&self) -> String {
        kubeconfig_yaml(&self.url())
    }

    /// Writes a kubeconfig pointing at this server to `path`, mode 0600 (see
    /// [`write_kubeconfig_file`]): cluster `local`, user `multus` with a dummy token, context
    /// `multus-context`.
    pub fn write_kubeconfig(&self, path: impl AsRef<Path>) -> io::Result<()> {
        write_kubeconfig_file(path, &self.url())
    }

    // ----- objects -----

    /// Inserts or replaces an object of any served kind (by its `apiVersion` and `kind`),
    /// keeping its fields; uid and creationTimestamp are filled when missing, the namespace
    /// defaults to `default`, resourceVersion is assigned. Returns the stored object.
    pub fn try_insert(&self, obj: impl Serialize) -> Result<Value, Error> {
        let obj = serde_json::to_value(obj).map_err(|e| Error::NotAnObject(e.to_string()))?;
        if !obj.is_object() {
            return Err(Error::NotAnObject(format!(
                "expected a JSON object, got {obj}"
            )));
        }
        self.shared.insert(obj)
    }

    /// Inserts or replaces a Pod (a `serde_json::Value` or a `k8s_openapi` `Pod`);
    /// `apiVersion`/`kind` may be left out. Returns the stored pod.
    ///
    /// # Panics
    /// When the value is not a pod with a name: a bug in the test.
    pub fn insert_pod(&self, pod: impl Serialize) -> Value {
        let mut pod = match serde_json::to_value(pod) {
            Ok(v @ Value::Object(_)) => v,
            Ok(other) => panic!("insert_pod: not a JSON object: {other}"),
            Err(e) => panic!("insert_pod: cannot serialize the pod: {e}"),
        };
        pod["apiVersion"] = json!("v1");
        pod["kind"] = json!("Pod");
        match self.try_insert(pod) {
            Ok(v) => v,
            Err(e) => panic!("insert_pod: {e}"),
        }
    }

    /// Inserts or replaces a NetworkAttachmentDefinition `ns/name` with `spec.config` (no spec
    /// when `None`, for the "config file in confDir" case) and annotations (for example
    /// `k8s.v1.cni.cncf.io/resourceName`). Returns the stored object.
    pub fn insert_nad(
        &self,
        ns: &str,
        name: &str,
        config: Option<&str>,
        annotations: &[(&str, &str)],
    ) -> Value {
        let mut nad = json!({
            "apiVersion": "k8s.cni.cncf.io/v1",
            "kind": "NetworkAttachmentDefinition",
            "metadata": { "name": name, "namespace": ns },
        });
        if !annotations.is_empty() {
            let map: serde_json::Map<String, Value> = annotations
                .iter()
                .map(|(k, v)| (k.to_string(), json!(v)))
                .collect();
            nad["metadata"]["annotations"] = Value::Object(map);
        }
        if let Some(config) = config {
            nad["spec"] = json!({ "config": config });
        }
        match self.try_insert(nad) {
            Ok(v) => v,
            Err(e) => panic!("insert_nad: {e}"),
        }
    }

    /// Inserts a Namespace (if missing it is created; an existing one is replaced).
    pub fn insert_namespace(&self, name: &str) -> Value {
        match self.try_insert(
            json!({"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": name}}),
        ) {
            Ok(v) => v,
            Err(e) => panic!("insert_namespace: {e}"),
        }
    }

    /// Loads every object of a manifest text (multi-document YAML or JSON, see
    /// [`parse_manifests`]); returns the stored objects.
    pub fn load_manifests(&self, text: &str) -> Result<Vec<Value>, Error> {
        parse_manifests(text, "<inline>")?
            .into_iter()
            .map(|o| self.try_insert(o))
            .collect()
    }

    /// Loads every object of a manifest file (see [`read_manifests`]).
    pub fn load_file(&self, path: impl AsRef<Path>) -> Result<Vec<Value>, Error> {
        read_manifests(path)?
            .into_iter()
            .map(|o| self.try_insert(o))
            .collect()
    }

    /// The pod `ns/name`, as served.
    pub fn pod(&self, ns: &str, name: &str) -> Option<Value> {
        lock(&self.shared.store).get(POD_TYPE, ns, name).ok()
    }

    /// One annotation of the pod `ns/name`.
    pub fn pod_annotation(&self, ns: &str, name: &str, key: &str) -> Option<String> {
        self.pod(ns, name)?
            .get("metadata")?
            .get("annotations")?
            .get(key)?
            .as_str()
            .map(str::to_string)
    }

    /// Every pod, ordered by namespace and name.
    pub fn pods(&self) -> Vec<Value> {
        lock(&self.shared.store).items(POD_TYPE, None)
    }

    /// Deletes the pod `ns/name`; returns it if it existed.
    pub fn delete_pod(&self, ns: &str, name: &str) -> Option<Value> {
        lock(&self.shared.store)
            .delete(POD_TYPE, ns, name, None)
            .ok()
    }

    /// The NetworkAttachmentDefinition `ns/name`.
    pub fn nad(&self, ns: &str, name: &str) -> Option<Value> {
        lock(&self.shared.store).get(NAD_TYPE, ns, name).ok()
    }

    /// Deletes the NetworkAttachmentDefinition `ns/name`; returns it if it existed.
    pub fn delete_nad(&self, ns: &str, name: &str) -> Option<Value> {
        lock(&self.shared.store)
            .delete(NAD_TYPE, ns, name, None)
            .ok()
    }

    /// The Namespace `name`.
    pub fn namespace(&self, name: &str) -> Option<Value> {
        lock(&self.shared.store).get(NAMESPACE_TYPE, "", name).ok()
    }

    /// Every event recorded, core v1 and events.k8s.io/v1 alike, in the order they were created.
    pub fn events(&self) -> Vec<Value> {
        self.shared.events()
    }

    /// The global resourceVersion: how many writes the server has taken.
    pub fn resource_version(&self) -> u64 {
        lock(&self.shared.store).resource_version()
    }

    /// Every object, as `{"resourceVersion": "...", "objects": {"<apiVersion> <kind>": [...]}}`.
    pub fn dump(&self) -> Value {
        lock(&self.shared.store).dump()
    }

    // ----- request log -----

    /// Every request logged so far (not `/_control/` ones), oldest first.
    pub fn requests(&self) -> Vec<RequestRecord> {
        lock(&self.shared.log).records.clone()
    }

    /// The logged requests with `method` to paths matching `pattern` (see [`path_matches`]).
    pub fn requests_matching(&self, method: &str, pattern: &str) -> Vec<RequestRecord> {
        lock(&self.shared.log)
            .records
            .iter()
            .filter(|r| r.is(method, pattern))
            .cloned()
            .collect()
    }

    /// Forgets the watch history, as etcd compaction does: a watch resuming from any earlier
    /// resourceVersion gets a 410 `Expired` error event (open watches go on).
    pub fn compact_watch_history(&self) {
        lock(&self.shared.store).compact();
    }

    /// Empties the request log.
    pub fn clear_requests(&self) {
        lock(&self.shared.log).records.clear();
    }

    // ----- faults -----

    /// Adds a fault: the next `fault.times` matching requests answer `fault.code`. Faults are
    /// checked in the order they were added; the first that matches is used.
    pub fn inject(&self, fault: Fault) {
        lock(&self.shared.faults).rules.push(fault);
    }

    /// The next `n` writes (PUT or PATCH) to any pod's `status` answer 409 Conflict, worded as
    /// the API server's optimistic-concurrency conflict for that pod.
    pub fn inject_status_conflicts(&self, n: usize) {
        self.inject(
            Fault::new(409, n)
                .method("PUT")
                .method("PATCH")
                .path(POD_STATUS_PATH),
        );
    }

    /// The next `n` requests, whatever they are, answer `code` (503 ServiceUnavailable, 500
    /// InternalError, 429 TooManyRequests, ...).
    pub fn inject_errors(&self, n: usize, code: u16) {
        self.inject(Fault::new(code, n));
    }

    /// How many injected errors are still to be answered.
    pub fn pending_faults(&self) -> usize {
        lock(&self.shared.faults)
            .rules
            .iter()
            .map(|f| f.times)
            .sum()
    }

    /// Delays every answer by `delay` (zero removes the delay).
    pub fn set_delay(&self, delay: Duration) {
        self.set_delay_for("/", delay);
    }

    /// Delays answers to paths matching `pattern` (see [`path_matches`]) by `delay`; delays of
    /// every matching pattern add up; zero removes the delay of that pattern.
    pub fn set_delay_for(&self, pattern: &str, delay: Duration) {
        lock(&self.shared.faults).set_delay(pattern, delay);
    }

    /// Removes every injected fault and delay.
    pub fn clear_faults(&self) {
        let mut faults = lock(&self.shared.faults);
        faults.rules.clear();
        faults.delays.clear();
    }

    /// Takes the server down (`true`: the listening socket is closed, so connections are
    /// refused, and open connections, watches included, are dropped) or brings it back up on the same port.
    /// Returns once the change is in force.
    pub fn set_down(&self, down: bool) -> io::Result<()> {
        let generation = self.shared.set_down(down);
        let deadline = Instant::now() + Duration::from_secs(10);
        loop {
            let ack = self.ack.borrow().clone();
            if ack.generation >= generation {
                return match ack.error {
                    Some(e) => Err(io::Error::other(e)),
                    None => Ok(()),
                };
            }
            if Instant::now() > deadline {
                return Err(io::Error::new(
                    io::ErrorKind::TimedOut,
                    "the stand-in API server did not switch within 10 s",
                ));
            }
            std::thread::sleep(Duration::from_millis(1));
        }
    }

    /// Whether the server is down (see [`ApiServer::set_down`]).
    pub fn is_down(&self) -> bool {
        self.shared.control.borrow().down
    }
}

impl Drop for ApiServer {
    fn drop(&mut self) {
        self.shared.control.send_modify(|c| {
            c.shutdown = true;
            c.generation += 1;
        });
        if let Some(thread) = self.thread.take() {
            let _ = thread.join();
        }
    }
}
