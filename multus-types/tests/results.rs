//! CNI results through the public API: parsing every version, libcni's
//! conversion table row by row, snapshots of converted spec examples, and
//! property tests (no panics, lossless round trips).

#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};

use ipnetwork::IpNetwork;
use multus_types::result::{v1, v02, v04};
use multus_types::{CniResult, CniVersion, Error};
use proptest::prelude::*;
use serde_json::{Value, json};

// The result examples of shared/reference/cni-spec.md section 8, verbatim.

const SPEC_V020: &str = r#"{ "cniVersion": "0.2.0",
  "ip4": { "ip": "10.22.0.7/24", "gateway": "10.22.0.1",
           "routes": [ { "dst": "0.0.0.0/0", "gw": "10.22.0.1" } ] },
  "ip6": { "ip": "fd00:22::7/64" },
  "dns": { "nameservers": ["10.22.0.1"], "search": ["svc.local"] } }"#;

const SPEC_V040: &str = r#"{ "cniVersion": "0.4.0",
  "interfaces": [
    { "name": "br-blue", "mac": "0a:58:0a:16:00:01" },
    { "name": "veth1a2b", "mac": "6e:01:02:03:04:05" },
    { "name": "net1", "mac": "6e:aa:bb:cc:dd:ee", "sandbox": "/var/run/netns/pod-42" } ],
  "ips": [ { "version": "4", "address": "10.22.0.7/24", "gateway": "10.22.0.1", "interface": 2 },
           { "version": "6", "address": "fd00:22::7/64", "interface": 2 } ],
  "routes": [ { "dst": "0.0.0.0/0", "gw": "10.22.0.1" } ],
  "dns": {} }"#;

const SPEC_V110: &str = r#"{ "cniVersion": "1.1.0",
  "interfaces": [ { "name": "net1", "mac": "6e:aa:bb:cc:dd:ee", "mtu": 1500,
                    "sandbox": "/var/run/netns/pod-42", "pciID": "0000:3b:02.1" } ],
  "ips": [ { "address": "10.22.0.7/24", "gateway": "10.22.0.1", "interface": 0 } ],
  "routes": [ { "dst": "0.0.0.0/0", "gw": "10.22.0.1", "mtu": 1450, "priority": 100, "table": 254, "scope": 0 } ],
  "dns": { "nameservers": ["10.22.0.1"] } }"#;

fn parse(json: &str) -> CniResult {
    CniResult::parse(json.as_bytes(), CniVersion::V0_1_0).unwrap()
}

fn net(s: &str) -> IpNetwork {
    s.parse().unwrap()
}

fn ip(s: &str) -> IpAddr {
    s.parse().unwrap()
}

fn as_v02(r: CniResult) -> v02::Result {
    match r {
        CniResult::V02(r) => r,
        other => panic!("expected a 0.2 layout, got {other:?}"),
    }
}

fn as_v04(r: CniResult) -> v04::Result {
    match r {
        CniResult::V04(r) => r,
        other => panic!("expected a 0.4 layout, got {other:?}"),
    }
}

fn as_v1(r: CniResult) -> v1::Result {
    match r {
        CniResult::V1(r) => r,
        other => panic!("expected a 1.x layout, got {other:?}"),
    }
}

/// The spec example with its `cniVersion` replaced.
fn relabelled(json: &str, version: &str) -> Value {
    let mut v: Value = serde_json::from_str(json).unwrap();
    v["cniVersion"] = Value::from(version);
    v
}

// ---------------------------------------------------------------- parsing

#[test]
fn parses_the_0_2_0_example() {
    let r = as_v02(parse(SPEC_V020));
    assert_eq!(r.cni_version, CniVersion::V0_2_0);
    let ip4 = r.ip4.unwrap();
    assert_eq!(ip4.ip, net("10.22.0.7/24"));
    assert_eq!(ip4.gateway, Some(ip("10.22.0.1")));
    assert_eq!(
        ip4.routes,
        [v02::Route::new(net("0.0.0.0/0"), Some(ip("10.22.0.1")))]
    );
    assert_eq!(r.ip6.unwrap(), v02::IpConfig::new(net("fd00:22::7/64")));
    assert_eq!(r.dns.nameservers, ["10.22.0.1"]);
    assert_eq!(r.dns.search, ["svc.local"]);
}

#[test]
fn parses_the_0_4_0_example() {
    let r = as_v04(parse(SPEC_V040));
    assert_eq!(r.cni_version, CniVersion::V0_4_0);
    assert_eq!(r.interfaces.len(), 3);
    assert!(!r.interfaces[0].is_sandbox());
    assert_eq!(r.interfaces[2].sandbox, "/var/run/netns/pod-42");
    assert_eq!(
        r.ips,
        [
            v04::IpConfig::new(net("10.22.0.7/24"), Some(ip("10.22.0.1")), Some(2)),
            v04::IpConfig::new(net("fd00:22::7/64"), None, Some(2)),
        ]
    );
    assert_eq!(
        r.routes,
        [v1::Route::new(net("0.0.0.0/0"), Some(ip("10.22.0.1")))]
    );
    assert!(r.dns.is_empty());
}

#[test]
fn parses_the_1_1_0_example() {
    let r = as_v1(parse(SPEC_V110));
    assert_eq!(r.cni_version, CniVersion::V1_1_0);
    assert_eq!(r.interfaces[0].mtu, 1500);
    assert_eq!(r.interfaces[0].pci_id, "0000:3b:02.1");
    assert_eq!(r.ips[0].interface, Some(0));
    let route = &r.routes[0];
    assert_eq!((route.mtu, route.priority), (1450, 100));
    assert_eq!((route.table, route.scope), (Some(254), Some(0)));
    assert_eq!(r.dns.nameservers, ["10.22.0.1"]);
}

#[test]
fn every_version_label_picks_its_layout() {
    for (example, versions) in [
        (SPEC_V020, &["0.1.0", "0.2.0"][..]),
        (SPEC_V040, &["0.3.0", "0.3.1", "0.4.0"][..]),
        (SPEC_V110, &["1.0.0", "1.1.0"][..]),
    ] {
        for version in versions {
            let r =
                CniResult::from_value(relabelled(example, version), CniVersion::V1_1_0).unwrap();
            assert_eq!(r.version().as_str(), *version);
            assert_eq!(r.version().family(), parse(example).version().family());
        }
    }
}

#[test]
fn missing_empty_or_null_version_uses_the_default() {
    let body = r#""ips":[{"version":"4","address":"10.0.0.2/8"}]"#;
    for json in [
        format!("{{{body}}}"),
        format!(r#"{{"cniVersion":"",{body}}}"#),
        format!(r#"{{"cniVersion":null,{body}}}"#),
    ] {
        for default in CniVersion::ALL {
            let r = CniResult::parse(json.as_bytes(), default).unwrap();
            assert_eq!(r.version(), default, "{json}");
            assert_eq!(r.version().family(), default.family());
        }
    }
    // An explicit version wins over the default.
    let r = CniResult::parse(br#"{"cniVersion":"0.3.1"}"#, CniVersion::V1_1_0).unwrap();
    assert_eq!(r.version(), CniVersion::V0_3_1);
}

#[test]
fn a_0_2_result_without_version_in_a_0_1_config_is_0_1_0() {
    let r = CniResult::parse(br#"{"ip4":{"ip":"10.0.0.2/8"}}"#, CniVersion::V0_1_0).unwrap();
    assert_eq!(as_v02(r).cni_version, CniVersion::V0_1_0);
}

#[test]
fn unknown_version_is_refused_with_libcni_text() {
    for bad in ["0.5.0", "1.0", "2.0.0", "v1.0.0"] {
        let json = format!(r#"{{"cniVersion":"{bad}"}}"#);
        let err = CniResult::parse(json.as_bytes(), CniVersion::V1_1_0).unwrap_err();
        assert!(matches!(err, Error::Result(_)));
        assert_eq!(
            err.to_string(),
            format!("unsupported CNI result version \"{bad}\"")
        );
    }
}

#[test]
fn malformed_results_are_json_errors() {
    for bad in [
        &b"not json"[..],
        b"[]",
        b"\"1.0.0\"",
        br#"{"cniVersion":"1.0.0","ips":{}}"#,
        br#"{"cniVersion":"0.4.0","ips":[{"version":"4"}]}"#,
        br#"{"cniVersion":"0.2.0","ip4":{"ip":"300.0.0.1/8"}}"#,
        br#"{"cniVersion":"1.1.0","routes":[null]}"#,
    ] {
        let err = CniResult::parse(bad, CniVersion::V1_1_0).unwrap_err();
        assert!(
            matches!(err, Error::Json { .. }),
            "{}: {err}",
            String::from_utf8_lossy(bad)
        );
    }
}

#[test]
fn null_members_count_as_absent() {
    let r = CniResult::parse(
        br#"{"cniVersion":"0.4.0","interfaces":null,"ips":[{"version":"4","address":"10.0.0.2/8","gateway":null,"interface":null}],"dns":null}"#,
        CniVersion::V1_1_0,
    )
    .unwrap();
    let r = as_v04(r);
    assert!(r.interfaces.is_empty());
    assert_eq!(r.ips[0].gateway, None);
    assert_eq!(r.ips[0].interface, None);
}

#[test]
fn unknown_keys_are_ignored() {
    let r = CniResult::parse(
        br#"{"cniVersion":"1.0.0","extra":{"a":1},"ips":[{"address":"10.0.0.2/8","x":true}]}"#,
        CniVersion::V1_1_0,
    )
    .unwrap();
    assert_eq!(as_v1(r).ips.len(), 1);
}

// ------------------------------------------------------------ serializing

#[test]
fn each_layout_serializes_its_own_way() {
    // 0.2 and 0.4 always write `dns`; 1.x omits it when empty.
    let empty_dns = |json: &str| {
        let mut v: Value = serde_json::from_str(json).unwrap();
        v["dns"] = json!({});
        v
    };
    let r = CniResult::from_value(empty_dns(SPEC_V020), CniVersion::V0_1_0).unwrap();
    assert_eq!(r.to_value().unwrap()["dns"], json!({}));
    let r = CniResult::from_value(empty_dns(SPEC_V040), CniVersion::V0_1_0).unwrap();
    assert_eq!(r.to_value().unwrap()["dns"], json!({}));
    let r = CniResult::from_value(empty_dns(SPEC_V110), CniVersion::V0_1_0).unwrap();
    assert!(r.to_value().unwrap().get("dns").is_none());
}

#[test]
fn to_json_string_is_indented_like_go() {
    let r = parse(r#"{"cniVersion":"0.2.0","ip4":{"ip":"10.0.0.2/8"}}"#);
    assert_eq!(
        r.to_json_string().unwrap(),
        "{\n    \"cniVersion\": \"0.2.0\",\n    \"ip4\": {\n        \"ip\": \"10.0.0.2/8\"\n    },\n    \"dns\": {}\n}"
    );
}

// ------------------------------------------------------- conversion table

/// A dual-stack 0.4.0 result with two addresses per family.
fn rich_v040() -> CniResult {
    parse(
        r#"{"cniVersion":"0.4.0",
            "interfaces":[{"name":"eth0","mac":"aa:bb:cc:dd:ee:ff","sandbox":"/run/netns/x"}],
            "ips":[{"version":"4","address":"10.0.0.2/24","gateway":"10.0.0.1","interface":0},
                   {"version":"6","address":"fd00::2/64","gateway":"fd00::1","interface":0},
                   {"version":"4","address":"10.0.1.2/24","interface":0},
                   {"version":"6","address":"fd00:1::2/64","interface":0}],
            "routes":[{"dst":"0.0.0.0/0","gw":"10.0.0.1","mtu":1400,"table":0},
                      {"dst":"::/0","gw":"fd00::1"},
                      {"dst":"192.168.0.0/16"}],
            "dns":{"nameservers":["10.0.0.1"],"domain":"x","search":["a"],"options":["ndots:5"]}}"#,
    )
}

#[test]
fn same_version_is_returned_unchanged() {
    for example in [SPEC_V020, SPEC_V040, SPEC_V110] {
        let r = parse(example);
        assert_eq!(r.convert_to(r.version()).unwrap(), r);
    }
}

#[test]
fn v0_1_and_v0_2_relabel_only() {
    let r = parse(SPEC_V020);
    let down = r.convert_to(CniVersion::V0_1_0).unwrap();
    assert_eq!(down.version(), CniVersion::V0_1_0);
    let back = down.convert_to(CniVersion::V0_2_0).unwrap();
    assert_eq!(back, r);
}

#[test]
fn v0_2_to_v0_4_moves_addresses_and_routes() {
    let dual = parse(
        r#"{"cniVersion":"0.2.0",
            "ip4":{"ip":"10.0.0.2/24","gateway":"10.0.0.1",
                   "routes":[{"dst":"0.0.0.0/0","gw":"10.0.0.1"},{"dst":"10.9.0.0/16"}]},
            "ip6":{"ip":"fd00::2/64","routes":[{"dst":"::/0","gw":"fd00::1"}]},
            "dns":{"nameservers":["1.1.1.1"]}}"#,
    );
    for to in [CniVersion::V0_3_0, CniVersion::V0_3_1, CniVersion::V0_4_0] {
        let r = as_v04(dual.convert_to(to).unwrap());
        assert_eq!(r.cni_version, to);
        assert!(r.interfaces.is_empty());
        assert_eq!(
            r.ips,
            [
                v04::IpConfig::new(net("10.0.0.2/24"), Some(ip("10.0.0.1")), None),
                v04::IpConfig::new(net("fd00::2/64"), None, None),
            ]
        );
        assert_eq!(
            r.routes,
            [
                v1::Route::new(net("0.0.0.0/0"), Some(ip("10.0.0.1"))),
                v1::Route::new(net("10.9.0.0/16"), None),
                v1::Route::new(net("::/0"), Some(ip("fd00::1"))),
            ]
        );
        assert_eq!(r.dns.nameservers, ["1.1.1.1"]);
    }
}

#[test]
fn v0_2_slot_decides_the_version_label() {
    // Go labels whatever sits in `ip4` as "4".
    let odd = parse(r#"{"cniVersion":"0.2.0","ip4":{"ip":"fd00::2/64"}}"#);
    let r = as_v04(odd.convert_to(CniVersion::V0_4_0).unwrap());
    assert_eq!(r.ips[0].version, "4");
}

#[test]
fn v0_4_to_v0_2_keeps_first_address_per_family() {
    for from in [CniVersion::V0_3_0, CniVersion::V0_3_1, CniVersion::V0_4_0] {
        let src = rich_v040().convert_to(from).unwrap();
        for to in [CniVersion::V0_1_0, CniVersion::V0_2_0] {
            let r = as_v02(src.convert_to(to).unwrap());
            assert_eq!(r.cni_version, to);
            let ip4 = r.ip4.unwrap();
            let ip6 = r.ip6.unwrap();
            assert_eq!(ip4.ip, net("10.0.0.2/24"));
            assert_eq!(ip4.gateway, Some(ip("10.0.0.1")));
            assert_eq!(
                ip4.routes,
                [
                    // mtu/table are dropped: 0.2 routes have dst and gw only.
                    v02::Route::new(net("0.0.0.0/0"), Some(ip("10.0.0.1"))),
                    v02::Route::new(net("192.168.0.0/16"), None),
                ]
            );
            assert_eq!(ip6.ip, net("fd00::2/64"));
            assert_eq!(
                ip6.routes,
                [v02::Route::new(net("::/0"), Some(ip("fd00::1")))]
            );
            assert_eq!(r.dns.options, ["ndots:5"]);
        }
    }
}

#[test]
fn v0_4_to_v0_2_drops_routes_of_a_family_without_address() {
    let r = parse(
        r#"{"cniVersion":"0.4.0","ips":[{"version":"4","address":"10.0.0.2/24"}],
            "routes":[{"dst":"0.0.0.0/0"},{"dst":"::/0"}]}"#,
    );
    let r = as_v02(r.convert_to(CniVersion::V0_2_0).unwrap());
    assert!(r.ip6.is_none());
    assert_eq!(r.ip4.unwrap().routes.len(), 1);
}

#[test]
fn conversion_to_v0_2_without_addresses_fails() {
    for json in [
        r#"{"cniVersion":"0.4.0","interfaces":[{"name":"eth0"}],"routes":[{"dst":"0.0.0.0/0"}]}"#,
        r#"{"cniVersion":"0.3.1","ips":[{"version":"5","address":"10.0.0.2/24"}]}"#,
        r#"{"cniVersion":"1.0.0"}"#,
        r#"{"cniVersion":"1.1.0","interfaces":[{"name":"eth0"}]}"#,
    ] {
        for to in [CniVersion::V0_1_0, CniVersion::V0_2_0] {
            let err = parse(json).convert_to(to).unwrap_err();
            assert!(matches!(err, Error::Result(_)));
            assert_eq!(err.to_string(), "cannot convert: no valid IP addresses");
        }
    }
}

#[test]
fn v0_3_and_v0_4_copy_and_relabel_among_themselves() {
    let family = [CniVersion::V0_3_0, CniVersion::V0_3_1, CniVersion::V0_4_0];
    for from in family {
        let src = as_v04(rich_v040().convert_to(from).unwrap());
        for to in family {
            let out = as_v04(CniResult::V04(src.clone()).convert_to(to).unwrap());
            assert_eq!(out.cni_version, to);
            assert_eq!(
                v04::Result {
                    cni_version: from,
                    ..out
                },
                src
            );
        }
    }
}

#[test]
fn v0_4_to_v1_drops_ip_version_only() {
    for to in [CniVersion::V1_0_0, CniVersion::V1_1_0] {
        let r = as_v1(rich_v040().convert_to(to).unwrap());
        assert_eq!(r.cni_version, to);
        assert_eq!(
            r.interfaces,
            [v1::Interface {
                name: "eth0".into(),
                mac: "aa:bb:cc:dd:ee:ff".into(),
                sandbox: "/run/netns/x".into(),
                ..v1::Interface::default()
            }]
        );
        assert_eq!(r.ips.len(), 4);
        assert_eq!(
            r.ips[1],
            v1::IpConfig {
                interface: Some(0),
                address: net("fd00::2/64"),
                gateway: Some(ip("fd00::1")),
            }
        );
        assert_eq!(r.routes[0].mtu, 1400);
        assert_eq!(r.routes[0].table, Some(0));
        assert_eq!(r.dns.domain, "x");
        let json = serde_json::to_value(&r).unwrap();
        assert!(json["ips"][0].get("version").is_none());
    }
}

#[test]
fn v1_to_v0_4_recomputes_version_and_drops_interface_extras() {
    let src = parse(
        r#"{"cniVersion":"1.1.0",
            "interfaces":[{"name":"net1","mac":"6e:aa:bb:cc:dd:ee","mtu":9000,"sandbox":"/run/netns/p",
                           "socketPath":"/run/vhost.sock","pciID":"0000:3b:02.1"}],
            "ips":[{"address":"fd00::7/64","interface":0},{"address":"10.0.0.7/24"},
                   {"address":"::ffff:10.0.0.8/120"}],
            "routes":[{"dst":"0.0.0.0/0","gw":"10.0.0.1","mtu":1450,"advmss":1400,"priority":5,"table":254,"scope":253}]}"#,
    );
    for to in [CniVersion::V0_3_0, CniVersion::V0_3_1, CniVersion::V0_4_0] {
        for from in [CniVersion::V1_0_0, CniVersion::V1_1_0] {
            let r = as_v04(src.convert_to(from).unwrap().convert_to(to).unwrap());
            assert_eq!(r.cni_version, to);
            assert_eq!(
                r.interfaces,
                [v04::Interface {
                    name: "net1".into(),
                    mac: "6e:aa:bb:cc:dd:ee".into(),
                    sandbox: "/run/netns/p".into(),
                }]
            );
            let versions: Vec<&str> = r.ips.iter().map(|i| i.version.as_str()).collect();
            // An IPv4-mapped IPv6 address is "4", as Go's To4() decides.
            assert_eq!(versions, ["6", "4", "4"]);
            assert_eq!(r.ips[0].interface, Some(0));
            assert_eq!(r.ips[1].interface, None);
            let route = &r.routes[0];
            assert_eq!(
                (
                    route.mtu,
                    route.advmss,
                    route.priority,
                    route.table,
                    route.scope
                ),
                (1450, 1400, 5, Some(254), Some(253))
            );
        }
    }
}

#[test]
fn v1_to_v0_2_goes_through_v0_4() {
    let src = parse(
        r#"{"cniVersion":"1.0.0",
            "ips":[{"address":"10.0.0.7/24","gateway":"10.0.0.1"},{"address":"10.0.0.8/24"},
                   {"address":"fd00::7/64"}],
            "routes":[{"dst":"0.0.0.0/0","gw":"10.0.0.1","mtu":1450},{"dst":"fd01::/64"}]}"#,
    );
    let direct = src.convert_to(CniVersion::V0_2_0).unwrap();
    let stepped = src
        .convert_to(CniVersion::V0_4_0)
        .unwrap()
        .convert_to(CniVersion::V0_2_0)
        .unwrap();
    assert_eq!(direct, stepped);
    let r = as_v02(direct);
    assert_eq!(r.ip4.as_ref().unwrap().ip, net("10.0.0.7/24"));
    assert_eq!(
        r.ip4.unwrap().routes,
        [v02::Route::new(net("0.0.0.0/0"), Some(ip("10.0.0.1")))]
    );
    assert_eq!(
        r.ip6.unwrap().routes,
        [v02::Route::new(net("fd01::/64"), None)]
    );
}

#[test]
fn v0_2_to_v1_goes_through_v0_4() {
    let src = parse(SPEC_V020);
    for from in [CniVersion::V0_1_0, CniVersion::V0_2_0] {
        let src = src.convert_to(from).unwrap();
        for to in [CniVersion::V1_0_0, CniVersion::V1_1_0] {
            let direct = src.convert_to(to).unwrap();
            let stepped = src
                .convert_to(CniVersion::V0_4_0)
                .unwrap()
                .convert_to(to)
                .unwrap();
            assert_eq!(direct, stepped);
            assert_eq!(direct.version(), to);
        }
    }
}

#[test]
fn v1_0_and_v1_1_relabel_only() {
    // 1.1.0 fields survive a 1.0.0 label, as in Go.
    let r = parse(SPEC_V110);
    let down = r.convert_to(CniVersion::V1_0_0).unwrap();
    assert_eq!(down.version(), CniVersion::V1_0_0);
    assert_eq!(as_v1(down.clone()).interfaces[0].mtu, 1500);
    assert_eq!(down.convert_to(CniVersion::V1_1_0).unwrap(), r);
}

#[test]
fn empty_target_version_means_0_1_0() {
    let to = CniVersion::parse_or_default("").unwrap();
    let r = parse(SPEC_V040).convert_to(to).unwrap();
    assert_eq!(r.version(), CniVersion::V0_1_0);
}

#[test]
fn every_pair_of_versions_converts_a_dual_stack_result() {
    for from in CniVersion::ALL {
        let src = rich_v040().convert_to(from).unwrap();
        for to in CniVersion::ALL {
            let out = src.convert_to(to).unwrap();
            assert_eq!(out.version(), to, "{from} -> {to}");
            assert_eq!(out.version().family(), to.family());
        }
    }
}

#[test]
fn to_v1_is_the_1_1_0_conversion() {
    for example in [SPEC_V020, SPEC_V040, SPEC_V110] {
        let r = parse(example);
        let v1 = r.to_v1().unwrap();
        assert_eq!(v1.cni_version, CniVersion::V1_1_0);
        assert_eq!(CniResult::V1(v1), r.convert_to(CniVersion::V1_1_0).unwrap());
    }
}

#[test]
fn from_impls_wrap_each_layout() {
    let r: CniResult = v1::Result {
        cni_version: CniVersion::V1_0_0,
        ..v1::Result::default()
    }
    .into();
    assert_eq!(r.version(), CniVersion::V1_0_0);
    let r: CniResult = v02::Result::default().into();
    assert_eq!(r.version(), CniVersion::V0_1_0);
    let r: CniResult = v04::Result {
        cni_version: CniVersion::V0_3_1,
        ..v04::Result::default()
    }
    .into();
    assert_eq!(r.version(), CniVersion::V0_3_1);
}

// -------------------------------------------------------------- snapshots

fn converted(example: &str, to: CniVersion) -> String {
    parse(example)
        .convert_to(to)
        .unwrap()
        .to_json_string()
        .unwrap()
}

#[test]
fn snapshot_v040_example_as_v020() {
    insta::assert_snapshot!(converted(SPEC_V040, CniVersion::V0_2_0));
}

#[test]
fn snapshot_v040_example_as_v110() {
    insta::assert_snapshot!(converted(SPEC_V040, CniVersion::V1_1_0));
}

#[test]
fn snapshot_v110_example_as_v040() {
    insta::assert_snapshot!(converted(SPEC_V110, CniVersion::V0_4_0));
}

#[test]
fn snapshot_v110_example_as_v020() {
    insta::assert_snapshot!(converted(SPEC_V110, CniVersion::V0_2_0));
}

#[test]
fn snapshot_v020_example_as_v040() {
    insta::assert_snapshot!(converted(SPEC_V020, CniVersion::V0_4_0));
}

#[test]
fn snapshot_v020_example_as_v100() {
    insta::assert_snapshot!(converted(SPEC_V020, CniVersion::V1_0_0));
}

// --------------------------------------------------------------- proptest

fn arb_v4() -> impl Strategy<Value = Ipv4Addr> {
    any::<[u8; 4]>().prop_map(Ipv4Addr::from)
}

fn arb_v6() -> impl Strategy<Value = Ipv6Addr> {
    prop_oneof![
        4 => any::<[u16; 8]>().prop_map(|s| Ipv6Addr::new(s[0], s[1], s[2], s[3], s[4], s[5], s[6], s[7])),
        // IPv4-mapped addresses, which Go files as IPv4.
        1 => arb_v4().prop_map(|a| a.to_ipv6_mapped()),
    ]
}

fn arb_addr() -> impl Strategy<Value = IpAddr> {
    prop_oneof![arb_v4().prop_map(IpAddr::V4), arb_v6().prop_map(IpAddr::V6)]
}

fn arb_net_of(addr: IpAddr) -> impl Strategy<Value = IpNetwork> {
    let max: u8 = if addr.is_ipv4() { 32 } else { 128 };
    (0..=max).prop_map(move |p| IpNetwork::new(addr, p).unwrap())
}

fn arb_net() -> impl Strategy<Value = IpNetwork> {
    arb_addr().prop_flat_map(arb_net_of)
}

fn arb_text() -> impl Strategy<Value = String> {
    prop_oneof!["[a-z0-9./:-]{0,12}", "\\PC{0,8}"]
}

fn arb_dns() -> impl Strategy<Value = v1::Dns> {
    (
        prop::collection::vec(arb_text(), 0..3),
        arb_text(),
        prop::collection::vec(arb_text(), 0..3),
        prop::collection::vec(arb_text(), 0..3),
    )
        .prop_map(|(nameservers, domain, search, options)| v1::Dns {
            nameservers,
            domain,
            search,
            options,
        })
}

/// A 1.x interface; `extras` adds the 1.1.0-only fields.
fn arb_interface(extras: bool) -> impl Strategy<Value = v1::Interface> {
    (
        "[a-z][a-z0-9-]{0,14}",
        prop_oneof![Just(String::new()), "([0-9a-f]{2}:){5}[0-9a-f]{2}"],
        prop_oneof![Just(String::new()), "/var/run/netns/[a-z0-9-]{1,12}"],
        if extras {
            (0u32..=9000).boxed()
        } else {
            Just(0u32).boxed()
        },
        if extras {
            prop_oneof![Just(String::new()), "/run/[a-z]{1,8}\\.sock"].boxed()
        } else {
            Just(String::new()).boxed()
        },
        if extras {
            prop_oneof![Just(String::new()), "0000:[0-9a-f]{2}:[0-9a-f]{2}\\.[0-7]"].boxed()
        } else {
            Just(String::new()).boxed()
        },
    )
        .prop_map(
            |(name, mac, sandbox, mtu, socket_path, pci_id)| v1::Interface {
                name,
                mac,
                mtu,
                sandbox,
                socket_path,
                pci_id,
            },
        )
}

fn arb_v1_ip() -> impl Strategy<Value = v1::IpConfig> {
    arb_addr().prop_flat_map(|addr| {
        let gateway = match addr {
            IpAddr::V4(_) => arb_v4().prop_map(IpAddr::V4).boxed(),
            IpAddr::V6(_) => arb_v6().prop_map(IpAddr::V6).boxed(),
        };
        (
            arb_net_of(addr),
            prop::option::of(gateway),
            prop::option::of(0i32..4),
        )
            .prop_map(|(address, gateway, interface)| v1::IpConfig {
                interface,
                address,
                gateway,
            })
    })
}

fn arb_route() -> impl Strategy<Value = v1::Route> {
    (
        arb_net(),
        prop::option::of(arb_addr()),
        prop_oneof![Just(0u32), any::<u32>()],
        prop_oneof![Just(0u32), any::<u32>()],
        prop_oneof![Just(0u32), any::<u32>()],
        prop::option::of(any::<u32>()),
        prop::option::of(prop_oneof![
            Just(0u8),
            Just(253u8),
            Just(254u8),
            any::<u8>()
        ]),
    )
        .prop_map(|(dst, gw, mtu, advmss, priority, table, scope)| v1::Route {
            dst,
            gw,
            mtu,
            advmss,
            priority,
            table,
            scope,
        })
}

/// A 1.x result; `extras` allows the interface fields 0.4.0 cannot carry.
fn arb_v1(version: CniVersion, extras: bool) -> impl Strategy<Value = v1::Result> {
    (
        prop::collection::vec(arb_interface(extras), 0..4),
        prop::collection::vec(arb_v1_ip(), 0..5),
        prop::collection::vec(arb_route(), 0..5),
        arb_dns(),
    )
        .prop_map(move |(interfaces, ips, routes, dns)| v1::Result {
            cni_version: version,
            interfaces,
            ips,
            routes,
            dns,
        })
}

/// A 0.3.x/0.4.0 result with `version` labels that match the addresses.
fn arb_v04(version: CniVersion) -> impl Strategy<Value = v04::Result> {
    (
        prop::collection::vec(arb_interface(false), 0..4),
        prop::collection::vec(arb_v1_ip(), 0..5),
        prop::collection::vec(arb_route(), 0..5),
        arb_dns(),
    )
        .prop_map(move |(interfaces, ips, routes, dns)| v04::Result {
            cni_version: version,
            interfaces: interfaces
                .into_iter()
                .map(|i| v04::Interface {
                    name: i.name,
                    mac: i.mac,
                    sandbox: i.sandbox,
                })
                .collect(),
            ips: ips
                .into_iter()
                .map(|i| v04::IpConfig::new(i.address, i.gateway, i.interface))
                .collect(),
            routes,
            dns,
        })
}

/// One family's configuration of a 0.2 result; `v4` picks the family of
/// the address, gateway and route destinations.
fn arb_v02_ip(v4: bool) -> impl Strategy<Value = v02::IpConfig> {
    let addr = move || {
        if v4 {
            arb_v4().prop_map(IpAddr::V4).boxed()
        } else {
            any::<[u16; 8]>()
                .prop_map(|s| IpAddr::V6(Ipv6Addr::from(s)))
                .boxed()
        }
    };
    let route = (addr().prop_flat_map(arb_net_of), prop::option::of(addr()))
        .prop_map(|(dst, gw)| v02::Route::new(dst, gw));
    (
        addr().prop_flat_map(arb_net_of),
        prop::option::of(addr()),
        prop::collection::vec(route, 0..4),
    )
        .prop_map(|(ip, gateway, routes)| v02::IpConfig {
            ip,
            gateway,
            routes,
        })
}

fn arb_v02(version: CniVersion) -> impl Strategy<Value = v02::Result> {
    (
        prop::option::of(arb_v02_ip(true)),
        prop::option::of(arb_v02_ip(false)),
        arb_dns(),
    )
        .prop_map(move |(ip4, ip6, dns)| v02::Result {
            cni_version: version,
            ip4,
            ip6,
            dns,
        })
}

fn arb_version() -> impl Strategy<Value = CniVersion> {
    prop::sample::select(CniVersion::ALL.to_vec())
}

/// A JSON string, mostly one that means something in a result.
fn arb_json_string() -> impl Strategy<Value = Value> + Clone {
    prop_oneof![
        3 => prop::sample::select(vec![
            "", "0.1.0", "0.2.0", "0.3.0", "0.3.1", "0.4.0", "1.0.0", "1.1.0", "0.5.0", "4", "6",
            "10.0.0.1/24", "0.0.0.0/0", "fd00::1/64", "::/0", "10.0.0.1", "fd00::1",
            "::ffff:10.0.0.1/104", "300.1.1.1/8", "eth0",
        ])
        .prop_map(Value::from),
        1 => "\\PC{0,8}".prop_map(Value::from),
    ]
}

/// Damage for a valid result: mostly deletions (a `null` member is dropped)
/// and plausible leaves, sometimes any JSON.
fn arb_damage() -> impl Strategy<Value = Value> {
    prop_oneof![
        3 => Just(Value::Null),
        3 => arb_json_string(),
        1 => (-2i64..70000).prop_map(Value::from),
        1 => arb_json(),
    ]
}

/// Any JSON, biased towards result keys and values so that decoding gets deep.
fn arb_json() -> impl Strategy<Value = Value> {
    let key = prop_oneof![
        4 => prop::sample::select(vec![
            "cniVersion", "ip4", "ip6", "ip", "gateway", "routes", "dst", "gw", "interfaces",
            "ips", "version", "interface", "address", "dns", "nameservers", "name", "mac",
            "sandbox", "mtu", "table", "scope", "priority", "pciID", "socketPath",
        ])
        .prop_map(str::to_owned),
        1 => "\\PC{0,6}",
    ];
    let string = arb_json_string();
    let leaf = prop_oneof![
        Just(Value::Null),
        any::<bool>().prop_map(Value::from),
        any::<i64>().prop_map(Value::from),
        (-2i64..300).prop_map(Value::from),
        any::<f64>().prop_map(Value::from),
        string,
    ];
    leaf.prop_recursive(5, 64, 6, move |inner| {
        prop_oneof![
            prop::collection::vec(inner.clone(), 0..5).prop_map(Value::Array),
            prop::collection::vec((key.clone(), inner), 0..6)
                .prop_map(|kv| Value::Object(kv.into_iter().collect())),
        ]
    })
}

/// Any valid result of any version, as JSON.
fn arb_result_json() -> impl Strategy<Value = Value> {
    prop_oneof![
        arb_v02(CniVersion::V0_2_0).prop_map(CniResult::V02),
        arb_v04(CniVersion::V0_4_0).prop_map(CniResult::V04),
        arb_v1(CniVersion::V1_1_0, true).prop_map(CniResult::V1),
    ]
    .prop_map(|r| r.to_value().unwrap())
}

/// Replaces the `n`th node (pre-order, modulo the node count) of `root`.
fn replace_node(root: &mut Value, n: usize, with: Value) {
    fn count(v: &Value) -> usize {
        1 + match v {
            Value::Array(a) => a.iter().map(count).sum(),
            Value::Object(m) => m.values().map(count).sum(),
            _ => 0,
        }
    }
    fn walk(v: &mut Value, n: &mut usize, with: &mut Option<Value>) {
        if *n == 0 {
            if let Some(w) = with.take() {
                *v = w;
            }
            return;
        }
        *n -= 1;
        let children: Vec<&mut Value> = match v {
            Value::Array(a) => a.iter_mut().collect(),
            Value::Object(m) => m.values_mut().collect(),
            _ => Vec::new(),
        };
        for child in children {
            if with.is_none() {
                return;
            }
            walk(child, n, with);
        }
    }
    let mut n = n % count(root);
    walk(root, &mut n, &mut Some(with));
}

/// Exercises everything a parsed result offers; none of it may panic.
fn use_every_way(r: &CniResult) {
    for to in CniVersion::ALL {
        if let Ok(out) = r.convert_to(to) {
            assert_eq!(out.version(), to);
        }
    }
    let _ = r.to_v1().unwrap();
    let _ = r.to_value().unwrap();
    let _ = r.to_json_string().unwrap();
}

proptest! {
    #[test]
    fn parse_never_panics_on_bytes(bytes in prop::collection::vec(any::<u8>(), 0..256),
                                   default in arb_version()) {
        if let Ok(r) = CniResult::parse(&bytes, default) {
            use_every_way(&r);
        }
    }

    #[test]
    fn parse_never_panics_on_json(value in arb_json(), default in arb_version()) {
        let bytes = serde_json::to_vec(&value).unwrap();
        // Re-read the value: a float need not survive printing bit for bit.
        let value: Value = serde_json::from_slice(&bytes).unwrap();
        let from_bytes = CniResult::parse(&bytes, default);
        let from_value = CniResult::from_value(value, default);
        match (&from_bytes, &from_value) {
            (Ok(a), Ok(b)) => {
                prop_assert_eq!(a, b);
                use_every_way(a);
            }
            (Err(a), Err(b)) => prop_assert_eq!(a.to_string(), b.to_string()),
            _ => prop_assert!(false, "parse and from_value disagree: {:?} / {:?}", from_bytes, from_value),
        }
    }

    #[test]
    fn parse_never_panics_on_damaged_results(
        mut value in arb_result_json(),
        damage in prop::collection::vec((any::<usize>(), arb_damage()), 0..3),
        default in arb_version(),
    ) {
        for (at, with) in damage {
            replace_node(&mut value, at, with);
        }
        if let Ok(r) = CniResult::from_value(value, default) {
            use_every_way(&r);
        }
    }

    #[test]
    fn v1_0_to_v0_4_and_back_is_lossless(r in arb_v1(CniVersion::V1_0_0, false)) {
        let original = CniResult::V1(r);
        let down = original.convert_to(CniVersion::V0_4_0).unwrap();
        prop_assert_eq!(down.version(), CniVersion::V0_4_0);
        prop_assert_eq!(down.convert_to(CniVersion::V1_0_0).unwrap(), original);
    }

    #[test]
    fn v1_to_v0_4_drops_only_interface_extras(r in arb_v1(CniVersion::V1_1_0, true)) {
        let back = as_v1(
            CniResult::V1(r.clone())
                .convert_to(CniVersion::V0_4_0).unwrap()
                .convert_to(CniVersion::V1_1_0).unwrap(),
        );
        let mut expected = r;
        for i in &mut expected.interfaces {
            i.mtu = 0;
            i.socket_path.clear();
            i.pci_id.clear();
        }
        prop_assert_eq!(back, expected);
    }

    #[test]
    fn v0_4_to_v1_1_and_back_is_lossless(r in arb_v04(CniVersion::V0_4_0)) {
        let original = CniResult::V04(r);
        let up = original.convert_to(CniVersion::V1_1_0).unwrap();
        prop_assert_eq!(up.version(), CniVersion::V1_1_0);
        prop_assert_eq!(up.convert_to(CniVersion::V0_4_0).unwrap(), original);
    }

    #[test]
    fn v0_2_to_v0_4_and_back_is_lossless(r in arb_v02(CniVersion::V0_2_0)) {
        // Holds when there is an address and each slot holds its own family.
        prop_assume!(r.ip4.is_some() || r.ip6.is_some());
        let original = CniResult::V02(r);
        let back = original
            .convert_to(CniVersion::V0_4_0).unwrap()
            .convert_to(CniVersion::V0_2_0).unwrap();
        prop_assert_eq!(back, original);
    }

    #[test]
    fn v0_2_json_round_trips(r in arb_v02(CniVersion::V0_1_0), version in prop::sample::select(vec![CniVersion::V0_1_0, CniVersion::V0_2_0])) {
        let r = CniResult::V02(v02::Result { cni_version: version, ..r });
        for json in [serde_json::to_string(&r).unwrap(), r.to_json_string().unwrap()] {
            prop_assert_eq!(&CniResult::parse(json.as_bytes(), CniVersion::V1_1_0).unwrap(), &r);
        }
    }

    #[test]
    fn v0_4_json_round_trips(r in arb_v04(CniVersion::V0_3_0), version in prop::sample::select(vec![CniVersion::V0_3_0, CniVersion::V0_3_1, CniVersion::V0_4_0])) {
        let r = CniResult::V04(v04::Result { cni_version: version, ..r });
        for json in [serde_json::to_string(&r).unwrap(), r.to_json_string().unwrap()] {
            prop_assert_eq!(&CniResult::parse(json.as_bytes(), CniVersion::V0_1_0).unwrap(), &r);
        }
    }

    #[test]
    fn v1_json_round_trips(r in arb_v1(CniVersion::V1_0_0, true), version in prop::sample::select(vec![CniVersion::V1_0_0, CniVersion::V1_1_0])) {
        let r = CniResult::V1(v1::Result { cni_version: version, ..r });
        for json in [serde_json::to_string(&r).unwrap(), r.to_json_string().unwrap()] {
            prop_assert_eq!(&CniResult::parse(json.as_bytes(), CniVersion::V0_1_0).unwrap(), &r);
        }
    }

    #[test]
    fn every_conversion_is_labelled_and_never_panics(r in arb_v1(CniVersion::V1_1_0, true), from in arb_version()) {
        if let Ok(src) = CniResult::V1(r).convert_to(from) {
            use_every_way(&src);
        }
    }
}
