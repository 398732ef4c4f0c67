//! Test helpers: privilege gate, network namespace and link guards that clean
//! up even when a test fails, `ip -j` readers, script plugins.

#![allow(dead_code, clippy::unwrap_used, clippy::expect_used)]

use std::collections::hash_map::RandomState;
use std::hash::{BuildHasher, Hasher};
use std::os::unix::fs::MetadataExt;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::atomic::{AtomicU64, Ordering};

use serde_json::Value;

/// Where the Debian package `containernetworking-plugins` installs plugins.
pub const CNI_BIN: &str = "/usr/lib/cni";

/// Whether privileged tests should run. Panics with a clear message when
/// they cannot (not root, plugins or `ip` missing) unless
/// `MULTUS_SKIP_PRIVILEGED=1` is set, in which case it returns `false`.
pub fn privileged() -> bool {
    if std::env::var("MULTUS_SKIP_PRIVILEGED").as_deref() == Ok("1") {
        eprintln!("MULTUS_SKIP_PRIVILEGED=1: skipping a privileged test");
        return false;
    }
    let uid = std::fs::metadata("/proc/self").map(|m| m.uid());
    assert_eq!(
        uid.ok(),
        Some(0),
        "this test needs root (network namespaces, links, real CNI plugins); \
         run it as root or set MULTUS_SKIP_PRIVILEGED=1 to skip privileged tests"
    );
    for plugin in [
        "bridge",
        "host-local",
        "macvlan",
        "ptp",
        "loopback",
        "tuning",
    ] {
        assert!(
            Path::new(CNI_BIN).join(plugin).is_file(),
            "{CNI_BIN}/{plugin} is missing: install the Debian package containernetworking-plugins \
             (or set MULTUS_SKIP_PRIVILEGED=1 to skip privileged tests)"
        );
    }
    assert!(
        Command::new("ip")
            .arg("-V")
            .output()
            .is_ok_and(|o| o.status.success()),
        "the `ip` command (iproute2) is missing"
    );
    true
}

/// A short random lowercase hex string (names must fit in 15 bytes).
pub fn random_hex(len: usize) -> String {
    static COUNTER: AtomicU64 = AtomicU64::new(0);
    let mut h = RandomState::new().build_hasher();
    h.write_u64(COUNTER.fetch_add(1, Ordering::Relaxed));
    h.write_u32(std::process::id());
    let mut s = format!("{:016x}", h.finish());
    s.truncate(len);
    s
}

/// Runs `ip` with `args`, panicking with its stderr when it fails.
pub fn ip(args: &[&str]) -> String {
    let out = Command::new("ip").args(args).output().expect("run ip");
    assert!(
        out.status.success(),
        "ip {}: {}",
        args.join(" "),
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout).into_owned()
}

/// Runs `ip -j` with `args` and parses the JSON; `None` when `ip` fails
/// (e.g. the device does not exist).
pub fn ip_json(args: &[&str]) -> Option<Value> {
    let out = Command::new("ip")
        .arg("-j")
        .args(args)
        .output()
        .expect("run ip");
    if !out.status.success() {
        return None;
    }
    let text = String::from_utf8_lossy(&out.stdout);
    if text.trim().is_empty() {
        return Some(Value::Array(Vec::new()));
    }
    Some(serde_json::from_str(&text).expect("ip -j prints JSON"))
}

/// A network namespace `mrs-<random>`, deleted on drop.
pub struct Netns {
    /// The name (`ip netns` name).
    pub name: String,
    /// Its path, `/run/netns/<name>`.
    pub path: String,
}

impl Netns {
    /// Creates a new namespace.
    pub fn new() -> Self {
        let name = format!("mrs-{}", random_hex(10));
        ip(&["netns", "add", &name]);
        Self {
            path: format!("/run/netns/{name}"),
            name,
        }
    }

    /// `ip -j -n <ns> -d link show dev <ifname>`, or `None` if there is no such link.
    pub fn link(&self, ifname: &str) -> Option<Value> {
        ip_json(&["-n", &self.name, "-d", "link", "show", "dev", ifname])
            .and_then(|v| v.as_array().and_then(|a| a.first().cloned()))
    }

    /// Every link in the namespace.
    pub fn links(&self) -> Vec<Value> {
        ip_json(&["-n", &self.name, "link"])
            .and_then(|v| v.as_array().cloned())
            .unwrap_or_default()
    }

    /// The IPv4 `local/prefixlen` addresses of `ifname` in the namespace.
    pub fn addrs(&self, ifname: &str) -> Vec<String> {
        let all = ip_json(&["-n", &self.name, "-4", "addr"]).unwrap_or(Value::Null);
        addrs_of(&all, ifname)
    }
}

impl Drop for Netns {
    fn drop(&mut self) {
        let _ = Command::new("ip")
            .args(["netns", "del", &self.name])
            .status();
    }
}

/// The `local/prefixlen` addresses of `ifname` in `ip -j addr` output.
pub fn addrs_of(ip_addr_json: &Value, ifname: &str) -> Vec<String> {
    ip_addr_json
        .as_array()
        .into_iter()
        .flatten()
        .filter(|l| l["ifname"] == ifname)
        .flat_map(|l| l["addr_info"].as_array().cloned().unwrap_or_default())
        .map(|a| format!("{}/{}", a["local"].as_str().unwrap_or(""), a["prefixlen"]))
        .collect()
}

/// A host link deleted on drop (bridges the bridge plugin creates, veths the
/// tests create).
pub struct HostLink {
    /// The link name.
    pub name: String,
}

impl HostLink {
    /// Guards a link that will exist (or already does) under `name`.
    pub fn adopt(name: impl Into<String>) -> Self {
        Self { name: name.into() }
    }

    /// A new up bridge `mrsb<rand>` with a fixed MAC address. (A bridge
    /// whose MAC was never set takes the lowest MAC of its ports, so the
    /// MAC the bridge plugin reported at ADD could change when the veth
    /// joins, and its CHECK would then fail at random.)
    pub fn bridge() -> Self {
        let name = format!("mrsb{}", random_hex(8));
        ip(&["link", "add", "name", &name, "type", "bridge"]);
        let guard = Self { name };
        ip(&["link", "set", &guard.name, "address", "02:00:00:00:00:01"]);
        ip(&["link", "set", &guard.name, "up"]);
        guard
    }

    /// A new up veth pair `mrsv<rand>`/`mrsp<rand>` on the host; the guard
    /// deletes both ends.
    pub fn veth_pair() -> (Self, String) {
        let id = random_hex(8);
        let (a, b) = (format!("mrsv{id}"), format!("mrsp{id}"));
        ip(&["link", "add", &a, "type", "veth", "peer", "name", &b]);
        let guard = Self { name: a.clone() };
        ip(&["link", "set", &a, "up"]);
        ip(&["link", "set", &b, "up"]);
        (guard, b)
    }
}

impl Drop for HostLink {
    fn drop(&mut self) {
        let _ = Command::new("ip")
            .args(["link", "del", &self.name])
            .stderr(std::process::Stdio::null())
            .status();
    }
}

/// `ip -j -d link show dev <name>` on the host.
pub fn host_link(name: &str) -> Option<Value> {
    ip_json(&["-d", "link", "show", "dev", name])
        .and_then(|v| v.as_array().and_then(|a| a.first().cloned()))
}

/// Names of the host links enslaved to `master`.
pub fn host_ports_of(master: &str) -> Vec<String> {
    ip_json(&["link", "show", "master", master])
        .and_then(|v| v.as_array().cloned())
        .unwrap_or_default()
        .iter()
        .filter_map(|l| l["ifname"].as_str().map(str::to_owned))
        .collect()
}

/// The IP addresses host-local has reserved for `network` under `data_dir`
/// (one file per address; `lock` and `last_reserved_ip.*` are not reservations).
pub fn ipam_reservations(data_dir: &Path, network: &str) -> Vec<String> {
    let dir = data_dir.join(network);
    let mut out: Vec<String> = std::fs::read_dir(dir)
        .map(|entries| {
            entries
                .filter_map(Result::ok)
                .map(|e| e.file_name().to_string_lossy().into_owned())
                .filter(|n| n.parse::<std::net::IpAddr>().is_ok())
                .collect()
        })
        .unwrap_or_default();
    out.sort();
    out
}

/// Writes an executable `#!/bin/sh` script plugin `dir/name`.
///
/// The file is written by a short-lived `sh` process, never opened for
/// writing by the test process itself: otherwise a child forked at the same
/// moment by a parallel test could inherit the write descriptor and make
/// the exec fail with "text file busy".
pub fn script_plugin(dir: &Path, name: &str, body: &str) -> PathBuf {
    let path = dir.join(name);
    let script = format!("#!/bin/sh\n{body}\n");
    let status = Command::new("sh")
        .args(["-c", r#"printf '%s' "$1" > "$0" && chmod 755 "$0""#])
        .arg(&path)
        .arg(&script)
        .status()
        .expect("run sh");
    assert!(status.success(), "writing {}", path.display());
    path
}

/// Replaces every occurrence of each needle in every string of `value`
/// (to mask random ids before a snapshot).
pub fn mask(value: &mut Value, replacements: &[(&str, &str)]) {
    match value {
        Value::String(s) => {
            for (needle, with) in replacements {
                if !needle.is_empty() && s.contains(needle) {
                    *s = s.replace(needle, with);
                }
            }
        }
        Value::Array(items) => items.iter_mut().for_each(|v| mask(v, replacements)),
        Value::Object(map) => map.values_mut().for_each(|v| mask(v, replacements)),
        _ => {}
    }
}

/// Replaces every value of key `key` (at any depth) that is a MAC address with `[mac]`.
pub fn mask_macs(value: &mut Value) {
    match value {
        Value::Object(map) => {
            for (k, v) in map.iter_mut() {
                if k == "mac" && v.is_string() {
                    *v = Value::from("[mac]");
                } else {
                    mask_macs(v);
                }
            }
        }
        Value::Array(items) => items.iter_mut().for_each(mask_macs),
        _ => {}
    }
}

/// The mode bits of a file.
pub fn mode(path: &Path) -> u32 {
    std::fs::metadata(path).expect("stat").mode() & 0o777
}

/// Whether process `pid` is gone (or a zombie waiting to be reaped).
pub fn process_gone(pid: u32) -> bool {
    match std::fs::read_to_string(format!("/proc/{pid}/stat")) {
        Err(_) => true,
        Ok(stat) => stat
            .rsplit_once(')')
            .is_some_and(|(_, rest)| rest.trim_start().starts_with('Z')),
    }
}
