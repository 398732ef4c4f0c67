//! The user guide's pods (`pod-case-01`..`06`, `samplepod`) as data shared
//! by the thin end-to-end tests (`tests/e2e.rs`, the `multus` binary) and the
//! thick ones (`tests/thick.rs`, `multus-shim` → `multus-daemon`): what each
//! case loads into the API server and confDir, which attachments it must
//! produce, and the checks beyond [`assert_attached`] that hold whichever
//! plugin did the work.

#![allow(dead_code, clippy::unwrap_used, clippy::expect_used)]

use serde_json::Value;

use super::{
    Expect, Fixture, MASTER, MASTER_NAME, MASTER_SUBNET, PodRef, assert_attached, macvlan_conf_1,
    macvlan_conf_2,
};

/// One guide pod.
pub struct GuideCase {
    /// The pod's manifest in `examples/guide/`.
    pub pod_file: &'static str,
    /// The CNI version of the default network's config (the multus config's
    /// is 0.3.1).
    pub master_version: &'static str,
    /// Loads the NADs, namespaces and confDir files the pod needs.
    pub setup: fn(&Fixture),
    /// The attachments, the default network's first.
    pub expected: fn() -> Vec<Expect<'static>>,
    /// Checks beyond the attachments, after ADD.
    pub check: fn(&Fixture, &PodRef),
}

impl GuideCase {
    /// Runs [`setup`](Self::setup) and loads the pod; returns it as the
    /// runtime names it.
    pub fn prepare(&self, fx: &Fixture) -> PodRef {
        (self.setup)(fx);
        fx.load_guide_pod(self.pod_file)
    }

    /// Everything a user sees after a successful ADD: links, addresses,
    /// network-status, events, reservations, and the case's own checks.
    pub fn assert_added(&self, fx: &Fixture, pod: &PodRef) {
        assert_attached(fx, pod, &(self.expected)());
        (self.check)(fx, pod);
    }
}

fn no_check(_: &Fixture, _: &PodRef) {}

fn macvlan_bridge_mode(fx: &Fixture, ifnames: &[&str]) {
    for ifname in ifnames {
        let link = fx.ns.link(ifname).unwrap();
        assert_eq!(link["linkinfo"]["info_kind"], "macvlan", "{link}");
        assert_eq!(link["linkinfo"]["info_data"]["mode"], "bridge", "{link}");
    }
}

fn testns1(fx: &Fixture) {
    fx.server
        .load_file(super::guide("namespace-testns1.yaml"))
        .unwrap();
}

/// pod-case-01: `macvlan-conf-1, macvlan-conf-2` (comma form) → eth0, net1
/// and net2, net2 from the confDir file of a NAD without spec; the macvlans
/// on the test's master, one result cache entry per attachment.
pub fn pod_case_01() -> GuideCase {
    GuideCase {
        pod_file: "pod-case-01.yaml",
        master_version: "0.3.1",
        setup: |fx| fx.load_macvlan_conf_1_and_2(),
        expected: || {
            vec![
                MASTER,
                macvlan_conf_1("net1", "default/macvlan-conf-1"),
                macvlan_conf_2("net2"),
            ]
        },
        check: |fx, _| {
            macvlan_bridge_mode(fx, &["net1", "net2"]);
            assert!(fx.delegate_cache().is_file());
            let mut expected = vec![
                format!("{MASTER_NAME}-{}-eth0", fx.container_id),
                format!("macvlan-conf-1-{}-net1", fx.container_id),
                format!("macvlan-conf-2-{}-net2", fx.container_id),
            ];
            expected.sort();
            assert_eq!(fx.result_cache_entries(), expected);
        },
    }
}

/// pod-case-02: `testns1/macvlan-conf-3` → net1 from the NAD in testns1.
pub fn pod_case_02() -> GuideCase {
    GuideCase {
        pod_file: "pod-case-02.yaml",
        master_version: "0.3.1",
        setup: |fx| {
            testns1(fx);
            fx.load_guide_nad("nad-macvlan-conf-3.yaml", None);
        },
        expected: || {
            vec![
                MASTER,
                Expect {
                    ifname: "net1",
                    prefix: 16,
                    range: ("12.10.1.20", "12.10.3.50"),
                    status_name: "testns1/macvlan-conf-3",
                },
            ]
        },
        check: no_check,
    }
}

/// pod-case-03: `macvlan-conf-1@macvlan1` → the interface is macvlan1.
pub fn pod_case_03() -> GuideCase {
    GuideCase {
        pod_file: "pod-case-03.yaml",
        master_version: "0.3.1",
        setup: |fx| {
            fx.load_guide_nad("nad-macvlan-conf-1.yaml", None);
        },
        expected: || vec![MASTER, macvlan_conf_1("macvlan1", "default/macvlan-conf-1")],
        check: no_check,
    }
}

/// pod-case-04: the JSON list form → eth0 + net1 + net2, with the default
/// network at CNI 1.0.0 under a 0.3.1 multus config.
pub fn pod_case_04() -> GuideCase {
    GuideCase {
        pod_file: "pod-case-04.yaml",
        master_version: "1.0.0",
        setup: |fx| fx.load_macvlan_conf_1_and_2(),
        expected: || {
            vec![
                MASTER,
                macvlan_conf_1("net1", "default/macvlan-conf-1"),
                macvlan_conf_2("net2"),
            ]
        },
        check: no_check,
    }
}

/// pod-case-05: `{"name": "macvlan-conf-1", "namespace": "testns1"}`. The
/// guide never creates macvlan-conf-1 in testns1; this case creates it there
/// (the guide's manifest with the namespace changed), so net1 comes from
/// `testns1/macvlan-conf-1`. (The guide as written, where ADD fails, is a
/// test of its own in `e2e.rs`.)
pub fn pod_case_05() -> GuideCase {
    GuideCase {
        pod_file: "pod-case-05.yaml",
        master_version: "0.3.1",
        setup: |fx| {
            testns1(fx);
            fx.load_guide_nad("nad-macvlan-conf-1.yaml", Some("testns1"));
        },
        expected: || vec![MASTER, macvlan_conf_1("net1", "testns1/macvlan-conf-1")],
        check: no_check,
    }
}

/// pod-case-06: JSON with `"interface": "macvlan1"` and macvlan-conf-2 →
/// eth0, macvlan1, net2: the guide's example `ip -d address` output.
pub fn pod_case_06() -> GuideCase {
    GuideCase {
        pod_file: "pod-case-06.yaml",
        master_version: "0.3.1",
        setup: |fx| fx.load_macvlan_conf_1_and_2(),
        expected: || {
            vec![
                MASTER,
                macvlan_conf_1("macvlan1", "default/macvlan-conf-1"),
                macvlan_conf_2("net2"),
            ]
        },
        check: |fx, _| macvlan_bridge_mode(fx, &["macvlan1", "net2"]),
    }
}

/// samplepod: `"default-route": ["192.168.2.1"]` on macvlan-conf → the only
/// IPv4 default route is `via 192.168.2.1 dev net1`; the default network's
/// own default route on eth0 is gone, from the namespace and from the libcni
/// result cache; eth0 keeps its subnet route.
pub fn samplepod() -> GuideCase {
    GuideCase {
        pod_file: "samplepod.yaml",
        master_version: "0.3.1",
        setup: |fx| {
            fx.load_guide_nad("nad-macvlan-conf.yaml", None);
        },
        expected: || {
            vec![
                MASTER,
                Expect {
                    ifname: "net1",
                    prefix: 24,
                    range: ("192.168.2.200", "192.168.2.216"),
                    status_name: "default/macvlan-conf",
                },
            ]
        },
        check: |fx, _| {
            assert_eq!(
                fx.ns.default_routes4(),
                [("192.168.2.1".to_owned(), "net1".to_owned())],
                "routes: {:#?}",
                fx.ns.routes4()
            );
            let cached_routes = |ifname: &str, network: &str| {
                let path = fx
                    .cni_dir
                    .join("results")
                    .join(format!("{network}-{}-{ifname}", fx.container_id));
                let entry: Value = serde_json::from_slice(&std::fs::read(&path).unwrap()).unwrap();
                entry["result"]["routes"].clone()
            };
            let eth0 = cached_routes("eth0", MASTER_NAME);
            assert!(
                eth0.as_array()
                    .into_iter()
                    .flatten()
                    .all(|r| r["dst"] != "0.0.0.0/0"),
                "{eth0}"
            );
            let net1 = cached_routes("net1", "macvlan-conf");
            assert!(
                net1.as_array()
                    .into_iter()
                    .flatten()
                    .any(|r| r["dst"] == "0.0.0.0/0" && r["gw"] == "192.168.2.1"),
                "{net1}"
            );
            assert!(
                fx.ns
                    .routes4()
                    .iter()
                    .any(|r| r["dev"] == "eth0" && r["dst"] == MASTER_SUBNET),
                "{:#?}",
                fx.ns.routes4()
            );
        },
    }
}

// ----- a failing attachment -----

/// The sysctl that makes the `bad-tuning` NAD fail: `tuning` cannot set it.
pub const BAD_SYSCTL: &str = "net.core.mrs_does_not_exist";

/// The guide's macvlan-conf-1 and a NAD `bad-tuning` whose second plugin
/// fails, and a pod `name` asking for both; returns the pod.
pub fn load_failing_attachment(fx: &Fixture, name: &str) -> PodRef {
    fx.load_guide_nad("nad-macvlan-conf-1.yaml", None);
    fx.insert_nad(
        "default",
        "bad-tuning",
        serde_json::json!({
            "cniVersion": "0.4.0",
            "name": "bad-tuning",
            "plugins": [
                {"type": "macvlan", "master": "eth1", "mode": "bridge",
                 "ipam": {"type": "host-local", "subnet": "10.77.0.0/16"}},
                {"type": "tuning", "sysctl": {BAD_SYSCTL: "1"}}
            ]
        }),
    );
    fx.insert_simple_pod(name, "macvlan-conf-1, bad-tuning")
}

/// What a failed ADD of [`load_failing_attachment`]'s pod must look like,
/// whichever plugin ran it: the CNI error naming the pod and the network,
/// nothing of any attachment left, no network-status.
pub fn assert_failing_attachment_rolled_back(fx: &Fixture, pod: &PodRef, run: &super::Run) {
    let err = run.assert_failed();
    let msg = err["msg"].as_str().unwrap();
    assert!(
        msg.contains(&format!(
            "[{}:bad-tuning]: error adding container to network \"bad-tuning\"",
            pod.label()
        )),
        "{run}"
    );
    assert!(
        msg.contains(BAD_SYSCTL.rsplit('.').next().unwrap()),
        "{run}"
    );
    fx.assert_nothing_left(&[]);
    assert!(
        fx.server
            .pod_annotation(&pod.namespace, &pod.name, super::NETWORK_STATUS)
            .is_none(),
        "no network-status for a failed ADD"
    );
}
