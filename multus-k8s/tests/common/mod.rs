//! Helpers shared by the integration tests: a stand-in API server, a
//! kubeconfig for it, a confDir, and the real client built from the
//! multus config exactly as the plugin builds it.
#![allow(dead_code, clippy::unwrap_used, clippy::expect_used)]

use std::path::{Path, PathBuf};

use k8s_openapi::api::core::v1::Pod;
use multus_k8s::devices::{DeviceSource, ResourceMap};
use multus_k8s::pod::{PodRetry, lookup_pod};
use multus_k8s::resolve::{Plan, ResolveRequest, resolve};
use multus_k8s::{Error, client};
use multus_testsupport::ApiServer;
use multus_types::{K8sArgs, MultusConf};
use serde_json::{Map, Value, json};
use tempfile::TempDir;

pub const NETWORKS: &str = "k8s.v1.cni.cncf.io/networks";
pub const DEFAULT_NETWORK: &str = "v1.multus-cni.io/default-network";
pub const NETWORK_STATUS: &str = "k8s.v1.cni.cncf.io/network-status";
pub const RESOURCE_NAME: &str = "k8s.v1.cni.cncf.io/resourceName";

pub const CONTAINER_ID: &str = "c0ffee";

/// A stand-in API server, a temp dir with its kubeconfig and an empty confDir.
pub struct Env {
    pub server: ApiServer,
    pub dir: TempDir,
}

impl Env {
    pub async fn new() -> Self {
        let server = ApiServer::start().await.unwrap();
        let dir = tempfile::tempdir().unwrap();
        server
            .write_kubeconfig(dir.path().join("multus.kubeconfig"))
            .unwrap();
        std::fs::create_dir_all(dir.path().join("net.d")).unwrap();
        Env { server, dir }
    }

    /// A server preloaded with the guide's manifests (NADs macvlan-conf,
    /// macvlan-conf-1/2/3, namespace testns1, and the example pods) and
    /// `macvlan2.conf` in confDir.
    pub async fn guide() -> Self {
        let env = Self::new().await;
        for file in std::fs::read_dir(guide_dir()).unwrap() {
            let path = file.unwrap().path();
            if path.extension().is_some_and(|e| e == "yaml") {
                env.server.load_file(&path).unwrap();
            }
        }
        env.add_conf_file(
            "macvlan2.conf",
            &std::fs::read_to_string(guide_dir().join("macvlan2.conf")).unwrap(),
        );
        env
    }

    pub fn kubeconfig(&self) -> PathBuf {
        self.dir.path().join("multus.kubeconfig")
    }

    pub fn conf_dir(&self) -> PathBuf {
        self.dir.path().join("net.d")
    }

    pub fn add_conf_file(&self, name: &str, text: &str) -> PathBuf {
        let path = self.conf_dir().join(name);
        if let Some(parent) = path.parent() {
            std::fs::create_dir_all(parent).unwrap();
        }
        std::fs::write(&path, text).unwrap();
        path
    }

    /// A multus config: the guide's 00-multus.conf pointed at this server and
    /// confDir, with `extra` keys merged over it.
    pub fn conf(&self, extra: Value) -> MultusConf {
        let mut conf = json!({
            "cniVersion": "0.3.1",
            "name": "multus-cni-network",
            "type": "multus",
            "kubeconfig": self.kubeconfig(),
            "confDir": self.conf_dir(),
            "delegates": [{
                "cniVersion": "0.3.1",
                "type": "flannel",
                "name": "flannel.1",
                "delegate": {"isDefaultGateway": true}
            }]
        });
        if let (Value::Object(base), Value::Object(extra)) = (&mut conf, extra) {
            for (k, v) in extra {
                base.insert(k, v);
            }
        }
        MultusConf::from_bytes(conf.to_string().as_bytes()).unwrap()
    }

    /// A pod in `ns` with annotations.
    pub fn insert_pod(&self, ns: &str, name: &str, annotations: &[(&str, &str)]) -> Value {
        let annotations: Map<String, Value> = annotations
            .iter()
            .map(|(k, v)| ((*k).to_owned(), json!(v)))
            .collect();
        self.server.insert_pod(json!({
            "metadata": {"name": name, "namespace": ns, "annotations": annotations},
            "spec": {"containers": [{"name": name, "image": "busybox"}]}
        }))
    }

    /// Reads the pod, builds the client from the config, resolves the plan.
    pub async fn plan(&self, conf: &MultusConf, ns: &str, name: &str) -> Result<Plan, Error> {
        self.plan_with(conf, ns, name, &ResourceMap::new(), "eth0")
            .await
    }

    pub async fn plan_with(
        &self,
        conf: &MultusConf,
        ns: &str,
        name: &str,
        devices: &(dyn DeviceSource + Sync),
        ifname: &str,
    ) -> Result<Plan, Error> {
        let client = client::client_for_conf(conf).await?;
        let args = k8s_args(ns, name);
        let pod = match &client {
            Some(c) => lookup_pod(c, ns, name, "", PodRetry::THIN)
                .await?
                .for_add()?,
            None => None,
        };
        let request = ResolveRequest::new(conf, &args, CONTAINER_ID, ifname)
            .with_pod(pod.as_ref())
            .with_device_source(devices);
        resolve(client.as_ref(), &request).await
    }

    pub async fn client(&self) -> kube::Client {
        client::client_from_kubeconfig(&self.kubeconfig())
            .await
            .unwrap()
    }

    pub async fn pod(&self, ns: &str, name: &str) -> Pod {
        lookup_pod(&self.client().await, ns, name, "", PodRetry::THIN)
            .await
            .unwrap()
            .for_add()
            .unwrap()
            .unwrap()
    }

    /// Requests to NetworkAttachmentDefinitions so far.
    pub fn nad_requests(&self) -> Vec<String> {
        self.server
            .requests()
            .into_iter()
            .filter(|r| r.path.starts_with("/apis/k8s.cni.cncf.io/"))
            .map(|r| format!("{} {}", r.method, r.path))
            .collect()
    }

    /// `(type, reason, message)` of every event recorded.
    pub fn events(&self) -> Vec<(String, String, String)> {
        self.server
            .events()
            .into_iter()
            .map(|e| {
                let s = |k: &str| e[k].as_str().unwrap_or_default().to_owned();
                (s("type"), s("reason"), s("message"))
            })
            .collect()
    }
}

pub fn k8s_args(ns: &str, name: &str) -> K8sArgs {
    K8sArgs {
        pod_namespace: ns.to_owned(),
        pod_name: name.to_owned(),
        ..K8sArgs::default()
    }
}

pub fn guide_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../examples/guide")
}

/// The plan as readable JSON, for snapshots.
pub fn plan_json(plan: &Plan) -> Value {
    Value::Array(
        plan.attachments
            .iter()
            .map(|a| {
                let mut requests = Map::new();
                let mut put = |k: &str, v: Value| {
                    if !(v.is_null() || v == json!("") || v == json!(false)) {
                        requests.insert(k.to_owned(), v);
                    }
                };
                put("mac", json!(a.mac_request));
                put("ips", json!(a.ip_request));
                put("infiniband_guid", json!(a.infiniband_guid_request));
                put("default_route", json!(a.default_route));
                put("filter_v4_gateway", json!(a.filter_v4_gateway));
                put("filter_v6_gateway", json!(a.filter_v6_gateway));
                put("device_id", json!(a.device_id));
                put("resource_name", json!(a.resource_name));
                json!({
                    "ifname": a.ifname,
                    "status_name": a.status_name,
                    "master": a.master,
                    "config": Value::Object(a.conf.as_map().clone()),
                    "runtimeConfig": serde_json::to_value(&a.runtime_config).unwrap(),
                    "requests": requests,
                })
            })
            .collect(),
    )
}

/// `ifname status_name` of each attachment.
pub fn summary(plan: &Plan) -> Vec<String> {
    plan.attachments
        .iter()
        .map(|a| format!("{} {}", a.ifname, a.status_name))
        .collect()
}
