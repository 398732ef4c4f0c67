//! A client of kubelet's pod-resources API (`v1.PodResourcesLister`), the
//! place where a node says which devices each pod's containers were given.
//!
//! Kubelet serves the API over gRPC on a unix socket,
//! [`DEFAULT_SOCKET`] by default. [`PodResourcesClient::pod_devices`] calls
//! `List` once and keeps the devices of every container of one pod (matched
//! by name and namespace, as kubelet reports pods), per resource name, IDs
//! sorted — what Multus hands to delegates as `deviceID`. The dial and call
//! timeouts and the message limit default to upstream Multus' values.
//!
//! The `.proto` (in `proto/api.proto`) is compiled at build time by
//! `protox`, a pure-Rust compiler: building needs no `protoc`. The generated
//! messages and client are in [`proto`]; with the `server` feature, the
//! service trait and server too (for stand-in kubelets in tests).
//!
//! ```no_run
//! # async fn demo() -> Result<(), multus_podresources::Error> {
//! use multus_podresources::{PodResourcesClient, DEFAULT_SOCKET, socket_present};
//! let socket = std::path::Path::new(DEFAULT_SOCKET);
//! if socket_present(socket) {
//!     let devices = PodResourcesClient::new(socket).pod_devices("default", "sriov-pod").await?;
//!     for (resource, ids) in &devices {
//!         println!("{resource}: {ids:?}");
//!     }
//! }
//! # Ok(()) }
//! ```

#![cfg_attr(test, allow(clippy::unwrap_used, clippy::expect_used))]

/// The README's examples, compiled as doctests.
#[cfg(doctest)]
#[doc = include_str!("../README.md")]
struct ReadmeDoctests;

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::time::Duration;

/// The generated messages and client of `v1.PodResourcesLister` (and, with
/// the `server` feature, its service trait and server).
#[allow(missing_docs, clippy::all, clippy::pedantic, rust_2018_idioms)]
pub mod proto {
    tonic::include_proto!("v1");
}

/// Where kubelet serves the pod-resources API.
pub const DEFAULT_SOCKET: &str = "/var/lib/kubelet/pod-resources/kubelet.sock";
/// How long connecting to the socket may take (upstream's value).
pub const DIAL_TIMEOUT: Duration = Duration::from_secs(10);
/// How long the `List` call may take (upstream's value).
pub const CALL_TIMEOUT: Duration = Duration::from_secs(10);
/// The largest `List` answer accepted, 16 MiB (upstream's value).
pub const MAX_MESSAGE_SIZE: usize = 16 * 1024 * 1024;

/// Resource name → device IDs, sorted.
pub type DeviceMap = BTreeMap<String, Vec<String>>;

/// What went wrong asking kubelet.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// The socket could not be dialled (refused, not a socket, timed out).
    #[error("cannot connect to kubelet's pod-resources socket {}: {reason}", socket.display())]
    Connect {
        /// The socket.
        socket: PathBuf,
        /// Why.
        reason: String,
    },
    /// `List` failed or timed out.
    #[error("failed to list pod resources from kubelet at {}: {reason}", socket.display())]
    List {
        /// The socket.
        socket: PathBuf,
        /// The gRPC status or the timeout.
        reason: String,
    },
}

/// Whether `socket` exists (symlinks followed, as Go's `os.Stat`): upstream
/// asks kubelet only then and reads the device-plugin checkpoint otherwise.
/// Anything there counts (a socket nobody listens on is an error later, not
/// a fallback).
pub fn socket_present(socket: &Path) -> bool {
    socket.metadata().is_ok()
}

/// A client of one kubelet's pod-resources socket. Each call dials anew, as
/// upstream does per CNI call; nothing is kept open.
#[derive(Debug, Clone)]
pub struct PodResourcesClient {
    socket: PathBuf,
    dial_timeout: Duration,
    call_timeout: Duration,
    max_message_size: usize,
}

impl PodResourcesClient {
    /// A client of `socket` with upstream's timeouts and message limit.
    pub fn new(socket: impl Into<PathBuf>) -> Self {
        Self {
            socket: socket.into(),
            dial_timeout: DIAL_TIMEOUT,
            call_timeout: CALL_TIMEOUT,
            max_message_size: MAX_MESSAGE_SIZE,
        }
    }

    /// With other dial and call timeouts.
    pub fn with_timeouts(mut self, dial: Duration, call: Duration) -> Self {
        self.dial_timeout = dial;
        self.call_timeout = call;
        self
    }

    /// With another limit on the size of the answer.
    pub fn with_max_message_size(mut self, bytes: usize) -> Self {
        self.max_message_size = bytes;
        self
    }

    /// The socket this client dials.
    pub fn socket(&self) -> &Path {
        &self.socket
    }

    /// Every pod kubelet reports, with its containers' resources.
    ///
    /// # Errors
    /// [`Error::Connect`] when the socket cannot be dialled within the dial
    /// timeout, [`Error::List`] when the call fails or outlasts the call timeout.
    pub async fn list(&self) -> Result<Vec<proto::PodResources>, Error> {
        let channel = self.connect().await?;
        let mut client = proto::pod_resources_lister_client::PodResourcesListerClient::new(channel)
            .max_decoding_message_size(self.max_message_size);
        let list_failed = |reason: String| Error::List {
            socket: self.socket.clone(),
            reason,
        };
        let answer = tokio::time::timeout(
            self.call_timeout,
            client.list(proto::ListPodResourcesRequest {}),
        )
        .await
        .map_err(|_| list_failed(format!("no answer within {:?}", self.call_timeout)))?
        .map_err(|status| list_failed(describe_status(&status)))?;
        Ok(answer.into_inner().pod_resources)
    }

    /// The devices of every container of pod `namespace`/`name`, per
    /// resource name, IDs sorted; empty when kubelet does not know the pod.
    ///
    /// # Errors
    /// As [`PodResourcesClient::list`].
    pub async fn pod_devices(&self, namespace: &str, name: &str) -> Result<DeviceMap, Error> {
        Ok(devices_of(&self.list().await?, namespace, name))
    }

    async fn connect(&self) -> Result<tonic::transport::Channel, Error> {
        let failed = |reason: String| Error::Connect {
            socket: self.socket.clone(),
            reason,
        };
        // The URI is a placeholder: the connector below ignores it and dials the socket path.
        let endpoint = tonic::transport::Endpoint::from_static("http://kubelet.sock")
            .connect_timeout(self.dial_timeout);
        let socket = self.socket.clone();
        let connector = tower::service_fn(move |_: tonic::transport::Uri| {
            let socket = socket.clone();
            async move {
                let stream = tokio::net::UnixStream::connect(socket).await?;
                Ok::<_, std::io::Error>(hyper_util::rt::TokioIo::new(stream))
            }
        });
        tokio::time::timeout(
            self.dial_timeout,
            endpoint.connect_with_connector(connector),
        )
        .await
        .map_err(|_| failed(format!("no connection within {:?}", self.dial_timeout)))?
        .map_err(|e| failed(error_chain(&e)))
    }
}

/// The devices of pod `namespace`/`name` in a `List` answer: all its
/// containers, per resource name, IDs sorted.
///
/// ```
/// use multus_podresources::{devices_of, proto};
/// let pods = vec![proto::PodResources {
///     name: "p".into(), namespace: "default".into(),
///     containers: vec![proto::ContainerResources {
///         name: "c".into(),
///         devices: vec![proto::ContainerDevices {
///             resource_name: "intel.com/sriov".into(),
///             device_ids: vec!["0000:03:02.1".into(), "0000:03:02.0".into()],
///             topology: None,
///         }],
///         ..Default::default()
///     }],
/// }];
/// assert_eq!(devices_of(&pods, "default", "p")["intel.com/sriov"], ["0000:03:02.0", "0000:03:02.1"]);
/// assert!(devices_of(&pods, "other", "p").is_empty());
/// ```
pub fn devices_of(pods: &[proto::PodResources], namespace: &str, name: &str) -> DeviceMap {
    let mut map = DeviceMap::new();
    for pod in pods
        .iter()
        .filter(|p| p.name == name && p.namespace == namespace)
    {
        for devices in pod.containers.iter().flat_map(|c| &c.devices) {
            map.entry(devices.resource_name.clone())
                .or_default()
                .extend(devices.device_ids.iter().cloned());
        }
    }
    for ids in map.values_mut() {
        ids.sort();
    }
    map
}

fn describe_status(status: &tonic::Status) -> String {
    let mut text = format!("{:?}: {}", status.code(), status.message());
    if let Some(source) = std::error::Error::source(status) {
        text.push_str(": ");
        text.push_str(&error_chain(source));
    }
    text
}

/// An error and its causes, `: `-separated (tonic's own messages are terse).
fn error_chain(e: &dyn std::error::Error) -> String {
    let mut text = e.to_string();
    let mut next = e.source();
    while let Some(cause) = next {
        let cause_text = cause.to_string();
        if !text.contains(&cause_text) {
            text.push_str(": ");
            text.push_str(&cause_text);
        }
        next = cause.source();
    }
    text
}
