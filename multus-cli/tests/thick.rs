//! End to end through the thick plugin: the built `multus-shim` run the way
//! the runtime runs a plugin (`CNI_*` environment, the `00-multus.conf` the
//! daemon generated on stdin), the built `multus-daemon` on a socket
//! directory of the test's own with `multusConfigFile: auto` (the primary
//! network is the fixture's bridge + host-local in the daemon's autoconfig
//! dir), the real delegate plugins in `/usr/lib/cni`, a real network
//! namespace per pod and the stand-in Kubernetes API server. The guide's
//! pods are the cases of the thin end-to-end tests (`common::cases`).
//!
//! `multus-shim` is a package of its own, so cargo does not build it for
//! `cargo test -p multus-cli`: it is looked for next to the built
//! `multus-daemon` (`target/<profile>/multus-shim`, as `cargo test
//! --workspace` or `cargo build -p multus-shim` leaves it) and, when
//! missing, built once with `cargo build -p multus-shim`.
//!
//! Needs root; fails (never skips) without it, unless `MULTUS_SKIP_PRIVILEGED=1`.

#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;
#[path = "common/daemon.rs"]
mod daemon_support;

use std::path::{Path, PathBuf};
use std::sync::OnceLock;
use std::time::Duration;

use common::cases::{self, GuideCase};
use common::{Fixture, MASTER, PodRef, Run, assert_attached, assert_master_result, macvlan_conf_1};
use daemon_support::Daemon;
use multus_testsupport::netns::{CNI_BIN, TestNetns, random_hex};
use serde_json::{Value, json};

/// The built `multus-shim`, next to `multus-daemon`; built once if missing.
fn shim_binary() -> &'static Path {
    static SHIM: OnceLock<PathBuf> = OnceLock::new();
    SHIM.get_or_init(|| {
        let daemon = Path::new(env!("CARGO_BIN_EXE_multus-daemon"));
        let shim = daemon.with_file_name("multus-shim");
        if !shim.is_file() {
            let cargo = std::env::var_os("CARGO").unwrap_or_else(|| "cargo".into());
            let mut cmd = std::process::Command::new(cargo);
            cmd.args(["build", "-p", "multus-shim", "--bin", "multus-shim"])
                .current_dir(concat!(env!("CARGO_MANIFEST_DIR"), "/.."));
            if daemon.parent().and_then(Path::file_name) == Some("release".as_ref()) {
                cmd.arg("--release");
            }
            let status = cmd.status();
            assert!(
                status.as_ref().is_ok_and(|s| s.success()) && shim.is_file(),
                "multus-shim is not built next to {} and `cargo build -p multus-shim` failed \
                 ({status:?}): build it first",
                daemon.display()
            );
        }
        shim
    })
}

/// A running daemon in `auto` mode for one fixture, and the shim config it
/// generated.
struct Thick {
    daemon: Daemon,
    config: Value,
    generated: PathBuf,
    /// `00-multus.conf` as the daemon wrote it: what the runtime feeds the shim.
    shim_conf: String,
}

impl Thick {
    /// The primary network at `master_version` in the autoconfig dir, the
    /// daemon started on it; waits for `00-multus.conf`.
    fn start(fx: &Fixture, master_version: &str) -> Self {
        let dir = fx.tmp.path().join("thick-net.d");
        std::fs::create_dir_all(&dir).unwrap();
        std::fs::write(
            dir.join("10-primary.conf"),
            fx.master_delegate(master_version).to_string(),
        )
        .unwrap();
        let run = fx.tmp.path().join("run");
        let config = json!({
            "cniVersion": "0.3.1",
            "socketDir": run,
            "daemonSocketDir": run,
            "logLevel": "verbose",
            "logToStderr": true,
            "multusConfigFile": "auto",
            "cniConfigDir": dir,
            "multusAutoconfigDir": dir,
            "binDir": CNI_BIN,
            "cniDir": fx.cni_dir,
            "confDir": fx.conf_dir,
            "kubeconfig": fx.kubeconfig,
        });
        let daemon = Daemon::start(fx.tmp.path(), &config);
        let generated = dir.join("00-multus.conf");
        let shim_conf = std::fs::read_to_string(&generated)
            .unwrap_or_else(|e| panic!("{}: {e}\n{}", generated.display(), daemon.stderr()));
        let conf: Value = serde_json::from_str(&shim_conf).unwrap();
        assert_eq!(conf["type"], "multus-shim", "{conf}");
        assert_eq!(
            conf["clusterNetwork"],
            dir.join("10-primary.conf").to_str().unwrap()
        );
        Self {
            daemon,
            config,
            generated,
            shim_conf,
        }
    }

    /// SIGTERM (exit 0, the generated config removed), then a new daemon.
    fn restart(&mut self, fx: &Fixture) {
        self.daemon.stop();
        assert!(!self.generated.exists());
        self.daemon = Daemon::start(fx.tmp.path(), &self.config);
        assert_eq!(
            std::fs::read_to_string(&self.generated).unwrap(),
            self.shim_conf
        );
    }

    /// The shim, as the runtime runs it for `command` on the fixture's sandbox.
    fn shim(&self, fx: &Fixture, command: &str, pod: &PodRef) -> Run {
        shim_run(
            &env(command, pod, &fx.container_id, fx.ns.path()),
            &self.shim_conf,
        )
    }
}

fn shim_run(env: &[(&'static str, String)], conf: &str) -> Run {
    common::run_plugin(shim_binary(), env, conf.as_bytes())
}

/// The `CNI_*` environment libcni sets for `command` on a sandbox.
fn env(command: &str, pod: &PodRef, cid: &str, netns: &str) -> Vec<(&'static str, String)> {
    vec![
        ("CNI_COMMAND", command.to_owned()),
        ("CNI_CONTAINERID", cid.to_owned()),
        ("CNI_NETNS", netns.to_owned()),
        ("CNI_IFNAME", "eth0".to_owned()),
        (
            "CNI_ARGS",
            format!(
                "IgnoreUnknown=1;K8S_POD_NAMESPACE={};K8S_POD_NAME={};K8S_POD_INFRA_CONTAINER_ID={cid};K8S_POD_UID={}",
                pod.namespace, pod.name, pod.uid
            ),
        ),
        ("CNI_PATH", CNI_BIN.to_owned()),
    ]
}

// ----- the guide's pods (common::cases, shared with tests/e2e.rs) -----

/// A guide case through shim → daemon: the shim prints the default
/// network's result in its own config's version (0.3.1), the pod is
/// attached exactly as with the thin plugin, DEL leaves nothing.
fn thick(case: GuideCase) {
    let Some(fx) = Fixture::new() else { return };
    let t = Thick::start(&fx, case.master_version);
    let pod = case.prepare(&fx);

    let run = t.shim(&fx, "ADD", &pod);
    run.assert_ok();
    assert_master_result(&fx, &run, "0.3.1");
    case.assert_added(&fx, &pod);
    let del = t.shim(&fx, "DEL", &pod);
    del.assert_ok();
    assert_eq!(del.stdout, "", "DEL prints nothing");
    fx.assert_nothing_left(&[]);
}

#[test]
fn pod_case_01_comma_form() {
    thick(cases::pod_case_01());
}

#[test]
fn pod_case_02_other_namespace() {
    thick(cases::pod_case_02());
}

#[test]
fn pod_case_03_interface_name() {
    thick(cases::pod_case_03());
}

/// The master at 1.0.0: the shim still prints its own version, 0.3.1.
#[test]
fn pod_case_04_json_list() {
    thick(cases::pod_case_04());
}

#[test]
fn pod_case_05_json_namespace() {
    thick(cases::pod_case_05());
}

#[test]
fn pod_case_06_json_interface() {
    thick(cases::pod_case_06());
}

#[test]
fn samplepod_default_route() {
    thick(cases::samplepod());
}

// ----- failures, DEL, restarts -----

/// A conflist whose second plugin fails: the shim exits with the daemon's
/// CNI error (upstream's text naming the pod and the network), nothing of
/// the pod's attachments is left, the runtime's DEL afterwards succeeds.
#[test]
fn failing_attachment_leaves_nothing() {
    let Some(fx) = Fixture::new() else { return };
    let pod = cases::load_failing_attachment(&fx, "thick-fail");
    let t = Thick::start(&fx, "0.3.1");

    let run = t.shim(&fx, "ADD", &pod);
    cases::assert_failing_attachment_rolled_back(&fx, &pod, &run);
    t.shim(&fx, "DEL", &pod).assert_ok();
    fx.assert_nothing_left(&[]);
}

/// DEL after the pod, its NADs and the confDir file were deleted: undone
/// from the delegate cache.
#[test]
fn del_after_pod_deleted() {
    let Some(fx) = Fixture::new() else { return };
    let case = cases::pod_case_01();
    let t = Thick::start(&fx, case.master_version);
    let pod = case.prepare(&fx);
    t.shim(&fx, "ADD", &pod).assert_ok();
    assert_eq!(fx.ipam_reservations().len(), 3);

    fx.server.delete_pod(&pod.namespace, &pod.name).unwrap();
    fx.server.delete_nad("default", "macvlan-conf-1").unwrap();
    fx.server.delete_nad("default", "macvlan-conf-2").unwrap();
    std::fs::remove_file(fx.conf_dir.join("macvlan2.conf")).unwrap();
    let del = t.shim(&fx, "DEL", &pod);
    del.assert_ok();
    assert_eq!(del.stdout, "");
    fx.assert_nothing_left(&[]);
}

/// The daemon restarted (SIGTERM, start again) between ADD and DEL: the DEL
/// through the shim undoes everything.
#[test]
fn daemon_restarted_between_add_and_del() {
    let Some(fx) = Fixture::new() else { return };
    let case = cases::pod_case_06();
    let mut t = Thick::start(&fx, case.master_version);
    let pod = case.prepare(&fx);
    t.shim(&fx, "ADD", &pod).assert_ok();
    case.assert_added(&fx, &pod);

    t.restart(&fx);
    t.shim(&fx, "DEL", &pod).assert_ok();
    fx.assert_nothing_left(&[]);
}

/// Eight pods added at once through eight shims and one daemon, then
/// deleted at once: each gets its own addresses and network-status,
/// nothing is left.
#[test]
fn eight_pods_concurrently() {
    let Some(fx) = Fixture::new() else { return };
    fx.load_guide_nad("nad-macvlan-conf-1.yaml", None);
    let t = Thick::start(&fx, "0.3.1");
    let pods: Vec<(PodRef, TestNetns, String)> = (0..8)
        .map(|i| {
            (
                fx.insert_simple_pod(&format!("thick-{i}"), "macvlan-conf-1"),
                TestNetns::with_prefix("mrs-thk-"),
                random_hex(64),
            )
        })
        .collect();
    let run_all = |command: &str| -> Vec<Run> {
        std::thread::scope(|s| {
            let handles: Vec<_> = pods
                .iter()
                .map(|(pod, ns, cid)| {
                    let env = env(command, pod, cid, ns.path());
                    let conf = &t.shim_conf;
                    s.spawn(move || shim_run(&env, conf))
                })
                .collect();
            handles.into_iter().map(|h| h.join().unwrap()).collect()
        })
    };

    let added = run_all("ADD");
    let mut addresses = Vec::new();
    for (run, (pod, ns, _)) in added.iter().zip(&pods) {
        run.assert_ok();
        let result = run.json();
        let (eth0, prefix) = ns.addrs4("eth0")[0];
        assert_eq!(result["ips"][0]["address"], format!("{eth0}/{prefix}"));
        assert_eq!(ns.link_names(), ["eth0", "lo", "net1"], "{}", pod.name);
        let status = fx.network_status(pod);
        assert_eq!(status.len(), 2, "{status:#?}");
        assert_eq!(status[0]["ips"], json!([eth0.to_string()]));
        assert_eq!(status[1]["interface"], "net1");
        let (net1, _) = ns.addrs4("net1")[0];
        assert_eq!(status[1]["ips"], json!([net1.to_string()]));
        addresses.extend([eth0, net1]);
    }
    addresses.sort();
    addresses.dedup();
    assert_eq!(addresses.len(), 16, "every address is the pod's own");
    assert_eq!(fx.ipam_reservations().len(), 16);

    for run in run_all("DEL") {
        run.assert_ok();
    }
    for (pod, ns, cid) in &pods {
        assert_eq!(ns.link_names(), ["lo"], "{}", pod.name);
        assert!(!fx.cni_dir.join(cid).exists(), "{}", pod.name);
    }
    fx.assert_host_clean();
}

/// A NAD (and its pod) created after the daemon started is used without a
/// restart.
#[test]
fn nad_created_after_start() {
    let Some(fx) = Fixture::new() else { return };
    let t = Thick::start(&fx, "0.3.1");
    let probe = fx.insert_simple_pod("before", "");
    t.shim(&fx, "ADD", &probe).assert_ok();
    t.shim(&fx, "DEL", &probe).assert_ok();
    fx.assert_nothing_left(&[]);

    fx.load_guide_nad("nad-macvlan-conf-1.yaml", None);
    let pod = fx.insert_simple_pod("after", "macvlan-conf-1");
    let run = t.shim(&fx, "ADD", &pod);
    run.assert_ok();
    assert_attached(
        &fx,
        &pod,
        &[MASTER, macvlan_conf_1("net1", "default/macvlan-conf-1")],
    );
    t.shim(&fx, "DEL", &pod).assert_ok();
    fx.assert_nothing_left(&[]);
}

/// The daemon is down: ADD fails with a CNI error once the shim's readiness
/// wait (here 1.5 s, the hidden `shimReadyTimeoutMs`) is over, not later;
/// DEL still exits 0 and prints nothing.
#[test]
fn daemon_down() {
    let Some(fx) = Fixture::new() else { return };
    fx.load_guide_nad("nad-macvlan-conf-1.yaml", None);
    let pod = fx.insert_simple_pod("down", "macvlan-conf-1");
    let mut t = Thick::start(&fx, "0.3.1");
    t.daemon.stop();
    let mut conf: Value = serde_json::from_str(&t.shim_conf).unwrap();
    conf["shimReadyTimeoutMs"] = json!(1500);
    let conf = conf.to_string();

    let add = shim_run(&env("ADD", &pod, &fx.container_id, fx.ns.path()), &conf);
    let err = add.assert_failed();
    assert!(
        add.elapsed >= Duration::from_millis(1400) && add.elapsed < Duration::from_secs(5),
        "ADD with the daemon down took {:?}",
        add.elapsed
    );
    let msg = err["msg"].as_str().unwrap();
    assert!(msg.contains("multus.sock"), "the socket is named: {add}");
    fx.assert_nothing_left(&[]);

    let del = shim_run(&env("DEL", &pod, &fx.container_id, fx.ns.path()), &conf);
    del.assert_ok();
    assert_eq!(del.stdout, "", "{del}");
    assert!(del.elapsed < Duration::from_secs(5), "{del}");
}
