//! Fixtures for the privileged tests: uniquely named network namespaces
//! (removed on drop, also when a test fails) and veth topologies inside them.
//! Only documentation prefixes (192.0.2.0/24, 198.51.100.0/24, 2001:db8::/32)
//! are used, and only inside namespaces made here.

#![allow(dead_code, clippy::unwrap_used, clippy::expect_used)]

use std::path::PathBuf;
use std::process::Command;
use std::sync::atomic::{AtomicU32, Ordering};

use serde_json::Value;

/// Whether the privileged tests can run. Not root (or no `ip`): fails with a
/// clear message, unless `MULTUS_SKIP_PRIVILEGED=1`, which skips.
pub fn privileged() -> bool {
    let problem = if !is_root() {
        Some("they must run as root (network namespaces, veth pairs)")
    } else if Command::new("ip").arg("-V").output().is_err() {
        Some("the `ip` command (iproute2) is not installed")
    } else {
        None
    };
    let Some(problem) = problem else {
        return true;
    };
    if std::env::var("MULTUS_SKIP_PRIVILEGED").as_deref() == Ok("1") {
        eprintln!("skipping privileged test: {problem} (MULTUS_SKIP_PRIVILEGED=1)");
        return false;
    }
    panic!(
        "privileged multus-netns tests cannot run: {problem}. Run them as root with iproute2 installed, \
         or set MULTUS_SKIP_PRIVILEGED=1 to skip them explicitly."
    );
}

fn is_root() -> bool {
    // Effective UID is the second field of the Uid: line.
    std::fs::read_to_string("/proc/self/status")
        .ok()
        .and_then(|s| {
            s.lines()
                .find(|l| l.starts_with("Uid:"))
                .and_then(|l| l.split_whitespace().nth(2).map(|u| u == "0"))
        })
        .unwrap_or(false)
}

/// A unique `mrs-nt-<random>` suffix.
pub fn unique(tag: &str) -> String {
    static COUNTER: AtomicU32 = AtomicU32::new(0);
    let nanos = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.subsec_nanos())
        .unwrap_or(0);
    let n = COUNTER.fetch_add(1, Ordering::Relaxed);
    let mix = (std::process::id() as u64) << 32 ^ u64::from(nanos) ^ (u64::from(n) << 20);
    format!("mrs-nt-{tag}-{:08x}", (mix ^ (mix >> 29)) as u32)
}

/// Runs `ip <args>`, panicking with its stderr on failure; returns stdout.
pub fn ip(args: &[&str]) -> String {
    let out = Command::new("ip").args(args).output().expect("run ip");
    assert!(
        out.status.success(),
        "ip {} failed: {}",
        args.join(" "),
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout).into_owned()
}

/// A named network namespace (`ip netns add`), deleted on drop.
pub struct TestNs {
    pub name: String,
}

impl TestNs {
    pub fn new(tag: &str) -> Self {
        let name = unique(tag);
        ip(&["netns", "add", &name]);
        let ns = Self { name };
        ns.ip(&["link", "set", "lo", "up"]);
        ns
    }

    pub fn path(&self) -> PathBuf {
        PathBuf::from("/run/netns").join(&self.name)
    }

    /// `ip -n <ns> <args>`.
    pub fn ip(&self, args: &[&str]) -> String {
        let mut all = vec!["-n", self.name.as_str()];
        all.extend_from_slice(args);
        ip(&all)
    }

    /// `ip -j [-6] -n <ns> route` parsed, main table.
    pub fn routes_json(&self, v6: bool) -> Vec<Value> {
        let mut args = vec!["-j"];
        if v6 {
            args.push("-6");
        }
        args.extend_from_slice(&["-n", self.name.as_str(), "route"]);
        let out = ip(&args);
        let v: Value = serde_json::from_str(out.trim()).expect("ip -j route output is JSON");
        v.as_array().cloned().unwrap_or_default()
    }

    /// The default routes `ip -j` reports: (gateway, dev).
    pub fn default_routes_json(&self, v6: bool) -> Vec<(String, String)> {
        self.routes_json(v6)
            .into_iter()
            .filter(|r| r["dst"] == "default")
            .map(|r| {
                (
                    r["gateway"].as_str().unwrap_or("").to_string(),
                    r["dev"].as_str().unwrap_or("").to_string(),
                )
            })
            .collect()
    }

    /// `ip -j -n <ns> link show <dev>` parsed.
    pub fn link_json(&self, dev: &str) -> Value {
        let out = ip(&["-j", "-n", &self.name, "link", "show", dev]);
        let v: Value = serde_json::from_str(out.trim()).expect("JSON");
        v[0].clone()
    }
}

impl Drop for TestNs {
    fn drop(&mut self) {
        let _ = Command::new("ip")
            .args(["netns", "del", &self.name])
            .output();
    }
}

/// Gateways of the two-interface topology.
pub const ETH0_GW4: &str = "192.0.2.1";
pub const ETH0_GW6: &str = "2001:db8:1::1";
pub const NET1_GW4: &str = "198.51.100.1";
pub const NET1_GW6: &str = "2001:db8:2::1";

/// A "pod" namespace with `eth0` and `net1`, both veths whose peers (`p0`,
/// `p1`, holding the gateway addresses) live in a second "router" namespace.
/// Dual stack on both; the pod has default routes (both families) via eth0
/// and, with metric 100, via net1.
pub struct Topology {
    pub pod: TestNs,
    pub router: TestNs,
}

impl Topology {
    pub fn new() -> Self {
        let pod = TestNs::new("pod");
        let router = TestNs::new("rtr");
        for (dev, peer, v4, gw4, v6, gw6) in [
            (
                "eth0",
                "p0",
                "192.0.2.2/24",
                "192.0.2.1/24",
                "2001:db8:1::2/64",
                "2001:db8:1::1/64",
            ),
            (
                "net1",
                "p1",
                "198.51.100.2/24",
                "198.51.100.1/24",
                "2001:db8:2::2/64",
                "2001:db8:2::1/64",
            ),
        ] {
            pod.ip(&[
                "link",
                "add",
                dev,
                "type",
                "veth",
                "peer",
                "name",
                peer,
                "netns",
                &router.name,
            ]);
            pod.ip(&["addr", "add", v4, "dev", dev]);
            pod.ip(&["addr", "add", v6, "dev", dev, "nodad"]);
            pod.ip(&["link", "set", dev, "up"]);
            router.ip(&["addr", "add", gw4, "dev", peer]);
            router.ip(&["addr", "add", gw6, "dev", peer, "nodad"]);
            router.ip(&["link", "set", peer, "up"]);
        }
        pod.ip(&["route", "add", "default", "via", ETH0_GW4, "dev", "eth0"]);
        pod.ip(&[
            "-6", "route", "add", "default", "via", ETH0_GW6, "dev", "eth0",
        ]);
        pod.ip(&[
            "route", "add", "default", "via", NET1_GW4, "dev", "net1", "metric", "100",
        ]);
        pod.ip(&[
            "-6", "route", "add", "default", "via", NET1_GW6, "dev", "net1", "metric", "100",
        ]);
        Self { pod, router }
    }
}

/// The inode of the calling thread's network namespace, to prove it never moves.
pub fn thread_netns() -> String {
    std::fs::read_link("/proc/thread-self/ns/net")
        .map(|p| p.display().to_string())
        .unwrap_or_default()
}
