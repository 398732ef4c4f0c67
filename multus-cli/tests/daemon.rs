//! End to end: the built `multus-daemon` run as root on a socket of the
//! test's own, spoken to exactly as an upstream `multus-shim` speaks to it
//! (HTTP/1.1 over the unix socket, `{"env", "config", "interfaceAttributes"}`),
//! with the real delegate plugins in `/usr/lib/cni`, a real network
//! namespace per pod, and the stand-in Kubernetes API server reached
//! through the kubeconfig of the multus config (the fixture of the thin
//! plugin's e2e tests, `tests/common`).
//!
//! Needs root; fails (never skips) without it, unless `MULTUS_SKIP_PRIVILEGED=1`.

#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;
#[path = "common/daemon.rs"]
mod daemon_support;

use std::path::PathBuf;
use std::time::Duration;

use common::{Fixture, MASTER, MASTER_GW, PodRef, assert_attached, macvlan_conf_1, macvlan_conf_2};
use daemon_support::{Answer, Daemon, free_port, http_tcp, request_body};
use multus_testsupport::netns::{CNI_BIN, TestNetns, random_hex};
use serde_json::{Value, json};

/// The daemon config of a test: its own socket directory, logs on stderr,
/// the fixture's multus config installed from a file (not `auto`), the
/// multus keys `/delegate` uses (binDir, cniDir, kubeconfig), plus `extra`.
fn daemon_config(fx: &Fixture, extra: Value) -> Value {
    let source = fx.tmp.path().join("user-multus.conf");
    std::fs::write(&source, fx.conf("0.3.1").to_string()).unwrap();
    let cni_conf_dir = fx.tmp.path().join("cni-conf");
    std::fs::create_dir_all(&cni_conf_dir).unwrap();
    let mut config = json!({
        "socketDir": fx.tmp.path().join("run"),
        "logLevel": "debug",
        "logToStderr": true,
        "multusConfigFile": source,
        "cniConfigDir": cni_conf_dir,
        "binDir": CNI_BIN,
        "cniDir": fx.cni_dir,
        "kubeconfig": fx.kubeconfig,
    });
    if let Value::Object(extra) = extra {
        for (k, v) in extra {
            config[k] = v;
        }
    }
    config
}

fn start(fx: &Fixture, extra: Value) -> Daemon {
    Daemon::start(fx.tmp.path(), &daemon_config(fx, extra))
}

/// The environment a shim forwards for `command` on a sandbox.
fn env(
    command: &str,
    pod: &PodRef,
    container_id: &str,
    netns: &str,
) -> Vec<(&'static str, String)> {
    vec![
        ("CNI_COMMAND", command.to_owned()),
        ("CNI_CONTAINERID", container_id.to_owned()),
        ("CNI_NETNS", netns.to_owned()),
        ("CNI_IFNAME", "eth0".to_owned()),
        (
            "CNI_ARGS",
            format!(
                "IgnoreUnknown=1;K8S_POD_NAMESPACE={};K8S_POD_NAME={};K8S_POD_INFRA_CONTAINER_ID={container_id};K8S_POD_UID={}",
                pod.namespace, pod.name, pod.uid
            ),
        ),
        ("CNI_PATH", CNI_BIN.to_owned()),
        ("PATH", "/usr/sbin:/usr/bin:/sbin:/bin".to_owned()),
    ]
}

fn cni(d: &Daemon, fx: &Fixture, command: &str, pod: &PodRef) -> Answer {
    d.post(
        "/cni",
        &request_body(
            &env(command, pod, &fx.container_id, fx.ns.path()),
            &fx.conf("0.3.1"),
            None,
        ),
    )
}

fn assert_status(a: &Answer, status: u16) {
    assert_eq!(a.status, status, "{a:?}");
}

/// The ADD answer: `{"Result": <the master's result as CNI 1.1.0>}`.
fn assert_add_result(fx: &Fixture, a: &Answer, netns: &TestNetns) {
    assert_status(a, 200);
    let result = &a.json()["Result"];
    assert_eq!(result["cniVersion"], "1.1.0", "{result:#}");
    let interfaces = result["interfaces"].as_array().expect("interfaces");
    let eth0 = interfaces
        .iter()
        .position(|i| i["name"] == "eth0" && i["sandbox"] == netns.path())
        .unwrap_or_else(|| panic!("no eth0 in the sandbox: {result:#}"));
    assert!(
        interfaces.iter().any(|i| i["name"] == fx.bridge.name()),
        "{result:#}"
    );
    let (addr, prefix) = netns.addrs4("eth0")[0];
    assert_eq!(
        result["ips"][0]["address"],
        format!("{addr}/{prefix}"),
        "{result:#}"
    );
    assert_eq!(result["ips"][0]["gateway"], MASTER_GW, "{result:#}");
    assert_eq!(result["ips"][0]["interface"], eth0, "{result:#}");
}

// ----- pods through /cni -----

/// The guide's pod-case-06 (JSON list with an interface name) through
/// `/cni`: interfaces, network-status and events as with the thin plugin;
/// DEL removes everything; the user's multus config was installed into
/// cniConfigDir and the daemon kept serving; plugins ran through `chrootDir`.
#[test]
fn pod_case_06_add_and_del_through_the_socket() {
    let Some(fx) = Fixture::new() else { return };
    fx.load_macvlan_conf_1_and_2();
    let pod = fx.load_guide_pod("pod-case-06.yaml");
    // chrootDir "/": every plugin goes through the chroot exec path.
    let mut d = start(&fx, json!({"chrootDir": "/"}));
    let installed = fx.tmp.path().join("cni-conf/user-multus.conf");
    assert_eq!(
        std::fs::read_to_string(&installed).unwrap(),
        fx.conf("0.3.1").to_string()
    );

    // The request's own log settings never reach the daemon's logger (it is
    // process-wide and shared by concurrent requests).
    let mut conf = fx.conf("0.3.1");
    let request_log = fx.tmp.path().join("request.log");
    conf["logFile"] = json!(request_log);
    conf["logLevel"] = json!("debug");
    let body = request_body(
        &env("ADD", &pod, &fx.container_id, fx.ns.path()),
        &conf,
        None,
    );
    let a = d.post("/cni", &body);
    assert_add_result(&fx, &a, &fx.ns);
    assert_eq!(a.header("content-type"), Some("application/json"));
    assert!(!request_log.exists(), "the request's logFile was opened");
    assert_attached(
        &fx,
        &pod,
        &[
            MASTER,
            macvlan_conf_1("macvlan1", "default/macvlan-conf-1"),
            macvlan_conf_2("net2"),
        ],
    );
    assert!(fx.delegate_cache().is_file());

    let a = cni(&d, &fx, "DEL", &pod);
    assert_status(&a, 200);
    assert_eq!(a.body, "");
    fx.assert_nothing_left(&[]);
    // A repeated DEL (the runtime retries) is fine.
    assert_status(&cni(&d, &fx, "DEL", &pod), 200);
    d.stop();
}

/// An attachment whose plugin fails: 400 with upstream's error text (the
/// request's arguments, `ERRORED:`, the pod, the network), everything
/// rolled back.
#[test]
fn failing_attachment_leaves_nothing() {
    let Some(fx) = Fixture::new() else { return };
    // The conflist's second step (tuning) writes a sysctl that does not exist.
    fx.load_guide_nad("nad-macvlan-conf-1.yaml", None);
    fx.insert_nad(
        "default",
        "broken",
        json!({
            "cniVersion": "0.4.0",
            "name": "broken",
            "plugins": [
                {"type": "macvlan", "master": "eth1", "mode": "bridge",
                 "ipam": {"type": "host-local", "subnet": "10.77.0.0/16"}},
                {"type": "tuning", "sysctl": {"net.core.mrs_dmn_does_not_exist": "1"}}
            ]
        }),
    );
    let pod = fx.insert_simple_pod("broken-pod", "macvlan-conf-1, broken");
    let d = start(&fx, json!({}));

    let a = cni(&d, &fx, "ADD", &pod);
    assert_status(&a, 400);
    assert!(
        a.body.starts_with(&format!(
            "ContainerID:\"{}\" Netns:\"{}\" IfName:\"eth0\" Args:\"IgnoreUnknown=1;K8S_POD_NAMESPACE=default;K8S_POD_NAME=broken-pod;",
            fx.container_id,
            fx.ns.path()
        )),
        "{a:?}"
    );
    assert!(
        a.body
            .contains("Path:\"\" ERRORED: error configuring pod [default/broken-pod] networking: "),
        "{a:?}"
    );
    assert!(
        a.body
            .contains("error adding container to network \"broken\""),
        "{a:?}"
    );
    assert!(a.body.contains("mrs_dmn_does_not_exist"), "{a:?}");
    assert!(a.body.ends_with('\n'), "{a:?}");
    fx.assert_nothing_left(&[]);
    assert!(
        fx.server
            .pod_annotation(&pod.namespace, &pod.name, common::NETWORK_STATUS)
            .is_none()
    );
    // The runtime DELs after a failed ADD: nothing to do, success.
    assert_status(&cni(&d, &fx, "DEL", &pod), 200);
    fx.assert_nothing_left(&[]);
}

/// Requests refused before anything runs: upstream's texts (plain text),
/// and a container id libcni would refuse as the CNI error object.
#[test]
fn bad_requests() {
    let Some(fx) = Fixture::new() else { return };
    let pod = fx.insert_simple_pod("p", "");
    let d = start(&fx, json!({}));
    let conf = fx.conf("0.3.1");

    let mut no_args = env("ADD", &pod, &fx.container_id, fx.ns.path());
    no_args.retain(|(k, _)| *k != "CNI_ARGS");
    let a = d.post("/cni", &request_body(&no_args, &conf, None));
    assert_status(&a, 400);
    assert_eq!(
        a.body,
        "could not extract the CNI command args: missing CNI_ARGS\n"
    );

    let mut bad_args = env("ADD", &pod, &fx.container_id, fx.ns.path());
    bad_args[4].1 = "K8S_POD_NAMESPACE=default;K8S_POD_NAME=p;".into();
    let a = d.post("/cni", &request_body(&bad_args, &conf, None));
    assert_eq!(
        (a.status, a.body.as_str()),
        (
            400,
            "could not extract the kubernetes runtime args: invalid CNI_ARG ''\n"
        )
    );

    let a = d.post(
        "/cni",
        &request_body(&env("ADD", &pod, "../../etc", fx.ns.path()), &conf, None),
    );
    assert_status(&a, 400);
    let e = a.json();
    assert_eq!(e["code"], 4, "{e}");
    assert!(e["msg"].as_str().unwrap().contains("container"), "{e}");

    let a = d.post("/cni", b"not json");
    assert_status(&a, 400);
    fx.assert_nothing_left(&[]);
}

/// `/healthz`, `/readyz`, unknown paths (404, empty), wrong methods (405
/// `Method not allowed`), STATUS on `/cni`, and the request counter
/// on the metrics port.
#[test]
fn endpoints_and_metrics() {
    let Some(fx) = Fixture::new() else { return };
    let port = free_port();
    let d = start(&fx, json!({"metricsPort": port}));

    assert_status(&d.get("/healthz"), 200);
    assert_status(&d.post("/healthz", b""), 200);
    assert_status(&d.get("/readyz"), 200);
    let a = d.get("/nope");
    assert_eq!((a.status, a.body.as_str()), (404, ""));
    let a = d.get("/cni");
    assert_eq!((a.status, a.body.as_str()), (405, "Method not allowed\n"));
    let a = daemon_support::http(&d.socket, "PUT", "/healthz", b"");
    assert_eq!((a.status, a.body.as_str()), (405, "Method not allowed\n"));
    let a = daemon_support::http(&d.socket, "DELETE", "/delegate", b"");
    assert_status(&a, 405);

    // STATUS needs nothing but the command (and the config). (GC too, but
    // the packaged bridge plugin predates GC and fails it.)
    let body = request_body(
        &[("CNI_COMMAND", "STATUS".to_owned())],
        &fx.conf("1.1.0"),
        None,
    );
    let a = d.post("/cni", &body);
    assert_eq!((a.status, a.body.as_str()), (200, ""), "{a:?}");

    let m = http_tcp(&format!("127.0.0.1:{port}"), "/metrics");
    assert_status(&m, 200);
    for line in [
        r#"multus_server_request_total{handler="/healthz",code="200",method="get"} 2"#,
        r#"multus_server_request_total{handler="/healthz",code="200",method="post"} 1"#,
        r#"multus_server_request_total{handler="/healthz",code="405",method="put"} 1"#,
        r#"multus_server_request_total{handler="/readyz",code="200",method="get"} 1"#,
        r#"multus_server_request_total{handler="NotFound",code="404",method="get"} 1"#,
        r#"multus_server_request_total{handler="/cni",code="405",method="get"} 1"#,
        r#"multus_server_request_total{handler="/delegate",code="405",method="delete"} 1"#,
        r#"multus_server_request_total{handler="/cni",code="200",method="post"} 1"#,
    ] {
        assert!(m.body.contains(line), "no {line} in\n{}", m.body);
    }
    assert_status(&http_tcp(&format!("127.0.0.1:{port}"), "/other"), 404);
}

/// SIGTERM while an ADD is running: `/readyz` fails at once, the ADD still
/// completes, then the daemon exits 0 and removes nothing of the pod.
#[test]
fn readyz_fails_during_shutdown_and_requests_finish() {
    let Some(fx) = Fixture::new() else { return };
    fx.load_guide_nad("nad-macvlan-conf-1.yaml", None);
    let pod = fx.insert_simple_pod("slow", "macvlan-conf-1");
    let mut d = start(&fx, json!({}));
    // The network-status write takes 3 s: the ADD is in flight meanwhile.
    fx.server
        .set_delay_for("/api/v1/namespaces/*/pods/*/status", Duration::from_secs(3));

    let body = request_body(
        &env("ADD", &pod, &fx.container_id, fx.ns.path()),
        &fx.conf("0.3.1"),
        None,
    );
    let socket = d.socket.clone();
    let add = std::thread::spawn(move || daemon_support::http(&socket, "POST", "/cni", &body));
    // Wait until the delegates ran (the status write is what is slow).
    let deadline = std::time::Instant::now() + Duration::from_secs(20);
    while !fx.ns.link_names().contains(&"net1".to_owned()) {
        assert!(
            std::time::Instant::now() < deadline,
            "ADD did not start: {}",
            d.stderr()
        );
        std::thread::sleep(Duration::from_millis(20));
    }
    assert_status(&d.get("/readyz"), 200);
    d.terminate();
    std::thread::sleep(Duration::from_millis(300));
    let ready = d.get("/readyz");
    assert_status(&ready, 500);
    assert_status(&d.get("/healthz"), 200);

    let a = add.join().unwrap();
    assert_add_result(&fx, &a, &fx.ns);
    let status = d.wait(Duration::from_secs(15));
    assert_eq!(status.code(), Some(0), "{}", d.stderr());
    assert_attached(
        &fx,
        &pod,
        &[MASTER, macvlan_conf_1("net1", "default/macvlan-conf-1")],
    );

    // A new daemon deletes it.
    fx.server.clear_faults();
    let d = start(&fx, json!({}));
    assert_status(&cni(&d, &fx, "DEL", &pod), 200);
    fx.assert_nothing_left(&[]);
}

/// The daemon restarted between ADD and DEL: the DEL works from the
/// delegate cache on disk, even with the pod gone from the API.
#[test]
fn restart_between_add_and_del() {
    let Some(fx) = Fixture::new() else { return };
    fx.load_macvlan_conf_1_and_2();
    let pod = fx.load_guide_pod("pod-case-01.yaml");
    let mut d = start(&fx, json!({}));
    assert_add_result(&fx, &cni(&d, &fx, "ADD", &pod), &fx.ns);
    d.stop();
    fx.server.delete_pod(&pod.namespace, &pod.name);

    let d = start(&fx, json!({}));
    assert_status(&cni(&d, &fx, "DEL", &pod), 200);
    fx.assert_nothing_left(&[]);
}

/// `/delegate`: an extra interface hot-plugged into a running pod with the
/// requested MAC and cni-args, then removed; network-status is not touched.
#[test]
fn delegate_hot_plug_add_and_del() {
    let Some(fx) = Fixture::new() else { return };
    let pod = fx.insert_simple_pod("hot", "");
    let d = start(&fx, json!({}));
    assert_add_result(&fx, &cni(&d, &fx, "ADD", &pod), &fx.ns);
    let status_before = fx.network_status(&pod);

    let mut extra = json!({
        "cniVersion": "0.3.1", "name": "hotplug-net", "type": "macvlan", "mode": "bridge",
        "master": "eth0",
        "ipam": {"type": "host-local", "subnet": "10.66.0.0/24"}
    });
    fx.rewrite_network(&mut extra);
    let mut add_env = env("ADD", &pod, &fx.container_id, fx.ns.path());
    add_env[3].1 = "hot1".into();
    let mac = "c2:00:00:00:66:01";
    let attributes = json!({"mac": mac, "cni-args": {"note": "hot"}});
    let a = d.post(
        "/delegate",
        &request_body(&add_env, &extra, Some(attributes)),
    );
    assert_status(&a, 200);
    let result = &a.json()["Result"];
    assert_eq!(result["cniVersion"], "1.1.0", "{result:#}");
    let link = fx
        .ns
        .link("hot1")
        .unwrap_or_else(|| panic!("no hot1: {result:#}"));
    assert_eq!(link["address"], mac, "{link}");
    assert_eq!(link["linkinfo"]["info_kind"], "macvlan", "{link}");
    assert_eq!(fx.ns.cidrs4("hot1").len(), 1);
    assert!(
        fx.result_cache_entries()
            .contains(&format!("hotplug-net-{}-hot1", fx.container_id))
    );
    assert_eq!(
        fx.network_status(&pod),
        status_before,
        "network-status untouched"
    );

    // The name is taken now: a second hot-plug on it is refused.
    let a = d.post("/delegate", &request_body(&add_env, &extra, None));
    assert_status(&a, 400);
    assert!(a.body.contains("hot1 already exists"), "{a:?}");

    let mut del_env = add_env.clone();
    del_env[0].1 = "DEL".into();
    let a = d.post("/delegate", &request_body(&del_env, &extra, None));
    assert_status(&a, 200);
    assert!(fx.ns.link("hot1").is_none());
    assert_eq!(
        fx.ipam_reservations().len(),
        1,
        "{:?}",
        fx.ipam_reservations()
    );

    assert_status(&cni(&d, &fx, "DEL", &pod), 200);
    fx.assert_nothing_left(&[]);
}

/// Eight pods added at once, each in its own namespace, then deleted at
/// once: they run in parallel (bounded by `connectionLimit`), every pod
/// gets its own addresses and network-status, nothing is left.
#[test]
fn eight_pods_concurrently() {
    let Some(fx) = Fixture::new() else { return };
    fx.load_guide_nad("nad-macvlan-conf-1.yaml", None);
    let d = start(&fx, json!({"connectionLimit": 4}));
    let pods: Vec<(PodRef, TestNetns, String)> = (0..8)
        .map(|i| {
            (
                fx.insert_simple_pod(&format!("many-{i}"), "macvlan-conf-1"),
                TestNetns::with_prefix("mrs-dmn-"),
                random_hex(64),
            )
        })
        .collect();
    let conf = fx.conf("0.3.1");
    let run_all = |command: &str| -> Vec<Answer> {
        std::thread::scope(|s| {
            let handles: Vec<_> = pods
                .iter()
                .map(|(pod, ns, cid)| {
                    let body = request_body(&env(command, pod, cid, ns.path()), &conf, None);
                    let socket: PathBuf = d.socket.clone();
                    s.spawn(move || daemon_support::http(&socket, "POST", "/cni", &body))
                })
                .collect();
            handles.into_iter().map(|h| h.join().unwrap()).collect()
        })
    };

    // Each ADD takes over a second (its network-status write is slowed
    // down): eight of them, at most four at once, take two rounds, not eight.
    fx.server.set_delay_for(
        "/api/v1/namespaces/*/pods/*/status",
        Duration::from_millis(1200),
    );
    let started = std::time::Instant::now();
    let added = run_all("ADD");
    let elapsed = started.elapsed();
    assert!(
        elapsed >= Duration::from_millis(2400) && elapsed < Duration::from_secs(8),
        "8 ADDs with connectionLimit 4 took {elapsed:?}"
    );
    fx.server.clear_faults();
    for (a, (pod, ns, _)) in added.iter().zip(&pods) {
        assert_add_result(&fx, a, ns);
        assert_eq!(ns.link_names(), ["eth0", "lo", "net1"], "{}", pod.name);
        let status = fx.network_status(pod);
        assert_eq!(status.len(), 2, "{status:#?}");
        assert_eq!(status[1]["interface"], "net1");
        let (addr, _) = ns.addrs4("net1")[0];
        assert_eq!(status[1]["ips"], json!([addr.to_string()]));
    }
    assert_eq!(
        fx.ipam_reservations().len(),
        16,
        "{:?}",
        fx.ipam_reservations()
    );

    for a in run_all("DEL") {
        assert_status(&a, 200);
    }
    for (pod, ns, cid) in &pods {
        assert_eq!(ns.link_names(), ["lo"], "{}", pod.name);
        assert!(
            !fx.cni_dir.join(cid).exists(),
            "delegate cache of {} left",
            pod.name
        );
    }
    fx.assert_host_clean();
}

// ----- start-up -----

/// Not root: refused with a clear error, exit 1.
#[test]
fn refuses_to_run_without_root() {
    let Some(fx) = Fixture::new() else { return };
    use std::os::unix::fs::PermissionsExt as _;
    use std::os::unix::process::CommandExt as _;
    let dir = tempfile::tempdir().unwrap();
    std::fs::set_permissions(dir.path(), std::fs::Permissions::from_mode(0o755)).unwrap();
    let config = dir.path().join("daemon-config.json");
    std::fs::write(&config, daemon_config(&fx, json!({})).to_string()).unwrap();
    std::fs::set_permissions(&config, std::fs::Permissions::from_mode(0o644)).unwrap();
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_multus-daemon"))
        .args(["-config", config.to_str().unwrap()])
        .uid(65534)
        .gid(65534)
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(1), "{stderr}");
    assert!(
        stderr.contains("failed to run multus-daemon with root: now running in uid: 65534"),
        "{stderr}"
    );
    assert!(!fx.tmp.path().join("run").exists());
}

/// Flags: `-version` prints and exits 4 (upstream), unknown flags exit 2,
/// a bad config exits 1 naming the problem.
#[test]
fn flags_and_bad_config() {
    let bin = env!("CARGO_BIN_EXE_multus-daemon");
    let out = std::process::Command::new(bin)
        .arg("-version")
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(4));
    assert!(String::from_utf8_lossy(&out.stdout).starts_with("multus-daemon: version:"));
    let out = std::process::Command::new(bin)
        .arg("--nope")
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&out.stderr).contains("flag provided but not defined: -nope"));

    let dir = tempfile::tempdir().unwrap();
    let config = dir.path().join("bad.json");
    std::fs::write(&config, r#"{"connectionLimit": 0}"#).unwrap();
    let out = std::process::Command::new(bin)
        .arg(format!("--config={}", config.display()))
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(1), "{stderr}");
    assert!(
        stderr.contains("connectionLimit must be greater than 0, got 0"),
        "{stderr}"
    );
    let out = std::process::Command::new(bin)
        .args(["-config", "/nonexistent/daemon-config.json"])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&out.stderr).contains("/nonexistent/daemon-config.json"));
}

/// The readiness indicator file is waited for before the socket exists.
#[test]
fn waits_for_the_readiness_indicator_file() {
    let Some(fx) = Fixture::new() else { return };
    let indicator = fx.tmp.path().join("default-network-ready");
    let config = daemon_config(&fx, json!({"readinessindicatorfile": indicator}));
    let config_path = fx.tmp.path().join("daemon-config.json");
    std::fs::write(&config_path, config.to_string()).unwrap();
    let socket = fx.tmp.path().join("run/multus.sock");
    let mut d = Daemon::spawn(&config_path, &socket, fx.tmp.path());
    std::thread::sleep(Duration::from_millis(1500));
    assert!(!socket.exists(), "serving before the indicator file exists");
    assert!(d.child.as_mut().unwrap().try_wait().unwrap().is_none());
    std::fs::write(&indicator, "").unwrap();
    d.wait_healthy();
    assert_status(&d.get("/readyz"), 200);
    d.stop();
}

// ----- the config manager seam, in process -----

/// Records what the daemon asked of it; keeps the `Stopper`.
#[derive(Clone, Default)]
struct Recorder {
    calls: std::sync::Arc<std::sync::Mutex<Vec<String>>>,
    stopper: std::sync::Arc<std::sync::Mutex<Option<multus_cli::daemon::Stopper>>>,
    fail: bool,
}

impl multus_cli::daemon::ConfigManager for Recorder {
    async fn start(
        &mut self,
        config: &multus_cli::daemon::DaemonConfig,
        stopper: multus_cli::daemon::Stopper,
    ) -> Result<(), String> {
        self.calls
            .lock()
            .unwrap()
            .push(format!("start {}", config.generator.cni_config_dir));
        *self.stopper.lock().unwrap() = Some(stopper);
        if self.fail {
            Err("no primary CNI config".into())
        } else {
            Ok(())
        }
    }

    async fn stop(&mut self) {
        self.calls.lock().unwrap().push("stop".into());
    }
}

/// `multusConfigFile: auto`: the config manager is started before the
/// socket is served and stopped at the end; it can end the daemon with its
/// exit code; the readiness indicator key is stripped from requests (the
/// manager owns it), so a request naming a missing file is not held up.
#[test]
fn config_manager_seam_with_auto() {
    let Some(fx) = Fixture::new() else { return };
    fx.load_guide_nad("nad-macvlan-conf-1.yaml", None);
    let pod = fx.insert_simple_pod("auto", "macvlan-conf-1");
    let mut config = daemon_config(&fx, json!({}));
    config["multusConfigFile"] = json!("auto");
    let config =
        multus_cli::daemon::DaemonConfig::from_bytes(config.to_string().as_bytes()).unwrap();
    let socket = config.socket_path();
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .unwrap();

    // A manager that fails: exit code 2, nothing served.
    let failing = Recorder {
        fail: true,
        ..Recorder::default()
    };
    let e = rt
        .block_on(multus_cli::daemon::run(
            config.clone(),
            failing.clone(),
            std::future::pending(),
        ))
        .unwrap_err();
    assert_eq!(e.exit_code(), 2, "{e}");
    assert_eq!(e.to_string(), "config manager: no primary CNI config");
    assert!(!socket.exists());

    let manager = Recorder::default();
    let daemon = rt.spawn(multus_cli::daemon::run(
        config.clone(),
        manager.clone(),
        std::future::pending(),
    ));
    let deadline = std::time::Instant::now() + Duration::from_secs(20);
    while std::os::unix::net::UnixStream::connect(&socket).is_err() {
        assert!(std::time::Instant::now() < deadline, "not serving");
        std::thread::sleep(Duration::from_millis(20));
    }
    assert_eq!(
        *manager.calls.lock().unwrap(),
        [format!(
            "start {}",
            fx.tmp.path().join("cni-conf").display()
        )]
    );

    let mut conf = fx.conf("0.3.1");
    conf["readinessindicatorfile"] = json!(fx.tmp.path().join("never-there"));
    let body = request_body(
        &env("ADD", &pod, &fx.container_id, fx.ns.path()),
        &conf,
        None,
    );
    let started = std::time::Instant::now();
    let a = daemon_support::http(&socket, "POST", "/cni", &body);
    assert_status(&a, 200);
    assert!(started.elapsed() < Duration::from_secs(10));
    let body = request_body(
        &env("DEL", &pod, &fx.container_id, fx.ns.path()),
        &conf,
        None,
    );
    assert_status(&daemon_support::http(&socket, "POST", "/cni", &body), 200);
    fx.assert_nothing_left(&[]);

    let stopper = manager.stopper.lock().unwrap().clone().unwrap();
    stopper.stop(2);
    let code = rt.block_on(daemon).unwrap().unwrap();
    assert_eq!(code, 2);
    assert_eq!(manager.calls.lock().unwrap().last().unwrap(), "stop");
}

// ----- multusConfigFile: auto, with the built daemon -----

/// A daemon config with `multusConfigFile: auto`: the primary network (the
/// fixture's bridge + host-local) at `<dir>/10-primary.conf`, the generated
/// config in the same directory (as upstream's `/host/etc/cni/net.d` for
/// both), a readiness indicator file that exists.
fn auto_config(fx: &Fixture) -> (Value, PathBuf, PathBuf) {
    let dir = fx.tmp.path().join("auto-net.d");
    std::fs::create_dir_all(&dir).unwrap();
    std::fs::write(
        dir.join("10-primary.conf"),
        fx.master_delegate("0.3.1").to_string(),
    )
    .unwrap();
    let indicator = fx.tmp.path().join("ready/default-network");
    std::fs::create_dir_all(indicator.parent().unwrap()).unwrap();
    std::fs::write(&indicator, "").unwrap();
    let mut config = daemon_config(fx, json!({}));
    config["multusConfigFile"] = json!("auto");
    config["cniVersion"] = json!("0.3.1");
    config["cniConfigDir"] = json!(dir);
    config["multusAutoconfigDir"] = json!(dir);
    config["readinessindicatorfile"] = json!(indicator);
    config["daemonSocketDir"] = json!(fx.tmp.path().join("run"));
    (config, dir, indicator)
}

fn wait_until(what: &str, mut done: impl FnMut() -> bool) {
    let deadline = std::time::Instant::now() + Duration::from_secs(10);
    while !done() {
        assert!(std::time::Instant::now() < deadline, "timed out: {what}");
        std::thread::sleep(Duration::from_millis(20));
    }
}

/// `auto` with the built daemon: `00-multus.conf` is generated before the
/// socket answers (type `multus-shim`, `clusterNetwork` = the primary's
/// path, 0600), rewritten when the primary changes, and removed when the
/// readiness indicator file goes away, which ends the daemon with status 2.
#[test]
fn auto_generates_regenerates_and_exits_2_without_readiness() {
    use std::os::unix::fs::PermissionsExt as _;
    let Some(fx) = Fixture::new() else { return };
    let (config, dir, indicator) = auto_config(&fx);
    let mut d = Daemon::start(fx.tmp.path(), &config);
    let generated = dir.join("00-multus.conf");
    let primary = dir.join("10-primary.conf");
    let conf: Value = serde_json::from_slice(
        &std::fs::read(&generated).unwrap_or_else(|e| panic!("{e}: {}", d.stderr())),
    )
    .unwrap();
    assert_eq!(conf["type"], "multus-shim", "{conf}");
    assert_eq!(conf["cniVersion"], "0.3.1", "{conf}");
    assert_eq!(conf["name"], "multus-cni-network", "{conf}");
    assert_eq!(conf["clusterNetwork"], primary.to_str().unwrap(), "{conf}");
    assert_eq!(
        conf["daemonSocketDir"],
        fx.tmp.path().join("run").to_str().unwrap(),
        "{conf}"
    );
    assert!(conf.get("capabilities").is_none(), "{conf}");
    assert!(conf.get("readinessindicatorfile").is_none(), "{conf}");
    let mode = std::fs::metadata(&generated).unwrap().permissions().mode();
    assert_eq!(mode & 0o777, 0o600);

    // The primary gains a capability: the generated config follows.
    let mut changed = fx.master_delegate("0.3.1");
    changed["capabilities"] = json!({"portMappings": true});
    std::fs::write(&primary, changed.to_string()).unwrap();
    wait_until("00-multus.conf regenerated", || {
        std::fs::read(&generated)
            .ok()
            .and_then(|b| serde_json::from_slice::<Value>(&b).ok())
            .is_some_and(|c| c["capabilities"] == json!({"portMappings": true}))
    });
    assert_status(&d.get("/readyz"), 200);

    std::fs::remove_file(&indicator).unwrap();
    let status = d.wait(Duration::from_secs(20));
    assert_eq!(status.code(), Some(2), "{}", d.stderr());
    assert!(
        !generated.exists(),
        "00-multus.conf left after readiness loss"
    );
    assert!(primary.exists(), "the primary is not ours to remove");
}

/// `auto` with the built daemon, SIGTERM right after an ADD was sent: the
/// ADD completes, then `00-multus.conf` is removed and the daemon exits 0;
/// a daemon started again generates it again and DELs the pod.
#[test]
fn auto_sigterm_removes_the_generated_config_after_requests() {
    let Some(fx) = Fixture::new() else { return };
    fx.load_guide_nad("nad-macvlan-conf-1.yaml", None);
    let pod = fx.insert_simple_pod("auto-term", "macvlan-conf-1");
    let (config, dir, _) = auto_config(&fx);
    let mut d = Daemon::start(fx.tmp.path(), &config);
    let generated = dir.join("00-multus.conf");
    assert!(generated.exists());
    let shim_conf: Value = serde_json::from_slice(&std::fs::read(&generated).unwrap()).unwrap();

    // An ADD of the generated (shim) config, SIGTERM while it runs.
    let socket = d.socket.clone();
    let body = request_body(
        &env("ADD", &pod, &fx.container_id, fx.ns.path()),
        &shim_conf,
        None,
    );
    let add = std::thread::spawn(move || daemon_support::http(&socket, "POST", "/cni", &body));
    std::thread::sleep(Duration::from_millis(50));
    d.terminate();
    let a = add.join().unwrap();
    assert_status(&a, 200);
    let status = d.wait(Duration::from_secs(20));
    assert_eq!(status.code(), Some(0), "{}", d.stderr());
    assert!(!generated.exists(), "00-multus.conf left after SIGTERM");
    assert_attached(
        &fx,
        &pod,
        &[MASTER, macvlan_conf_1("net1", "default/macvlan-conf-1")],
    );

    let d = Daemon::start(fx.tmp.path(), &config);
    let body = request_body(
        &env("DEL", &pod, &fx.container_id, fx.ns.path()),
        &shim_conf,
        None,
    );
    assert_status(&d.post("/cni", &body), 200);
    fx.assert_nothing_left(&[]);
}

/// Pods and NADs come from the daemon's informer caches: both are watched,
/// a NAD created after the daemon started is used without a restart, and
/// an ADD of a pod and NAD already in the caches makes no GET of either.
#[test]
fn lookups_come_from_the_informer_caches() {
    let Some(fx) = Fixture::new() else { return };
    let mut d = start(&fx, json!({}));
    let watches = |plural: &str| {
        fx.server
            .requests_matching("GET", &format!("/api*/**/{plural}"))
            .into_iter()
            .chain(
                fx.server
                    .requests_matching("GET", &format!("/apis/*/*/{plural}")),
            )
            .chain(
                fx.server
                    .requests_matching("GET", &format!("/api/v1/{plural}")),
            )
            .filter(|r| r.query.contains("watch=true"))
            .count()
    };
    // The caches are started and watching before the first request.
    let start = std::time::Instant::now();
    while (watches("pods") == 0 || watches("network-attachment-definitions") == 0)
        && start.elapsed() < Duration::from_secs(10)
    {
        std::thread::sleep(Duration::from_millis(50));
    }
    assert!(watches("pods") > 0, "{:?}", fx.server.requests());
    assert!(watches("network-attachment-definitions") > 0);

    // Created after start: seen through the watch.
    fx.load_guide_nad("nad-macvlan-conf-1.yaml", None);
    let pod = fx.insert_simple_pod("cached", "macvlan-conf-1");
    std::thread::sleep(Duration::from_millis(500));
    fx.server.clear_requests();
    let a = cni(&d, &fx, "ADD", &pod);
    assert_status(&a, 200);
    assert_attached(
        &fx,
        &pod,
        &[MASTER, macvlan_conf_1("net1", "default/macvlan-conf-1")],
    );
    // Up to the network-status write (which reads the pod fresh for its update).
    let object_gets: Vec<String> = fx
        .server
        .requests()
        .into_iter()
        .take_while(|r| {
            !r.is("GET", "/api/v1/namespaces/default/pods/cached") || !status_follows(&fx, r.id)
        })
        .filter(|r| r.method == "GET" && !r.query.contains("watch=true"))
        .filter(|r| r.path.ends_with("/pods/cached") || r.path.ends_with("/macvlan-conf-1"))
        .map(|r| r.path)
        .collect();
    assert_eq!(
        object_gets,
        Vec::<String>::new(),
        "lookups missed the caches"
    );
    assert_status(&cni(&d, &fx, "DEL", &pod), 200);
    fx.assert_nothing_left(&[]);
    d.stop();
}

/// Whether the request after `id` is the network-status PUT (the write's own GET).
fn status_follows(fx: &Fixture, id: u64) -> bool {
    fx.server
        .requests()
        .into_iter()
        .find(|r| r.id > id && !r.query.contains("watch=true") && !r.path.ends_with("/events"))
        .is_some_and(|r| r.is("PUT", "/api/v1/namespaces/*/pods/*/status"))
}
