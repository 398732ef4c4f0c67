//! Fixtures for privileged tests: network namespaces and host links that are
//! removed again, and `ip -j` readers.
//!
//! Tests that use real network namespaces, veth pairs, bridges and real CNI plugins need
//! root. They must **fail**, not silently pass, where they cannot run (CI runs them as
//! root), unless the developer asked to skip them with `MULTUS_SKIP_PRIVILEGED=1`:
//! [`require_privileged`] is that gate.
//!
//! Everything a fixture creates has a unique name (a random suffix from [`random_hex`],
//! different in every process and on every call), so tests run in parallel, also across
//! test binaries, and everything is removed by `Drop`, also when the test fails:
//!
//! - [`TestNetns`]: a network namespace (`ip netns add`, path `/run/netns/<name>`, the
//!   runtime's `CNI_NETNS`) with readers for its links, addresses and routes;
//! - [`HostLink`]: a link in the test's own namespace — a bridge (optionally with a fixed
//!   MAC address), a veth pair, or any link a plugin creates ([`HostLink::adopt`]).
//!
//! Names start with `mrs` so leftovers are easy to spot (`ip netns list`,
//! `ip -br link | grep mrs`). Interface names fit the kernel's limit of [`IFNAME_MAX`]
//! bytes. Everything runs the `ip` command of iproute2 (`std::process::Command`); the
//! readers parse its JSON output (`ip -j`). Failures panic with the command and its
//! stderr: these are test fixtures, a failure is a failed test.
//!
//! ```no_run
//! use multus_testsupport::netns::{HostLink, TestNetns, host_ports_of, require_privileged};
//!
//! # fn a_test() {
//! if !require_privileged("the bridge tests", &["bridge", "host-local"]) {
//!     return; // MULTUS_SKIP_PRIVILEGED=1
//! }
//! let ns = TestNetns::new(); // mrs-<random>, deleted on drop
//! let bridge = HostLink::bridge(Some("02:00:00:00:00:01"));
//! // ... run the bridge plugin with CNI_NETNS=ns.path(), "bridge": bridge.name() ...
//! assert_eq!(ns.link_names(), ["eth0", "lo"]);
//! assert_eq!(ns.cidrs4("eth0"), ["10.1.0.2/24"]);
//! assert_eq!(host_ports_of(bridge.name()).len(), 1);
//! # }
//! ```

use std::collections::hash_map::RandomState;
use std::hash::{BuildHasher, Hasher};
use std::net::{Ipv4Addr, Ipv6Addr};
use std::path::Path;
use std::process::{Command, Stdio};
use std::sync::atomic::{AtomicU64, Ordering};

use serde_json::Value;

/// The environment variable that skips privileged tests when set to `1`.
pub const SKIP_PRIVILEGED_ENV: &str = "MULTUS_SKIP_PRIVILEGED";

/// Where the Debian package `containernetworking-plugins` installs the CNI plugins.
pub const CNI_BIN: &str = "/usr/lib/cni";

/// The longest interface name the kernel takes, in bytes (`IFNAMSIZ` - 1).
pub const IFNAME_MAX: usize = 15;

/// The longest network namespace name (a file name under `/run/netns`).
const NETNS_NAME_MAX: usize = 255;

/// The fewest random hex digits a unique name gets.
const MIN_RANDOM_DIGITS: usize = 6;

// ----- the gate -----

/// The gate of a privileged test: whether it should run.
///
/// - `MULTUS_SKIP_PRIVILEGED=1`: returns `false` (the test returns early and is reported as
///   passed), with a note on stderr.
/// - Otherwise, when the test cannot run — not root, the `ip` command (iproute2) missing,
///   or one of `cni_plugins` missing from [`CNI_BIN`] — it **panics**, listing every
///   problem and how to fix or skip; `suite` names the tests in that message
///   (e.g. `"the multus-delegate real-plugin tests"`).
/// - Otherwise returns `true`.
///
/// ```no_run
/// # use multus_testsupport::netns::require_privileged;
/// # fn a_test() {
/// if !require_privileged("the multus-netns tests", &[]) {
///     return;
/// }
/// # }
/// ```
#[track_caller]
pub fn require_privileged(suite: &str, cni_plugins: &[&str]) -> bool {
    if skip_requested() {
        eprintln!("{SKIP_PRIVILEGED_ENV}=1: skipping a privileged test of {suite}");
        return false;
    }
    if let Some(message) = gate_failure(suite, &privileged_problems(cni_plugins)) {
        panic!("{message}");
    }
    true
}

/// Whether `MULTUS_SKIP_PRIVILEGED=1` is set.
pub fn skip_requested() -> bool {
    std::env::var(SKIP_PRIVILEGED_ENV).as_deref() == Ok("1")
}

/// What keeps privileged tests from running here (empty when nothing does): not root,
/// no working `ip` command, or one of `cni_plugins` missing from [`CNI_BIN`].
pub fn privileged_problems(cni_plugins: &[&str]) -> Vec<String> {
    let mut problems = Vec::new();
    if !is_root() {
        problems.push(
            "not running as root (they create network namespaces and links and run real CNI \
             plugins)"
                .to_owned(),
        );
    }
    let ip_works = Command::new("ip")
        .arg("-V")
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status()
        .is_ok_and(|s| s.success());
    if !ip_works {
        problems.push("the `ip` command (iproute2) is missing".to_owned());
    }
    for plugin in cni_plugins {
        let path = Path::new(CNI_BIN).join(plugin);
        if !path.is_file() {
            problems.push(format!(
                "{} is missing: install the Debian package containernetworking-plugins",
                path.display()
            ));
        }
    }
    problems
}

/// The gate's failure message for `problems`, `None` when there are none.
fn gate_failure(suite: &str, problems: &[String]) -> Option<String> {
    if problems.is_empty() {
        return None;
    }
    let list: String = problems.iter().map(|p| format!("\n  - {p}")).collect();
    Some(format!(
        "the privileged {suite} cannot run here:{list}\n\
         Run them as root with iproute2 and containernetworking-plugins ({CNI_BIN}) installed, \
         or set {SKIP_PRIVILEGED_ENV}=1 to skip them explicitly."
    ))
}

/// Whether the effective user id is 0 (the second field of the `Uid:` line).
fn is_root() -> bool {
    std::fs::read_to_string("/proc/self/status")
        .ok()
        .and_then(|s| {
            s.lines()
                .find(|l| l.starts_with("Uid:"))
                .and_then(|l| l.split_whitespace().nth(2).map(|u| u == "0"))
        })
        .unwrap_or(false)
}

// ----- names -----

/// A random lowercase hex string of `len` characters, different on every call and in
/// every process (for names, container ids, pod uids).
pub fn random_hex(len: usize) -> String {
    static COUNTER: AtomicU64 = AtomicU64::new(0);
    let mut out = String::with_capacity(len + 16);
    while out.len() < len {
        let mut h = RandomState::new().build_hasher();
        h.write_u64(COUNTER.fetch_add(1, Ordering::Relaxed));
        h.write_u32(std::process::id());
        out.push_str(&format!("{:016x}", h.finish()));
    }
    out.truncate(len);
    out
}

/// `prefix` followed by random hex digits, `len` bytes in all. For an interface name
/// pass at most [`IFNAME_MAX`]: `unique_name("mrsb", IFNAME_MAX)` is `mrsb` and 11
/// random digits.
///
/// # Panics
/// When `prefix` leaves fewer than 6 random digits, or `len` is longer than a file
/// name may be (255).
#[track_caller]
pub fn unique_name(prefix: &str, len: usize) -> String {
    assert!(
        len <= NETNS_NAME_MAX,
        "unique_name({prefix:?}, {len}): longer than a name may be ({NETNS_NAME_MAX})"
    );
    let digits = len.saturating_sub(prefix.len());
    assert!(
        digits >= MIN_RANDOM_DIGITS,
        "unique_name({prefix:?}, {len}): the prefix leaves {digits} random digits, \
         fewer than {MIN_RANDOM_DIGITS}"
    );
    format!("{prefix}{}", random_hex(digits))
}

// ----- running ip -----

/// Runs `ip <args>` and returns its stdout.
///
/// # Panics
/// When `ip` cannot run or fails; the message has the command and its stderr.
#[track_caller]
pub fn ip(args: &[&str]) -> String {
    let out = Command::new("ip")
        .args(args)
        .output()
        .unwrap_or_else(|e| panic!("cannot run `ip {}`: {e}", args.join(" ")));
    assert!(
        out.status.success(),
        "`ip {}` failed: {}",
        args.join(" "),
        String::from_utf8_lossy(&out.stderr).trim_end()
    );
    String::from_utf8_lossy(&out.stdout).into_owned()
}

/// Runs `ip -j <args>` and parses its JSON; `None` when `ip` fails (e.g. the device or
/// the namespace does not exist). No output is an empty list.
///
/// # Panics
/// When `ip` cannot run or prints something that is not JSON.
#[track_caller]
pub fn ip_json(args: &[&str]) -> Option<Value> {
    let out = run_ip_json(args);
    out.status
        .success()
        .then(|| parse_json_output(&out.stdout, args))
}

/// Like [`ip_json`], but a failing `ip` panics with its stderr; the JSON list's items.
#[track_caller]
fn ip_json_list(args: &[&str]) -> Vec<Value> {
    let out = run_ip_json(args);
    assert!(
        out.status.success(),
        "`ip -j {}` failed: {}",
        args.join(" "),
        String::from_utf8_lossy(&out.stderr).trim_end()
    );
    match parse_json_output(&out.stdout, args) {
        Value::Array(items) => items,
        other => panic!("`ip -j {}` printed no list: {other}", args.join(" ")),
    }
}

#[track_caller]
fn run_ip_json(args: &[&str]) -> std::process::Output {
    Command::new("ip")
        .arg("-j")
        .args(args)
        .output()
        .unwrap_or_else(|e| panic!("cannot run `ip -j {}`: {e}", args.join(" ")))
}

#[track_caller]
fn parse_json_output(stdout: &[u8], args: &[&str]) -> Value {
    let text = String::from_utf8_lossy(stdout);
    if text.trim().is_empty() {
        return Value::Array(Vec::new());
    }
    serde_json::from_str(&text)
        .unwrap_or_else(|e| panic!("`ip -j {}` printed no JSON ({e}): {text}", args.join(" ")))
}

/// `ip -j -d link show dev <name>` in the test's own namespace, or `None` when there is
/// no such link.
pub fn host_link(name: &str) -> Option<Value> {
    first(ip_json(&["-d", "link", "show", "dev", name]))
}

/// The names of the links (in the test's own namespace) enslaved to `master`.
pub fn host_ports_of(master: &str) -> Vec<String> {
    ifnames(
        ip_json(&["link", "show", "master", master])
            .and_then(|v| v.as_array().cloned())
            .unwrap_or_default()
            .iter(),
    )
}

/// The flags of a link of `ip -j link` (`["BROADCAST","MULTICAST","UP","LOWER_UP"]`).
pub fn link_flags(link: &Value) -> Vec<String> {
    link["flags"]
        .as_array()
        .into_iter()
        .flatten()
        .filter_map(|f| f.as_str().map(str::to_owned))
        .collect()
}

fn first(list: Option<Value>) -> Option<Value> {
    list.and_then(|v| v.as_array().and_then(|a| a.first().cloned()))
}

fn ifnames<'a>(links: impl Iterator<Item = &'a Value>) -> Vec<String> {
    links
        .filter_map(|l| l["ifname"].as_str().map(str::to_owned))
        .collect()
}

// ----- network namespaces -----

/// A network namespace made with `ip netns add` under a unique name, deleted on drop
/// (with whatever links are still in it). Its loopback is left down, as a container
/// runtime leaves it.
///
/// The readers panic when `ip` fails on the namespace (it must exist), except
/// [`link`](Self::link), which answers `None` for a missing link.
#[derive(Debug)]
pub struct TestNetns {
    name: String,
    path: String,
}

impl TestNetns {
    /// The prefix of [`new`](Self::new)'s names.
    pub const DEFAULT_PREFIX: &'static str = "mrs-";

    /// A new namespace `mrs-<random>`.
    #[allow(clippy::new_without_default)] // creating a namespace is not a default value
    #[track_caller]
    pub fn new() -> Self {
        Self::with_prefix(Self::DEFAULT_PREFIX)
    }

    /// A new namespace `<prefix><10 random hex digits>` (e.g. `mrs-e2e-`).
    #[track_caller]
    pub fn with_prefix(prefix: &str) -> Self {
        let name = unique_name(prefix, prefix.len() + 10);
        ip(&["netns", "add", &name]);
        Self {
            path: format!("/run/netns/{name}"),
            name,
        }
    }

    /// The `ip netns` name.
    pub fn name(&self) -> &str {
        &self.name
    }

    /// The path, `/run/netns/<name>`: what a runtime passes as `CNI_NETNS`.
    pub fn path(&self) -> &str {
        &self.path
    }

    /// Runs `ip -n <name> <args>` and returns its stdout; panics when it fails.
    #[track_caller]
    pub fn ip(&self, args: &[&str]) -> String {
        let mut all = vec!["-n", self.name.as_str()];
        all.extend_from_slice(args);
        ip(&all)
    }

    /// Runs `ip -j -n <name> <args>` and parses its JSON; `None` when `ip` fails.
    #[track_caller]
    pub fn ip_json(&self, args: &[&str]) -> Option<Value> {
        let mut all = vec!["-n", self.name.as_str()];
        all.extend_from_slice(args);
        ip_json(&all)
    }

    #[track_caller]
    fn list(&self, args: &[&str]) -> Vec<Value> {
        let mut all = vec!["-n", self.name.as_str()];
        all.extend_from_slice(args);
        ip_json_list(&all)
    }

    /// Every link of the namespace, with details (`ip -j -d link`).
    #[track_caller]
    pub fn links(&self) -> Vec<Value> {
        self.list(&["-d", "link"])
    }

    /// The names of every link, sorted.
    #[track_caller]
    pub fn link_names(&self) -> Vec<String> {
        let mut names = ifnames(self.links().iter());
        names.sort();
        names
    }

    /// `ip -j -d link show dev <ifname>`, or `None` if there is no such link.
    pub fn link(&self, ifname: &str) -> Option<Value> {
        first(self.ip_json(&["-d", "link", "show", "dev", ifname]))
    }

    /// The addresses of `ifname` with `family` (`inet`, `inet6`) in `ip -j addr`.
    #[track_caller]
    fn addrs<A: std::str::FromStr>(&self, ifname: &str, family: &str) -> Vec<(A, u8)> {
        self.list(&["addr"])
            .iter()
            .filter(|l| l["ifname"] == ifname)
            .flat_map(|l| l["addr_info"].as_array().cloned().unwrap_or_default())
            .filter(|a| a["family"] == family)
            .map(|a| parse_addr(&a, ifname))
            .collect()
    }

    /// The IPv4 addresses of `ifname` as `(address, prefix length)`; none when there is
    /// no such link.
    #[track_caller]
    pub fn addrs4(&self, ifname: &str) -> Vec<(Ipv4Addr, u8)> {
        self.addrs(ifname, "inet")
    }

    /// The IPv6 addresses of `ifname` (link-local ones too) as `(address, prefix length)`.
    #[track_caller]
    pub fn addrs6(&self, ifname: &str) -> Vec<(Ipv6Addr, u8)> {
        self.addrs(ifname, "inet6")
    }

    /// The IPv4 addresses of `ifname` as `address/prefix` strings (`["10.1.0.2/24"]`).
    #[track_caller]
    pub fn cidrs4(&self, ifname: &str) -> Vec<String> {
        self.addrs4(ifname)
            .iter()
            .map(|(a, p)| format!("{a}/{p}"))
            .collect()
    }

    /// The IPv4 routes of the main table (`ip -j -4 route`).
    #[track_caller]
    pub fn routes4(&self) -> Vec<Value> {
        self.list(&["-4", "route"])
    }

    /// The IPv6 routes of the main table (`ip -j -6 route`).
    #[track_caller]
    pub fn routes6(&self) -> Vec<Value> {
        self.list(&["-6", "route"])
    }

    /// The IPv4 default routes as `(gateway, dev)`.
    #[track_caller]
    pub fn default_routes4(&self) -> Vec<(String, String)> {
        default_routes(&self.routes4())
    }

    /// The IPv6 default routes as `(gateway, dev)`.
    #[track_caller]
    pub fn default_routes6(&self) -> Vec<(String, String)> {
        default_routes(&self.routes6())
    }

    /// Deletes the namespace now, as a runtime does before a late DEL (the guard then
    /// has nothing left to do); panics when `ip netns del` fails.
    #[track_caller]
    pub fn delete(&self) {
        ip(&["netns", "del", &self.name]);
    }
}

impl Drop for TestNetns {
    fn drop(&mut self) {
        quiet_ip(&["netns", "del", &self.name]);
    }
}

#[track_caller]
fn parse_addr<A: std::str::FromStr>(addr_info: &Value, ifname: &str) -> (A, u8) {
    let local = addr_info["local"].as_str().unwrap_or("");
    let addr = local
        .parse()
        .unwrap_or_else(|_| panic!("{ifname}: bad address in `ip -j addr`: {addr_info}"));
    let prefix = addr_info["prefixlen"]
        .as_u64()
        .and_then(|p| u8::try_from(p).ok())
        .unwrap_or_else(|| panic!("{ifname}: bad prefixlen in `ip -j addr`: {addr_info}"));
    (addr, prefix)
}

fn default_routes(routes: &[Value]) -> Vec<(String, String)> {
    routes
        .iter()
        .filter(|r| r["dst"] == "default" || r["dst"] == "0.0.0.0/0" || r["dst"] == "::/0")
        .map(|r| {
            (
                r["gateway"].as_str().unwrap_or("").to_owned(),
                r["dev"].as_str().unwrap_or("").to_owned(),
            )
        })
        .collect()
}

/// Runs `ip <args>` ignoring output and failure (cleanup).
fn quiet_ip(args: &[&str]) {
    let _ = Command::new("ip")
        .args(args)
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status();
}

// ----- host links -----

/// A link in the test's own network namespace, deleted on drop (a veth pair with both
/// ends).
#[derive(Debug)]
pub struct HostLink {
    name: String,
    peer: Option<String>,
}

impl HostLink {
    /// Guards a link that exists, or will once a plugin has made it, under `name` (a
    /// host-side veth the bridge or ptp plugin created, say).
    pub fn adopt(name: impl Into<String>) -> Self {
        Self {
            name: name.into(),
            peer: None,
        }
    }

    /// A new bridge `mrsb<random>`, up.
    ///
    /// With `mac`, the bridge gets that fixed MAC address. A bridge whose address was
    /// never set takes the lowest MAC of its ports, so the MAC the bridge plugin reports
    /// at ADD can change when a later port joins, and the plugin's CHECK (which compares
    /// the bridge's MAC with the result's) then fails at random: tests that run CHECK on a
    /// bridge pass a fixed MAC.
    #[track_caller]
    pub fn bridge(mac: Option<&str>) -> Self {
        let guard = Self::adopt(unique_name("mrsb", IFNAME_MAX));
        ip(&["link", "add", "name", &guard.name, "type", "bridge"]);
        if let Some(mac) = mac {
            ip(&["link", "set", &guard.name, "address", mac]);
        }
        ip(&["link", "set", &guard.name, "up"]);
        guard
    }

    /// A new veth pair `mrsv<random>` / `mrsp<random>` (the same random part), both ends
    /// up; the guard's [`name`](Self::name) is the first end (a macvlan master, say),
    /// [`peer`](Self::peer) the second. Dropping the guard deletes both.
    #[track_caller]
    pub fn veth_pair() -> Self {
        let id = random_hex(IFNAME_MAX - 4);
        let (a, b) = (format!("mrsv{id}"), format!("mrsp{id}"));
        ip(&["link", "add", &a, "type", "veth", "peer", "name", &b]);
        let guard = Self {
            name: a,
            peer: Some(b),
        };
        ip(&["link", "set", &guard.name, "up"]);
        if let Some(peer) = &guard.peer {
            ip(&["link", "set", peer, "up"]);
        }
        guard
    }

    /// The link's name.
    pub fn name(&self) -> &str {
        &self.name
    }

    /// The other end of a veth pair made by [`veth_pair`](Self::veth_pair).
    pub fn peer(&self) -> Option<&str> {
        self.peer.as_deref()
    }
}

impl Drop for HostLink {
    fn drop(&mut self) {
        quiet_ip(&["link", "del", &self.name]);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn random_hex_has_the_length_asked_and_differs_every_time() {
        for len in [0, 1, 8, 16, 17, 64] {
            let s = random_hex(len);
            assert_eq!(s.len(), len);
            assert!(
                s.chars()
                    .all(|c| c.is_ascii_hexdigit() && !c.is_ascii_uppercase())
            );
        }
        let many: std::collections::HashSet<String> = (0..1000).map(|_| random_hex(11)).collect();
        assert_eq!(many.len(), 1000);
    }

    #[test]
    fn unique_names_fit_the_length_asked() {
        let name = unique_name("mrsb", IFNAME_MAX);
        assert_eq!(name.len(), IFNAME_MAX);
        assert!(name.starts_with("mrsb"));
        assert_ne!(unique_name("mrsb", IFNAME_MAX), name);
        let err =
            std::panic::catch_unwind(|| unique_name("mrs-a-long-one", IFNAME_MAX)).unwrap_err();
        let msg = err.downcast_ref::<String>().unwrap();
        assert!(msg.contains("fewer than 6"), "{msg}");
    }

    #[test]
    fn the_gate_names_every_problem_and_the_way_out() {
        assert_eq!(gate_failure("the x tests", &[]), None);
        let msg = gate_failure(
            "the x tests",
            &["not running as root".to_owned(), "no ip".to_owned()],
        )
        .unwrap();
        assert!(
            msg.starts_with("the privileged the x tests cannot run here:"),
            "{msg}"
        );
        assert!(
            msg.contains("\n  - not running as root\n  - no ip\n"),
            "{msg}"
        );
        assert!(msg.contains("MULTUS_SKIP_PRIVILEGED=1"), "{msg}");
    }

    #[test]
    fn missing_plugins_are_problems() {
        let problems = privileged_problems(&["no-such-plugin-mrs"]);
        assert!(
            problems
                .iter()
                .any(|p| p.contains("/usr/lib/cni/no-such-plugin-mrs is missing")),
            "{problems:?}"
        );
    }

    #[test]
    fn default_routes_and_flags_from_ip_json() {
        let routes = [
            json!({"dst": "default", "gateway": "192.0.2.1", "dev": "eth0"}),
            json!({"dst": "192.0.2.0/24", "dev": "eth0"}),
            json!({"dst": "::/0", "gateway": "2001:db8::1", "dev": "net1"}),
        ];
        assert_eq!(
            default_routes(&routes),
            [
                ("192.0.2.1".to_owned(), "eth0".to_owned()),
                ("2001:db8::1".to_owned(), "net1".to_owned())
            ]
        );
        assert_eq!(
            link_flags(&json!({"flags": ["BROADCAST", "UP"]})),
            ["BROADCAST", "UP"]
        );
        let (a, p): (Ipv4Addr, u8) =
            parse_addr(&json!({"local": "10.1.0.2", "prefixlen": 24}), "eth0");
        assert_eq!((a.to_string(), p), ("10.1.0.2".to_owned(), 24));
    }
}
