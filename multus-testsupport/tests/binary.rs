//! The `stand-in-apiserver` binary: started as a process, used through the kubeconfig it wrote,
//! switched through `/_control/`, stopped by its PID.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use std::io::{BufRead, BufReader};
use std::net::SocketAddr;
use std::os::unix::fs::PermissionsExt;
use std::path::Path;
use std::process::{Child, Command, Stdio};

use common::{TempDir, api_code, client_from_file, guide_dir, raw_http};
use k8s_openapi::api::core::v1::Pod;
use kube::api::{Api, ApiResource, DynamicObject, GroupVersionKind, ListParams, PostParams};
use serde_json::Value;

const BIN: &str = env!("CARGO_BIN_EXE_stand-in-apiserver");

/// The child process, killed if the test fails before stopping it.
struct Server {
    child: Child,
    addr: SocketAddr,
}

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn spawn(args: &[&str]) -> Server {
    let mut child = Command::new(BIN)
        .args(args)
        .stdout(Stdio::piped())
        .stderr(Stdio::inherit())
        .spawn()
        .unwrap();
    let mut line = String::new();
    BufReader::new(child.stdout.take().unwrap())
        .read_line(&mut line)
        .unwrap();
    let url = line
        .trim()
        .strip_prefix("listening on http://")
        .unwrap_or_else(|| panic!("unexpected first line {line:?}"));
    Server {
        addr: url.parse().unwrap(),
        child,
    }
}

fn path_str(p: &Path) -> &str {
    p.to_str().unwrap()
}

#[tokio::test]
async fn standalone_server_through_its_kubeconfig() {
    let dir = TempDir::new("bin");
    let kubeconfig = dir.path().join("multus.kubeconfig");
    let dump = dir.path().join("dump.json");
    let fixture = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/cluster.yaml");
    let guide_pod = guide_dir().join("pod-case-01.yaml");
    let guide_nad = guide_dir().join("nad-macvlan-conf-1.yaml");
    let mut server = spawn(&[
        "--listen",
        "127.0.0.1:0",
        "--kubeconfig-out",
        path_str(&kubeconfig),
        "--load",
        path_str(&fixture),
        path_str(&guide_pod),
        "--load",
        path_str(&guide_nad),
        "--dump-on-exit",
        path_str(&dump),
    ]);
    assert_eq!(server.addr.ip().to_string(), "127.0.0.1");
    assert_ne!(server.addr.port(), 0);
    let mode = std::fs::metadata(&kubeconfig).unwrap().permissions().mode();
    assert_eq!(mode & 0o777, 0o600);

    let client = client_from_file(&kubeconfig).await;
    let pods: Api<Pod> = Api::namespaced(client.clone(), "testns1");
    let pod = pods.get("fixture-pod").await.unwrap();
    assert_eq!(
        pod.metadata.annotations.as_ref().unwrap()["k8s.v1.cni.cncf.io/networks"],
        "bridge-net"
    );
    let all: Api<Pod> = Api::all(client.clone());
    let names: Vec<_> = all
        .list(&ListParams::default())
        .await
        .unwrap()
        .items
        .into_iter()
        .map(|p| p.metadata.name.unwrap())
        .collect();
    assert_eq!(names, ["json-pod", "pod-case-01", "fixture-pod"]);

    let gvk = GroupVersionKind::gvk("k8s.cni.cncf.io", "v1", "NetworkAttachmentDefinition");
    let ar = ApiResource::from_gvk_with_plural(&gvk, "network-attachment-definitions");
    let nads: Api<DynamicObject> = Api::namespaced_with(client.clone(), "testns1", &ar);
    let nad = nads.get("bridge-net").await.unwrap();
    let config: Value = serde_json::from_str(nad.data["spec"]["config"].as_str().unwrap()).unwrap();
    assert_eq!(config["bridge"], "mynet0");
    let nads: Api<DynamicObject> = Api::namespaced_with(client.clone(), "default", &ar);
    assert!(nads.get("macvlan-conf-1").await.is_ok());

    // One injected conflict on the status write, through the control endpoint.
    let (code, _) = raw_http(server.addr, "POST", "/_control/conflicts?times=1", "", "");
    assert_eq!(code, 200);
    let mut pod = pods.get("fixture-pod").await.unwrap();
    pod.metadata
        .annotations
        .get_or_insert_default()
        .insert("k8s.v1.cni.cncf.io/network-status".into(), "[]".into());
    let err = pods
        .replace_status("fixture-pod", &PostParams::default(), &pod)
        .await
        .unwrap_err();
    assert_eq!(api_code(&err), 409);
    pods.replace_status("fixture-pod", &PostParams::default(), &pod)
        .await
        .unwrap();

    let (code, log) = raw_http(server.addr, "GET", "/_control/requests", "", "");
    assert_eq!(code, 200);
    let log: Vec<Value> = serde_json::from_str(&log).unwrap();
    let status_writes: Vec<_> = log
        .iter()
        .filter(|r| r["method"] == "PUT")
        .map(|r| r["status"].as_u64().unwrap())
        .collect();
    assert_eq!(status_writes, [409, 200]);

    // Objects can be added while it runs.
    let (code, body) = raw_http(
        server.addr,
        "POST",
        "/_control/load",
        "application/yaml",
        "apiVersion: v1\nkind: Pod\nmetadata:\n  name: late\n  namespace: testns1\n",
    );
    assert_eq!(code, 200, "{body}");
    assert!(pods.get("late").await.is_ok());

    // Down for a while, then back.
    let (code, _) = raw_http(server.addr, "POST", "/_control/down?ms=300", "", "");
    assert_eq!(code, 200);
    tokio::time::sleep(std::time::Duration::from_millis(100)).await;
    assert!(std::net::TcpStream::connect(server.addr).is_err());
    tokio::time::sleep(std::time::Duration::from_millis(500)).await;
    assert!(pods.get("late").await.is_ok());

    // Stop it by its PID; it dumps its objects on the way out.
    let status = Command::new("kill")
        .args(["-TERM", &server.child.id().to_string()])
        .status()
        .unwrap();
    assert!(status.success());
    let exit = server.child.wait().unwrap();
    assert!(exit.success(), "{exit:?}");
    let dump: Value = serde_json::from_str(&std::fs::read_to_string(&dump).unwrap()).unwrap();
    let pods = dump["objects"]["v1 Pod"].as_array().unwrap();
    let fixture_pod = pods
        .iter()
        .find(|p| p["metadata"]["name"] == "fixture-pod")
        .unwrap();
    assert_eq!(
        fixture_pod["metadata"]["annotations"]["k8s.v1.cni.cncf.io/network-status"],
        "[]"
    );
}

#[test]
fn help_and_bad_arguments() {
    let out = Command::new(BIN).arg("--help").output().unwrap();
    assert!(out.status.success());
    let help = String::from_utf8(out.stdout).unwrap();
    assert!(help.contains("--kubeconfig-out") && help.contains("/_control/conflicts"));

    let out = Command::new(BIN).arg("--bogus").output().unwrap();
    assert_eq!(out.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&out.stderr).contains("--bogus"));

    let out = Command::new(BIN)
        .args(["--load", "/nonexistent/file.yaml"])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&out.stderr).contains("/nonexistent/file.yaml"));
}
