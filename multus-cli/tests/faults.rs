//! Reliability of the built `multus` binary under faults, with real plugins
//! in a netns of the test's own and the stand-in API server:
//!
//! * crash consistency: `multus` killed with SIGKILL at each step of an ADD
//!   (before the first delegate, between delegates, before the
//!   network-status write), then the runtime's DEL: nothing is left;
//! * the fault matrix: a three-network pod whose k-th delegate fails (a bad
//!   sysctl, a missing plugin, a crashing plugin, a hung plugin the runtime
//!   gives up on) for every k, and the API server failing at each call of ADD
//!   and DEL (5xx, 409 forever, slow, down). After each: links, host-local
//!   reservations, libcni result cache and the delegate cache are counted,
//!   and all are zero after the failed ADD, or after the DEL where DEL is the
//!   documented path (a killed process cannot clean up after itself).
//!
//! Needs root; fails (never skips) without it, unless `MULTUS_SKIP_PRIVILEGED=1`.

#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use std::io::Write;
use std::os::unix::fs::PermissionsExt;
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use common::{Fixture, PodRef};
use multus_testsupport::Fault;
use nix::sys::signal::{Signal, kill};
use nix::unistd::Pid;
use serde_json::{Value, json};

/// A plugin that crashes on ADD (killed by a signal, nothing on stdout).
const CRASH: &str = "#!/bin/sh\n[ \"$CNI_COMMAND\" = ADD ] || exit 0\nkill -SEGV $$\n";

/// A plugin that hangs on ADD after writing its pid to `$MRS_GATE/<ifname>`.
const HANG: &str = "#!/bin/sh\n[ \"$CNI_COMMAND\" = ADD ] || exit 0\necho $$ > \"$(dirname \"$0\")/hung-$CNI_IFNAME\"\nexec sleep 60\n";

/// The fixture plus a bin dir of script plugins and the three-network pod.
struct Setup {
    fx: Fixture,
    bin: PathBuf,
}

impl Setup {
    fn new() -> Option<Self> {
        let fx = Fixture::new()?;
        let bin = fx.tmp.path().join("bin");
        std::fs::create_dir_all(&bin).unwrap();
        for (name, text) in [("mrs-crash", CRASH), ("mrs-hang", HANG)] {
            let path = bin.join(name);
            std::fs::write(&path, text).unwrap();
            std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o755)).unwrap();
        }
        Some(Self { fx, bin })
    }

    /// A macvlan network on the fixture's veth, with `extra` plugins chained after it.
    fn macvlan(&self, name: &str, subnet: &str, extra: &[Value]) -> Value {
        let mut plugins = vec![
            json!({"type": "macvlan", "master": "eth1", "mode": "bridge",
                                      "ipam": {"type": "host-local", "subnet": subnet}}),
        ];
        plugins.extend_from_slice(extra);
        json!({"cniVersion": "1.0.0", "name": name, "plugins": plugins})
    }

    /// The multus config (script plugins found first, then /usr/lib/cni) whose
    /// master has `extra` plugins chained after bridge + host-local.
    fn conf(&self, master_extra: &[Value]) -> Value {
        let mut conf = self.fx.conf("1.0.0");
        conf["binDir"] = json!(self.bin);
        let master = self.fx.master_delegate("1.0.0");
        let mut plugins = vec![master.clone()];
        plugins[0].as_object_mut().unwrap().remove("cniVersion");
        plugins[0].as_object_mut().unwrap().remove("name");
        plugins.extend_from_slice(master_extra);
        conf["delegates"] =
            json!([{"cniVersion": "1.0.0", "name": master["name"], "plugins": plugins}]);
        conf
    }

    /// The pod `name` with networks `mrs-a` (net1) and `mrs-b` (net2), their
    /// NADs (re)written with `extra[k]` chained after network k (1, 2).
    fn pod(&self, name: &str, extra: [&[Value]; 2]) -> PodRef {
        for (i, (net, subnet)) in [("mrs-a", "10.1.81.0/24"), ("mrs-b", "10.1.82.0/24")]
            .into_iter()
            .enumerate()
        {
            self.fx.server.delete_nad("default", net);
            self.fx
                .insert_nad("default", net, self.macvlan(net, subnet, extra[i]));
        }
        self.fx.insert_simple_pod(name, "mrs-a, mrs-b")
    }

    /// Every trace of an attachment, counted: links besides `lo` in the pod,
    /// bridge ports, host-local reservations, result cache entries, the
    /// delegate cache file. All zero means nothing was left.
    fn leftovers(&self) -> Vec<String> {
        let fx = &self.fx;
        let mut left: Vec<String> = fx
            .ns
            .link_names()
            .into_iter()
            .filter(|l| l != "lo")
            .map(|l| format!("link {l}"))
            .collect();
        left.extend(
            multus_testsupport::netns::host_ports_of(fx.bridge.name())
                .into_iter()
                .map(|p| format!("bridge port {p}")),
        );
        left.extend(
            fx.ipam_reservations()
                .into_iter()
                .map(|r| format!("ip {r}")),
        );
        left.extend(
            fx.result_cache_entries()
                .into_iter()
                .map(|r| format!("result cache {r}")),
        );
        if fx.delegate_cache().exists() {
            left.push("delegate cache".into());
        }
        left
    }

    fn assert_clean(&self, case: &str) {
        assert_eq!(self.leftovers(), Vec::<String>::new(), "{case}");
    }

    /// Starts an ADD of `pod` without waiting for it.
    fn spawn_add(&self, conf: &Value, pod: &PodRef) -> Child {
        let mut child = Command::new(env!("CARGO_BIN_EXE_multus"))
            .env_remove("KUBERNETES_SERVICE_HOST")
            .env_remove("KUBERNETES_SERVICE_PORT")
            .envs(self.fx.cni_env("ADD", pod, self.fx.ns.path()))
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap();
        child
            .stdin
            .take()
            .unwrap()
            .write_all(conf.to_string().as_bytes())
            .unwrap();
        child
    }

    /// The pid the hung plugin of `ifname` wrote, once it is running.
    fn hung_plugin(&self, ifname: &str) -> Pid {
        let file = self.bin.join(format!("hung-{ifname}"));
        let text = wait_for(&format!("the hung plugin of {ifname}"), || {
            std::fs::read_to_string(&file)
                .ok()
                .filter(|t| t.ends_with('\n'))
        });
        std::fs::remove_file(&file).unwrap();
        Pid::from_raw(text.trim().parse().unwrap())
    }
}

/// Polls `probe` every 20 ms for up to 20 s.
fn wait_for<T>(what: &str, mut probe: impl FnMut() -> Option<T>) -> T {
    let start = Instant::now();
    loop {
        if let Some(v) = probe() {
            return v;
        }
        assert!(
            start.elapsed() < Duration::from_secs(20),
            "waiting for {what}"
        );
        std::thread::sleep(Duration::from_millis(20));
    }
}

/// The runtime giving up on a call: SIGKILL, as containerd does on timeout.
fn kill_now(mut child: Child) {
    let pid = Pid::from_raw(i32::try_from(child.id()).unwrap());
    kill(pid, Signal::SIGKILL).unwrap();
    let status = child.wait().unwrap();
    assert!(!status.success());
}

fn api_request_seen(setup: &Setup, method: &str, pattern: &str) -> bool {
    !setup
        .fx
        .server
        .requests_matching(method, pattern)
        .is_empty()
}

// ----- crash consistency -----

#[test]
fn killed_before_the_first_delegate_then_del_leaves_nothing() {
    let Some(s) = Setup::new() else { return };
    let pod = s.pod("crash-a", [&[], &[]]);
    let conf = s.conf(&[]);
    s.fx.server.set_delay_for(
        &format!("/api/v1/namespaces/default/pods/{}$", pod.name),
        Duration::from_secs(30),
    );
    let child = s.spawn_add(&conf, &pod);
    wait_for("the pod GET", || {
        api_request_seen(&s, "GET", "/api/v1/namespaces/default/pods/*$").then_some(())
    });
    kill_now(child);
    s.fx.server.clear_faults();
    s.fx.del(&conf, &pod).assert_ok();
    s.assert_clean("killed before the first delegate");
}

#[test]
fn killed_between_delegates_then_del_leaves_nothing() {
    let Some(s) = Setup::new() else { return };
    // eth0 and net1 are up when net2's first plugin hangs; then the runtime kills multus.
    let hang = [json!({"type": "mrs-hang"})];
    let pod = s.pod("crash-b", [&[], &hang]);
    let conf = s.conf(&[]);
    let child = s.spawn_add(&conf, &pod);
    let hung = s.hung_plugin("net2");
    kill_now(child);
    let _ = kill(hung, Signal::SIGKILL);
    assert_eq!(s.fx.ns.link_names(), ["eth0", "lo", "net1", "net2"]);
    assert!(s.fx.delegate_cache().exists());
    s.fx.del(&conf, &pod).assert_ok();
    s.assert_clean("killed between delegates");
}

#[test]
fn killed_before_the_status_write_then_del_leaves_nothing() {
    let Some(s) = Setup::new() else { return };
    let pod = s.pod("crash-c", [&[], &[]]);
    let conf = s.conf(&[]);
    let status = format!("/api/v1/namespaces/default/pods/{}/status", pod.name);
    s.fx.server.set_delay_for(&status, Duration::from_secs(30));
    let child = s.spawn_add(&conf, &pod);
    wait_for("the network-status write", || {
        api_request_seen(&s, "PUT", &status).then_some(())
    });
    kill_now(child);
    s.fx.server.clear_faults();
    assert_eq!(s.fx.ns.link_names(), ["eth0", "lo", "net1", "net2"]);
    s.fx.del(&conf, &pod).assert_ok();
    s.assert_clean("killed before the status write");
}

// ----- the k-th delegate failing -----

/// How a delegate fails, as a plugin chained after its real ones.
#[derive(Debug, Clone, Copy)]
enum DelegateFault {
    BadSysctl,
    MissingPlugin,
    Crash,
    /// Hangs; the runtime kills multus, then DELs.
    Hang,
}

impl DelegateFault {
    fn plugin(self) -> Value {
        match self {
            Self::BadSysctl => {
                json!({"type": "tuning", "sysctl": {"net.core.mrs_no_such_sysctl": "1"}})
            }
            Self::MissingPlugin => json!({"type": "mrs-no-such-plugin"}),
            Self::Crash => json!({"type": "mrs-crash"}),
            Self::Hang => json!({"type": "mrs-hang"}),
        }
    }
}

fn kth_delegate_fails(fault: DelegateFault) {
    let Some(s) = Setup::new() else { return };
    let failing = [fault.plugin()];
    for k in 0..3 {
        let none: &[Value] = &[];
        let conf = s.conf(if k == 0 { &failing } else { none });
        let extra = [
            if k == 1 { &failing[..] } else { none },
            if k == 2 { &failing[..] } else { none },
        ];
        let pod = s.pod(&format!("fault-{k}"), extra);
        let case = format!("{fault:?}, delegate {k}");
        match fault {
            DelegateFault::Hang => {
                let child = s.spawn_add(&conf, &pod);
                let ifname = ["eth0", "net1", "net2"][k];
                let hung = s.hung_plugin(ifname);
                kill_now(child);
                let _ = kill(hung, Signal::SIGKILL);
                // Killed: only the runtime's DEL can clean up.
                s.fx.del(&conf, &pod).assert_ok();
            }
            _ => {
                let run = s.fx.add(&conf, &pod);
                let msg = run.assert_failed()["msg"].as_str().unwrap().to_owned();
                let network = ["e2e-default-net", "mrs-a", "mrs-b"][k];
                assert!(
                    msg.contains(&format!("error adding container to network \"{network}\"")),
                    "{case}: {msg}"
                );
                // Nothing left by the failed ADD itself...
                s.assert_clean(&format!("{case}, after ADD"));
                // ...and the runtime's DEL after it succeeds and changes nothing.
                s.fx.del(&conf, &pod).assert_ok();
            }
        }
        s.assert_clean(&format!("{case}, after DEL"));
        assert!(
            s.fx.server
                .pod_annotation("default", &pod.name, common::NETWORK_STATUS)
                .is_none(),
            "{case}: network-status written for a failed ADD"
        );
    }
}

#[test]
fn kth_delegate_with_a_bad_sysctl() {
    kth_delegate_fails(DelegateFault::BadSysctl);
}

#[test]
fn kth_delegate_with_a_missing_plugin() {
    kth_delegate_fails(DelegateFault::MissingPlugin);
}

#[test]
fn kth_delegate_crashing() {
    kth_delegate_fails(DelegateFault::Crash);
}

#[test]
fn kth_delegate_hanging_until_the_runtime_kills_multus() {
    kth_delegate_fails(DelegateFault::Hang);
}

// ----- the API server failing -----

/// How the API server fails.
#[derive(Debug, Clone, Copy)]
enum ApiFault {
    /// 500 on every matching request.
    Error500,
    /// 503 on every matching request.
    Error503,
    /// 409 Conflict on every matching request.
    ConflictForever,
    /// Slower than the pod read's budget.
    Slow,
    /// Not listening at all.
    Down,
}

impl ApiFault {
    fn inject(self, s: &Setup, method: &str, path: &str) {
        let server = &s.fx.server;
        match self {
            Self::Error500 => server.inject(Fault::new(500, 10_000).method(method).path(path)),
            Self::Error503 => server.inject(Fault::new(503, 10_000).method(method).path(path)),
            Self::ConflictForever => {
                server.inject(Fault::new(409, 10_000).method(method).path(path));
            }
            Self::Slow => server.set_delay_for(path, Duration::from_secs(4)),
            Self::Down => server.set_down(true).unwrap(),
        }
    }

    fn clear(self, s: &Setup) {
        s.fx.server.clear_faults();
        if matches!(self, Self::Down) {
            s.fx.server.set_down(false).unwrap();
        }
    }
}

/// The ADD's calls: the pod read, the NAD reads, the network-status write.
/// Each fault at each call: the ADD either succeeds (then DEL), or fails
/// with nothing left; a DEL after it always succeeds with nothing left.
#[test]
fn api_server_failing_at_each_call_of_add() {
    let Some(s) = Setup::new() else { return };
    let conf = s.conf(&[]);
    let calls = [
        ("GET", "/api/v1/namespaces/default/pods/*$", "pod read"),
        (
            "GET",
            "/apis/k8s.cni.cncf.io/v1/namespaces/default/network-attachment-definitions/mrs-b",
            "NAD read",
        ),
        (
            "PUT",
            "/api/v1/namespaces/default/pods/*/status",
            "status write",
        ),
    ];
    let faults = [
        ApiFault::Error500,
        ApiFault::Error503,
        ApiFault::ConflictForever,
        ApiFault::Slow,
        ApiFault::Down,
    ];
    let mut n = 0;
    for (method, path, call) in calls {
        for fault in faults {
            // Down is the whole server: once is enough.
            if matches!(fault, ApiFault::Down) && call != "pod read" {
                continue;
            }
            n += 1;
            let case = format!("{fault:?} at the {call}");
            let pod = s.pod(&format!("api-{n}"), [&[], &[]]);
            fault.inject(&s, method, path);
            let run = s.fx.add(&conf, &pod);
            fault.clear(&s);
            // A slow NAD read or status write only takes longer (no budget there).
            let must_fail = !(matches!(fault, ApiFault::Slow) && call != "pod read");
            if must_fail {
                run.assert_failed();
                s.assert_clean(&format!("{case}, after ADD"));
            } else {
                run.assert_ok();
                assert_eq!(
                    s.fx.ns.link_names(),
                    ["eth0", "lo", "net1", "net2"],
                    "{case}"
                );
            }
            s.fx.del(&conf, &pod).assert_ok();
            s.assert_clean(&format!("{case}, after DEL"));
        }
    }
}

/// DEL works from the delegate cache whatever the API server does.
#[test]
fn api_server_failing_at_del() {
    let Some(s) = Setup::new() else { return };
    let conf = s.conf(&[]);
    for (n, fault) in [
        ApiFault::Error500,
        ApiFault::Error503,
        ApiFault::Slow,
        ApiFault::Down,
    ]
    .into_iter()
    .enumerate()
    {
        let case = format!("{fault:?} at DEL");
        let pod = s.pod(&format!("api-del-{n}"), [&[], &[]]);
        s.fx.add(&conf, &pod).assert_ok();
        fault.inject(&s, "GET", "/");
        let run = s.fx.del(&conf, &pod);
        fault.clear(&s);
        run.assert_ok();
        s.assert_clean(&case);
    }
}
