//! Devices end to end: the built `multus` binary with real plugins, the
//! stand-in kubelet (pod-resources gRPC on a unix socket) or a checkpoint
//! file, and DRA objects in the stand-in API server. What each delegate got
//! is proven by a recording plugin: it saves its stdin, writes a device-info
//! file where `CNIDeviceInfoFile` points (as SR-IOV CNI does), then execs
//! the real macvlan plugin with the same config.
//!
//! Needs root; fails (never skips) without it, unless `MULTUS_SKIP_PRIVILEGED=1`.

#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};

use common::{Fixture, NETWORK_STATUS, PodRef};
use multus_testsupport::kubelet::{Code, Kubelet};
use serde_json::{Value, json};

const SRIOV: &str = "intel.com/sriov";
const RESOURCE_NAME: &str = "k8s.v1.cni.cncf.io/resourceName";
const RECORDER: &str = "recording-macvlan";

/// The recording plugin and where it writes, for one test.
struct Recorder {
    bin_dir: PathBuf,
    records: PathBuf,
}

impl Recorder {
    fn new(fx: &Fixture) -> Self {
        let bin_dir = fx.tmp.path().join("bin");
        let records = fx.tmp.path().join("records");
        std::fs::create_dir_all(&bin_dir).unwrap();
        std::fs::create_dir_all(&records).unwrap();
        let script = format!(
            r#"#!/usr/bin/python3
import json, os, sys
data = sys.stdin.buffer.read()
cmd, ifname = os.environ.get("CNI_COMMAND", ""), os.environ.get("CNI_IFNAME", "")
with open(os.path.join({records:?}, cmd + "-" + ifname + ".json"), "wb") as f:
    f.write(data)
if cmd == "ADD":
    conf = json.loads(data)
    path = conf.get("runtimeConfig", {{}}).get("CNIDeviceInfoFile")
    if path and conf.get("deviceID"):
        os.makedirs(os.path.dirname(path), exist_ok=True)
        with open(path, "w") as f:
            json.dump({{"type": "pci", "version": "1.1.0", "pci": {{"pci-address": conf["deviceID"]}}}}, f)
r, w = os.pipe()
os.write(w, data)
os.close(w)
os.dup2(r, 0)
os.execv("/usr/lib/cni/macvlan", ["macvlan"])
"#,
            records = records.display().to_string()
        );
        let path = bin_dir.join(RECORDER);
        std::fs::write(&path, script).unwrap();
        std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o755)).unwrap();
        Self { bin_dir, records }
    }

    /// The config the delegate got for `command` on `ifname`.
    fn stdin(&self, command: &str, ifname: &str) -> Value {
        let path = self.records.join(format!("{command}-{ifname}.json"));
        let text = std::fs::read_to_string(&path)
            .unwrap_or_else(|e| panic!("no record {}: {e}", path.display()));
        serde_json::from_str(&text).unwrap()
    }

    fn recorded(&self) -> Vec<String> {
        let mut names: Vec<String> = std::fs::read_dir(&self.records)
            .unwrap()
            .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
            .collect();
        names.sort();
        names
    }
}

/// A macvlan network through the recording plugin, with the capabilities
/// SR-IOV CNI declares, its range `10.77.0.0/16`.
fn recorded_network(name: &str) -> Value {
    json!({
        "cniVersion": "0.4.0",
        "name": name,
        "type": RECORDER,
        "master": "eth0",
        "mode": "bridge",
        "capabilities": {"deviceID": true, "CNIDeviceInfoFile": true},
        "ipam": {"type": "host-local", "subnet": "10.77.0.0/16"}
    })
}

/// The multus config: binDir holds the recorder (the master's bridge is
/// found in CNI_PATH), the device sources at `socket` and `checkpoint`.
fn conf(fx: &Fixture, rec: &Recorder, socket: &Path, checkpoint: &Path) -> Value {
    let mut conf = fx.conf("0.4.0");
    conf["binDir"] = json!(rec.bin_dir);
    conf["podResourcesSocket"] = json!(socket);
    conf["deviceCheckpoint"] = json!(checkpoint);
    conf
}

fn sriov_pod(fx: &Fixture, rec_nads: usize) -> PodRef {
    let networks = vec!["sriov-net"; rec_nads];
    let nad_config = recorded_network("sriov-net");
    let mut nad = fx.insert_nad("default", "sriov-net", nad_config);
    nad["metadata"]["annotations"] = json!({RESOURCE_NAME: SRIOV});
    fx.server.try_insert(nad).unwrap();
    fx.insert_simple_pod("sriov-pod", &networks.join(", "))
}

fn status_entry<'a>(status: &'a [Value], ifname: &str) -> &'a Value {
    status
        .iter()
        .find(|e| e["interface"] == ifname)
        .unwrap_or_else(|| panic!("no {ifname} in {status:#?}"))
}

/// The device of one attachment as the delegate and network-status saw it.
fn assert_device(fx: &Fixture, rec: &Recorder, pod: &PodRef, ifname: &str, device: &str) {
    let stdin = rec.stdin("ADD", ifname);
    assert_eq!(stdin["deviceID"], device, "{stdin:#}");
    assert_eq!(stdin["pciBusID"], device, "{stdin:#}");
    assert_eq!(stdin["runtimeConfig"]["deviceID"], device, "{stdin:#}");
    let devinfo = stdin["runtimeConfig"]["CNIDeviceInfoFile"]
        .as_str()
        .unwrap();
    assert!(
        devinfo.starts_with("/var/run/k8s.cni.cncf.io/devinfo/cni/default-sriov-net-")
            || devinfo.starts_with("/var/run/k8s.cni.cncf.io/devinfo/cni/default-sf-net-"),
        "{devinfo}"
    );
    assert!(
        devinfo.ends_with(&format!("{}_{ifname}", fx.container_id)),
        "{devinfo}"
    );
    let status = fx.network_status(pod);
    assert_eq!(
        status_entry(&status, ifname)["device-info"],
        json!({"type": "pci", "version": "1.1.0", "pci": {"pci-address": device}}),
        "{status:#?}"
    );
}

fn devinfo_files(rec: &Recorder) -> Vec<String> {
    ["net1", "net2"]
        .iter()
        .filter(|i| rec.records.join(format!("ADD-{i}.json")).exists())
        .map(|i| {
            rec.stdin("ADD", i)["runtimeConfig"]["CNIDeviceInfoFile"]
                .as_str()
                .unwrap()
                .to_owned()
        })
        .collect()
}

/// Kubelet's pod-resources API: each attachment of the resource gets its
/// own device, in the delegate's config and in network-status; DEL removes
/// the generated device-info files.
#[test]
fn kubelet_devices_reach_the_delegates_once_each() {
    let Some(fx) = Fixture::new() else { return };
    let rec = Recorder::new(&fx);
    let kubelet = Kubelet::start_blocking().unwrap();
    let pod = sriov_pod(&fx, 2);
    kubelet.add_devices("default", "sriov-pod", "c", SRIOV, &["0000:03:02.1"]);
    kubelet.add_devices("default", "sriov-pod", "sidecar", SRIOV, &["0000:03:02.0"]);
    // A checkpoint with other devices: not read while the socket exists.
    let checkpoint = write_checkpoint(&fx, &pod, &["0000:05:00.0", "0000:05:00.1"]);
    let conf = conf(&fx, &rec, kubelet.socket(), &checkpoint);

    fx.add(&conf, &pod).assert_ok();
    assert_eq!(kubelet.list_calls(), 1);
    assert_device(&fx, &rec, &pod, "net1", "0000:03:02.0");
    assert_device(&fx, &rec, &pod, "net2", "0000:03:02.1");
    assert_eq!(fx.ns.link_names(), ["eth0", "lo", "net1", "net2"]);
    let devinfo = devinfo_files(&rec);
    assert!(
        devinfo.iter().all(|f| Path::new(f).is_file()),
        "{devinfo:?}"
    );

    fx.del(&conf, &pod).assert_ok();
    fx.assert_nothing_left(&[]);
    assert!(
        devinfo.iter().all(|f| !Path::new(f).exists()),
        "{devinfo:?}"
    );
    // DEL does not read devices again: the delegate cache has them.
    assert_eq!(rec.stdin("DEL", "net2")["deviceID"], "0000:03:02.1");
}

fn write_checkpoint(fx: &Fixture, pod: &PodRef, ids: &[&str]) -> PathBuf {
    let path = fx.tmp.path().join("kubelet_internal_checkpoint");
    let doc = json!({"Data": {"PodDeviceEntries": [
        {"PodUID": pod.uid, "ContainerName": "c", "ResourceName": SRIOV,
         "DeviceIDs": {"0": ids}, "AllocResp": "e30="}
    ], "RegisteredDevices": {}}, "Checksum": 1});
    std::fs::write(&path, doc.to_string()).unwrap();
    path
}

/// No pod-resources socket: the device-plugin checkpoint, as upstream.
#[test]
fn without_the_socket_the_checkpoint_gives_the_devices() {
    let Some(fx) = Fixture::new() else { return };
    let rec = Recorder::new(&fx);
    let pod = sriov_pod(&fx, 2);
    let checkpoint = write_checkpoint(&fx, &pod, &["0000:05:00.1", "0000:05:00.0"]);
    let conf = conf(
        &fx,
        &rec,
        &fx.tmp.path().join("no-kubelet.sock"),
        &checkpoint,
    );

    fx.add(&conf, &pod).assert_ok();
    assert_device(&fx, &rec, &pod, "net1", "0000:05:00.0");
    assert_device(&fx, &rec, &pod, "net2", "0000:05:00.1");
    fx.del(&conf, &pod).assert_ok();
    fx.assert_nothing_left(&[]);
}

/// A socket file nobody answers on (kubelet died): the ADD fails with the
/// resource-client error, before any delegate runs; no checkpoint fallback.
#[test]
fn a_socket_that_refuses_fails_the_add_before_any_delegate() {
    let Some(fx) = Fixture::new() else { return };
    let rec = Recorder::new(&fx);
    let mut kubelet = Kubelet::start_blocking().unwrap();
    let pod = sriov_pod(&fx, 1);
    let checkpoint = write_checkpoint(&fx, &pod, &["0000:05:00.0"]);
    kubelet.refuse_connections().unwrap();
    let conf = conf(&fx, &rec, kubelet.socket(), &checkpoint);

    let err = fx.add(&conf, &pod).assert_failed();
    let msg = err["msg"].as_str().unwrap();
    assert!(
        msg.contains(&format!(
            "failed to get a ResourceClient instance: cannot connect to kubelet's pod-resources socket {}",
            kubelet.socket().display()
        )),
        "{err:#}"
    );
    assert!(msg.contains("network default/sriov-net"), "{err:#}");
    assert_eq!(err["code"], 5, "{err:#}");
    assert!(rec.recorded().is_empty(), "{:?}", rec.recorded());
    fx.assert_nothing_left(&[]);
    assert!(
        fx.server
            .pod_annotation("default", "sriov-pod", NETWORK_STATUS)
            .is_none()
    );
}

/// A kubelet that answers with an error status, and one that does not
/// answer within upstream's 10 s call timeout: the ADD fails, nothing runs.
#[test]
fn a_failing_or_silent_kubelet_fails_the_add() {
    let Some(fx) = Fixture::new() else { return };
    let rec = Recorder::new(&fx);
    let kubelet = Kubelet::start_blocking().unwrap();
    let pod = sriov_pod(&fx, 1);
    let conf = conf(&fx, &rec, kubelet.socket(), &fx.tmp.path().join("none"));

    kubelet.fail_with(Some((Code::Unavailable, "kubelet is shutting down")));
    let err = fx.add(&conf, &pod).assert_failed();
    let msg = err["msg"].as_str().unwrap();
    assert!(
        msg.contains(
            "failed to get a ResourceClient instance: failed to list pod resources from kubelet at"
        ) && msg.contains("Unavailable: kubelet is shutting down"),
        "{err:#}"
    );

    kubelet.fail_with(None);
    kubelet.set_delay(std::time::Duration::from_secs(15));
    let run = fx.add(&conf, &pod);
    let err = run.assert_failed();
    assert!(
        err["msg"]
            .as_str()
            .unwrap()
            .contains("no answer within 10s"),
        "{err:#}"
    );
    assert!(
        run.elapsed >= std::time::Duration::from_secs(10)
            && run.elapsed < std::time::Duration::from_secs(14),
        "{:?}",
        run.elapsed
    );
    assert!(rec.recorded().is_empty(), "{:?}", rec.recorded());
    fx.assert_nothing_left(&[]);
}

fn dra_example(file: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../examples/dra")
        .join(file)
}

/// Loads `examples/dra/` (DeviceClass, ResourceSlice, ResourceClaim, pod)
/// and the NAD `sf-net` with the recording plugin in its config.
fn load_dra_example(fx: &Fixture) -> PodRef {
    for file in [
        "deviceclass.yaml",
        "resourceslice.yaml",
        "resourceclaim.yaml",
    ] {
        fx.server.load_file(dra_example(file)).unwrap();
    }
    let mut nad = common::guide_object_at(&dra_example("nad.yaml"));
    let mut config = recorded_network("sf-net");
    fx.rewrite_network(&mut config);
    nad["spec"]["config"] = json!(config.to_string());
    fx.server.try_insert(nad).unwrap();
    fx.insert_pod(common::guide_object_at(&dra_example("pod.yaml")))
}

/// The guide's DRA story on resource.k8s.io/v1: the claim's allocated
/// device, found in the node's ResourceSlice, reaches the delegate.
#[test]
fn the_guides_dra_example_from_claim_to_device_id() {
    let Some(fx) = Fixture::new() else { return };
    let rec = Recorder::new(&fx);
    let pod = load_dra_example(&fx);
    let none = fx.tmp.path().join("none");
    let conf = conf(&fx, &rec, &none.join("kubelet.sock"), &none);

    fx.add(&conf, &pod).assert_ok();
    assert_device(&fx, &rec, &pod, "net1", "0000:08:00.3");
    assert_eq!(rec.stdin("ADD", "net1")["type"], RECORDER);
    fx.del(&conf, &pod).assert_ok();
    fx.assert_nothing_left(&[]);
}

/// A claim the scheduler has not allocated: upstream's error, nothing attached.
#[test]
fn a_claim_without_allocation_fails_and_nothing_is_attached() {
    let Some(fx) = Fixture::new() else { return };
    let rec = Recorder::new(&fx);
    let pod = load_dra_example(&fx);
    let mut claim = fx
        .server
        .load_file(dra_example("resourceclaim.yaml"))
        .unwrap()
        .remove(0);
    claim.as_object_mut().unwrap().remove("status");
    fx.server.try_insert(claim).unwrap();
    let none = fx.tmp.path().join("none");
    let conf = conf(&fx, &rec, &none.join("kubelet.sock"), &none);

    let err = fx.add(&conf, &pod).assert_failed();
    assert!(
        err["msg"].as_str().unwrap().contains(
            "claim sf has no device allocation (pod default/test-sf-claim, network default/sf-net)"
        ),
        "{err:#}"
    );
    assert!(rec.recorded().is_empty(), "{:?}", rec.recorded());
    fx.assert_nothing_left(&[]);
}
