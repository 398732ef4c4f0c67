//! Parsing costs of the inputs every multus invocation reads: the networks
//! annotation, the multus config, and a delegate result converted for the
//! network-status. Run with `cargo bench -p benches --bench parse`.

use divan::{Bencher, black_box};
use multus_annotations::parse_networks;
use multus_types::{CniVersion, MultusConf, result::CniResult};

fn main() {
    // Measure the success path only: refuse to run on inputs that fail to parse.
    let checks = [
        (
            "comma annotation",
            parse_networks(COMMA_3, "default")
                .map(|v| v.len() == 3)
                .map_err(|e| e.to_string()),
        ),
        (
            "JSON annotation",
            parse_networks(JSON_3, "default")
                .map(|v| v.len() == 3)
                .map_err(|e| e.to_string()),
        ),
        (
            "2 KB config",
            MultusConf::from_bytes(CONF_2K.as_bytes())
                .map(|c| c.delegates.len() == 1)
                .map_err(|e| e.to_string()),
        ),
        (
            "0.4.0 result",
            CniResult::parse(RESULT_040.as_bytes(), CniVersion::V0_4_0)
                .and_then(|r| r.convert_to(CniVersion::V1_1_0))
                .map(|r| r.version() == CniVersion::V1_1_0)
                .map_err(|e| e.to_string()),
        ),
    ];
    for (what, outcome) in checks {
        if outcome != Ok(true) {
            eprintln!("bench input {what} does not parse as expected: {outcome:?}");
            std::process::exit(1);
        }
    }
    divan::main();
}

const COMMA_3: &str = "macvlan-conf-1, testns1/macvlan-conf-3@macvlan1, macvlan-conf-2";

const JSON_3: &str = r#"[
  { "name": "macvlan-conf-1", "interface": "macvlan1",
    "ips": ["10.10.1.22/16"], "mac": "4e:6d:7a:4e:14:87", "default-route": ["10.10.0.254"] },
  { "name": "macvlan-conf-2", "namespace": "testns1",
    "ips": ["11.10.1.22/16", "fd00:11::22/64"], "mac": "6e:e3:71:7f:86:f7" },
  { "name": "macvlan-conf-3", "ips": ["12.10.1.22"], "mac": "02-00-00-00-50-09",
    "default-route": ["fd00:12::1"] }
]"#;

const CONF_2K: &str = include_str!("fixtures/multus-2k.conf");

const RESULT_040: &str = r#"{
  "cniVersion": "0.4.0",
  "interfaces": [
    { "name": "cni0", "mac": "0a:58:0a:f4:01:01" },
    { "name": "veth1a2b3c4d", "mac": "6e:01:02:03:04:05" },
    { "name": "eth0", "mac": "0a:58:0a:f4:01:07", "sandbox": "/var/run/netns/pod-42" }
  ],
  "ips": [
    { "version": "4", "address": "10.244.1.7/24", "gateway": "10.244.1.1", "interface": 2 },
    { "version": "6", "address": "fd00:10:244:1::7/64", "gateway": "fd00:10:244:1::1", "interface": 2 }
  ],
  "routes": [ { "dst": "0.0.0.0/0", "gw": "10.244.1.1" }, { "dst": "::/0" } ],
  "dns": { "nameservers": ["10.96.0.10"], "search": ["default.svc.cluster.local"] }
}"#;

#[divan::bench]
fn annotation_comma_3() -> usize {
    parse_networks(black_box(COMMA_3), "default").map_or(0, |v| v.len())
}

#[divan::bench]
fn annotation_json_3() -> usize {
    parse_networks(black_box(JSON_3), "default").map_or(0, |v| v.len())
}

#[divan::bench]
fn multus_conf_2k() -> usize {
    MultusConf::from_bytes(black_box(CONF_2K.as_bytes())).map_or(0, |c| c.delegates.len())
}

#[divan::bench]
fn result_040_to_110(bencher: Bencher<'_, '_>) {
    let parsed = CniResult::parse(RESULT_040.as_bytes(), CniVersion::V0_4_0);
    bencher.bench(|| {
        parsed
            .as_ref()
            .ok()
            .and_then(|r| r.convert_to(black_box(CniVersion::V1_1_0)).ok())
    });
}

#[divan::bench]
fn result_parse_and_convert_040_to_110() -> Option<CniResult> {
    CniResult::parse(black_box(RESULT_040.as_bytes()), CniVersion::V0_4_0)
        .and_then(|r| r.convert_to(CniVersion::V1_1_0))
        .ok()
}
