//! Results of CNI 0.3.0, 0.3.1 and 0.4.0 (one layout: `interfaces`, `ips` with `version`).

use std::net::IpAddr;

use ipnetwork::IpNetwork;
use serde::{Deserialize, Serialize};

use super::v1::{Dns, Route};
use crate::{CniVersion, ResultFamily};

/// A 0.3.0 / 0.3.1 / 0.4.0 result.
///
/// Routes use the 1.x [`Route`] type: Go's 0.4.0 type shares the route struct
/// with 1.x, so the 1.1.0 route fields (`mtu`, `table`, ...) survive a trip
/// through 0.4.0.
///
/// ```
/// use multus_types::result::v04;
/// let r: v04::Result = serde_json::from_str(r#"{
///     "cniVersion": "0.4.0",
///     "interfaces": [{"name": "net1", "sandbox": "/run/netns/p"}],
///     "ips": [{"version": "4", "address": "10.1.1.5/24", "interface": 0}]
/// }"#).unwrap();
/// assert_eq!(r.ips[0].interface, Some(0));
/// // `dns` is always written, `interface: 0` is kept.
/// assert_eq!(
///     serde_json::to_string(&r).unwrap(),
///     r#"{"cniVersion":"0.4.0","interfaces":[{"name":"net1","sandbox":"/run/netns/p"}],"ips":[{"version":"4","interface":0,"address":"10.1.1.5/24"}],"dns":{}}"#
/// );
/// ```
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
pub struct Result {
    /// The version this result is written in (0.3.0, 0.3.1 or 0.4.0).
    #[serde(rename = "cniVersion", deserialize_with = "deserialize_version")]
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
    /// DNS settings; always written (Go's `omitempty` has no effect on a struct).
    #[serde(default)]
    pub dns: Dns,
}

/// An interface in a 0.3.x / 0.4.0 result.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
pub struct Interface {
    /// Interface name (Go accepts a missing name as empty, so does this).
    #[serde(default)]
    pub name: String,
    /// Hardware address, verbatim.
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub mac: String,
    /// Network namespace path; empty for host-side interfaces.
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub sandbox: String,
}

impl Interface {
    /// Whether this interface lives in a container (has a sandbox).
    pub fn is_sandbox(&self) -> bool {
        !self.sandbox.is_empty()
    }
}

/// An address in a 0.3.x / 0.4.0 result.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct IpConfig {
    /// `"4"` or `"6"`, always written.
    ///
    /// Kept verbatim as Go does (it is a free string there): converting to
    /// 0.2.0 files an address under `ip4`/`ip6` by this field, not by the
    /// address itself.
    #[serde(default)]
    pub version: String,
    /// Index into `interfaces`; 0 is a valid index, absent means unknown.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub interface: Option<i32>,
    /// Address with prefix length (the host address, not the network).
    pub address: IpNetwork,
    /// Subnet gateway.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub gateway: Option<IpAddr>,
}

impl IpConfig {
    /// An address with `version` set from its family, as libcni computes it.
    ///
    /// ```
    /// use multus_types::result::v04::IpConfig;
    /// let ip = IpConfig::new("fd00::5/64".parse().unwrap(), None, Some(1));
    /// assert_eq!(ip.version, "6");
    /// ```
    pub fn new(address: IpNetwork, gateway: Option<IpAddr>, interface: Option<i32>) -> Self {
        Self {
            version: version_of(address.ip()).to_owned(),
            interface,
            address,
            gateway,
        }
    }
}

/// `"4"` or `"6"` for an address, the way Go decides it: an IPv4-mapped IPv6
/// address (`::ffff:a.b.c.d`) counts as IPv4, because Go's `To4()` accepts it.
pub(crate) fn version_of(ip: IpAddr) -> &'static str {
    if crate::addr::is_ipv4(ip) { "4" } else { "6" }
}

/// `cniVersion` of this layout: required, and must be 0.3.0, 0.3.1 or 0.4.0
/// (libcni's `NewResult` check for this type).
fn deserialize_version<'de, D: serde::Deserializer<'de>>(
    d: D,
) -> std::result::Result<CniVersion, D::Error> {
    super::version_of_family(d, ResultFamily::V04)
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::expect_used)]
mod tests {
    use super::*;

    #[test]
    fn version_is_always_written_and_interface_zero_kept() {
        let ip = IpConfig::new("10.0.0.1/8".parse().unwrap(), None, Some(0));
        assert_eq!(
            serde_json::to_string(&ip).unwrap(),
            r#"{"version":"4","interface":0,"address":"10.0.0.1/8"}"#
        );
        let bare = IpConfig {
            version: String::new(),
            interface: None,
            address: "10.0.0.1/8".parse().unwrap(),
            gateway: None,
        };
        assert_eq!(
            serde_json::to_string(&bare).unwrap(),
            r#"{"version":"","address":"10.0.0.1/8"}"#
        );
    }

    #[test]
    fn mapped_ipv4_counts_as_ipv4_like_go() {
        assert_eq!(version_of("::ffff:10.0.0.1".parse().unwrap()), "4");
        assert_eq!(version_of("::1".parse().unwrap()), "6");
        assert_eq!(version_of("10.0.0.1".parse().unwrap()), "4");
    }

    #[test]
    fn version_is_required_and_checked() {
        assert!(serde_json::from_str::<Result>(r#"{"ips":[]}"#).is_err());
        let err = serde_json::from_str::<Result>(r#"{"cniVersion":"1.0.0"}"#).unwrap_err();
        assert!(err.to_string().contains("1.0.0"), "{err}");
        let r: Result = serde_json::from_str(r#"{"cniVersion":"0.3.0"}"#).unwrap();
        assert_eq!(r.cni_version, CniVersion::V0_3_0);
    }

    #[test]
    fn routes_keep_1_1_fields() {
        let r: Result = serde_json::from_str(
            r#"{"cniVersion":"0.4.0","routes":[{"dst":"0.0.0.0/0","mtu":1400,"table":0}]}"#,
        )
        .unwrap();
        assert_eq!(r.routes[0].mtu, 1400);
        assert_eq!(r.routes[0].table, Some(0));
    }
}
