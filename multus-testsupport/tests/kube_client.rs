//! The stand-in API server exercised by the real `kube` client through a kubeconfig it wrote.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use std::time::Duration;

use common::{TempDir, api_code, client_from_file, config_from_file, guide_dir, raw_http};
use k8s_openapi::api::core::v1::{Event as CoreEvent, ObjectReference, Pod};
use k8s_openapi::api::events::v1::Event;
use k8s_openapi::apimachinery::pkg::apis::meta::v1::{MicroTime, ObjectMeta};
use kube::api::{
    Api, ApiResource, DeleteParams, DynamicObject, GroupVersionKind, ListParams, Patch,
    PatchParams, PostParams,
};
use multus_testsupport::{ApiServer, Fault, STAND_IN_TOKEN};
use serde_json::{Value, json};

const NETWORKS: &str = "k8s.v1.cni.cncf.io/networks";
const NETWORK_STATUS: &str = "k8s.v1.cni.cncf.io/network-status";

/// A started server with a kubeconfig written next to it, and a client built from that file.
struct Setup {
    server: ApiServer,
    client: kube::Client,
    _dir: TempDir,
}

async fn setup() -> Setup {
    let server = ApiServer::start().await.unwrap();
    let dir = TempDir::new("kube");
    let kubeconfig = dir.path().join("multus.kubeconfig");
    server.write_kubeconfig(&kubeconfig).unwrap();
    let client = client_from_file(&kubeconfig).await;
    Setup {
        server,
        client,
        _dir: dir,
    }
}

fn pod_json(ns: &str, name: &str, networks: &str) -> Value {
    json!({
        "metadata": {"name": name, "namespace": ns, "annotations": {NETWORKS: networks}},
        "spec": {"containers": [{"name": name, "image": "docker.io/centos/tools:latest"}]}
    })
}

fn nad_resource() -> ApiResource {
    let gvk = GroupVersionKind::gvk("k8s.cni.cncf.io", "v1", "NetworkAttachmentDefinition");
    ApiResource::from_gvk_with_plural(&gvk, "network-attachment-definitions")
}

#[tokio::test]
async fn get_pod_through_a_kubeconfig() {
    let s = setup().await;
    let inserted = s.server.insert_pod(pod_json(
        "default",
        "pod-case-01",
        "macvlan-conf-1, macvlan-conf-2",
    ));
    let pods: Api<Pod> = Api::namespaced(s.client.clone(), "default");
    let pod = pods.get("pod-case-01").await.unwrap();
    assert_eq!(
        pod.metadata.annotations.unwrap()[NETWORKS],
        "macvlan-conf-1, macvlan-conf-2"
    );
    assert_eq!(
        pod.metadata.uid.as_deref(),
        inserted["metadata"]["uid"].as_str()
    );
    assert!(pod.metadata.resource_version.is_some());
    assert!(pod.metadata.creation_timestamp.is_some());
    assert_eq!(pod.spec.unwrap().containers[0].name, "pod-case-01");

    let reqs = s.server.requests();
    assert_eq!(reqs.len(), 1, "{reqs:?}");
    assert!(reqs[0].is("GET", "/api/v1/namespaces/default/pods/pod-case-01$"));
    assert_eq!(reqs[0].status, Some(200));
    assert_eq!(
        reqs[0].authorization.as_deref(),
        Some(format!("Bearer {STAND_IN_TOKEN}").as_str())
    );
}

#[tokio::test]
async fn get_nad_as_dynamic_object() {
    let s = setup().await;
    let config = r#"{"cniVersion":"0.3.0","type":"macvlan","master":"eth1","mode":"bridge"}"#;
    s.server.insert_nad(
        "testns1",
        "macvlan-conf-3",
        Some(config),
        &[("k8s.v1.cni.cncf.io/resourceName", "sf-pool-1")],
    );
    s.server.insert_nad("default", "macvlan-conf-2", None, &[]);
    let ar = nad_resource();

    let nads: Api<DynamicObject> = Api::namespaced_with(s.client.clone(), "testns1", &ar);
    let nad = nads.get("macvlan-conf-3").await.unwrap();
    assert_eq!(nad.data["spec"]["config"], config);
    assert_eq!(
        nad.metadata.annotations.unwrap()["k8s.v1.cni.cncf.io/resourceName"],
        "sf-pool-1"
    );
    let types = nad.types.unwrap();
    assert_eq!(types.api_version, "k8s.cni.cncf.io/v1");
    assert_eq!(types.kind, "NetworkAttachmentDefinition");

    let without_spec: Api<DynamicObject> = Api::namespaced_with(s.client.clone(), "default", &ar);
    let nad = without_spec.get("macvlan-conf-2").await.unwrap();
    assert!(nad.data.get("spec").is_none());

    let err = nads.get("macvlan-conf-1").await.unwrap_err();
    let kube::Error::Api(status) = err else {
        panic!("expected an API error");
    };
    assert_eq!(status.code, 404);
    assert!(status.is_not_found());
    assert_eq!(
        status.message,
        r#"network-attachment-definitions.k8s.cni.cncf.io "macvlan-conf-1" not found"#
    );

    let all: Api<DynamicObject> = Api::all_with(s.client.clone(), &ar);
    let listed = all.list(&ListParams::default()).await.unwrap();
    assert_eq!(listed.items.len(), 2);
}

#[tokio::test]
async fn missing_pod_is_a_404_status() {
    let s = setup().await;
    let pods: Api<Pod> = Api::namespaced(s.client.clone(), "default");
    let err = pods.get("nope").await.unwrap_err();
    let kube::Error::Api(status) = err else {
        panic!("expected an API error");
    };
    assert_eq!(status.code, 404);
    assert_eq!(status.reason, "NotFound");
    assert_eq!(status.message, r#"pods "nope" not found"#);
    assert_eq!(status.details.unwrap().name, "nope");
    assert!(pods.get_opt("nope").await.unwrap().is_none());
}

#[tokio::test]
async fn replace_status_with_a_stale_resource_version_conflicts() {
    let s = setup().await;
    s.server
        .insert_pod(pod_json("default", "p", "macvlan-conf-1"));
    let pods: Api<Pod> = Api::namespaced(s.client.clone(), "default");
    let mut pod = pods.get("p").await.unwrap();
    let stale = pod.clone();

    pod.metadata
        .annotations
        .get_or_insert_default()
        .insert(NETWORK_STATUS.into(), "[]".into());
    // A spec change through the status subresource is ignored, as the API server does.
    pod.spec.as_mut().unwrap().containers[0].image = Some("changed".into());
    let written = pods
        .replace_status("p", &PostParams::default(), &pod)
        .await
        .unwrap();
    assert_eq!(written.metadata.annotations.unwrap()[NETWORK_STATUS], "[]");
    assert_eq!(
        written.spec.unwrap().containers[0].image.as_deref(),
        Some("docker.io/centos/tools:latest")
    );
    assert_ne!(
        written.metadata.resource_version,
        stale.metadata.resource_version
    );

    let err = pods
        .replace_status("p", &PostParams::default(), &stale)
        .await
        .unwrap_err();
    let kube::Error::Api(status) = err else {
        panic!("expected an API error");
    };
    assert_eq!(status.code, 409);
    assert!(status.is_conflict());
    assert_eq!(
        status.message,
        "Operation cannot be fulfilled on pods \"p\": the object has been modified; \
         please apply your changes to the latest version and try again"
    );
    assert_eq!(
        s.server
            .pod_annotation("default", "p", NETWORK_STATUS)
            .as_deref(),
        Some("[]")
    );
}

/// The retry loop a status writer runs: get, set the annotation, replace_status, retry on 409.
async fn write_network_status(pods: &Api<Pod>, name: &str, value: &str) -> usize {
    for attempt in 1..=10 {
        let mut pod = pods.get(name).await.unwrap();
        pod.metadata
            .annotations
            .get_or_insert_default()
            .insert(NETWORK_STATUS.into(), value.into());
        match pods
            .replace_status(name, &PostParams::default(), &pod)
            .await
        {
            Ok(_) => return attempt,
            Err(e) if api_code(&e) == 409 => continue,
            Err(e) => panic!("unexpected error {e}"),
        }
    }
    panic!("no success after 10 attempts");
}

#[tokio::test]
async fn injected_status_conflicts_are_retried() {
    let s = setup().await;
    s.server
        .insert_pod(pod_json("default", "p", "macvlan-conf-1"));
    s.server.inject_status_conflicts(2);
    assert_eq!(s.server.pending_faults(), 2);
    let pods: Api<Pod> = Api::namespaced(s.client.clone(), "default");

    let attempts = write_network_status(&pods, "p", r#"[{"name":"x"}]"#).await;
    assert_eq!(attempts, 3);
    assert_eq!(s.server.pending_faults(), 0);
    let writes = s
        .server
        .requests_matching("PUT", "/api/v1/namespaces/default/pods/p/status");
    let statuses: Vec<_> = writes.iter().map(|r| (r.status, r.injected)).collect();
    assert_eq!(
        statuses,
        [(Some(409), true), (Some(409), true), (Some(200), false)]
    );
    assert_eq!(
        writes[2].json().unwrap()["metadata"]["annotations"][NETWORK_STATUS],
        r#"[{"name":"x"}]"#
    );
    assert_eq!(
        s.server
            .requests_matching("GET", "/api/v1/namespaces/default/pods/p")
            .len(),
        3
    );
}

#[tokio::test]
async fn injected_server_errors_reach_the_client() {
    let server = ApiServer::start().await.unwrap();
    server.insert_pod(pod_json("default", "p", "a"));
    let dir = TempDir::new("errors");
    let kubeconfig = dir.path().join("kubeconfig");
    server.write_kubeconfig(&kubeconfig).unwrap();

    // kube 5 retries 429, 503 and 504 by default (`Config::default_retry`): the caller never
    // sees a transient 503, the server sees the retry.
    let retrying: Api<Pod> = Api::namespaced(client_from_file(&kubeconfig).await, "default");
    server.inject_errors(2, 503);
    retrying.get("p").await.unwrap();
    let statuses: Vec<_> = server.requests().iter().map(|r| r.status).collect();
    assert_eq!(statuses, [Some(503), Some(503), Some(200)]);
    server.clear_requests();

    let mut config = config_from_file(&kubeconfig).await;
    config.default_retry = false;
    let s = Setup {
        server,
        client: kube::Client::try_from(config).unwrap(),
        _dir: dir,
    };
    let pods: Api<Pod> = Api::namespaced(s.client.clone(), "default");
    s.server.inject_errors(1, 503);
    let err = pods.get("p").await.unwrap_err();
    let kube::Error::Api(status) = err else {
        panic!("expected an API error");
    };
    assert_eq!(
        (status.code, status.reason.as_str()),
        (503, "ServiceUnavailable")
    );
    pods.get("p").await.unwrap();

    s.server.inject(
        Fault::new(500, 1)
            .method("PATCH")
            .path("/api/v1/namespaces/*/pods/*/status"),
    );
    pods.get("p").await.unwrap();
    let patch = json!({"metadata": {"annotations": {NETWORK_STATUS: "[]"}}});
    let err = pods
        .patch_status("p", &PatchParams::default(), &Patch::Merge(&patch))
        .await
        .unwrap_err();
    assert_eq!(api_code(&err), 500);
    pods.patch_status("p", &PatchParams::default(), &Patch::Merge(&patch))
        .await
        .unwrap();
    let statuses: Vec<_> = s.server.requests().iter().map(|r| r.status).collect();
    assert_eq!(
        statuses,
        [Some(503), Some(200), Some(200), Some(500), Some(200)]
    );
}

#[tokio::test]
async fn patches_of_the_status_subresource() {
    let s = setup().await;
    s.server.insert_pod(pod_json("default", "p", "a"));
    let pods: Api<Pod> = Api::namespaced(s.client.clone(), "default");
    let pp = PatchParams::default();

    let merge = json!({"metadata": {"annotations": {NETWORK_STATUS: "merge"}}});
    let pod = pods
        .patch_status("p", &pp, &Patch::Merge(&merge))
        .await
        .unwrap();
    assert_eq!(
        pod.metadata.annotations.as_ref().unwrap()[NETWORK_STATUS],
        "merge"
    );
    assert_eq!(pod.metadata.annotations.as_ref().unwrap()[NETWORKS], "a");

    let strategic = json!({"metadata": {"annotations": {NETWORK_STATUS: "strategic"}}});
    pods.patch_status("p", &pp, &Patch::Strategic(&strategic))
        .await
        .unwrap();
    assert_eq!(
        s.server
            .pod_annotation("default", "p", NETWORK_STATUS)
            .as_deref(),
        Some("strategic")
    );

    // JSON patch (kube needs its `jsonpatch` feature for this; send it by hand).
    let (code, body) = raw_http(
        s.server.addr(),
        "PATCH",
        "/api/v1/namespaces/default/pods/p/status",
        "application/json-patch+json",
        r#"[{"op": "replace", "path": "/metadata/annotations/k8s.v1.cni.cncf.io~1network-status", "value": "json"}]"#,
    );
    assert_eq!(code, 200, "{body}");
    assert_eq!(
        s.server
            .pod_annotation("default", "p", NETWORK_STATUS)
            .as_deref(),
        Some("json")
    );
    let (code, body) = raw_http(
        s.server.addr(),
        "PATCH",
        "/api/v1/namespaces/default/pods/p/status",
        "application/json-patch+json",
        r#"[{"op": "test", "path": "/metadata/name", "value": "other"}]"#,
    );
    assert_eq!(code, 422, "{body}");
    let (code, _) = raw_http(
        s.server.addr(),
        "PATCH",
        "/api/v1/namespaces/default/pods/p/status",
        "application/json",
        "{}",
    );
    assert_eq!(code, 415);

    let apply = json!({
        "apiVersion": "v1", "kind": "Pod",
        "metadata": {"name": "p", "annotations": {NETWORK_STATUS: "apply"}},
        "status": {"phase": "Running"}
    });
    let pod = pods
        .patch_status(
            "p",
            &PatchParams::apply("multus").force(),
            &Patch::Apply(&apply),
        )
        .await
        .unwrap();
    assert_eq!(pod.status.unwrap().phase.as_deref(), Some("Running"));
    let types: Vec<_> = s
        .server
        .requests()
        .iter()
        .map(|r| r.content_type.clone().unwrap_or_default())
        .collect();
    assert_eq!(
        types,
        [
            "application/merge-patch+json",
            "application/strategic-merge-patch+json",
            "application/json-patch+json",
            "application/json-patch+json",
            "application/json",
            "application/apply-patch+yaml"
        ]
    );

    // A merge patch that carries a stale resourceVersion conflicts.
    let stale = json!({"metadata": {"resourceVersion": "1", "annotations": {NETWORK_STATUS: "x"}}});
    let err = pods
        .patch_status("p", &pp, &Patch::Merge(&stale))
        .await
        .unwrap_err();
    assert_eq!(api_code(&err), 409);
}

#[tokio::test]
async fn create_list_and_delete_pods() {
    let s = setup().await;
    let pods: Api<Pod> = Api::namespaced(s.client.clone(), "default");
    let pod: Pod = serde_json::from_value(pod_json("default", "a", "macvlan-conf-1")).unwrap();
    let created = pods.create(&PostParams::default(), &pod).await.unwrap();
    assert!(created.metadata.uid.is_some());
    assert_eq!(created.status.unwrap().phase.as_deref(), Some("Pending"));
    let err = pods.create(&PostParams::default(), &pod).await.unwrap_err();
    let kube::Error::Api(status) = err else {
        panic!("expected an API error");
    };
    assert_eq!(
        (status.code, status.reason.as_str()),
        (409, "AlreadyExists")
    );
    assert_eq!(status.message, r#"pods "a" already exists"#);

    let mut labelled = pod_json("testns1", "b", "x");
    labelled["metadata"]["labels"] = json!({"app": "web"});
    s.server.insert_pod(labelled);
    let all: Api<Pod> = Api::all(s.client.clone());
    let names = |list: kube::api::ObjectList<Pod>| -> Vec<String> {
        list.items
            .into_iter()
            .map(|p| p.metadata.name.unwrap())
            .collect()
    };
    assert_eq!(
        names(all.list(&ListParams::default()).await.unwrap()),
        ["a", "b"]
    );
    assert_eq!(
        names(
            all.list(&ListParams::default().labels("app=web"))
                .await
                .unwrap()
        ),
        ["b"]
    );
    assert_eq!(
        names(
            all.list(&ListParams::default().fields("metadata.namespace=default"))
                .await
                .unwrap()
        ),
        ["a"]
    );
    assert_eq!(
        names(pods.list(&ListParams::default()).await.unwrap()),
        ["a"]
    );

    let deleted = pods.delete("a", &DeleteParams::default()).await.unwrap();
    let gone = deleted.left().expect("the deleted pod");
    assert_eq!(gone.metadata.name.as_deref(), Some("a"));
    assert!(s.server.pod("default", "a").is_none());
    let err = pods
        .delete("a", &DeleteParams::default())
        .await
        .unwrap_err();
    assert_eq!(api_code(&err), 404);
}

#[tokio::test]
async fn events_of_both_apis_are_stored() {
    let s = setup().await;
    let core: Api<CoreEvent> = Api::namespaced(s.client.clone(), "default");
    let event = CoreEvent {
        metadata: ObjectMeta {
            generate_name: Some("pod-case-01.".into()),
            ..Default::default()
        },
        involved_object: ObjectReference {
            kind: Some("Pod".into()),
            name: Some("pod-case-01".into()),
            namespace: Some("default".into()),
            ..Default::default()
        },
        reason: Some("AddedInterface".into()),
        message: Some("Add eth0 [10.244.2.6/24] from cbr0".into()),
        type_: Some("Normal".into()),
        ..Default::default()
    };
    let created = core.create(&PostParams::default(), &event).await.unwrap();
    assert!(created.metadata.name.unwrap().starts_with("pod-case-01."));

    let new_api: Api<Event> = Api::namespaced(s.client.clone(), "default");
    let event = Event {
        metadata: ObjectMeta {
            name: Some("pod-case-01.second".into()),
            ..Default::default()
        },
        event_time: Some(MicroTime(k8s_openapi::jiff::Timestamp::now())),
        reason: Some("NoNetworkFound".into()),
        note: Some("cannot find a network-attachment-definition".into()),
        type_: Some("Warning".into()),
        action: Some("Add".into()),
        reporting_controller: Some("multus".into()),
        reporting_instance: Some("multus-node-1".into()),
        ..Default::default()
    };
    new_api
        .create(&PostParams::default(), &event)
        .await
        .unwrap();

    let events = s.server.events();
    assert_eq!(events.len(), 2);
    assert_eq!(events[0]["reason"], "AddedInterface");
    assert_eq!(events[0]["apiVersion"], "v1");
    assert_eq!(events[1]["reason"], "NoNetworkFound");
    assert_eq!(events[1]["apiVersion"], "events.k8s.io/v1");
    let listed = core.list(&ListParams::default()).await.unwrap();
    assert_eq!(listed.items.len(), 1);
    assert_eq!(
        s.server
            .requests_matching("POST", "/apis/events.k8s.io/v1/namespaces/default/events")
            .len(),
        1
    );
}

#[tokio::test]
async fn delays_make_client_timeouts() {
    let server = ApiServer::start().await.unwrap();
    server.insert_pod(pod_json("default", "p", "a"));
    let dir = TempDir::new("timeout");
    let kubeconfig = dir.path().join("kubeconfig");
    server.write_kubeconfig(&kubeconfig).unwrap();
    let mut config = config_from_file(&kubeconfig).await;
    config.read_timeout = Some(Duration::from_millis(200));
    let client = kube::Client::try_from(config).unwrap();
    let pods: Api<Pod> = Api::namespaced(client, "default");

    server.set_delay_for("/api/v1/namespaces/default/pods", Duration::from_secs(2));
    let started = std::time::Instant::now();
    let err = pods.get("p").await.unwrap_err();
    assert!(!matches!(err, kube::Error::Api(_)), "{err:?}");
    assert!(started.elapsed() < Duration::from_secs(2));
    // The server saw the request but the client left before the answer.
    assert_eq!(server.requests()[0].status, None);

    server.set_delay_for("/api/v1/namespaces/default/pods", Duration::ZERO);
    server.set_delay(Duration::from_millis(50));
    let started = std::time::Instant::now();
    pods.get("p").await.unwrap();
    assert!(started.elapsed() >= Duration::from_millis(50));
    server.clear_faults();
}

#[tokio::test]
async fn down_refuses_connections_until_up_again() {
    let s = setup().await;
    s.server.insert_pod(pod_json("default", "p", "a"));
    let pods: Api<Pod> = Api::namespaced(s.client.clone(), "default");
    pods.get("p").await.unwrap();

    s.server.set_down(true).unwrap();
    assert!(s.server.is_down());
    let err = pods.get("p").await.unwrap_err();
    assert!(!matches!(err, kube::Error::Api(_)), "{err:?}");
    assert!(std::net::TcpStream::connect(s.server.addr()).is_err());

    s.server.set_down(false).unwrap();
    assert!(!s.server.is_down());
    pods.get("p").await.unwrap();
    let statuses: Vec<_> = s.server.requests().iter().map(|r| r.status).collect();
    assert_eq!(statuses, [Some(200), Some(200)]);
}

#[tokio::test]
async fn version_endpoint() {
    let s = setup().await;
    let info = s.client.apiserver_version().await.unwrap();
    assert_eq!((info.major.as_str(), info.minor.as_str()), ("1", "34"));
}

#[tokio::test]
async fn guide_manifests_load() {
    let s = setup().await;
    let mut loaded = 0;
    let mut files: Vec<_> = std::fs::read_dir(guide_dir())
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.extension().is_some_and(|e| e == "yaml"))
        .collect();
    files.sort();
    for file in &files {
        loaded += s.server.load_file(file).unwrap().len();
    }
    assert_eq!(loaded, 12, "{files:?}");
    assert!(s.server.namespace("testns1").is_some());

    let ar = nad_resource();
    let all: Api<DynamicObject> = Api::all_with(s.client.clone(), &ar);
    let nads = all.list(&ListParams::default()).await.unwrap();
    let mut names = Vec::new();
    for nad in nads.items {
        let ns = nad.metadata.namespace.clone().unwrap();
        let name = nad.metadata.name.clone().unwrap();
        if let Some(config) = nad.data["spec"]["config"].as_str() {
            let config: Value = serde_json::from_str(config).unwrap();
            assert_eq!(config["type"], "macvlan", "{name}");
        }
        names.push(format!("{ns}/{name}"));
    }
    assert_eq!(
        names,
        [
            "default/macvlan-conf",
            "default/macvlan-conf-1",
            "default/macvlan-conf-2",
            "testns1/macvlan-conf-3"
        ]
    );
    let conf: Value =
        serde_json::from_str(&std::fs::read_to_string(guide_dir().join("macvlan2.conf")).unwrap())
            .unwrap();
    assert_eq!(conf["name"], "macvlan-conf-2");

    let pods: Api<Pod> = Api::namespaced(s.client.clone(), "default");
    let list = pods.list(&ListParams::default()).await.unwrap();
    assert_eq!(list.items.len(), 7);
    let p6 = pods.get("pod-case-06").await.unwrap();
    let networks: Value =
        serde_json::from_str(&p6.metadata.annotations.unwrap()[NETWORKS]).unwrap();
    assert_eq!(
        networks,
        json!([{"name": "macvlan-conf-1", "interface": "macvlan1"}, {"name": "macvlan-conf-2"}])
    );
    let sample = pods.get("samplepod").await.unwrap();
    let networks: Value =
        serde_json::from_str(&sample.metadata.annotations.unwrap()[NETWORKS]).unwrap();
    assert_eq!(networks[0]["default-route"], json!(["192.168.2.1"]));
}

#[tokio::test]
async fn resource_slices_by_node_and_driver_and_claims_with_status() {
    use k8s_openapi::api::resource::v1::{ResourceClaim, ResourceSlice};
    let s = setup().await;
    for (name, node, driver) in [
        ("a", "node-1", "nic.example.com"),
        ("b", "node-2", "nic.example.com"),
        ("c", "node-1", "gpu.example.com"),
    ] {
        s.server
            .try_insert(json!({
                "apiVersion": "resource.k8s.io/v1", "kind": "ResourceSlice",
                "metadata": {"name": name},
                "spec": {"driver": driver, "nodeName": node,
                         "pool": {"name": node, "generation": 1, "resourceSliceCount": 1}}
            }))
            .unwrap();
    }
    let slices: Api<ResourceSlice> = Api::all(s.client.clone());
    let found = slices
        .list(&ListParams::default().fields("spec.nodeName=node-1,spec.driver=nic.example.com"))
        .await
        .unwrap();
    let names: Vec<_> = found
        .items
        .iter()
        .map(|s| s.metadata.name.clone().unwrap())
        .collect();
    assert_eq!(names, ["a"]);
    // The real server only knows a few field labels for slices.
    let e = slices
        .list(&ListParams::default().fields("spec.devices=x"))
        .await
        .unwrap_err();
    assert_eq!(api_code(&e), 400, "{e}");
    assert!(
        e.to_string()
            .contains("field label not supported: spec.devices"),
        "{e}"
    );

    // A claim inserted as a fixture keeps the status the scheduler would write.
    s.server
        .load_file(guide_dir().join("../dra/resourceclaim.yaml"))
        .unwrap();
    let claim = Api::<ResourceClaim>::namespaced(s.client.clone(), "default")
        .get("sf")
        .await
        .unwrap();
    let results = claim
        .status
        .unwrap()
        .allocation
        .unwrap()
        .devices
        .unwrap()
        .results
        .unwrap();
    assert_eq!(results[0].device, "sf-2");
}
