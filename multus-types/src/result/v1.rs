//! Results of CNI 1.0.0 and 1.1.0 (one layout; 1.1.0 only adds optional fields).

use std::net::IpAddr;

use ipnetwork::IpNetwork;
use serde::{Deserialize, Serialize};

use crate::CniVersion;

/// A 1.x result.
///
/// ```
/// use multus_types::result::v1;
/// let r: v1::Result = serde_json::from_str(r#"{
///     "cniVersion": "1.0.0",
///     "interfaces": [{"name": "net1", "sandbox": "/run/netns/p"}],
///     "ips": [{"address": "10.1.1.5/24", "gateway": "10.1.1.1", "interface": 0}]
/// }"#).unwrap();
/// assert_eq!(r.ips[0].address.ip().to_string(), "10.1.1.5");
/// ```
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
pub struct Result {
    /// The version this result is written in.
    #[serde(rename = "cniVersion")]
    pub cni_version: CniVersion,
    /// Interfaces created or touched, host side included.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub interfaces: Vec<Interface>,
    /// Addresses assigned.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub ips: Vec<IpConfig>,
    /// Routes added.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub routes: Vec<Route>,
    /// DNS settings; omitted when empty, as Go's 1.x types do.
    #[serde(default, skip_serializing_if = "Dns::is_empty")]
    pub dns: Dns,
}

impl Result {
    /// Whether the result lists any interface or any address: the condition
    /// under which Multus applies a delegate's `default-route` changes after
    /// its `ADD` (upstream checks the result converted to the current
    /// version, as here).
    ///
    /// ```
    /// use multus_types::result::v1;
    /// let r: v1::Result = serde_json::from_str(r#"{"cniVersion":"1.0.0","interfaces":[{"name":"net1"}]}"#).unwrap();
    /// assert!(r.has_interfaces_or_ips());
    /// assert!(!v1::Result::default().has_interfaces_or_ips());
    /// ```
    pub fn has_interfaces_or_ips(&self) -> bool {
        !self.interfaces.is_empty() || !self.ips.is_empty()
    }
}

/// An interface in a result.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
pub struct Interface {
    /// Interface name.
    pub name: String,
    /// Hardware address, verbatim.
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub mac: String,
    /// MTU (1.1.0).
    #[serde(default, skip_serializing_if = "is_zero")]
    pub mtu: u32,
    /// Network namespace path; empty for host-side interfaces.
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub sandbox: String,
    /// vhost-user or similar socket path (1.1.0).
    #[serde(
        rename = "socketPath",
        default,
        skip_serializing_if = "String::is_empty"
    )]
    pub socket_path: String,
    /// PCI address of the device (1.1.0).
    #[serde(rename = "pciID", default, skip_serializing_if = "String::is_empty")]
    pub pci_id: String,
}

impl Interface {
    /// Whether this interface lives in a container (has a sandbox).
    pub fn is_sandbox(&self) -> bool {
        !self.sandbox.is_empty()
    }
}

/// An address in a result.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct IpConfig {
    /// Index into `interfaces`; 0 is a valid index, absent means unknown.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub interface: Option<i32>,
    /// Address with prefix length (the host address is kept, not the network).
    pub address: IpNetwork,
    /// Subnet gateway.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub gateway: Option<IpAddr>,
}

/// A route in a result.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Route {
    /// Destination.
    pub dst: IpNetwork,
    /// Next hop; absent means the default gateway of the address.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub gw: Option<IpAddr>,
    /// Route MTU (1.1.0).
    #[serde(default, skip_serializing_if = "is_zero")]
    pub mtu: u32,
    /// Advertised MSS (1.1.0).
    #[serde(default, skip_serializing_if = "is_zero")]
    pub advmss: u32,
    /// Priority, lower is preferred (1.1.0).
    #[serde(default, skip_serializing_if = "is_zero")]
    pub priority: u32,
    /// Routing table (1.1.0); written even when 0.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub table: Option<u32>,
    /// Scope (1.1.0): 0 universe, 253 link, 254 host; written even when 0.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub scope: Option<u8>,
}

impl Route {
    /// A route to `dst`, with only the fields every version has.
    pub fn new(dst: IpNetwork, gw: Option<IpAddr>) -> Self {
        Self {
            dst,
            gw,
            mtu: 0,
            advmss: 0,
            priority: 0,
            table: None,
            scope: None,
        }
    }

    /// Whether this is a default route (`0.0.0.0/0` or `::/0`).
    pub fn is_default(&self) -> bool {
        self.dst.prefix() == 0 && self.dst.ip().is_unspecified()
    }
}

/// DNS settings of a result (shared by all versions).
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
pub struct Dns {
    /// Name servers.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub nameservers: Vec<String>,
    /// Local domain.
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub domain: String,
    /// Search domains.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub search: Vec<String>,
    /// Resolver options.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub options: Vec<String>,
}

impl Dns {
    /// Whether no field is set.
    pub fn is_empty(&self) -> bool {
        self.nameservers.is_empty()
            && self.domain.is_empty()
            && self.search.is_empty()
            && self.options.is_empty()
    }
}

fn is_zero(n: &u32) -> bool {
    *n == 0
}
