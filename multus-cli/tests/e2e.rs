//! End to end: the built `multus` binary run the way libcni runs a plugin
//! (`CNI_*` environment, the multus config on stdin), with the real delegate
//! plugins of the Debian package `containernetworking-plugins` in
//! `/usr/lib/cni`, a real network namespace per test and the stand-in
//! Kubernetes API server reached through a kubeconfig.
//!
//! The default network is bridge + host-local (flannel is not available
//! here); the additional networks are the guide's NetworkAttachmentDefinitions
//! and pods (`examples/guide/`), each macvlan `master` rewritten to a veth of
//! the test's own and each host-local given a dataDir of the test's own.
//! Assertions are on `ip -j`, the disk (host-local reservations, result
//! cache, delegate cache), the printed result, and what the API server got
//! (network-status annotation, events).
//!
//! Needs root; fails (never skips) without it or without the plugins, unless
//! `MULTUS_SKIP_PRIVILEGED=1`.

#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use std::time::Duration;

use common::cases::{self, GuideCase};
use common::{Fixture, PodRef, Run, assert_master_result, run_multus};
use multus_testsupport::netns::random_hex;
use serde_json::json;

// ----- the guide's pods (shared with tests/thick.rs: common::cases) -----

/// Runs a guide case through `multus`: ADD prints the default network's
/// result in the master's version (checked further by `check_result`), the
/// pod is attached as the case expects, DEL leaves nothing.
fn thin(case: GuideCase, check_result: impl Fn(&Run)) {
    let Some(fx) = Fixture::new() else { return };
    let pod = case.prepare(&fx);
    let conf = fx.conf_versions("0.3.1", case.master_version);

    let run = fx.add(&conf, &pod);
    run.assert_ok();
    assert_master_result(&fx, &run, case.master_version);
    check_result(&run);
    case.assert_added(&fx, &pod);
    fx.del(&conf, &pod).assert_ok();
    fx.assert_nothing_left(&[]);
}

/// pod-case-01: the comma form (see [`cases::pod_case_01`]).
#[test]
fn pod_case_01_comma_form() {
    thin(cases::pod_case_01(), |_| {});
}

/// pod-case-02: a NAD in another namespace.
#[test]
fn pod_case_02_other_namespace() {
    thin(cases::pod_case_02(), |_| {});
}

/// pod-case-03: `name@interface`.
#[test]
fn pod_case_03_interface_name() {
    thin(cases::pod_case_03(), |_| {});
}

/// pod-case-04: the JSON list form. The master runs at CNI 1.0.0 under a
/// 0.3.1 multus config: the printed result is the master's, in the master's
/// version.
#[test]
fn pod_case_04_json_list_result_in_master_version() {
    thin(cases::pod_case_04(), |run| {
        assert!(
            run.json()["ips"][0].get("version").is_none(),
            "a 1.0.0 result has no ips[].version: {}",
            run.stdout
        );
    });
}

/// pod-case-05 with macvlan-conf-1 created in testns1.
#[test]
fn pod_case_05_json_namespace() {
    thin(cases::pod_case_05(), |_| {});
}

/// pod-case-05 exactly as the guide has it: macvlan-conf-1 exists only in
/// `default`, so ADD fails before any delegate runs, with the NAD-not-found
/// error naming the NAD, the namespace and the pod, and a `NoNetworkFound`
/// warning event.
#[test]
fn pod_case_05_nad_missing_in_testns1() {
    let Some(fx) = Fixture::new() else { return };
    fx.load_guide_nad("nad-macvlan-conf-1.yaml", None);
    let pod = fx.load_guide_pod("pod-case-05.yaml");
    let conf = fx.conf("0.3.1");

    let run = fx.add(&conf, &pod);
    let err = run.assert_failed();
    let msg = err["msg"].as_str().unwrap();
    assert!(
        msg.contains(
            "cannot find a network-attachment-definition (macvlan-conf-1) in namespace (testns1)"
        ),
        "{run}"
    );
    assert!(msg.contains(&pod.label()), "the pod is named: {run}");
    let events = fx.events(&pod, "NoNetworkFound");
    assert_eq!(events.len(), 1, "{events:?}");
    assert_eq!(events[0].0, "Warning");
    assert!(events[0].1.contains("macvlan-conf-1"), "{events:?}");
    assert!(fx.events(&pod, "AddedInterface").is_empty());
    assert!(
        fx.server
            .pod_annotation(&pod.namespace, &pod.name, common::NETWORK_STATUS)
            .is_none()
    );
    fx.assert_nothing_left(&[]);
}

/// pod-case-06: JSON with an interface name: the guide's `ip -d address`.
#[test]
fn pod_case_06_json_interface() {
    thin(cases::pod_case_06(), |_| {});
}

/// samplepod: `default-route` moves the default route to net1.
#[test]
fn samplepod_default_route() {
    thin(cases::samplepod(), |_| {});
}

// ----- failures and rollback -----

/// A conflist whose second step (tuning) writes a sysctl that does not
/// exist: ADD fails with the CNI error naming the pod and the network, and
/// every attachment made before is undone (links, IPAM, caches).
#[test]
fn failing_attachment_rolls_back_everything() {
    let Some(fx) = Fixture::new() else { return };
    let pod = cases::load_failing_attachment(&fx, "mrs-fail");
    let conf = fx.conf("0.3.1");

    let run = fx.add(&conf, &pod);
    cases::assert_failing_attachment_rolled_back(&fx, &pod, &run);
    // The runtime DELs after a failed ADD: nothing to do, success.
    fx.del(&conf, &pod).assert_ok();
    fx.assert_nothing_left(&[]);
}

/// Upstream's text for a failing delegate is `[<ns>/<pod>/<uid>:<net>]:
/// error adding container to network "<net>": <err>`, without the
/// `Multus: [<ns>/<pod>/<uid>]: ` prefix of its other errors
/// (`cmdPluginErr` vs `cmdErr` in upstream's `pkg/multus/multus.go`).
#[test]
fn failing_attachment_error_text_is_upstreams() {
    let Some(fx) = Fixture::new() else { return };
    fx.insert_nad(
        "default",
        "bad-tuning",
        json!({
            "cniVersion": "0.4.0",
            "name": "bad-tuning",
            "plugins": [
                {
                    "type": "macvlan",
                    "master": "eth1",
                    "mode": "bridge",
                    "ipam": {"type": "host-local", "subnet": "10.77.0.0/16"}
                },
                {"type": "tuning", "sysctl": {"net.core.mrs_e2e_does_not_exist": "1"}}
            ]
        }),
    );
    let pod = fx.insert_simple_pod("mrs-fail", "bad-tuning");
    let run = fx.add(&fx.conf("0.3.1"), &pod);
    let err = run.assert_failed();
    let expected = format!(
        "[{}:bad-tuning]: error adding container to network \"bad-tuning\": ",
        pod.label()
    );
    assert!(
        err["msg"].as_str().unwrap().starts_with(&expected),
        "expected the message to start with {expected:?}: {run}"
    );
}

/// A single-plugin (`.conf`) NAD that fails: upstream's text ends with the
/// plugin's own message, as libcni's `AddNetwork` returns it unwrapped
/// (only `AddNetworkList` adds `plugin type=... failed (add): `).
#[test]
fn failing_single_plugin_attachment_error_text_is_upstreams() {
    let Some(fx) = Fixture::new() else { return };
    // tuning refuses to run first in a chain: no prevResult.
    fx.insert_nad(
        "default",
        "bad-single",
        json!({"cniVersion": "0.4.0", "name": "bad-single", "type": "tuning"}),
    );
    let pod = fx.insert_simple_pod("mrs-fail-single", "bad-single");
    let conf = fx.conf("0.3.1");
    let run = fx.add(&conf, &pod);
    let err = run.assert_failed();
    assert_eq!(
        err["msg"].as_str().unwrap(),
        format!(
            "[{}:bad-single]: error adding container to network \"bad-single\": Required prevResult missing",
            pod.label()
        ),
        "{run}"
    );
    fx.assert_nothing_left(&[]);
    fx.del(&conf, &pod).assert_ok();
    fx.assert_nothing_left(&[]);
}

/// An interface called net1 already exists in the pod: ADD fails with
/// upstream's `interface name net1 already exists` and eth0 is rolled back.
#[test]
fn interface_name_collision() {
    let Some(fx) = Fixture::new() else { return };
    fx.load_macvlan_conf_1_and_2();
    let pod = fx.load_guide_pod("pod-case-01.yaml");
    fx.ns.ip(&[
        "link", "add", "net1", "type", "veth", "peer", "name", "peer1",
    ]);
    let conf = fx.conf("0.3.1");

    let run = fx.add(&conf, &pod);
    let err = run.assert_failed();
    let msg = err["msg"].as_str().unwrap();
    assert!(
        msg.contains("validateIfName: interface name net1 already exists"),
        "{run}"
    );
    assert!(msg.contains(&pod.label()), "{run}");
    assert!(msg.contains("macvlan-conf-1"), "{run}");
    assert!(fx.ns.link("eth0").is_none(), "eth0 was rolled back");
    assert!(fx.ns.link("net2").is_none(), "net2 never ran");
    fx.assert_host_clean();
}

/// The collision above must not take the pod's existing net1 with it: the
/// rollback DEL of the delegate that never ran deletes whatever is called
/// net1 (upstream does the same, since its rollback includes the failing
/// delegate).
#[test]
fn interface_name_collision_keeps_existing_interface() {
    let Some(fx) = Fixture::new() else { return };
    fx.load_macvlan_conf_1_and_2();
    let pod = fx.load_guide_pod("pod-case-01.yaml");
    fx.ns.ip(&[
        "link", "add", "net1", "type", "veth", "peer", "name", "peer1",
    ]);
    let conf = fx.conf("0.3.1");

    fx.add(&conf, &pod).assert_failed();
    fx.assert_nothing_left(&["net1", "peer1"]);
}

/// The API server is down during ADD: a bounded wait, then a clear error,
/// and no delegate has run.
#[test]
fn api_server_down_during_add() {
    let Some(fx) = Fixture::new() else { return };
    fx.load_macvlan_conf_1_and_2();
    let pod = fx.load_guide_pod("pod-case-01.yaml");
    let conf = fx.conf("0.3.1");
    fx.server.set_down(true).unwrap();

    let run = fx.add(&conf, &pod);
    let err = run.assert_failed();
    assert!(
        run.elapsed < Duration::from_secs(10),
        "ADD with the API down took {:?}",
        run.elapsed
    );
    let msg = err["msg"].as_str().unwrap();
    assert!(msg.contains("error waiting for pod"), "{run}");
    assert!(msg.contains(&pod.label()), "{run}");
    fx.assert_nothing_left(&[]);
}

/// The pod is not in the API (deleted before its sandbox got networking):
/// upstream's empty result, exit 0, no delegate run.
#[test]
fn pod_not_found_gives_empty_result() {
    let Some(fx) = Fixture::new() else { return };
    fx.load_macvlan_conf_1_and_2();
    let pod = PodRef {
        namespace: "default".into(),
        name: "pod-case-01".into(),
        uid: format!("{}-gone", random_hex(8)),
    };
    let conf = fx.conf("0.3.1");

    let run = fx.add(&conf, &pod);
    run.assert_ok();
    let result = run.json();
    assert_eq!(result["cniVersion"], "0.3.1", "{run}");
    assert_eq!(
        result["interfaces"],
        json!([{"name": "eth0", "sandbox": fx.ns.path()}]),
        "{run}"
    );
    let ips = result["ips"].as_array().unwrap();
    assert_eq!(ips.len(), 1, "{run}");
    assert_eq!(ips[0]["address"], "0.0.0.0/0", "{run}");
    assert_eq!(ips[0]["gateway"], "0.0.0.0", "{run}");
    fx.assert_nothing_left(&[]);
    assert!(fx.server.events().is_empty());
}

// ----- DEL -----

/// DEL after the pod was deleted from the API: everything is undone from
/// the delegate cache (links, IPAM, caches), and a second DEL succeeds.
#[test]
fn del_after_pod_deleted_and_del_twice() {
    let Some(fx) = Fixture::new() else { return };
    fx.load_macvlan_conf_1_and_2();
    let pod = fx.load_guide_pod("pod-case-01.yaml");
    let conf = fx.conf("0.3.1");
    fx.add(&conf, &pod).assert_ok();
    assert_eq!(fx.ipam_reservations().len(), 3);

    // Pod, NADs and the confDir file all gone: only the delegate cache is left.
    fx.server.delete_pod(&pod.namespace, &pod.name).unwrap();
    fx.server.delete_nad("default", "macvlan-conf-1").unwrap();
    fx.server.delete_nad("default", "macvlan-conf-2").unwrap();
    std::fs::remove_file(fx.conf_dir.join("macvlan2.conf")).unwrap();
    fx.server.clear_requests();
    let run = fx.del(&conf, &pod);
    run.assert_ok();
    assert_eq!(run.stdout, "", "DEL prints nothing");
    fx.assert_nothing_left(&[]);
    assert!(
        fx.server
            .requests()
            .iter()
            .all(|r| !r.path.contains("network-attachment-definitions")),
        "DEL from the cache reads no NAD: {:?}",
        fx.server.requests()
    );

    let again = fx.del(&conf, &pod);
    again.assert_ok();
    assert_eq!(again.stdout, "");
    fx.assert_nothing_left(&[]);
}

/// DEL twice while the pod still exists: the second finds no delegate cache
/// and succeeds.
#[test]
fn del_twice() {
    let Some(fx) = Fixture::new() else { return };
    fx.load_guide_nad("nad-macvlan-conf-1.yaml", None);
    let pod = fx.load_guide_pod("pod-case-03.yaml");
    let conf = fx.conf("0.3.1");
    fx.add(&conf, &pod).assert_ok();

    fx.del(&conf, &pod).assert_ok();
    fx.assert_nothing_left(&[]);
    fx.del(&conf, &pod).assert_ok();
    fx.assert_nothing_left(&[]);
}

/// DEL after the runtime already removed the network namespace: IPAM and
/// caches are still released.
#[test]
fn del_with_netns_gone() {
    let Some(fx) = Fixture::new() else { return };
    fx.load_macvlan_conf_1_and_2();
    let pod = fx.load_guide_pod("pod-case-06.yaml");
    let conf = fx.conf("0.3.1");
    fx.add(&conf, &pod).assert_ok();
    assert_eq!(fx.ipam_reservations().len(), 3);

    fx.ns.delete();
    assert!(!std::path::Path::new(fx.ns.path()).exists());
    let run = fx.del(&conf, &pod);
    run.assert_ok();
    fx.assert_host_clean();
}

// ----- CHECK and VERSION -----

/// CHECK after ADD (0.4.0 configs, the runtime's prevResult on stdin)
/// succeeds; after the pod's eth0 lost its address, it fails.
#[test]
fn check_after_add() {
    let Some(fx) = Fixture::new() else { return };
    fx.load_guide_nad("nad-macvlan-conf-1.yaml", None);
    let pod = fx.load_guide_pod("pod-case-03.yaml");
    let conf = fx.conf("0.4.0");
    let add = fx.add(&conf, &pod);
    add.assert_ok();
    assert_master_result(&fx, &add, "0.4.0");

    let mut check_conf = conf.clone();
    check_conf["prevResult"] = add.json();
    let check = fx.run("CHECK", &check_conf, &pod);
    check.assert_ok();
    assert_eq!(check.stdout, "", "CHECK prints nothing");

    let (addr, prefix) = fx.ns.addrs4("eth0")[0];
    fx.ns
        .ip(&["addr", "del", &format!("{addr}/{prefix}"), "dev", "eth0"]);
    let err = fx.run("CHECK", &check_conf, &pod).assert_failed();
    // Upstream's text: the master is a single-plugin config, whose error
    // libcni's CheckNetwork returns as the plugin's own (not wrapped in
    // `plugin type=... failed (check)` as for a list).
    let msg = err["msg"].as_str().unwrap();
    assert!(
        msg.contains(
            r#"DelegateCheck: error invoking DelegateCheck - "bridge": error in getting result from CheckNetwork: "#
        ) && !msg.contains("plugin type="),
        "{err}"
    );

    fx.del(&conf, &pod).assert_ok();
    fx.assert_nothing_left(&[]);
}

/// VERSION prints the supported versions, as skel does (stdin ignored).
#[test]
fn version_command() {
    let run = run_multus(
        &[
            ("CNI_COMMAND", "VERSION".to_owned()),
            ("CNI_PATH", "/usr/lib/cni".to_owned()),
        ],
        b"{\"cniVersion\":\"0.3.1\"}",
    );
    run.assert_ok();
    assert_eq!(
        run.json(),
        json!({
            "cniVersion": "1.1.0",
            "supportedVersions": ["0.1.0", "0.2.0", "0.3.0", "0.3.1", "0.4.0", "1.0.0", "1.1.0"]
        }),
        "{run}"
    );
}
