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

#[cfg(test)]
mod wire_tests {
    //! The generated messages against protobuf bytes built by hand from the
    //! wire table (field numbers and types of kubelet's v1 API), so a slip in
    //! `proto/api.proto` cannot go unnoticed.

    use super::proto::*;
    use prost::Message;

    fn varint(mut v: u64, out: &mut Vec<u8>) {
        while v >= 0x80 {
            out.push((v as u8) | 0x80);
            v >>= 7;
        }
        out.push(v as u8);
    }

    /// A length-delimited field (strings, messages, packed lists).
    fn ld(field: u64, payload: &[u8]) -> Vec<u8> {
        let mut out = Vec::new();
        varint(field << 3 | 2, &mut out);
        varint(payload.len() as u64, &mut out);
        out.extend_from_slice(payload);
        out
    }

    /// A varint field.
    fn vi(field: u64, value: u64) -> Vec<u8> {
        let mut out = Vec::new();
        varint(field << 3, &mut out);
        varint(value, &mut out);
        out
    }

    fn cat(parts: &[Vec<u8>]) -> Vec<u8> {
        parts.concat()
    }

    #[test]
    fn list_response_matches_the_wire_table() {
        let topology = ld(1, &vi(1, 1)); // TopologyInfo.nodes[NUMANode.ID = 1]
        let devices = cat(&[
            ld(1, b"intel.com/sriov"),
            ld(2, b"0000:03:02.0"),
            ld(3, &topology),
        ]);
        let mut cpus = Vec::new();
        varint(2, &mut cpus);
        varint(3, &mut cpus);
        let memory = cat(&[ld(1, b"memory"), vi(2, 4096), ld(3, &topology)]);
        let claim_resource = cat(&[
            ld(1, &ld(1, b"vendor.com/nic=nic0")),
            ld(2, b"nic.example.com"),
            ld(3, b"node-1"),
            ld(4, b"nic0"),
            ld(5, b"share-1"),
        ]);
        let dynamic = cat(&[ld(2, b"claim"), ld(3, b"default"), ld(4, &claim_resource)]);
        let container = cat(&[
            ld(1, b"app"),
            ld(2, &devices),
            ld(3, &cpus),
            ld(4, &memory),
            ld(5, &dynamic),
        ]);
        let pod = cat(&[ld(1, b"p"), ld(2, b"default"), ld(3, &container)]);
        let bytes = ld(1, &pod);

        let topology = Some(TopologyInfo {
            nodes: vec![NumaNode { id: 1 }],
        });
        let expected = ListPodResourcesResponse {
            pod_resources: vec![PodResources {
                name: "p".into(),
                namespace: "default".into(),
                containers: vec![ContainerResources {
                    name: "app".into(),
                    devices: vec![ContainerDevices {
                        resource_name: "intel.com/sriov".into(),
                        device_ids: vec!["0000:03:02.0".into()],
                        topology: topology.clone(),
                    }],
                    cpu_ids: vec![2, 3],
                    memory: vec![ContainerMemory {
                        memory_type: "memory".into(),
                        size: 4096,
                        topology,
                    }],
                    dynamic_resources: vec![DynamicResource {
                        claim_name: "claim".into(),
                        claim_namespace: "default".into(),
                        claim_resources: vec![ClaimResource {
                            cdi_devices: vec![CdiDevice {
                                name: "vendor.com/nic=nic0".into(),
                            }],
                            driver_name: "nic.example.com".into(),
                            pool_name: "node-1".into(),
                            device_name: "nic0".into(),
                            share_id: Some("share-1".into()),
                        }],
                    }],
                }],
            }],
        };
        assert_eq!(
            ListPodResourcesResponse::decode(&bytes[..]).unwrap(),
            expected
        );
        assert_eq!(expected.encode_to_vec(), bytes);
    }

    #[test]
    fn get_and_allocatable_match_the_wire_table() {
        let bytes = cat(&[ld(1, b"p"), ld(2, b"default")]);
        let request = GetPodResourcesRequest {
            pod_name: "p".into(),
            pod_namespace: "default".into(),
        };
        assert_eq!(request.encode_to_vec(), bytes);
        let devices = cat(&[ld(1, b"r"), ld(2, b"d")]);
        let mut cpus = Vec::new();
        varint(7, &mut cpus);
        let bytes = cat(&[
            ld(1, &devices),
            ld(2, &cpus),
            ld(3, &ld(1, b"hugepages-2Mi")),
        ]);
        let decoded = AllocatableResourcesResponse::decode(&bytes[..]).unwrap();
        assert_eq!(decoded.devices[0].device_ids, ["d"]);
        assert_eq!(decoded.cpu_ids, [7]);
        assert_eq!(decoded.memory[0].memory_type, "hugepages-2Mi");
        // The retired field 1 of DynamicResource is skipped, not misread.
        let bytes = cat(&[ld(1, b"old-class"), ld(2, b"claim")]);
        let dynamic = DynamicResource::decode(&bytes[..]).unwrap();
        assert_eq!(dynamic.claim_name, "claim");
    }
}
