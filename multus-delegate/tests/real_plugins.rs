//! The real plugins of the Debian package `containernetworking-plugins`
//! (`/usr/lib/cni`) in network namespaces made for each test. Assertions are
//! on what the kernel (`ip -j`) and the disk (host-local's files, the result
//! cache) show. Needs root; fails (never skips) without it unless
//! `MULTUS_SKIP_PRIVILEGED=1`.

#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use std::path::PathBuf;
use std::time::Duration;

use common::{BRIDGE_MAC, ipam_reservations, mask, mask_macs, mode};
use multus_delegate::{CacheEntry, CniConfig, Error, GcAttachment, RuntimeConf, list_with_version};
use multus_testsupport::netns::{
    CNI_BIN, HostLink, TestNetns, host_link, host_ports_of, random_hex,
};
use multus_types::{CniVersion, ErrorCode, NetConfList, ToCniError};
use serde_json::{Value, json};
use tempfile::TempDir;

/// A cache dir and a host-local data dir of the test's own.
struct Env {
    tmp: TempDir,
    cni: CniConfig,
}

impl Env {
    fn new() -> Self {
        let tmp = tempfile::tempdir().unwrap();
        let cni = CniConfig::new([CNI_BIN])
            .with_cache_dir(tmp.path().join("cache"))
            .with_timeout(Some(Duration::from_secs(60)));
        Self { tmp, cni }
    }

    fn data_dir(&self) -> PathBuf {
        self.tmp.path().join("ipam")
    }

    fn ipam(&self, subnet: &str) -> Value {
        json!({"type": "host-local", "subnet": subnet, "dataDir": self.data_dir()})
    }

    fn cache_file_exists(&self, network: &str, rt: &RuntimeConf) -> bool {
        self.cni
            .cache()
            .path(network, &rt.container_id, &rt.ifname)
            .unwrap()
            .exists()
    }
}

fn list(v: Value) -> NetConfList {
    NetConfList::from_value(v).unwrap()
}

fn bridge_list(env: &Env, name: &str, bridge: &str, subnet: &str, version: &str) -> NetConfList {
    list(json!({
        "cniVersion": version, "name": name,
        "plugins": [{"type": "bridge", "bridge": bridge, "isGateway": false, "ipMasq": false,
                     "ipam": env.ipam(subnet)}]
    }))
}

fn container_id() -> String {
    format!("ctr-{}", random_hex(12))
}

#[tokio::test]
async fn bridge_with_host_local_add_check_del() {
    if !common::privileged() {
        return;
    }
    let env = Env::new();
    let ns = TestNetns::new();
    let bridge_guard = HostLink::bridge(Some(BRIDGE_MAC));
    let bridge = bridge_guard.name().to_owned();
    let l = bridge_list(&env, "mrs-bridge", &bridge, "10.199.1.0/24", "1.0.0");
    let cid = container_id();
    let rt = RuntimeConf::new(&cid, ns.path(), "eth0").with_arg("IgnoreUnknown", "1");

    let result = env.cni.add_network_list(&l, &rt).await.unwrap();

    // The kernel: a veth eth0 with the address in the namespace, its peer on the bridge.
    assert_eq!(ns.cidrs4("eth0"), ["10.199.1.2/24"]);
    let eth0 = ns.link("eth0").unwrap();
    assert_eq!(eth0["linkinfo"]["info_kind"], "veth");
    let ports = host_ports_of(&bridge);
    assert_eq!(ports.len(), 1, "{ports:?}");
    // The result describes exactly that.
    let r = result.to_v1().unwrap();
    assert_eq!(result.version(), CniVersion::V1_0_0);
    assert_eq!(r.ips.len(), 1);
    assert_eq!(r.ips[0].address.to_string(), "10.199.1.2/24");
    let idx = usize::try_from(r.ips[0].interface.unwrap()).unwrap();
    assert_eq!(r.interfaces[idx].name, "eth0");
    assert_eq!(r.interfaces[idx].sandbox, ns.path());
    assert_eq!(r.interfaces[idx].mac, eth0["address"].as_str().unwrap());
    let host_veth = r
        .interfaces
        .iter()
        .find(|i| i.sandbox.is_empty() && i.name != bridge)
        .unwrap()
        .name
        .clone();
    assert_eq!(ports, std::slice::from_ref(&host_veth));
    // host-local's reservation on disk, naming the container.
    assert_eq!(
        ipam_reservations(&env.data_dir(), "mrs-bridge"),
        ["10.199.1.2"]
    );
    let owner =
        std::fs::read_to_string(env.data_dir().join("mrs-bridge").join("10.199.1.2")).unwrap();
    assert!(owner.contains(&cid), "{owner}");

    // The result cache: libcni's file, modes and JSON.
    let path = env.cni.cache().path("mrs-bridge", &cid, "eth0").unwrap();
    assert_eq!(mode(&path), 0o600);
    assert_eq!(mode(&env.cni.cache().results_dir()), 0o700);
    let bytes = std::fs::read(&path).unwrap();
    assert_eq!(
        CacheEntry::from_json(&bytes).unwrap().config,
        l.to_string().into_bytes()
    );
    let mut cached: Value = serde_json::from_slice(&bytes).unwrap();
    cached["config"] = json!("[base64 of the conflist]");
    mask(
        &mut cached,
        &[
            (&cid, "[containerId]"),
            (ns.path(), "[netns]"),
            (&bridge, "[bridge]"),
            (&host_veth, "[host veth]"),
        ],
    );
    mask_macs(&mut cached);
    insta::assert_json_snapshot!("bridge_cache_file", cached);

    // CHECK sees everything in place.
    env.cni.check_network_list(&l, &rt).await.unwrap();

    // DEL removes the link, the reservation and the cache entry.
    env.cni.del_network_list(&l, &rt).await.unwrap();
    assert!(ns.link("eth0").is_none());
    assert!(host_link(&host_veth).is_none());
    assert!(host_ports_of(&bridge).is_empty());
    assert!(ipam_reservations(&env.data_dir(), "mrs-bridge").is_empty());
    assert!(!path.exists());

    // DEL again: everything is already gone, and that is fine.
    env.cni.del_network_list(&l, &rt).await.unwrap();
    assert!(ns.link("eth0").is_none());

    // CHECK after DEL: no cached result, the bridge plugin refuses.
    let err = env.cni.check_network_list(&l, &rt).await.unwrap_err();
    assert!(
        err.to_string()
            .starts_with(r#"plugin type="bridge" name="mrs-bridge" failed (check): "#),
        "{err}"
    );
}

#[tokio::test]
async fn check_reports_an_interface_that_disappeared() {
    if !common::privileged() {
        return;
    }
    let env = Env::new();
    let ns = TestNetns::new();
    let bridge_guard = HostLink::bridge(Some(BRIDGE_MAC));
    let bridge = bridge_guard.name().to_owned();
    let l = bridge_list(&env, "mrs-check", &bridge, "10.199.2.0/24", "0.4.0");
    let rt = RuntimeConf::new(container_id(), ns.path(), "net1");
    let result = env.cni.add_network_list(&l, &rt).await.unwrap();
    assert_eq!(result.version(), CniVersion::V0_4_0);
    env.cni.check_network_list(&l, &rt).await.unwrap();

    ns.ip(&["link", "del", "net1"]);
    let err = env.cni.check_network_list(&l, &rt).await.unwrap_err();
    let text = err.to_string();
    assert!(
        text.starts_with(r#"plugin type="bridge" name="mrs-check" failed (check): "#)
            && text.contains("net1"),
        "{text}"
    );
    assert!(
        err.plugin_error().is_some(),
        "the plugin printed a CNI error: {err:?}"
    );

    // DEL tolerates the missing interface and still frees the address.
    env.cni.del_network_list(&l, &rt).await.unwrap();
    assert!(ipam_reservations(&env.data_dir(), "mrs-check").is_empty());
    assert!(!env.cache_file_exists("mrs-check", &rt));
}

#[tokio::test]
async fn macvlan_on_a_veth_master() {
    if !common::privileged() {
        return;
    }
    let env = Env::new();
    let ns = TestNetns::new();
    let master = HostLink::veth_pair();
    let l = list(json!({
        "cniVersion": "1.0.0", "name": "mrs-macvlan",
        "plugins": [{"type": "macvlan", "master": master.name(), "mode": "bridge",
                     "ipam": env.ipam("10.199.3.0/24")}]
    }));
    let rt = RuntimeConf::new(container_id(), ns.path(), "net1");

    let result = env.cni.add_network_list(&l, &rt).await.unwrap();
    let net1 = ns.link("net1").unwrap();
    assert_eq!(net1["linkinfo"]["info_kind"], "macvlan");
    assert_eq!(net1["linkinfo"]["info_data"]["mode"], "bridge");
    assert_eq!(ns.cidrs4("net1"), ["10.199.3.2/24"]);
    let r = result.to_v1().unwrap();
    assert_eq!(r.interfaces.len(), 1);
    assert_eq!(r.interfaces[0].name, "net1");
    assert_eq!(r.interfaces[0].mac, net1["address"].as_str().unwrap());
    assert_eq!(
        ipam_reservations(&env.data_dir(), "mrs-macvlan"),
        ["10.199.3.2"]
    );

    env.cni.check_network_list(&l, &rt).await.unwrap();
    for _ in 0..2 {
        env.cni.del_network_list(&l, &rt).await.unwrap();
        assert!(ns.link("net1").is_none());
        assert!(ipam_reservations(&env.data_dir(), "mrs-macvlan").is_empty());
        assert!(!env.cache_file_exists("mrs-macvlan", &rt));
    }
    // The master is untouched.
    assert!(host_link(master.name()).is_some());
}

#[tokio::test]
async fn ptp_pair() {
    if !common::privileged() {
        return;
    }
    let env = Env::new();
    let ns = TestNetns::new();
    let l = list(json!({
        "cniVersion": "1.0.0", "name": "mrs-ptp",
        "plugins": [{"type": "ptp", "ipMasq": false, "ipam": env.ipam("10.199.4.0/24")}]
    }));
    let rt = RuntimeConf::new(container_id(), ns.path(), "eth0");

    let result = env.cni.add_network_list(&l, &rt).await.unwrap();
    let r = result.to_v1().unwrap();
    let host_side = r
        .interfaces
        .iter()
        .find(|i| i.sandbox.is_empty())
        .unwrap()
        .name
        .clone();
    // Guard the host end in case DEL fails below.
    let _host_guard = HostLink::adopt(&host_side);
    assert_eq!(
        host_link(&host_side).unwrap()["linkinfo"]["info_kind"],
        "veth"
    );
    assert_eq!(ns.link("eth0").unwrap()["linkinfo"]["info_kind"], "veth");
    assert_eq!(ns.cidrs4("eth0"), ["10.199.4.2/24"]);
    assert_eq!(r.ips[0].address.to_string(), "10.199.4.2/24");
    assert_eq!(
        ipam_reservations(&env.data_dir(), "mrs-ptp"),
        ["10.199.4.2"]
    );

    env.cni.check_network_list(&l, &rt).await.unwrap();
    env.cni.del_network_list(&l, &rt).await.unwrap();
    assert!(host_link(&host_side).is_none());
    assert!(ns.link("eth0").is_none());
    assert!(ipam_reservations(&env.data_dir(), "mrs-ptp").is_empty());
    env.cni.del_network_list(&l, &rt).await.unwrap();
}

#[tokio::test]
async fn loopback_up_and_down() {
    if !common::privileged() {
        return;
    }
    let env = Env::new();
    let ns = TestNetns::new();
    let is_up = |ns: &TestNetns| {
        ns.link("lo").unwrap()["flags"]
            .as_array()
            .unwrap()
            .iter()
            .any(|f| f == "UP")
    };
    assert!(!is_up(&ns), "a new namespace starts with lo down");
    let l =
        list(json!({"cniVersion": "1.0.0", "name": "mrs-lo", "plugins": [{"type": "loopback"}]}));
    let rt = RuntimeConf::new(container_id(), ns.path(), "lo");

    let result = env.cni.add_network_list(&l, &rt).await.unwrap();
    assert!(is_up(&ns));
    assert!(ns.cidrs4("lo").contains(&"127.0.0.1/8".to_owned()));
    let r = result.to_v1().unwrap();
    assert_eq!(r.interfaces[0].name, "lo");
    assert!(
        r.ips
            .iter()
            .any(|ip| ip.address.to_string() == "127.0.0.1/8")
    );

    env.cni.check_network_list(&l, &rt).await.unwrap();
    env.cni.del_network_list(&l, &rt).await.unwrap();
    assert!(!is_up(&ns));
    assert!(!env.cache_file_exists("mrs-lo", &rt));
}

#[tokio::test]
async fn failure_in_the_middle_of_a_list_then_del_cleans_up() {
    if !common::privileged() {
        return;
    }
    let env = Env::new();
    let ns = TestNetns::new();
    let bridge_guard = HostLink::bridge(Some(BRIDGE_MAC));
    let bridge = bridge_guard.name().to_owned();
    let l = list(json!({
        "cniVersion": "1.0.0", "name": "mrs-fail",
        "plugins": [
            {"type": "bridge", "bridge": bridge, "isGateway": false, "ipMasq": false,
             "ipam": env.ipam("10.199.5.0/24")},
            {"type": "tuning", "sysctl": {"net.core.mrs_no_such_sysctl": "1"}},
            {"type": "loopback"}
        ]
    }));
    let rt = RuntimeConf::new(container_id(), ns.path(), "eth0");

    let err = env.cni.add_network_list(&l, &rt).await.unwrap_err();
    let text = err.to_string();
    assert!(
        text.starts_with(r#"plugin type="tuning" name="mrs-fail" failed (add): "#)
            && text.contains("mrs_no_such_sysctl"),
        "{text}"
    );
    assert!(
        err.plugin_error().is_some(),
        "tuning prints a CNI error: {err:?}"
    );
    // The bridge step happened and is not undone here; nothing was cached.
    assert!(ns.link("eth0").is_some());
    assert_eq!(
        ipam_reservations(&env.data_dir(), "mrs-fail"),
        ["10.199.5.2"]
    );
    assert!(!env.cache_file_exists("mrs-fail", &rt));

    // The caller's DEL cleans up: no link, no reservation, no cache entry.
    env.cni.del_network_list(&l, &rt).await.unwrap();
    assert!(ns.link("eth0").is_none());
    assert!(host_ports_of(&bridge).is_empty());
    assert!(ipam_reservations(&env.data_dir(), "mrs-fail").is_empty());
    assert!(!env.cache_file_exists("mrs-fail", &rt));
    let links: Vec<_> = ns.links().iter().map(|l| l["ifname"].clone()).collect();
    assert_eq!(links, [json!("lo")]);
}

#[tokio::test]
async fn gc_deletes_the_stale_attachment_only() {
    if !common::privileged() {
        return;
    }
    let env = Env::new();
    let (ns_a, ns_b) = (TestNetns::new(), TestNetns::new());
    let bridge_guard = HostLink::bridge(Some(BRIDGE_MAC));
    let bridge = bridge_guard.name().to_owned();
    let l = bridge_list(&env, "mrs-gc", &bridge, "10.199.6.0/24", "1.0.0");
    let a = RuntimeConf::new(container_id(), ns_a.path(), "eth0");
    let b = RuntimeConf::new(container_id(), ns_b.path(), "eth0");
    env.cni.add_network_list(&l, &a).await.unwrap();
    env.cni.add_network_list(&l, &b).await.unwrap();
    assert_eq!(ipam_reservations(&env.data_dir(), "mrs-gc").len(), 2);
    let ip_b = ns_b.cidrs4("eth0");

    env.cni
        .gc_network_list(&l, Some(&[GcAttachment::new(&a.container_id, "eth0")]))
        .await
        .unwrap();
    assert!(ns_b.link("eth0").is_none());
    assert!(ns_a.link("eth0").is_some());
    let left = ipam_reservations(&env.data_dir(), "mrs-gc");
    assert_eq!(left.len(), 1);
    assert!(!ip_b[0].starts_with(&format!("{}/", left[0])));
    let cached: Vec<String> = env
        .cni
        .cached_attachments(None)
        .unwrap()
        .into_iter()
        .map(|e| e.container_id)
        .collect();
    assert_eq!(cached, std::slice::from_ref(&a.container_id));

    env.cni.del_network_list(&l, &a).await.unwrap();
    assert!(ipam_reservations(&env.data_dir(), "mrs-gc").is_empty());
}

#[tokio::test]
async fn version_negotiation_with_real_plugins() {
    if !common::privileged() {
        return;
    }
    let env = Env::new();
    let ns = TestNetns::new();
    let bridge_guard = HostLink::bridge(Some(BRIDGE_MAC));
    let bridge = bridge_guard.name().to_owned();
    let offered = list(json!({
        "cniVersion": "0.4.0", "cniVersions": ["0.4.0", "1.0.0", "1.1.0"], "name": "mrs-neg",
        "plugins": [
            {"type": "bridge", "bridge": bridge, "isGateway": false, "ipMasq": false,
             "ipam": env.ipam("10.199.7.0/24")},
            {"type": "tuning", "capabilities": {"mac": true}}
        ]
    }));
    // The list alone asks for 1.1.0, which these plugins (1.1.1) do not speak.
    assert_eq!(offered.cni_version_str(), "1.1.0");
    let info = env.cni.version_info("bridge").await.unwrap();
    assert!(
        info.supports("1.0.0") && !info.supports("1.1.0"),
        "{info:?}"
    );
    let err = env.cni.validate_network_list(&offered).await.unwrap_err();
    assert!(
        matches!(err, Error::Multiple { ref errors } if errors.len() == 2),
        "{err}"
    );
    let rt = RuntimeConf::new(container_id(), ns.path(), "eth0")
        .with_capability("mac", json!("c2:11:22:33:44:55"));
    let err = env.cni.add_network_list(&offered, &rt).await.unwrap_err();
    assert_eq!(err.cni_code(), ErrorCode::IncompatibleCniVersion, "{err}");
    assert!(ns.link("eth0").is_none());

    let v = env.cni.negotiate_version(&offered).await.unwrap();
    assert_eq!(v, CniVersion::V1_0_0);
    let l = list_with_version(&offered, v).unwrap();
    assert_eq!(env.cni.validate_network_list(&l).await.unwrap(), ["mac"]);
    let result = env.cni.add_network_list(&l, &rt).await.unwrap();
    assert_eq!(result.version(), CniVersion::V1_0_0);
    // tuning applied the mac capability.
    assert_eq!(ns.link("eth0").unwrap()["address"], "c2:11:22:33:44:55");
    env.cni.check_network_list(&l, &rt).await.unwrap();
    env.cni.del_network_list(&l, &rt).await.unwrap();
    assert!(ns.link("eth0").is_none());
    assert!(ipam_reservations(&env.data_dir(), "mrs-neg").is_empty());
}

#[tokio::test]
async fn pre_0_4_0_list() {
    if !common::privileged() {
        return;
    }
    let env = Env::new();
    let ns = TestNetns::new();
    let bridge_guard = HostLink::bridge(Some(BRIDGE_MAC));
    let bridge = bridge_guard.name().to_owned();
    let l = bridge_list(&env, "mrs-old", &bridge, "10.199.8.0/24", "0.3.1");
    let rt = RuntimeConf::new(container_id(), ns.path(), "eth0");
    let result = env.cni.add_network_list(&l, &rt).await.unwrap();
    assert_eq!(result.version(), CniVersion::V0_3_1);
    let v = result.to_value().unwrap();
    assert_eq!(v["ips"][0]["version"], "4");
    assert!(env.cache_file_exists("mrs-old", &rt));
    let err = env.cni.check_network_list(&l, &rt).await.unwrap_err();
    assert!(matches!(err, Error::UnsupportedCommand { .. }), "{err}");
    env.cni.del_network_list(&l, &rt).await.unwrap();
    assert!(ns.link("eth0").is_none());
    assert!(ipam_reservations(&env.data_dir(), "mrs-old").is_empty());
    assert!(!env.cache_file_exists("mrs-old", &rt));
}
