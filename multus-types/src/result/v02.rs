//! Results of CNI 0.1.0 and 0.2.0 (one layout: `ip4`/`ip6`).

use std::net::IpAddr;

use ipnetwork::IpNetwork;
use serde::{Deserialize, Serialize};

use super::v1::Dns;
use crate::{CniVersion, ResultFamily};

/// A 0.1.0 / 0.2.0 result: at most one address per family, routes inside it.
///
/// Decoding directly with serde accepts a missing `cniVersion` as 0.1.0 (as the
/// spec says) and rejects versions of other families; use
/// [`CniResult::parse`](super::CniResult::parse) to pick the layout from the
/// version instead.
///
/// ```
/// use multus_types::result::v02;
/// let r: v02::Result = serde_json::from_str(r#"{
///     "cniVersion": "0.2.0",
///     "ip4": {"ip": "10.22.0.7/24", "gateway": "10.22.0.1"}
/// }"#).unwrap();
/// assert_eq!(r.ip4.unwrap().ip.to_string(), "10.22.0.7/24");
/// // Go's 0.2.0 type always writes `dns`, even when it is empty.
/// let empty = v02::Result::default();
/// assert_eq!(serde_json::to_string(&empty).unwrap(), r#"{"cniVersion":"0.1.0","dns":{}}"#);
/// ```
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
pub struct Result {
    /// The version this result is written in (0.1.0 or 0.2.0).
    #[serde(
        rename = "cniVersion",
        default,
        deserialize_with = "deserialize_version"
    )]
    pub cni_version: CniVersion,
    /// The IPv4 configuration.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub ip4: Option<IpConfig>,
    /// The IPv6 configuration.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub ip6: Option<IpConfig>,
    /// DNS settings; always written (Go's `omitempty` has no effect on a struct).
    #[serde(default)]
    pub dns: Dns,
}

/// The configuration of one address family in a 0.1.0 / 0.2.0 result.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct IpConfig {
    /// Address with prefix length (the host address, not the network).
    pub ip: IpNetwork,
    /// Subnet gateway; it does not add a route by itself.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub gateway: Option<IpAddr>,
    /// Routes of this family.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub routes: Vec<Route>,
}

impl IpConfig {
    /// An address without gateway or routes.
    pub fn new(ip: IpNetwork) -> Self {
        Self {
            ip,
            gateway: None,
            routes: Vec::new(),
        }
    }
}

/// A route in a 0.1.0 / 0.2.0 result: only destination and next hop exist here.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Route {
    /// Destination.
    pub dst: IpNetwork,
    /// Next hop; absent means the gateway of the address.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub gw: Option<IpAddr>,
}

impl Route {
    /// A route to `dst` via `gw`.
    pub fn new(dst: IpNetwork, gw: Option<IpAddr>) -> Self {
        Self { dst, gw }
    }
}

/// `cniVersion` of this layout: "" means 0.1.0, other families are refused
/// (libcni's `NewResult` check for this type).
fn deserialize_version<'de, D: serde::Deserializer<'de>>(
    d: D,
) -> std::result::Result<CniVersion, D::Error> {
    super::version_of_family(d, ResultFamily::V02)
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::expect_used)]
mod tests {
    use super::*;

    #[test]
    fn missing_version_is_0_1_0_and_other_families_are_refused() {
        let r: Result = serde_json::from_str(r#"{"ip4":{"ip":"10.0.0.2/8"}}"#).unwrap();
        assert_eq!(r.cni_version, CniVersion::V0_1_0);
        let r: Result =
            serde_json::from_str(r#"{"cniVersion":"","ip4":{"ip":"10.0.0.2/8"}}"#).unwrap();
        assert_eq!(r.cni_version, CniVersion::V0_1_0);
        let err = serde_json::from_str::<Result>(r#"{"cniVersion":"0.4.0"}"#).unwrap_err();
        assert!(err.to_string().contains("0.4.0"), "{err}");
    }

    #[test]
    fn serializes_in_go_field_order_with_dns() {
        let r = Result {
            cni_version: CniVersion::V0_2_0,
            ip4: Some(IpConfig {
                ip: "10.1.2.3/24".parse().unwrap(),
                gateway: Some("10.1.2.1".parse().unwrap()),
                routes: vec![Route::new("0.0.0.0/0".parse().unwrap(), None)],
            }),
            ip6: Some(IpConfig::new("fd00::3/64".parse().unwrap())),
            dns: Dns::default(),
        };
        assert_eq!(
            serde_json::to_string(&r).unwrap(),
            r#"{"cniVersion":"0.2.0","ip4":{"ip":"10.1.2.3/24","gateway":"10.1.2.1","routes":[{"dst":"0.0.0.0/0"}]},"ip6":{"ip":"fd00::3/64"},"dns":{}}"#
        );
    }
}
