//! libcni's converters between the three result layouts (`GetAsVersion`).
//!
//! Only the four cross-family steps live here; [`CniResult::convert_to`]
//! composes them (0.2 ↔ 1.x always goes through 0.4.0, as in libcni) and
//! handles relabelling inside a family.
//!
//! [`CniResult::convert_to`]: super::CniResult::convert_to

use super::{v1, v02, v04};
use crate::addr::is_ipv4;
use crate::{CniVersion, Error};

/// 0.1.0/0.2.0 → 0.3.x/0.4.0: `ip4` then `ip6` become `ips` (no interface
/// index), their routes become the top-level `routes` in the same order.
pub(crate) fn v02_to_v04(from: &v02::Result, to: CniVersion) -> v04::Result {
    let mut out = v04::Result {
        cni_version: to,
        dns: from.dns.clone(),
        ..v04::Result::default()
    };
    // The version label comes from the slot, not the address, as in Go.
    for (slot, version) in [(&from.ip4, "4"), (&from.ip6, "6")] {
        if let Some(ip) = slot {
            out.ips.push(v04::IpConfig {
                version: version.to_owned(),
                interface: None,
                address: ip.ip,
                gateway: ip.gateway,
            });
            out.routes
                .extend(ip.routes.iter().map(|r| v1::Route::new(r.dst, r.gw)));
        }
    }
    out
}

/// 0.3.x/0.4.0 → 0.1.0/0.2.0: lossy.
///
/// The first `version: "4"` address becomes `ip4` and the first `"6"` one
/// `ip6`; other addresses, interfaces and indexes are dropped. A route goes
/// to the family of its destination only when that family got an address,
/// and keeps only `dst`/`gw`. With no address at all there is nothing to
/// write, which 0.2.0 does not allow.
pub(crate) fn v04_to_v02(from: &v04::Result, to: CniVersion) -> Result<v02::Result, Error> {
    let mut out = v02::Result {
        cni_version: to,
        ip4: None,
        ip6: None,
        dns: from.dns.clone(),
    };
    for ip in &from.ips {
        // Go files by the `version` string, so an address whose label and
        // family disagree lands where its label says.
        let slot = match ip.version.as_str() {
            "4" => &mut out.ip4,
            "6" => &mut out.ip6,
            _ => continue,
        };
        if slot.is_none() {
            *slot = Some(v02::IpConfig {
                ip: ip.address,
                gateway: ip.gateway,
                routes: Vec::new(),
            });
        }
        if out.ip4.is_some() && out.ip6.is_some() {
            break;
        }
    }
    for route in &from.routes {
        let slot = if is_ipv4(route.dst.ip()) {
            &mut out.ip4
        } else {
            &mut out.ip6
        };
        if let Some(ip) = slot {
            ip.routes.push(v02::Route::new(route.dst, route.gw));
        }
    }
    if out.ip4.is_none() && out.ip6.is_none() {
        return Err(Error::Result(
            "cannot convert: no valid IP addresses".to_owned(),
        ));
    }
    Ok(out)
}

/// 0.3.x/0.4.0 → 1.x: `ips[].version` is dropped, everything else is kept.
pub(crate) fn v04_to_v1(from: &v04::Result, to: CniVersion) -> v1::Result {
    v1::Result {
        cni_version: to,
        interfaces: from
            .interfaces
            .iter()
            .map(|i| v1::Interface {
                name: i.name.clone(),
                mac: i.mac.clone(),
                sandbox: i.sandbox.clone(),
                ..v1::Interface::default()
            })
            .collect(),
        ips: from
            .ips
            .iter()
            .map(|ip| v1::IpConfig {
                interface: ip.interface,
                address: ip.address,
                gateway: ip.gateway,
            })
            .collect(),
        routes: from.routes.clone(),
        dns: from.dns.clone(),
    }
}

/// 1.x → 0.3.x/0.4.0: `version` is recomputed from each address; interfaces
/// lose `mtu`/`socketPath`/`pciID`; routes keep every field (Go shares the
/// route type between the two layouts).
pub(crate) fn v1_to_v04(from: &v1::Result, to: CniVersion) -> v04::Result {
    v04::Result {
        cni_version: to,
        interfaces: from
            .interfaces
            .iter()
            .map(|i| v04::Interface {
                name: i.name.clone(),
                mac: i.mac.clone(),
                sandbox: i.sandbox.clone(),
            })
            .collect(),
        ips: from
            .ips
            .iter()
            .map(|ip| v04::IpConfig::new(ip.address, ip.gateway, ip.interface))
            .collect(),
        routes: from.routes.clone(),
        dns: from.dns.clone(),
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::expect_used)]
mod tests {
    use super::*;

    fn v04_ip(version: &str, address: &str) -> v04::IpConfig {
        v04::IpConfig {
            version: version.to_owned(),
            interface: None,
            address: address.parse().unwrap(),
            gateway: None,
        }
    }

    fn route(dst: &str) -> v1::Route {
        v1::Route::new(dst.parse().unwrap(), None)
    }

    #[test]
    fn to_v02_keeps_first_of_each_family_and_routes_of_present_families() {
        let from = v04::Result {
            cni_version: CniVersion::V0_4_0,
            ips: vec![
                v04_ip("4", "10.0.0.1/24"),
                v04_ip("4", "10.0.0.2/24"),
                v04_ip("6", "fd00::1/64"),
                v04_ip("6", "fd00::2/64"),
            ],
            routes: vec![route("0.0.0.0/0"), route("::/0"), route("192.168.0.0/16")],
            ..v04::Result::default()
        };
        let out = v04_to_v02(&from, CniVersion::V0_2_0).unwrap();
        let ip4 = out.ip4.unwrap();
        let ip6 = out.ip6.unwrap();
        assert_eq!(ip4.ip.to_string(), "10.0.0.1/24");
        assert_eq!(ip6.ip.to_string(), "fd00::1/64");
        let dsts = |ip: &v02::IpConfig| {
            ip.routes
                .iter()
                .map(|r| r.dst.to_string())
                .collect::<Vec<_>>()
        };
        assert_eq!(dsts(&ip4), ["0.0.0.0/0", "192.168.0.0/16"]);
        assert_eq!(dsts(&ip6), ["::/0"]);
    }

    #[test]
    fn to_v02_drops_routes_of_a_missing_family() {
        let from = v04::Result {
            cni_version: CniVersion::V0_4_0,
            ips: vec![v04_ip("6", "fd00::1/64")],
            routes: vec![route("0.0.0.0/0"), route("::/0")],
            ..v04::Result::default()
        };
        let out = v04_to_v02(&from, CniVersion::V0_1_0).unwrap();
        assert!(out.ip4.is_none());
        assert_eq!(out.ip6.unwrap().routes.len(), 1);
    }

    #[test]
    fn to_v02_files_by_version_label_like_go() {
        // Label "4" on an IPv6 address: Go puts it under ip4; an unknown label is skipped.
        let from = v04::Result {
            cni_version: CniVersion::V0_4_0,
            ips: vec![v04_ip("x", "10.0.0.9/8"), v04_ip("4", "fd00::1/64")],
            ..v04::Result::default()
        };
        let out = v04_to_v02(&from, CniVersion::V0_2_0).unwrap();
        assert_eq!(out.ip4.unwrap().ip.to_string(), "fd00::1/64");
        assert!(out.ip6.is_none());
    }

    #[test]
    fn to_v02_without_addresses_fails() {
        let from = v04::Result {
            cni_version: CniVersion::V0_4_0,
            ips: vec![v04_ip("", "10.0.0.1/8")],
            routes: vec![route("0.0.0.0/0")],
            ..v04::Result::default()
        };
        let err = v04_to_v02(&from, CniVersion::V0_2_0).unwrap_err();
        assert_eq!(err.to_string(), "cannot convert: no valid IP addresses");
    }

    #[test]
    fn mapped_ipv4_route_counts_as_ipv4() {
        let from = v04::Result {
            cni_version: CniVersion::V0_4_0,
            ips: vec![v04_ip("4", "10.0.0.1/8")],
            routes: vec![route("::ffff:10.0.0.0/104")],
            ..v04::Result::default()
        };
        let out = v04_to_v02(&from, CniVersion::V0_2_0).unwrap();
        assert_eq!(out.ip4.unwrap().routes.len(), 1);
    }
}
