//! The multus runner with the real plugins of the Debian package
//! `containernetworking-plugins` (`/usr/lib/cni`) in network namespaces made
//! for each test: a pod plan of a bridge + host-local list (eth0), a macvlan
//! on a veth master (net1) and a ptp list with its own interface name; the
//! delegate cache and libcni's result cache on disk; DEL (twice, with the
//! namespace gone, from a cache written in Go Multus's format); rollback of
//! a failing delegate. Assertions are on `ip -j` and the disk. Needs root;
//! fails (never skips) without it unless `MULTUS_SKIP_PRIVILEGED=1`.

#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use std::path::{Path, PathBuf};
use std::time::Duration;

use common::{BRIDGE_MAC, ipam_reservations, mask, mask_macs, mode};
use multus_delegate::multus::{AddHooks, Attachment, DelegateStep, PodContext, Runner};
use multus_delegate::{CacheEntry, Error, RuntimeConf};
use multus_testsupport::netns::{
    CNI_BIN, HostLink, TestNetns, host_link, host_ports_of, ip_json, random_hex,
};
use multus_types::{
    CniArgs, CniResult, CniVersion, DelegateConf, NetConf, NetConfList, RuntimeConfig,
};
use serde_json::{Value, json};
use tempfile::TempDir;

const MACVLAN_MAC: &str = "c2:11:22:33:44:55";

/// The CLI's interface-name check, done with `ip` (upstream: `validateIfName`).
struct IfnameCheck {
    netns: String,
}

impl AddHooks for IfnameCheck {
    async fn before_add(&mut self, step: &DelegateStep<'_>) -> Result<(), Error> {
        let ifname = &step.runtime_conf.ifname;
        let exists = ip_json(&["-n", &self.netns, "link", "show", "dev", ifname]).is_some();
        if exists {
            return Err(Error::hook(format!(
                "validateIfName: interface name {ifname} already exists"
            )));
        }
        Ok(())
    }
}

/// The pod: a namespace, a bridge and a veth (macvlan master) of its own,
/// cniDir and host-local dataDir in a temporary directory.
struct Pod {
    tmp: TempDir,
    ns: TestNetns,
    bridge: HostLink,
    master: HostLink,
    runner: Runner,
    ctx: PodContext,
}

impl Pod {
    fn new() -> Self {
        let tmp = tempfile::tempdir().unwrap();
        let ns = TestNetns::new();
        let bridge = HostLink::bridge(Some(BRIDGE_MAC));
        let master = HostLink::veth_pair();
        let runner = Runner::new(tmp.path().join("multus"), CNI_BIN, "")
            .with_timeout(Some(Duration::from_secs(60)))
            .with_del_cni_version("0.3.1");
        let cid = format!("ctr-{}", random_hex(12));
        let uid = format!("uid-{}", random_hex(8));
        let args = CniArgs::parse(&format!(
            "IgnoreUnknown=1;K8S_POD_NAMESPACE=mrs-ns;K8S_POD_NAME=web-0;K8S_POD_INFRA_CONTAINER_ID={cid};K8S_POD_UID={uid}"
        ))
        .unwrap();
        let ctx = PodContext::new(&cid, ns.path(), "eth0")
            .with_runtime_args(args)
            .unwrap();
        Self {
            tmp,
            ns,
            bridge,
            master,
            runner,
            ctx,
        }
    }

    fn cni_dir(&self) -> PathBuf {
        self.tmp.path().join("multus")
    }

    fn data_dir(&self) -> PathBuf {
        self.tmp.path().join("ipam")
    }

    fn ipam(&self, subnet: &str) -> Value {
        json!({"type": "host-local", "subnet": subnet, "dataDir": self.data_dir()})
    }

    fn bridge_list(&self, name: &str, subnet: &str) -> DelegateConf {
        DelegateConf::from_value(json!({
            "cniVersion": "1.0.0", "name": name,
            "plugins": [{"type": "bridge", "bridge": self.bridge.name(), "isGateway": false,
                         "ipMasq": false, "ipam": self.ipam(subnet)}]
        }))
        .unwrap()
    }

    fn macvlan(&self, name: &str, subnet: &str) -> DelegateConf {
        DelegateConf::from_value(json!({
            "cniVersion": "1.0.0", "name": name, "type": "macvlan",
            "master": self.master.name(), "mode": "bridge", "ipam": self.ipam(subnet)
        }))
        .unwrap()
    }

    fn ptp_list(&self, name: &str, subnet: &str) -> DelegateConf {
        DelegateConf::from_value(json!({
            "cniVersion": "0.4.0", "name": name,
            "plugins": [{"type": "ptp", "ipMasq": false, "ipam": self.ipam(subnet)}]
        }))
        .unwrap()
    }

    /// The three-delegate plan of these tests.
    fn plan(&self) -> Vec<Attachment> {
        let mut master = Attachment::new(
            self.bridge_list("mrs-pod-net", "10.198.1.0/24"),
            "eth0",
            "mrs-pod-net",
        );
        master.master = true;
        let mut macvlan = Attachment::new(
            self.macvlan("mrs-macvlan", "10.198.2.0/24"),
            "net1",
            "mrs-ns/mrs-macvlan",
        );
        macvlan.mac_request = MACVLAN_MAC.into();
        macvlan.ip_request = Some(vec!["10.198.2.50".into()]);
        let ptp = Attachment::new(
            self.ptp_list("mrs-ptp", "10.198.3.0/24"),
            "mrsptp",
            "mrs-ns/mrs-ptp",
        );
        vec![master, macvlan, ptp]
    }

    fn result_cache(&self, network: &str, ifname: &str) -> PathBuf {
        self.cni_dir()
            .join("results")
            .join(format!("{network}-{}-{ifname}", self.ctx.container_id))
    }

    fn results_dir_entries(&self) -> Vec<String> {
        std::fs::read_dir(self.cni_dir().join("results"))
            .map(|d| {
                d.map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
                    .collect()
            })
            .unwrap_or_default()
    }

    fn delegate_cache_file(&self) -> PathBuf {
        self.cni_dir().join(&self.ctx.container_id)
    }

    /// DEL the way the CLI does it from the delegate cache.
    async fn del_from_cache(&self) -> Result<bool, Error> {
        let cache = self.runner.delegate_cache();
        let Some(plan) = cache.read(&self.ctx.container_id, "eth0", &RuntimeConfig::default())?
        else {
            return Ok(false);
        };
        self.runner.del_cached(&self.ctx, plan).await?;
        cache.remove(&self.ctx.container_id)?;
        Ok(true)
    }

    /// Nothing of the pod is left: only `lo` in the namespace, no address
    /// reserved, no cache file, no port on the bridge.
    fn assert_all_gone(&self, networks: &[&str]) {
        for net in networks {
            assert!(
                ipam_reservations(&self.data_dir(), net).is_empty(),
                "{net}: {:?}",
                ipam_reservations(&self.data_dir(), net)
            );
        }
        assert!(
            self.results_dir_entries().is_empty(),
            "{:?}",
            self.results_dir_entries()
        );
        assert!(!self.delegate_cache_file().exists());
        assert!(host_ports_of(self.bridge.name()).is_empty());
    }
}

/// The host veth of a bridge or ptp result (no sandbox, not the bridge).
fn host_side(result: &CniResult, bridge: &str) -> String {
    result
        .to_v1()
        .unwrap()
        .interfaces
        .iter()
        .find(|i| i.sandbox.is_empty() && i.name != bridge)
        .unwrap()
        .name
        .clone()
}

/// The delegate cache file as JSON, `Bytes` decoded and everything random masked.
fn masked_delegate_cache(pod: &Pod, bytes: &[u8]) -> Value {
    let mut v: Value = serde_json::from_slice(bytes).unwrap();
    for entry in v.as_array_mut().unwrap() {
        let decoded = decode_b64(entry["Bytes"].as_str().unwrap());
        entry["Bytes"] = json!({ "base64 of": serde_json::from_slice::<Value>(&decoded).unwrap() });
    }
    let data_dir = pod.data_dir().display().to_string();
    mask(
        &mut v,
        &[
            (&pod.ctx.container_id, "[containerId]"),
            (&data_dir, "[dataDir]"),
            (pod.bridge.name(), "[bridge]"),
            (pod.master.name(), "[veth master]"),
        ],
    );
    v
}

/// Standard base64 decoding for the test's own checks.
fn decode_b64(s: &str) -> Vec<u8> {
    const ALPHABET: &[u8] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    let mut out = Vec::new();
    let (mut acc, mut bits) = (0u32, 0u32);
    for c in s.bytes().filter(|c| *c != b'=') {
        let v = u32::try_from(ALPHABET.iter().position(|a| *a == c).unwrap()).unwrap();
        acc = (acc << 6) | v;
        bits += 6;
        if bits >= 8 {
            bits -= 8;
            out.push(u8::try_from((acc >> bits) & 0xff).unwrap());
        }
    }
    out
}

fn encode_b64(input: &[u8]) -> String {
    use base64::Engine as _;
    base64::engine::general_purpose::STANDARD.encode(input)
}

fn cached_cni_args(path: &Path) -> Vec<(String, String)> {
    let entry = CacheEntry::from_json(&std::fs::read(path).unwrap()).unwrap();
    entry.cni_args.pairs().to_vec()
}

#[tokio::test]
async fn a_pod_plan_is_added_checked_and_deleted() {
    if !common::privileged() {
        return;
    }
    let pod = Pod::new();
    let plan = pod.plan();
    let mut hooks = IfnameCheck {
        netns: pod.ns.name().to_owned(),
    };

    let outcome = pod.runner.add(&pod.ctx, &plan, &mut hooks).await.unwrap();

    // The kernel: three interfaces with their addresses.
    assert_eq!(pod.ns.link_names(), ["eth0", "lo", "mrsptp", "net1"]);
    assert_eq!(pod.ns.cidrs4("eth0"), ["10.198.1.2/24"]);
    assert_eq!(
        pod.ns.cidrs4("net1"),
        ["10.198.2.50/24"],
        "IP= from the ips request"
    );
    assert_eq!(pod.ns.cidrs4("mrsptp"), ["10.198.3.2/24"]);
    assert_eq!(
        pod.ns.link("eth0").unwrap()["linkinfo"]["info_kind"],
        "veth"
    );
    let net1 = pod.ns.link("net1").unwrap();
    assert_eq!(net1["linkinfo"]["info_kind"], "macvlan");
    assert_eq!(net1["address"], MACVLAN_MAC, "MAC= from the mac request");
    assert_eq!(
        pod.ns.link("mrsptp").unwrap()["linkinfo"]["info_kind"],
        "veth"
    );
    assert_eq!(host_ports_of(pod.bridge.name()).len(), 1);

    // The results, each in its delegate's own version; the master's first.
    assert_eq!(outcome.master, 0);
    let versions: Vec<CniVersion> = outcome.results.iter().map(CniResult::version).collect();
    assert_eq!(
        versions,
        [CniVersion::V1_0_0, CniVersion::V1_0_0, CniVersion::V0_4_0]
    );
    let master = outcome.master_result().unwrap().to_v1().unwrap();
    assert_eq!(master.ips[0].address.to_string(), "10.198.1.2/24");
    let bridge_veth = host_side(&outcome.results[0], pod.bridge.name());
    let ptp_veth = host_side(&outcome.results[2], pod.bridge.name());
    let _ptp_guard = HostLink::adopt(&ptp_veth);
    assert!(host_link(&ptp_veth).is_some());

    // host-local's reservations.
    assert_eq!(
        ipam_reservations(&pod.data_dir(), "mrs-pod-net"),
        ["10.198.1.2"]
    );
    assert_eq!(
        ipam_reservations(&pod.data_dir(), "mrs-macvlan"),
        ["10.198.2.50"]
    );
    assert_eq!(
        ipam_reservations(&pod.data_dir(), "mrs-ptp"),
        ["10.198.3.2"]
    );

    // libcni's result cache in cniDir, one entry per delegate, with the CNI_ARGS delegates got.
    let cid = pod.ctx.container_id.clone();
    let mut entries = pod.results_dir_entries();
    entries.sort();
    assert_eq!(
        entries,
        [
            format!("mrs-macvlan-{cid}-net1"),
            format!("mrs-pod-net-{cid}-eth0"),
            format!("mrs-ptp-{cid}-mrsptp")
        ]
    );
    let base = pod.ctx.delegate_args().to_string();
    let joined = |pairs: Vec<(String, String)>| {
        pairs
            .into_iter()
            .map(|(k, v)| format!("{k}={v}"))
            .collect::<Vec<_>>()
            .join(";")
    };
    assert_eq!(
        joined(cached_cni_args(&pod.result_cache("mrs-pod-net", "eth0"))),
        base
    );
    assert_eq!(
        joined(cached_cni_args(&pod.result_cache("mrs-macvlan", "net1"))),
        format!("{base};MAC={MACVLAN_MAC};IP=10.198.2.50")
    );
    assert!(base.starts_with("IgnoreUnknown=true;K8S_POD_NAMESPACE=mrs-ns;K8S_POD_NAME=web-0;"));

    // The delegate cache: modes, exact Bytes, upstream's layout.
    let file = pod.delegate_cache_file();
    assert_eq!(mode(&file), 0o600);
    assert_eq!(mode(&pod.cni_dir()), 0o700);
    let bytes = std::fs::read(&file).unwrap();
    let raw: Value = serde_json::from_slice(&bytes).unwrap();
    for (entry, attachment) in raw.as_array().unwrap().iter().zip(&plan) {
        let decoded = decode_b64(entry["Bytes"].as_str().unwrap());
        assert_eq!(
            decoded,
            Value::Object(attachment.conf.as_map().clone())
                .to_string()
                .into_bytes()
        );
    }
    let mut masked = masked_delegate_cache(&pod, &bytes);
    mask_macs(&mut masked);
    insta::assert_json_snapshot!("plan_delegate_cache_file", masked);

    // CHECK sees everything in place.
    pod.runner.check(&pod.ctx, &plan).await.unwrap();

    // DEL from the delegate cache, as the CLI does.
    assert!(pod.del_from_cache().await.unwrap());
    assert_eq!(pod.ns.link_names(), ["lo"]);
    assert!(host_link(&bridge_veth).is_none());
    assert!(host_link(&ptp_veth).is_none());
    assert!(
        host_link(pod.master.name()).is_some(),
        "the macvlan master stays"
    );
    pod.assert_all_gone(&["mrs-pod-net", "mrs-macvlan", "mrs-ptp"]);

    // DEL twice: no cache any more (nothing to do), and a DEL of the plan
    // itself is fine with everything already gone.
    assert!(!pod.del_from_cache().await.unwrap());
    pod.runner.del(&pod.ctx, &plan).await.unwrap();
    pod.assert_all_gone(&["mrs-pod-net", "mrs-macvlan", "mrs-ptp"]);
}

#[tokio::test]
async fn del_works_after_the_namespace_is_gone() {
    if !common::privileged() {
        return;
    }
    let pod = Pod::new();
    let plan = pod.plan();
    let outcome = pod.runner.add(&pod.ctx, &plan, &mut ()).await.unwrap();
    let ptp_veth = host_side(&outcome.results[2], pod.bridge.name());
    let _ptp_guard = HostLink::adopt(&ptp_veth);

    pod.ns.delete();
    assert!(!Path::new(pod.ns.path()).exists());

    assert!(pod.del_from_cache().await.unwrap());
    pod.assert_all_gone(&["mrs-pod-net", "mrs-macvlan", "mrs-ptp"]);
    assert!(host_link(&ptp_veth).is_none());
    // Again, straight from the plan: still fine.
    pod.runner.del(&pod.ctx, &plan).await.unwrap();
}

#[tokio::test]
async fn a_failing_middle_delegate_leaves_nothing_behind() {
    if !common::privileged() {
        return;
    }
    let pod = Pod::new();
    let second_bridge = HostLink::bridge(Some(BRIDGE_MAC));
    let mut master = Attachment::new(
        pod.bridge_list("mrs-pod-net", "10.198.11.0/24"),
        "eth0",
        "mrs-pod-net",
    );
    master.master = true;
    let failing = Attachment::new(
        DelegateConf::from_value(json!({
            "cniVersion": "1.0.0", "name": "mrs-bad",
            "plugins": [
                {"type": "bridge", "bridge": second_bridge.name(), "isGateway": false, "ipMasq": false,
                 "ipam": pod.ipam("10.198.12.0/24")},
                {"type": "tuning", "sysctl": {"net.core.mrs_no_such_sysctl": "1"}}
            ]
        }))
        .unwrap(),
        "net1",
        "mrs-ns/mrs-bad",
    );
    let never = Attachment::new(
        pod.ptp_list("mrs-never", "10.198.13.0/24"),
        "net2",
        "mrs-ns/mrs-never",
    );
    let plan = vec![master, failing, never];
    let mut hooks = IfnameCheck {
        netns: pod.ns.name().to_owned(),
    };

    let err = pod
        .runner
        .add(&pod.ctx, &plan, &mut hooks)
        .await
        .unwrap_err();

    let text = err.to_string();
    let prefix = format!(
        "[mrs-ns/web-0/{}:mrs-bad]: error adding container to network \"mrs-bad\": plugin type=\"tuning\" name=\"mrs-bad\" failed (add): ",
        pod.ctx.k8s.pod_uid
    );
    assert!(
        text.starts_with(&prefix) && text.contains("mrs_no_such_sysctl"),
        "{text}"
    );
    let Error::DelegateAdd {
        index,
        rollback_errors,
        ..
    } = &err
    else {
        panic!("{err:?}")
    };
    assert_eq!(*index, 1);
    assert!(rollback_errors.is_empty(), "{rollback_errors:?}");
    // Rolled back: no link, no reservation, no result-cache entry, no delegate cache.
    assert_eq!(pod.ns.link_names(), ["lo"]);
    assert!(host_ports_of(second_bridge.name()).is_empty());
    pod.assert_all_gone(&["mrs-pod-net", "mrs-bad", "mrs-never"]);
    // The third delegate never ran.
    assert!(!pod.data_dir().join("mrs-never").exists());
}

/// A pod attached by Go Multus: its delegates were run by libcni (same
/// result cache layout, upstream's CNI_ARGS), and its delegate cache was
/// written by Go's `json.Marshal`. This crate deletes it from that file.
#[tokio::test]
async fn a_pod_added_by_go_multus_is_deleted_from_its_cache() {
    if !common::privileged() {
        return;
    }
    let pod = Pod::new();
    let cid = pod.ctx.container_id.clone();
    // The configs exactly as upstream stored them in Bytes (a NAD's spec.config verbatim).
    let master_bytes = format!(
        r#"{{"cniVersion":"0.3.1","name":"mrs-go-pod","plugins":[{{"type":"bridge","bridge":"{}","isGateway":false,"ipMasq":false,"ipam":{{"type":"host-local","subnet":"10.198.21.0/24","dataDir":"{}"}}}}]}}"#,
        pod.bridge.name(),
        pod.data_dir().display()
    );
    let nad_bytes = format!(
        r#"{{ "cniVersion": "1.0.0", "type": "macvlan", "master": "{}", "mode": "bridge", "ipam": {{ "type": "host-local", "subnet": "10.198.22.0/24", "dataDir": "{}" }}, "name": "mrs-go-macvlan" }}"#,
        pod.master.name(),
        pod.data_dir().display()
    );

    // What Go Multus did on ADD: libcni with cniDir as cache dir and its CNI_ARGS.
    let base_args = pod.ctx.delegate_args();
    let cni = pod.runner.cni();
    let list = NetConfList::from_bytes(master_bytes.as_bytes()).unwrap();
    let rt0 = RuntimeConf::new(&cid, pod.ns.path(), "eth0").with_args(base_args.clone());
    cni.add_network_list(&list, &rt0).await.unwrap();
    let conf = NetConf::from_bytes(nad_bytes.as_bytes()).unwrap();
    let rt1 = RuntimeConf::new(&cid, pod.ns.path(), "net1")
        .with_args(base_args)
        .with_arg("MAC", MACVLAN_MAC)
        .with_capability("mac", json!(MACVLAN_MAC));
    cni.add_network(&conf, &rt1).await.unwrap();
    assert_eq!(pod.ns.link_names(), ["eth0", "lo", "net1"]);
    assert_eq!(ipam_reservations(&pod.data_dir(), "mrs-go-pod").len(), 1);
    assert_eq!(
        ipam_reservations(&pod.data_dir(), "mrs-go-macvlan").len(),
        1
    );

    // The delegate cache exactly as Go Multus writes it.
    let file = format!(
        concat!(
            r#"[{{"Conf":{{"cniVersion":"0.3.1","ipam":{{}},"name":"mrs-go-pod"}},"#,
            r#""ConfList":{{"cniVersion":"0.3.1","name":"mrs-go-pod","plugins":[{{"ipam":{{"type":"host-local"}},"type":"bridge"}}]}},"#,
            r#""Name":"mrs-go-pod","IsFilterV4Gateway":false,"IsFilterV6Gateway":false,"Bytes":"{m}"}},"#,
            r#"{{"Conf":{{"cniVersion":"1.0.0","ipam":{{"type":"host-local"}},"name":"mrs-go-macvlan","type":"macvlan"}},"#,
            r#""ConfList":{{}},"Name":"mrs-ns/mrs-go-macvlan","macRequest":"{mac}","#,
            r#""IsFilterV4Gateway":false,"IsFilterV6Gateway":false,"Bytes":"{n}"}}]"#
        ),
        m = encode_b64(master_bytes.as_bytes()),
        n = encode_b64(nad_bytes.as_bytes()),
        mac = MACVLAN_MAC
    );
    std::fs::create_dir_all(pod.cni_dir()).unwrap();
    std::fs::write(pod.delegate_cache_file(), file).unwrap();

    // Read back: the plan upstream would rebuild.
    let plan = pod
        .runner
        .delegate_cache()
        .read(&cid, "eth0", &RuntimeConfig::default())
        .unwrap()
        .unwrap();
    let attachments: Vec<&Attachment> = plan.attachments().collect();
    assert_eq!(attachments.len(), 2);
    assert!(attachments[0].master && attachments[0].is_list());
    assert_eq!(attachments[1].ifname, "net1");
    assert_eq!(attachments[1].runtime_config.mac, MACVLAN_MAC);

    assert!(pod.del_from_cache().await.unwrap());
    assert_eq!(pod.ns.link_names(), ["lo"]);
    pod.assert_all_gone(&["mrs-go-pod", "mrs-go-macvlan"]);
}

/// A NAD whose conflist names a plugin that is not installed (a typo): the
/// ADD fails before any delegate runs, so no interface and no IP allocation
/// exists for a rollback to miss, and no cache is written. (libcni and Go
/// Multus run the bridge first; the rollback's DEL then stops at the
/// missing plugin and the address is lost for good, one more per retry.)
#[tokio::test]
async fn a_missing_plugin_in_a_later_list_fails_before_anything_runs() {
    if !common::privileged() {
        return;
    }
    let pod = Pod::new();
    let mut master = Attachment::new(
        pod.bridge_list("mrs-pod-net", "10.198.31.0/24"),
        "eth0",
        "mrs-pod-net",
    );
    master.master = true;
    let typo = Attachment::new(
        DelegateConf::from_value(json!({
            "cniVersion": "1.0.0", "name": "mrs-typo",
            "plugins": [
                {"type": "ptp", "ipMasq": false, "ipam": pod.ipam("10.198.32.0/24")},
                {"type": "no-such-plugin"}
            ]
        }))
        .unwrap(),
        "net1",
        "mrs-ns/mrs-typo",
    );
    let plan = vec![master, typo];
    for attempt in 0..3 {
        let err = pod.runner.add(&pod.ctx, &plan, &mut ()).await.unwrap_err();
        let text = err.to_string();
        assert!(
            text.contains("error adding container to network \"mrs-typo\"")
                && text.contains(r#"plugin type="no-such-plugin" name="mrs-typo" failed (add)"#)
                && text.contains(r#"failed to find plugin "no-such-plugin" in path"#),
            "attempt {attempt}: {text}"
        );
        assert!(
            matches!(err, Error::DelegateAdd { index: 1, .. }),
            "{err:?}"
        );
        assert_eq!(pod.ns.link_names(), ["lo"], "attempt {attempt}");
        pod.assert_all_gone(&["mrs-pod-net", "mrs-typo"]);
        assert!(
            !pod.data_dir().exists(),
            "host-local ran on attempt {attempt}"
        );
    }
}

/// A plugin removed between ADD and DEL (an upgrade that dropped it, a bin
/// dir that changed): DEL goes on past it, so the plugins before it in the
/// list, IPAM among them, are still deleted; the missing one is reported.
#[tokio::test]
async fn del_goes_on_past_a_plugin_that_is_gone() {
    if !common::privileged() {
        return;
    }
    let pod = Pod::new();
    let extra_bin = pod.tmp.path().join("extra-bin");
    std::fs::create_dir_all(&extra_bin).unwrap();
    std::fs::copy(
        Path::new(CNI_BIN).join("tuning"),
        extra_bin.join("mrs-tuning"),
    )
    .unwrap();
    let runner = Runner::new(pod.cni_dir(), CNI_BIN, &extra_bin.display().to_string())
        .with_timeout(Some(Duration::from_secs(60)));
    let mut master = Attachment::new(
        DelegateConf::from_value(json!({
            "cniVersion": "1.0.0", "name": "mrs-chain",
            "plugins": [
                {"type": "bridge", "bridge": pod.bridge.name(), "isGateway": false, "ipMasq": false,
                 "ipam": pod.ipam("10.198.33.0/24")},
                {"type": "mrs-tuning", "mtu": 1400}
            ]
        }))
        .unwrap(),
        "eth0",
        "mrs-chain",
    );
    master.master = true;
    let plan = vec![master];
    runner.add(&pod.ctx, &plan, &mut ()).await.unwrap();
    assert_eq!(pod.ns.link_names(), ["eth0", "lo"]);
    assert_eq!(ipam_reservations(&pod.data_dir(), "mrs-chain").len(), 1);

    std::fs::remove_file(extra_bin.join("mrs-tuning")).unwrap();
    let err = runner.del(&pod.ctx, &plan).await.unwrap_err();
    let text = err.to_string();
    assert!(
        text.contains(r#"plugin type="mrs-tuning" name="mrs-chain" failed (delete)"#)
            && text.contains(r#"failed to find plugin "mrs-tuning""#),
        "{text}"
    );
    // Everything the bridge and host-local made is gone all the same.
    assert_eq!(pod.ns.link_names(), ["lo"]);
    assert!(ipam_reservations(&pod.data_dir(), "mrs-chain").is_empty());
    assert!(host_ports_of(pod.bridge.name()).is_empty());
}
