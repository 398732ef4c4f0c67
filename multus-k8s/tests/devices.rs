//! Where device IDs come from, through `node_devices`: kubelet's
//! pod-resources API (the stand-in kubelet, real gRPC on a unix socket) or
//! the device-plugin checkpoint, then DRA claims and slices from the
//! stand-in API server (`examples/dra/`, the guide's DRA story on
//! `resource.k8s.io/v1`).

#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use std::path::{Path, PathBuf};
use std::time::Duration;

use common::{Env, NETWORKS, RESOURCE_NAME};
use multus_k8s::devices::{DeviceOptions, node_devices};
use multus_k8s::resolve::{Plan, ResolveRequest, resolve};
use multus_k8s::{Error, client};
use multus_testsupport::kubelet::{Code, Kubelet};
use multus_types::{CniArgs, ToCniError};
use serde_json::json;

const SRIOV: &str = "intel.com/sriov";

fn dra_example(file: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../examples/dra")
        .join(file)
}

/// Options pointing at `socket` and `checkpoint`, with a DRA budget.
fn options(socket: &Path, checkpoint: &Path) -> DeviceOptions {
    DeviceOptions {
        pod_resources_socket: socket.to_owned(),
        checkpoint: checkpoint.to_owned(),
        ..DeviceOptions::default()
    }
}

/// Resolves `ns/name` with the node's devices read through `options`.
async fn plan(env: &Env, ns: &str, name: &str, options: &DeviceOptions) -> Result<Plan, Error> {
    let conf = env.conf(json!({}));
    let client = client::client_for_conf(&conf).await?.unwrap();
    let pod = env.pod(ns, name).await;
    let args = CniArgs::parse(&format!("K8S_POD_NAMESPACE={ns};K8S_POD_NAME={name}"))
        .unwrap()
        .k8s()
        .unwrap();
    let devices = node_devices(Some(&client), Some(&pod), options);
    let request = ResolveRequest::new(&conf, &args, common::CONTAINER_ID, "eth0")
        .with_pod(Some(&pod))
        .with_device_source(&devices);
    resolve(Some(&client), &request).await
}

fn device_ids(plan: &Plan) -> Vec<(&str, &str)> {
    plan.attachments
        .iter()
        .skip(1)
        .map(|a| (a.device_id.as_str(), a.resource_name.as_str()))
        .collect()
}

fn sriov_env_pod(env: &Env, networks: &str) {
    env.server.insert_nad(
        "default",
        "sriov-net",
        Some(r#"{"cniVersion":"0.3.1","type":"sriov"}"#),
        &[(RESOURCE_NAME, SRIOV)],
    );
    let mut pod = json!({
        "metadata": {"name": "p", "namespace": "default", "uid": "uid-p",
                     "annotations": {NETWORKS: networks}},
        "spec": {"containers": [{"name": "app", "image": "busybox"}]}
    });
    pod["metadata"]["annotations"][NETWORKS] = json!(networks);
    env.server.insert_pod(pod);
}

fn write_checkpoint(dir: &Path, uid: &str, ids: &[&str]) -> PathBuf {
    let path = dir.join("kubelet_internal_checkpoint");
    let doc = json!({"Data": {"PodDeviceEntries": [
        {"PodUID": uid, "ContainerName": "app", "ResourceName": SRIOV,
         "DeviceIDs": {"0": ids}, "AllocResp": "e30="}
    ], "RegisteredDevices": {}}, "Checksum": 1});
    std::fs::write(&path, doc.to_string()).unwrap();
    path
}

#[tokio::test]
async fn kubelet_first_then_the_checkpoint_only_without_its_socket() {
    let env = Env::new().await;
    sriov_env_pod(&env, "sriov-net, sriov-net");
    let stored_uid = env.server.pod("default", "p").unwrap()["metadata"]["uid"]
        .as_str()
        .unwrap()
        .to_owned();
    let checkpoint = write_checkpoint(
        env.dir.path(),
        &stored_uid,
        &["0000:05:00.0", "0000:05:00.1"],
    );
    let mut kubelet = Kubelet::start_blocking().unwrap();
    // Two containers of the pod: both count.
    kubelet.add_devices("default", "p", "app", SRIOV, &["0000:03:02.1"]);
    kubelet.add_devices("default", "p", "sidecar", SRIOV, &["0000:03:02.0"]);
    let opts = options(kubelet.socket(), &checkpoint);

    // The socket exists: kubelet's answer, the checkpoint is not read.
    let plan = plan(&env, "default", "p", &opts).await.unwrap();
    assert_eq!(
        device_ids(&plan),
        [("0000:03:02.0", SRIOV), ("0000:03:02.1", SRIOV)]
    );
    assert_eq!(kubelet.list_calls(), 1, "one List per resolve");

    // No socket: the checkpoint (matched by pod UID), as upstream.
    kubelet.remove_socket().unwrap();
    let plan = self::plan(&env, "default", "p", &opts).await.unwrap();
    assert_eq!(
        device_ids(&plan),
        [("0000:05:00.0", SRIOV), ("0000:05:00.1", SRIOV)]
    );

    // A socket nobody answers on: an error, no fallback.
    kubelet.refuse_connections().unwrap();
    let e = self::plan(&env, "default", "p", &opts).await.unwrap_err();
    let text = e.to_string();
    assert!(
        text.starts_with(&format!(
            "failed to get a ResourceClient instance: cannot connect to kubelet's pod-resources socket {}:",
            kubelet.socket().display()
        )),
        "{text}"
    );
    assert!(
        text.ends_with("(pod default/p, network default/sriov-net)"),
        "{text}"
    );
    assert!(matches!(e.root(), Error::PodResources { .. }), "{e:?}");
    assert_eq!(e.cni_code().code(), 5);
}

#[tokio::test]
async fn kubelet_is_not_asked_for_pods_without_a_resource() {
    let env = Env::new().await;
    sriov_env_pod(&env, "sriov-net");
    env.server.insert_nad(
        "default",
        "plain",
        Some(r#"{"cniVersion":"0.3.1","type":"macvlan"}"#),
        &[],
    );
    env.insert_pod("default", "q", &[(NETWORKS, "plain")]);
    let kubelet = Kubelet::start_blocking().unwrap();
    kubelet.fail_with(Some((Code::Internal, "must not be called")));
    let opts = options(kubelet.socket(), Path::new("/nonexistent"));
    let plan = plan(&env, "default", "q", &opts).await.unwrap();
    assert_eq!(plan.attachments.len(), 2);
    assert_eq!(kubelet.list_calls(), 0);
    // ... while a pod with one fails on the broken kubelet.
    let e = self::plan(&env, "default", "p", &opts).await.unwrap_err();
    assert!(
        e.to_string().contains("Internal: must not be called"),
        "{e}"
    );
    assert_eq!(kubelet.list_calls(), 1);
}

fn load_dra_example(env: &Env) {
    for file in [
        "deviceclass.yaml",
        "resourceslice.yaml",
        "resourceclaim.yaml",
        "nad.yaml",
        "pod.yaml",
    ] {
        env.server.load_file(dra_example(file)).unwrap();
    }
}

#[tokio::test]
async fn the_guides_dra_example_on_v1_from_claim_to_device_id() {
    let env = Env::new().await;
    load_dra_example(&env);
    let opts = options(
        Path::new("/nonexistent/kubelet.sock"),
        Path::new("/nonexistent"),
    );
    env.server.clear_requests();
    let plan = plan(&env, "default", "test-sf-claim", &opts).await.unwrap();
    assert_eq!(device_ids(&plan), [("0000:08:00.3", "sf-pool-1")]);
    assert_eq!(
        plan.attachments[1].conf.as_map()["deviceID"],
        "0000:08:00.3"
    );
    assert!(plan.warnings.is_empty(), "{:?}", plan.warnings);
    // One GET of the claim, one LIST of the node's slices of that driver.
    let claims = env.server.requests_matching(
        "GET",
        "/apis/resource.k8s.io/v1/namespaces/default/resourceclaims/sf",
    );
    assert_eq!(claims.len(), 1);
    let slices = env
        .server
        .requests_matching("GET", "/apis/resource.k8s.io/v1/resourceslices");
    assert_eq!(slices.len(), 1);
    assert!(
        slices[0].query.contains(
            "fieldSelector=spec.nodeName%3Dnode-1%2Cspec.driver%3Dnet.resource.nvidia.com"
        ),
        "{}",
        slices[0].query
    );
}

#[tokio::test]
async fn dra_devices_merge_with_kubelets_and_are_handed_out_once_each() {
    let env = Env::new().await;
    load_dra_example(&env);
    // Both devices of the slice allocated; the pod asks for the network twice.
    let mut claim = env
        .server
        .load_file(dra_example("resourceclaim.yaml"))
        .unwrap()
        .remove(0);
    claim["status"]["allocation"]["devices"]["results"] = json!([
        {"request": "sf", "driver": "net.resource.nvidia.com", "pool": "node-1", "device": "sf-2"},
        {"request": "sf", "driver": "net.resource.nvidia.com", "pool": "node-1", "device": "sf-1"}
    ]);
    env.server.try_insert(claim).unwrap();
    let mut pod = env.server.pod("default", "test-sf-claim").unwrap();
    pod["metadata"]["annotations"][NETWORKS] = json!("sf-net, sf-net, sf-net");
    env.server.insert_pod(pod);
    let kubelet = Kubelet::start_blocking().unwrap();
    kubelet.add_devices(
        "default",
        "test-sf-claim",
        "with-resource",
        "sf-pool-1",
        &["0000:08:00.0"],
    );
    let opts = options(kubelet.socket(), Path::new("/nonexistent"));
    env.server.clear_requests();
    let plan = plan(&env, "default", "test-sf-claim", &opts).await.unwrap();
    assert_eq!(
        device_ids(&plan),
        [
            ("0000:08:00.0", "sf-pool-1"),
            ("0000:08:00.2", "sf-pool-1"),
            ("0000:08:00.3", "sf-pool-1")
        ]
    );
    // Two devices of one driver on one node: one LIST.
    assert_eq!(
        env.server
            .requests_matching("GET", "/apis/resource.k8s.io/v1/resourceslices")
            .len(),
        1
    );
}

#[tokio::test]
async fn a_claim_without_allocation_fails() {
    let env = Env::new().await;
    load_dra_example(&env);
    let mut claim = env
        .server
        .load_file(dra_example("resourceclaim.yaml"))
        .unwrap()
        .remove(0);
    claim.as_object_mut().unwrap().remove("status");
    env.server.try_insert(claim).unwrap();
    let opts = options(Path::new("/nonexistent"), Path::new("/nonexistent"));
    let e = plan(&env, "default", "test-sf-claim", &opts)
        .await
        .unwrap_err();
    assert_eq!(
        e.to_string(),
        "claim sf has no device allocation (pod default/test-sf-claim, network default/sf-net)"
    );
    // A claim that does not exist: the API's answer.
    let mut pod = env.server.pod("default", "test-sf-claim").unwrap();
    pod["status"]["resourceClaimStatuses"][0]["resourceClaimName"] = json!("gone");
    env.server.insert_pod(pod);
    let e = plan(&env, "default", "test-sf-claim", &opts)
        .await
        .unwrap_err();
    assert!(
        e.to_string().starts_with(
            "failed to get ResourceClaim default/gone: resourceclaims.resource.k8s.io \"gone\" not found"
        ),
        "{e}"
    );
}

#[tokio::test]
async fn devices_without_the_attributes_are_skipped_with_a_warning() {
    let env = Env::new().await;
    load_dra_example(&env);
    let mut slice = env
        .server
        .load_file(dra_example("resourceslice.yaml"))
        .unwrap()
        .remove(0);
    slice["spec"]["devices"][1]["attributes"]
        .as_object_mut()
        .unwrap()
        .remove("k8s.cni.cncf.io/deviceID");
    env.server.try_insert(slice).unwrap();
    let opts = options(Path::new("/nonexistent"), Path::new("/nonexistent"));
    let plan = plan(&env, "default", "test-sf-claim", &opts).await.unwrap();
    assert_eq!(device_ids(&plan), [("", "")]);
    assert!(
        plan.warnings.iter().any(|w| w.contains("claim sf: device node-1/sf-2 of driver net.resource.nvidia.com lacks the string attribute")),
        "{:?}",
        plan.warnings
    );
}

/// The pod of an extended-resource claim: `resources.limits` of a device
/// class's extended resource name, the scheduler's claim in the status.
fn extended_pod(env: &Env, resource_name: &str) {
    env.server.insert_nad(
        "default",
        "nic-net",
        Some(r#"{"cniVersion":"0.3.1","type":"sriov"}"#),
        &[(RESOURCE_NAME, "example.com/nic")],
    );
    env.server.insert_pod(json!({
        "metadata": {"name": "ext", "namespace": "default",
                     "annotations": {NETWORKS: "nic-net"}},
        "spec": {"nodeName": "node-1",
                 "containers": [{"name": "app", "image": "busybox",
                                 "resources": {"limits": {"example.com/nic": "1"}}}]},
        "status": {"extendedResourceClaimStatus": {
            "resourceClaimName": "ext-extended-resources-q8z",
            "requestMappings": [{"containerName": "app", "resourceName": resource_name,
                                 "requestName": "container-0-request-0"}]}}
    }));
    env.server
        .try_insert(json!({
            "apiVersion": "resource.k8s.io/v1", "kind": "ResourceClaim",
            "metadata": {"name": "ext-extended-resources-q8z", "namespace": "default"},
            "spec": {"devices": {"requests": [{"name": "container-0-request-0",
                      "exactly": {"deviceClassName": "nic"}}]}},
            "status": {"allocation": {"devices": {"results": [
                {"request": "container-0-request-0", "driver": "nic.example.com",
                 "pool": "node-1", "device": "vf-0"}]}}}
        }))
        .unwrap();
    env.server
        .try_insert(json!({
            "apiVersion": "resource.k8s.io/v1", "kind": "ResourceSlice",
            "metadata": {"name": "node-1-nic"},
            "spec": {"driver": "nic.example.com", "nodeName": "node-1",
                     "pool": {"name": "node-1", "generation": 1, "resourceSliceCount": 1},
                     "devices": [{"name": "vf-0", "attributes": {
                         "k8s.cni.cncf.io/deviceID": {"string": "0000:3b:02.0"},
                         "k8s.cni.cncf.io/resourceName": {"string": "example.com/nic"}}}]}
        }))
        .unwrap();
}

#[tokio::test]
async fn extended_resource_claims_must_match_their_mapping() {
    let env = Env::new().await;
    extended_pod(&env, "example.com/nic");
    let opts = options(Path::new("/nonexistent"), Path::new("/nonexistent"));
    let plan = plan(&env, "default", "ext", &opts).await.unwrap();
    assert_eq!(device_ids(&plan), [("0000:3b:02.0", "example.com/nic")]);

    // The mapping names another resource than the device's attribute.
    let env = Env::new().await;
    extended_pod(&env, "example.com/other");
    let e = plan_err(&env, "ext").await;
    assert_eq!(
        e.to_string(),
        "claim ext-extended-resources-q8z: device node-1/vf-0 of driver nic.example.com (request \
         container-0-request-0): attribute k8s.cni.cncf.io/resourceName is \"example.com/nic\", \
         the request mapping expects \"example.com/other\" (pod default/ext, network default/nic-net)"
    );
    assert_eq!(e.cni_code().code(), 7);
}

async fn plan_err(env: &Env, name: &str) -> Error {
    let opts = options(Path::new("/nonexistent"), Path::new("/nonexistent"));
    plan(env, "default", name, &opts).await.unwrap_err()
}

#[tokio::test]
async fn dra_reads_have_an_overall_timeout() {
    let env = Env::new().await;
    load_dra_example(&env);
    env.server.set_delay_for(
        "/apis/resource.k8s.io/v1/resourceslices",
        Duration::from_secs(3),
    );
    let opts = DeviceOptions {
        dra_timeout: Duration::from_millis(500),
        ..options(Path::new("/nonexistent"), Path::new("/nonexistent"))
    };
    let start = std::time::Instant::now();
    let e = plan(&env, "default", "test-sf-claim", &opts)
        .await
        .unwrap_err();
    assert!(
        start.elapsed() < Duration::from_secs(2),
        "{:?}",
        start.elapsed()
    );
    assert!(matches!(e.root(), Error::DraTimeout { .. }), "{e:?}");
    assert_eq!(e.cni_code().code(), 11);
}

/// The thick daemon resolves on a multi-threaded runtime: the resolve with
/// the node's devices must be a `Send` future.
#[test]
fn resolving_with_node_devices_is_send() {
    fn assert_send<T: Send>(_: &T) {}
    fn check(
        client: &kube::Client,
        pod: &k8s_openapi::api::core::v1::Pod,
        conf: &multus_types::MultusConf,
        args: &multus_types::K8sArgs,
        options: &DeviceOptions,
    ) {
        let devices = node_devices(Some(client), Some(pod), options);
        let request = ResolveRequest::new(conf, args, "c", "eth0")
            .with_pod(Some(pod))
            .with_device_source(&devices);
        assert_send(&resolve(Some(client), &request));
    }
    let _ = check;
}
