//! Helpers of the end-to-end tests: the privilege gate (with the plugins these
//! tests run), a per-test fixture (network namespace, bridge, macvlan master
//! veth — the guards of `multus_testsupport::netns` — temporary cniDir /
//! confDir / host-local dataDir, the stand-in API server with a kubeconfig),
//! the guide's manifests rewritten for that fixture, and running the built
//! `multus` binary the way libcni runs a plugin.
//!
//! Everything a test creates is uniquely named and removed by `Drop`, also
//! when the test fails. Addresses are only ever assigned inside the test's
//! own network namespace (the default network's bridge has no address).

#![allow(dead_code, clippy::unwrap_used, clippy::expect_used)]

pub mod cases;

use std::io::Write;
use std::net::Ipv4Addr;
use std::path::{Path, PathBuf};
use std::process::{Command, ExitStatus, Stdio};
use std::time::{Duration, Instant};

use multus_testsupport::ApiServer;
use multus_testsupport::netns::{
    CNI_BIN, HostLink, TestNetns, host_ports_of, link_flags, random_hex, require_privileged,
};
use serde_json::{Value, json};
use tempfile::TempDir;

/// The pod annotation multus writes.
pub const NETWORK_STATUS: &str = "k8s.v1.cni.cncf.io/network-status";

/// The CNI name of the default network (the master delegate).
pub const MASTER_NAME: &str = "e2e-default-net";

/// The default network's subnet and gateway (inside the pod namespace only).
pub const MASTER_SUBNET: &str = "10.244.0.0/24";
pub const MASTER_GW: &str = "10.244.0.1";

/// How long one run of the binary may take before the test gives up on it.
const RUN_TIMEOUT: Duration = Duration::from_secs(60);

/// The fixed MAC address of the default network's bridge (see
/// `multus_testsupport::netns::HostLink::bridge`: a bridge without one takes
/// the lowest MAC of its ports, which would change the MAC the bridge plugin
/// reported at ADD and fail its CHECK).
pub const BRIDGE_MAC: &str = "02:00:00:00:e2:e0";

/// Whether privileged tests should run. Panics with a clear message when
/// they cannot (not root, plugins or `ip` missing) unless
/// `MULTUS_SKIP_PRIVILEGED=1` is set, in which case it returns `false`.
#[track_caller]
pub fn privileged() -> bool {
    require_privileged(
        "multus end-to-end tests",
        &["bridge", "host-local", "macvlan", "tuning"],
    )
}

/// Whether `ip` is inside `start..=end`.
pub fn in_range(ip: Ipv4Addr, start: &str, end: &str) -> bool {
    let (s, e): (Ipv4Addr, Ipv4Addr) = (start.parse().unwrap(), end.parse().unwrap());
    (u32::from(s)..=u32::from(e)).contains(&u32::from(ip))
}

// ----- the guide's manifests -----

/// A file of the guide's manifests (`examples/guide/`).
pub fn guide(file: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../examples/guide")
        .join(file)
}

/// The one object of a guide manifest file.
pub fn guide_object(file: &str) -> Value {
    let mut objs = multus_testsupport::read_manifests(guide(file))
        .unwrap_or_else(|e| panic!("reading {file}: {e}"));
    assert_eq!(objs.len(), 1, "{file} holds one object");
    objs.remove(0)
}

/// The one object of a manifest file anywhere.
pub fn guide_object_at(path: &Path) -> Value {
    let mut objs = multus_testsupport::read_manifests(path)
        .unwrap_or_else(|e| panic!("reading {}: {e}", path.display()));
    assert_eq!(objs.len(), 1, "{} holds one object", path.display());
    objs.remove(0)
}

/// A pod as the runtime knows it.
#[derive(Debug, Clone)]
pub struct PodRef {
    pub namespace: String,
    pub name: String,
    pub uid: String,
}

impl PodRef {
    /// `namespace/name/uid`, as multus names a pod in errors.
    pub fn label(&self) -> String {
        format!("{}/{}/{}", self.namespace, self.name, self.uid)
    }
}

// ----- one run of the binary -----

/// What one run of `multus` did.
#[derive(Debug)]
pub struct Run {
    pub status: ExitStatus,
    pub stdout: String,
    pub stderr: String,
    pub elapsed: Duration,
}

impl Run {
    /// Panics (showing stdout and stderr) unless the run exited 0.
    pub fn assert_ok(&self) -> &Self {
        assert!(self.status.success(), "multus failed: {self}");
        self
    }

    /// Panics unless the run failed; returns the CNI error object on stdout.
    pub fn assert_failed(&self) -> Value {
        assert!(
            !self.status.success(),
            "multus succeeded unexpectedly: {self}"
        );
        let err: Value = serde_json::from_str(&self.stdout)
            .unwrap_or_else(|e| panic!("stdout is not a CNI error object ({e}): {self}"));
        assert!(err["code"].is_u64(), "CNI error without a code: {self}");
        assert!(err["msg"].is_string(), "CNI error without msg: {self}");
        err
    }

    /// stdout as JSON.
    pub fn json(&self) -> Value {
        serde_json::from_str(&self.stdout)
            .unwrap_or_else(|e| panic!("stdout is not JSON ({e}): {self}"))
    }
}

impl std::fmt::Display for Run {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "{} after {:?}\n--- stdout ---\n{}\n--- stderr ---\n{}",
            self.status, self.elapsed, self.stdout, self.stderr
        )
    }
}

/// Runs the built `multus` with `env` (on top of this process's
/// environment, minus in-cluster variables) and `stdin`; kills it after
/// [`RUN_TIMEOUT`].
pub fn run_multus(env: &[(&str, String)], stdin: &[u8]) -> Run {
    run_plugin(Path::new(env!("CARGO_BIN_EXE_multus")), env, stdin)
}

/// Runs a CNI plugin binary the way libcni does: `env` on top of this
/// process's environment (minus in-cluster variables), `stdin`, stdout and
/// stderr captured; killed after [`RUN_TIMEOUT`].
pub fn run_plugin(binary: &Path, env: &[(&str, String)], stdin: &[u8]) -> Run {
    let start = Instant::now();
    let mut cmd = Command::new(binary);
    cmd.env_remove("KUBERNETES_SERVICE_HOST")
        .env_remove("KUBERNETES_SERVICE_PORT")
        .env_remove("CNI_NETNS_OVERRIDE")
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped());
    for (k, v) in env {
        cmd.env(k, v);
    }
    let name = binary.display().to_string();
    let mut child = cmd.spawn().unwrap_or_else(|e| panic!("spawn {name}: {e}"));
    let pid = child.id();
    {
        let mut input = child.stdin.take().expect("stdin");
        // The binary may not read stdin (VERSION): a broken pipe is fine.
        let _ = input.write_all(stdin);
    }
    let (tx, rx) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        let _ = tx.send(child.wait_with_output());
    });
    let output = match rx.recv_timeout(RUN_TIMEOUT) {
        Ok(out) => out.unwrap_or_else(|e| panic!("wait for {name}: {e}")),
        Err(_) => {
            let _ = nix::sys::signal::kill(
                nix::unistd::Pid::from_raw(i32::try_from(pid).unwrap_or(i32::MAX)),
                nix::sys::signal::Signal::SIGKILL,
            );
            panic!("{name} (pid {pid}) did not finish within {RUN_TIMEOUT:?}; killed");
        }
    };
    Run {
        status: output.status,
        stdout: String::from_utf8_lossy(&output.stdout).into_owned(),
        stderr: String::from_utf8_lossy(&output.stderr).into_owned(),
        elapsed: start.elapsed(),
    }
}

// ----- the per-test fixture -----

/// Everything one test needs, all of it its own. Field order is drop order:
/// the namespace goes first (taking the pod-side links with it), then the
/// host links, the API server and the temporary directory.
pub struct Fixture {
    /// The pod's network namespace (`mrs-e2e-<random>`, `lo` down as a
    /// runtime leaves it).
    pub ns: TestNetns,
    /// The default network's bridge.
    pub bridge: HostLink,
    /// The macvlan master: a host veth end (the guard deletes both ends).
    pub master: HostLink,
    /// The stand-in Kubernetes API server.
    pub server: ApiServer,
    /// Holds kubeconfig, cniDir, confDir and the host-local dataDir.
    pub tmp: TempDir,
    pub kubeconfig: PathBuf,
    pub cni_dir: PathBuf,
    pub conf_dir: PathBuf,
    pub data_dir: PathBuf,
    /// The sandbox's container id.
    pub container_id: String,
}

impl Fixture {
    /// A fresh fixture, or `None` when privileged tests are skipped
    /// (`MULTUS_SKIP_PRIVILEGED=1`); panics when they cannot run.
    #[track_caller]
    pub fn new() -> Option<Self> {
        if !privileged() {
            return None;
        }
        let tmp = tempfile::Builder::new()
            .prefix("mrs-e2e-")
            .tempdir()
            .expect("tempdir");
        let (kubeconfig, cni_dir, conf_dir, data_dir) = (
            tmp.path().join("multus.kubeconfig"),
            tmp.path().join("cni"),
            tmp.path().join("net.d"),
            tmp.path().join("ipam"),
        );
        std::fs::create_dir_all(&conf_dir).expect("confDir");
        let server = ApiServer::start_blocking().expect("start the stand-in API server");
        server
            .write_kubeconfig(&kubeconfig)
            .expect("write kubeconfig");
        let master = HostLink::veth_pair();
        let bridge = HostLink::bridge(Some(BRIDGE_MAC));
        let ns = TestNetns::with_prefix("mrs-e2e-");
        Some(Self {
            ns,
            bridge,
            master,
            server,
            tmp,
            kubeconfig,
            cni_dir,
            conf_dir,
            data_dir,
            container_id: random_hex(64),
        })
    }

    /// The default network: bridge + host-local (a default route via the
    /// subnet's gateway, which only exists as a name inside the pod), with
    /// this fixture's bridge and dataDir.
    pub fn master_delegate(&self, cni_version: &str) -> Value {
        json!({
            "cniVersion": cni_version,
            "name": MASTER_NAME,
            "type": "bridge",
            "bridge": self.bridge.name(),
            "isGateway": false,
            "ipMasq": false,
            "ipam": {
                "type": "host-local",
                "subnet": MASTER_SUBNET,
                "routes": [{"dst": "0.0.0.0/0", "gw": MASTER_GW}],
                "dataDir": self.data_dir,
            }
        })
    }

    /// The multus config (delegates mode, thin plugin) with both the multus
    /// config and the master at `cni_version`.
    pub fn conf(&self, cni_version: &str) -> Value {
        self.conf_versions(cni_version, cni_version)
    }

    /// The multus config at `multus_version`, its master at `master_version`.
    pub fn conf_versions(&self, multus_version: &str, master_version: &str) -> Value {
        json!({
            "cniVersion": multus_version,
            "name": "multus-cni-network",
            "type": "multus",
            "kubeconfig": self.kubeconfig,
            "cniDir": self.cni_dir,
            "confDir": self.conf_dir,
            "binDir": CNI_BIN,
            "logLevel": "verbose",
            "logToStderr": true,
            "delegates": [self.master_delegate(master_version)],
        })
    }

    /// A network config with the guide's `master` (eth0/eth1) replaced by
    /// this fixture's veth and a `dataDir` of its own for host-local.
    pub fn rewrite_network(&self, config: &mut Value) {
        let plugins: Vec<&mut Value> = match config.get_mut("plugins") {
            Some(Value::Array(list)) => list.iter_mut().collect(),
            _ => vec![config],
        };
        for plugin in plugins {
            if plugin.get("master").is_some() {
                plugin["master"] = json!(self.master.name());
            }
            if let Some(ipam) = plugin.get_mut("ipam")
                && ipam["type"] == "host-local"
            {
                ipam["dataDir"] = json!(self.data_dir);
            }
        }
    }

    /// Loads a guide NAD (`nad-*.yaml`) into the API server, its config
    /// rewritten by [`rewrite_network`](Self::rewrite_network); in
    /// `namespace` when given (else the manifest's, default `default`).
    pub fn load_guide_nad(&self, file: &str, namespace: Option<&str>) -> Value {
        let mut nad = guide_object(file);
        assert_eq!(nad["kind"], "NetworkAttachmentDefinition", "{file}");
        if let Some(ns) = namespace {
            nad["metadata"]["namespace"] = json!(ns);
        }
        if let Some(text) = nad["spec"]["config"].as_str() {
            let mut config: Value = serde_json::from_str(text)
                .unwrap_or_else(|e| panic!("{file}: spec.config is not JSON: {e}"));
            self.rewrite_network(&mut config);
            nad["spec"]["config"] = json!(config.to_string());
        }
        self.server
            .try_insert(nad)
            .unwrap_or_else(|e| panic!("{file}: {e}"))
    }

    /// A NAD of this test's own, with `config` rewritten as the guide's are.
    pub fn insert_nad(&self, namespace: &str, name: &str, mut config: Value) -> Value {
        self.rewrite_network(&mut config);
        self.server
            .insert_nad(namespace, name, Some(&config.to_string()), &[])
    }

    /// Writes the guide's `macvlan2.conf` (the config of `macvlan-conf-2`,
    /// whose NAD has no spec) into confDir, rewritten.
    pub fn install_macvlan2_conf(&self) {
        let text = std::fs::read_to_string(guide("macvlan2.conf")).expect("macvlan2.conf");
        let mut config: Value = serde_json::from_str(&text).expect("macvlan2.conf is JSON");
        self.rewrite_network(&mut config);
        std::fs::write(
            self.conf_dir.join("macvlan2.conf"),
            serde_json::to_string_pretty(&config).unwrap(),
        )
        .expect("write macvlan2.conf");
    }

    /// The guide's NADs macvlan-conf-1 and macvlan-conf-2 (with its confDir file).
    pub fn load_macvlan_conf_1_and_2(&self) {
        self.load_guide_nad("nad-macvlan-conf-1.yaml", None);
        self.load_guide_nad("nad-macvlan-conf-2.yaml", None);
        self.install_macvlan2_conf();
    }

    /// Loads a guide pod (`pod-case-*.yaml`, `samplepod.yaml`) into the API server.
    pub fn load_guide_pod(&self, file: &str) -> PodRef {
        let pod = guide_object(file);
        assert_eq!(pod["kind"], "Pod", "{file}");
        self.insert_pod(pod)
    }

    /// Inserts a pod; returns it as the runtime would name it (uid from the server).
    pub fn insert_pod(&self, pod: Value) -> PodRef {
        let stored = self.server.insert_pod(pod);
        PodRef {
            namespace: stored["metadata"]["namespace"]
                .as_str()
                .expect("namespace")
                .to_owned(),
            name: stored["metadata"]["name"]
                .as_str()
                .expect("name")
                .to_owned(),
            uid: stored["metadata"]["uid"].as_str().expect("uid").to_owned(),
        }
    }

    /// A pod `default/<name>` with the networks annotation `networks`.
    pub fn insert_simple_pod(&self, name: &str, networks: &str) -> PodRef {
        self.insert_pod(json!({
            "metadata": {"name": name, "namespace": "default",
                         "annotations": {"k8s.v1.cni.cncf.io/networks": networks}},
            "spec": {"containers": [{"name": "c", "image": "busybox"}]}
        }))
    }

    /// The `CNI_*` environment libcni sets for `command` on this sandbox.
    pub fn cni_env(&self, command: &str, pod: &PodRef, netns: &str) -> Vec<(&'static str, String)> {
        vec![
            ("CNI_COMMAND", command.to_owned()),
            ("CNI_CONTAINERID", self.container_id.clone()),
            ("CNI_NETNS", netns.to_owned()),
            ("CNI_IFNAME", "eth0".to_owned()),
            (
                "CNI_ARGS",
                format!(
                    "IgnoreUnknown=1;K8S_POD_NAMESPACE={};K8S_POD_NAME={};K8S_POD_INFRA_CONTAINER_ID={};K8S_POD_UID={}",
                    pod.namespace, pod.name, self.container_id, pod.uid
                ),
            ),
            ("CNI_PATH", CNI_BIN.to_owned()),
        ]
    }

    /// Runs `command` for `pod` in this fixture's namespace with `conf` on stdin.
    pub fn run(&self, command: &str, conf: &Value, pod: &PodRef) -> Run {
        self.run_in(command, conf, pod, self.ns.path())
    }

    /// [`run`](Self::run) with another `CNI_NETNS`.
    pub fn run_in(&self, command: &str, conf: &Value, pod: &PodRef, netns: &str) -> Run {
        run_multus(
            &self.cni_env(command, pod, netns),
            conf.to_string().as_bytes(),
        )
    }

    /// [`run`](Self::run) with another plugin binary.
    pub fn run_binary(&self, binary: &Path, command: &str, conf: &Value, pod: &PodRef) -> Run {
        run_plugin(
            binary,
            &self.cni_env(command, pod, self.ns.path()),
            conf.to_string().as_bytes(),
        )
    }

    pub fn add(&self, conf: &Value, pod: &PodRef) -> Run {
        self.run("ADD", conf, pod)
    }

    pub fn del(&self, conf: &Value, pod: &PodRef) -> Run {
        self.run("DEL", conf, pod)
    }

    // ----- what is on disk and in the API -----

    /// Every address host-local has reserved, as `network/ip` (one file per
    /// address; `lock` and `last_reserved_ip.*` are not reservations).
    pub fn ipam_reservations(&self) -> Vec<String> {
        let mut out = Vec::new();
        for network in std::fs::read_dir(&self.data_dir)
            .into_iter()
            .flatten()
            .flatten()
        {
            for entry in std::fs::read_dir(network.path())
                .into_iter()
                .flatten()
                .flatten()
            {
                let file = entry.file_name().to_string_lossy().into_owned();
                if file.parse::<std::net::IpAddr>().is_ok() {
                    out.push(format!("{}/{file}", network.file_name().to_string_lossy()));
                }
            }
        }
        out.sort();
        out
    }

    /// The libcni result cache files (`<cniDir>/results/*`).
    pub fn result_cache_entries(&self) -> Vec<String> {
        let mut out: Vec<String> = std::fs::read_dir(self.cni_dir.join("results"))
            .into_iter()
            .flatten()
            .flatten()
            .map(|e| e.file_name().to_string_lossy().into_owned())
            .collect();
        out.sort();
        out
    }

    /// The delegate cache file `<cniDir>/<containerID>`.
    pub fn delegate_cache(&self) -> PathBuf {
        self.cni_dir.join(&self.container_id)
    }

    /// Asserts that nothing of an attachment is left: only `lo` in the
    /// namespace (plus `keep`), no bridge port, no host-local reservation,
    /// no result cache entry, no delegate cache file.
    pub fn assert_nothing_left(&self, keep: &[&str]) {
        let mut expected: Vec<String> = keep.iter().map(|s| (*s).to_owned()).collect();
        expected.push("lo".to_owned());
        expected.sort();
        assert_eq!(self.ns.link_names(), expected, "links left in the netns");
        self.assert_host_clean();
    }

    /// [`assert_nothing_left`](Self::assert_nothing_left) without the namespace.
    pub fn assert_host_clean(&self) {
        assert_eq!(
            host_ports_of(self.bridge.name()),
            Vec::<String>::new(),
            "host veths left on the bridge"
        );
        assert_eq!(
            self.ipam_reservations(),
            Vec::<String>::new(),
            "host-local reservations left"
        );
        assert_eq!(
            self.result_cache_entries(),
            Vec::<String>::new(),
            "result cache entries left"
        );
        assert!(
            !self.delegate_cache().exists(),
            "delegate cache file {} left",
            self.delegate_cache().display()
        );
    }

    /// The parsed network-status annotation of `pod`.
    pub fn network_status(&self, pod: &PodRef) -> Vec<Value> {
        let text = self
            .server
            .pod_annotation(&pod.namespace, &pod.name, NETWORK_STATUS)
            .unwrap_or_else(|| panic!("pod {} has no {NETWORK_STATUS}", pod.name));
        serde_json::from_str::<Vec<Value>>(&text)
            .unwrap_or_else(|e| panic!("{NETWORK_STATUS} is not a JSON list ({e}): {text}"))
    }

    /// The events about `pod` with `reason`, as `(type, message)`.
    pub fn events(&self, pod: &PodRef, reason: &str) -> Vec<(String, String)> {
        self.server
            .events()
            .iter()
            .filter(|e| e["involvedObject"]["name"] == pod.name.as_str() && e["reason"] == reason)
            .map(|e| {
                (
                    e["type"].as_str().unwrap_or("").to_owned(),
                    e["message"]
                        .as_str()
                        .or_else(|| e["note"].as_str())
                        .unwrap_or("")
                        .to_owned(),
                )
            })
            .collect()
    }
}

// ----- assertions on one attachment -----

/// An attachment the test expects: interface name, the NAD's range, the
/// network-status name.
pub struct Expect<'a> {
    pub ifname: &'a str,
    pub prefix: u8,
    pub range: (&'a str, &'a str),
    pub status_name: &'a str,
}

/// The default network's attachment.
pub const MASTER: Expect<'static> = Expect {
    ifname: "eth0",
    prefix: 24,
    range: ("10.244.0.2", "10.244.0.254"),
    status_name: MASTER_NAME,
};

/// `macvlan-conf-1` of the guide (namespace `ns`), on `ifname`.
pub fn macvlan_conf_1<'a>(ifname: &'a str, status_name: &'a str) -> Expect<'a> {
    Expect {
        ifname,
        prefix: 16,
        range: ("10.10.1.20", "10.10.3.50"),
        status_name,
    }
}

/// `macvlan-conf-2` of the guide (its confDir file), on `ifname`.
pub fn macvlan_conf_2(ifname: &str) -> Expect<'_> {
    Expect {
        ifname,
        prefix: 16,
        range: ("11.10.1.20", "11.10.3.50"),
        status_name: "default/macvlan-conf-2",
    }
}

/// Checks the namespace, the network-status annotation, the AddedInterface
/// events and the host-local reservations against `expected` (master
/// first), and that the namespace has no other links than `lo` and these.
pub fn assert_attached(fx: &Fixture, pod: &PodRef, expected: &[Expect<'_>]) {
    // Links: exactly lo + the expected interfaces, each up.
    let mut names: Vec<String> = expected.iter().map(|e| e.ifname.to_owned()).collect();
    names.push("lo".to_owned());
    names.sort();
    assert_eq!(fx.ns.link_names(), names, "links in the netns");

    let status = fx.network_status(pod);
    assert_eq!(
        status.len(),
        expected.len(),
        "one network-status entry per attachment: {status:#?}"
    );
    let events = fx.events(pod, "AddedInterface");
    for (i, (e, entry)) in expected.iter().zip(&status).enumerate() {
        let link = fx
            .ns
            .link(e.ifname)
            .unwrap_or_else(|| panic!("{} missing", e.ifname));
        assert!(
            link_flags(&link).contains(&"UP".to_owned()),
            "{} is not up: {link}",
            e.ifname
        );
        let addrs = fx.ns.addrs4(e.ifname);
        assert_eq!(
            addrs.len(),
            1,
            "one IPv4 address on {}: {addrs:?}",
            e.ifname
        );
        let (addr, prefix) = addrs[0];
        assert_eq!(prefix, e.prefix, "prefix of {}", e.ifname);
        assert!(
            in_range(addr, e.range.0, e.range.1),
            "{addr} on {} is outside {:?}",
            e.ifname,
            e.range
        );

        assert_eq!(entry["name"], e.status_name, "entry {i}: {entry:#}");
        assert_eq!(entry["interface"], e.ifname, "entry {i}: {entry:#}");
        assert_eq!(
            entry["ips"],
            json!([addr.to_string()]),
            "entry {i}: {entry:#}"
        );
        assert_eq!(
            entry["mac"], link["address"],
            "entry {i} mac vs the link: {entry:#}"
        );
        if i == 0 {
            assert_eq!(entry["default"], true, "the master is default: {entry:#}");
        } else {
            assert!(
                entry.get("default").is_none() || entry["default"] == false,
                "only the master is default: {entry:#}"
            );
        }
        assert!(entry["dns"].is_object(), "dns is always present: {entry:#}");

        let message = format!("Add {} [{addr}/{prefix}] from {}", e.ifname, e.status_name);
        assert!(
            events.contains(&("Normal".to_owned(), message.clone())),
            "no event {message:?} in {events:?}"
        );
    }
    assert_eq!(
        events.len(),
        expected.len(),
        "one AddedInterface event per attachment: {events:?}"
    );
    assert_eq!(
        fx.ipam_reservations().len(),
        expected.len(),
        "one host-local reservation per attachment: {:?}",
        fx.ipam_reservations()
    );
}

/// Checks the printed ADD result: the master's, in `version`, naming eth0
/// in the namespace and carrying its address.
pub fn assert_master_result(fx: &Fixture, run: &Run, version: &str) {
    let result = run.json();
    assert_eq!(result["cniVersion"], version, "{result:#}");
    let interfaces = result["interfaces"].as_array().expect("interfaces");
    let eth0 = interfaces
        .iter()
        .position(|i| i["name"] == "eth0" && i["sandbox"] == fx.ns.path())
        .unwrap_or_else(|| panic!("no eth0 in the sandbox: {result:#}"));
    assert!(
        interfaces.iter().any(|i| i["name"] == fx.bridge.name()),
        "the bridge plugin's result names the bridge: {result:#}"
    );
    let (addr, prefix) = fx.ns.addrs4("eth0")[0];
    let ips = result["ips"].as_array().expect("ips");
    assert_eq!(ips.len(), 1, "{result:#}");
    assert_eq!(ips[0]["address"], format!("{addr}/{prefix}"), "{result:#}");
    assert_eq!(ips[0]["gateway"], MASTER_GW, "{result:#}");
    assert_eq!(ips[0]["interface"], eth0, "{result:#}");
    // Nothing of the other attachments leaks into the master's result.
    assert!(interfaces.iter().all(|i| i["name"] != "net1"), "{result:#}");
}
