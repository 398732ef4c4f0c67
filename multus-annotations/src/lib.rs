//! The Kubernetes network attachment annotations as Multus reads and writes
//! them, without Kubernetes client code.
//!
//! * [`parse_networks`]: the pod annotation `k8s.v1.cni.cncf.io/networks`,
//!   comma form (`net-a, ns1/net-b@eth1`) or JSON form, into
//!   [`NetworkSelectionElement`]s, with upstream Multus's rules and checks.
//! * [`parse_default_network`]: the pod annotation
//!   `v1.multus-cni.io/default-network` (same grammar, exactly one network).
//! * [`default_route`]: the pod-wide `default-route` rules (the ECMP check and
//!   which attachments lose their default routes).
//! * [`NetworkStatus`] / [`DeviceInfo`]: the `k8s.v1.cni.cncf.io/network-status`
//!   entries, built from CNI results with [`NetworkStatus::from_result`],
//!   written with [`render_network_status`] byte for byte as upstream writes
//!   them, read back with [`parse_network_status`].
//! * [`addr`]: IP, CIDR and hardware-address syntax with Go's strictness
//!   (a re-export of `multus_types::addr`).
//!
//! ```
//! use multus_annotations::{parse_networks, NetworkStatus, render_network_status};
//!
//! let nets = parse_networks("macvlan-conf-1, testns1/macvlan-conf-3@macvlan1", "default")?;
//! assert_eq!(nets[0].to_string(), "default/macvlan-conf-1");
//! assert_eq!(nets[1].interface, "macvlan1");
//!
//! let result = serde_json::from_str(r#"{"cniVersion":"1.0.0",
//!     "interfaces":[{"name":"macvlan1","mac":"c2:b0:57:49:47:f1","sandbox":"/var/run/netns/p"}],
//!     "ips":[{"address":"10.1.1.101/24","interface":0}]}"#).unwrap();
//! let status = NetworkStatus::from_result(&result, "testns1/macvlan-conf-3", false, None);
//! assert_eq!(
//!     render_network_status(&status),
//!     "[{\n    \"name\": \"testns1/macvlan-conf-3\",\n    \"interface\": \"macvlan1\",\n    \
//!      \"ips\": [\n        \"10.1.1.101\"\n    ],\n    \"mac\": \"c2:b0:57:49:47:f1\",\n    \
//!      \"dns\": {}\n}]"
//! );
//! # Ok::<(), multus_annotations::Error>(())
//! ```
//!
//! # Differences from upstream
//!
//! Upstream Multus (Go) is matched rule for rule, including its error texts,
//! except where it crashes or passes plainly broken input on:
//!
//! 1. **`[null]` in the JSON form** (or any `null` element): upstream panics
//!    (nil pointer); here it is [`Error::NullElement`] naming the index.
//! 2. **Empty comma-form items** (leading, trailing or doubled comma, or a
//!    value of only whitespace, e.g. `net-a,,net-b`): upstream keeps them as
//!    elements with an empty name, so the ADD fails later at the NAD lookup
//!    with `cannot find a network-attachment-definition () ...`; here parsing
//!    fails with [`Error::EmptyItem`] naming the position. Likewise an item
//!    whose name part is empty (`ns/`, `@net1`) is [`Error::EmptyName`].
//!    JSON-form names are not validated, as upstream.
//! 3. **`default-route` entries that are not addresses**: Go decodes `""`
//!    and `null` entries as a nil IP (later counted as an IPv6 gateway);
//!    here they are decode errors. IPv4-mapped IPv6 gateways are stored as
//!    IPv4, which is how Go treats them.
//! 4. **`v1.multus-cni.io/default-network: []`**: upstream panics (index out
//!    of range); here it is [`Error::NoDefaultNetwork`]. An empty value is an
//!    error in both ([`Error::EmptyDefaultNetwork`] here).
//! 5. **Gateway-less default routes in network-status**: upstream writes the
//!    string `"<nil>"` into `gateway` for a default route without `gw`; here
//!    such a route contributes nothing (a reader parsing `gateway` entries
//!    as IPs would fail on `"<nil>"`).
//! 6. **Error texts** keep upstream's wording but add where the fault is
//!    (item position, JSON path, network name) and, for the ECMP error, the
//!    gateways involved. Upstream's Go function-name prefixes
//!    (`parsePodNetworkAnnotation: ...`) are not reproduced.
//!
//! JSON type errors are reported with serde's wording, not Go's, and
//! `portMappings: [null]` is an error here (Go keeps a nil entry).

#![cfg_attr(test, allow(clippy::unwrap_used, clippy::expect_used))]

mod de;
mod error;

/// IP, CIDR and hardware-address syntax with Go's strictness; this is
/// [`multus_types::addr`], re-exported so the annotations crate keeps its API.
pub use multus_types::addr;

pub mod default_network;
pub mod default_route;
pub mod selection;
pub mod status;

pub use default_network::parse_default_network;
pub use error::Error;
pub use selection::{NetworkSelectionElement, parse_networks};
pub use status::{
    DeviceInfo, Dns, MemifDevice, NetworkStatus, PciDevice, VdpaDevice, VhostUserDevice,
    parse_network_status, render_network_status,
};

/// Pod annotation selecting additional networks.
pub const NETWORKS_ANNOTATION: &str = "k8s.v1.cni.cncf.io/networks";

/// Pod annotation Multus writes with the attachments' status.
pub const NETWORK_STATUS_ANNOTATION: &str = "k8s.v1.cni.cncf.io/network-status";

/// Pre-2022 (misspelled) name of [`NETWORK_STATUS_ANNOTATION`]; old pods may
/// still carry it, Multus v4 no longer writes it.
pub const OLD_NETWORK_STATUS_ANNOTATION: &str = "k8s.v1.cni.cncf.io/networks-status";

/// Pod annotation replacing the cluster default network for that pod.
pub const DEFAULT_NETWORK_ANNOTATION: &str = "v1.multus-cni.io/default-network";

/// NetworkAttachmentDefinition annotation naming the device-plugin resource
/// whose devices the attachment uses.
pub const RESOURCE_NAME_ANNOTATION: &str = "k8s.v1.cni.cncf.io/resourceName";

/// The README's example, compiled and run as a doctest.
#[cfg(doctest)]
#[doc = include_str!("../README.md")]
struct ReadmeDoctests;
