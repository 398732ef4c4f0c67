//! `multus explain` run as a binary on the user guide's manifests
//! (`examples/guide/`) and on broken variants of them.

#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::path::{Path, PathBuf};
use std::process::Command;

use serde_json::Value;

fn guide() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../examples/guide")
}

struct Run {
    code: i32,
    stdout: String,
    stderr: String,
}

impl Run {
    fn json(&self) -> Value {
        serde_json::from_str(&self.stdout)
            .unwrap_or_else(|e| panic!("not JSON ({e}): {}", self.stdout))
    }
}

fn explain(args: &[&str]) -> Run {
    let out = Command::new(env!("CARGO_BIN_EXE_multus"))
        .arg("explain")
        .args(args)
        .current_dir(guide())
        .output()
        .unwrap();
    Run {
        code: out.status.code().unwrap(),
        stdout: String::from_utf8(out.stdout).unwrap(),
        stderr: String::from_utf8(out.stderr).unwrap(),
    }
}

/// `explain --output json` of `pod` with the guide's config, NADs and confDir.
fn explain_guide(config: &str, pod: &str) -> Run {
    explain(&[
        "--config",
        config,
        "--pod",
        pod,
        "--nad",
        ".",
        "--conf-dir",
        ".",
        "--output",
        "json",
    ])
}

/// `(network, interface, master)` of each attachment.
/// `(network, interface, master)`.
type Row<'a> = (&'a str, &'a str, bool);

fn plan(report: &Value) -> Vec<(String, String, bool)> {
    report["attachments"]
        .as_array()
        .unwrap()
        .iter()
        .map(|a| {
            (
                a["network"].as_str().unwrap().to_owned(),
                a["interface"].as_str().unwrap().to_owned(),
                a["master"].as_bool().unwrap(),
            )
        })
        .collect()
}

fn owned(rows: &[Row<'_>]) -> Vec<(String, String, bool)> {
    rows.iter()
        .map(|(n, i, m)| ((*n).to_owned(), (*i).to_owned(), *m))
        .collect()
}

fn write(dir: &Path, name: &str, text: &str) -> String {
    let path = dir.join(name);
    std::fs::write(&path, text).unwrap();
    path.display().to_string()
}

fn pod_with_networks(dir: &Path, networks: &str) -> String {
    let pod = format!(
        "apiVersion: v1\nkind: Pod\nmetadata:\n  name: broken\n  annotations:\n    \
         k8s.v1.cni.cncf.io/networks: '{networks}'\nspec:\n  containers: []\n"
    );
    write(dir, "pod.yaml", &pod)
}

#[test]
fn guide_pods_resolve_as_the_guide_says() {
    let flannel = ("flannel.1", "eth0", true);
    let cases: [(&str, Vec<Row<'_>>); 6] = [
        (
            "pod-case-01.yaml",
            vec![
                flannel,
                ("default/macvlan-conf-1", "net1", false),
                ("default/macvlan-conf-2", "net2", false),
            ],
        ),
        (
            "pod-case-02.yaml",
            vec![flannel, ("testns1/macvlan-conf-3", "net1", false)],
        ),
        (
            "pod-case-03.yaml",
            vec![flannel, ("default/macvlan-conf-1", "macvlan1", false)],
        ),
        (
            "pod-case-04.yaml",
            vec![
                flannel,
                ("default/macvlan-conf-1", "net1", false),
                ("default/macvlan-conf-2", "net2", false),
            ],
        ),
        (
            "pod-case-06.yaml",
            vec![
                flannel,
                ("default/macvlan-conf-1", "macvlan1", false),
                ("default/macvlan-conf-2", "net2", false),
            ],
        ),
        (
            "samplepod.yaml",
            vec![flannel, ("default/macvlan-conf", "net1", false)],
        ),
    ];
    for (pod, expected) in cases {
        let run = explain_guide("00-multus.conf", pod);
        assert_eq!(run.code, 0, "{pod}: {}{}", run.stdout, run.stderr);
        let report = run.json();
        assert_eq!(plan(&report), owned(&expected), "{pod}");
        assert_eq!(report["error"], Value::Null, "{pod}");
    }
}

#[test]
fn json_shape_carries_the_delegate_request() {
    let report = explain_guide("00-multus.conf", "pod-case-06.yaml").json();
    let keys: Vec<&str> = report
        .as_object()
        .unwrap()
        .keys()
        .map(String::as_str)
        .collect();
    assert_eq!(keys, ["attachments", "warnings", "error"]);
    assert_eq!(report["warnings"], serde_json::json!([]));
    let net2 = &report["attachments"][2];
    // From the confDir file (the NAD has no spec.config), as the plugin gets it.
    assert_eq!(net2["config"]["name"], "macvlan-conf-2");
    assert_eq!(net2["config"]["cniVersion"], "0.3.0");
    assert_eq!(
        net2["config"]["ipam"]["ranges"][0][0]["subnet"],
        "11.10.0.0/16"
    );
    assert!(net2.get("deviceID").is_none());
    // The NAD's name is injected into its spec.config.
    assert_eq!(report["attachments"][1]["config"]["name"], "macvlan-conf-1");
    let args = net2["cniArgs"].as_str().unwrap();
    assert!(
        args.starts_with("IgnoreUnknown=true;K8S_POD_NAMESPACE=default;K8S_POD_NAME=pod-case-06;"),
        "{args}"
    );
}

#[test]
fn samplepod_default_route_moves_off_the_master() {
    let report = explain_guide("00-multus.conf", "samplepod.yaml").json();
    let master = &report["attachments"][0];
    let macvlan = &report["attachments"][1];
    assert_eq!(macvlan["defaultRoute"], serde_json::json!(["192.168.2.1"]));
    let removed = master["removesDefaultRoutes"].as_array().unwrap();
    assert!(removed.contains(&Value::from("ipv4")), "{master}");
}

#[test]
fn table_output_of_pod_case_06() {
    let run = explain(&[
        "--config",
        "00-multus.conf",
        "--pod",
        "pod-case-06.yaml",
        "--nad",
        ".",
        "--conf-dir",
        ".",
    ]);
    assert_eq!(run.code, 0, "{}", run.stderr);
    let lines: Vec<&str> = run.stdout.lines().collect();
    assert_eq!(
        lines[0],
        "#  INTERFACE  NETWORK                 MASTER  DEVICE"
    );
    assert_eq!(lines[1], "0  eth0       flannel.1               yes     -");
    assert_eq!(lines[2], "1  macvlan1   default/macvlan-conf-1  no      -");
    assert_eq!(lines[3], "2  net2       default/macvlan-conf-2  no      -");
    assert_eq!(lines.last(), Some(&"ADD would succeed."));
}

#[test]
fn missing_nad_is_reported_with_upstreams_text() {
    // pod-case-05 asks for testns1/macvlan-conf-1, which the guide never creates.
    let run = explain_guide("00-multus.conf", "pod-case-05.yaml");
    assert_eq!(run.code, 1);
    let report = run.json();
    assert_eq!(report["error"]["kind"], "nad-not-found");
    let message = report["error"]["message"].as_str().unwrap();
    assert!(
        message.starts_with(
            "Multus: [default/pod-case-05/]: getKubernetesDelegate: cannot find a \
             network-attachment-definition (macvlan-conf-1) in namespace (testns1)"
        ),
        "{message}"
    );
    // What was resolved before the failure: the master.
    assert_eq!(plan(&report), owned(&[("flannel.1", "eth0", true)]));

    // Only one of pod-case-01's NADs given.
    let run = explain(&[
        "--config",
        "00-multus.conf",
        "--pod",
        "pod-case-01.yaml",
        "--nad",
        "nad-macvlan-conf-1.yaml",
        "--output",
        "json",
    ]);
    assert_eq!(run.code, 1);
    let report = run.json();
    assert_eq!(report["error"]["kind"], "nad-not-found");
    assert!(
        report["error"]["message"]
            .as_str()
            .unwrap()
            .contains("(macvlan-conf-2) in namespace (default)"),
        "{report}"
    );
}

#[test]
fn namespace_isolation_refuses_another_namespace() {
    let dir = tempfile::tempdir().unwrap();
    let conf = std::fs::read_to_string(guide().join("00-multus.conf")).unwrap();
    let conf = conf.replace(
        "\"kubeconfig\"",
        "\"namespaceIsolation\": true, \"kubeconfig\"",
    );
    let conf = write(dir.path(), "isolated.conf", &conf);
    let run = explain_guide(&conf, "pod-case-02.yaml");
    assert_eq!(run.code, 1);
    let report = run.json();
    assert_eq!(report["error"]["kind"], "namespace-isolation");
    let message = report["error"]["message"].as_str().unwrap();
    assert!(
        message.contains("pod is in namespace default but refers to target namespace testns1"),
        "{message}"
    );
    // The same pod in the guide's own config (no isolation) is fine.
    assert_eq!(explain_guide("00-multus.conf", "pod-case-02.yaml").code, 0);
}

#[test]
fn bad_annotation_names_its_position() {
    let dir = tempfile::tempdir().unwrap();
    let pod = pod_with_networks(dir.path(), r#"[{"name": "macvlan-conf-1",}]"#);
    let run = explain_guide("00-multus.conf", &pod);
    assert_eq!(run.code, 1);
    let report = run.json();
    assert_eq!(report["error"]["kind"], "annotation");
    let message = report["error"]["message"].as_str().unwrap();
    assert!(
        message.contains("trailing comma at line 1 column 28"),
        "{message}"
    );
    assert!(
        message.contains("(annotation k8s.v1.cni.cncf.io/networks)"),
        "{message}"
    );
    assert_eq!(plan(&report), owned(&[("flannel.1", "eth0", true)]));
}

#[test]
fn two_attachments_asking_for_one_interface_name() {
    let dir = tempfile::tempdir().unwrap();
    let pod = pod_with_networks(
        dir.path(),
        r#"[{"name": "macvlan-conf-1", "interface": "net2"}, {"name": "macvlan-conf-2"}]"#,
    );
    let run = explain_guide("00-multus.conf", &pod);
    assert_eq!(run.code, 1);
    let report = run.json();
    assert_eq!(report["error"]["kind"], "interface-name");
    assert_eq!(
        report["error"]["message"],
        "[default/broken/:macvlan-conf-2]: error adding container to network \"macvlan-conf-2\": \
         validateIfName: interface name net2 already exists"
    );
    assert_eq!(
        plan(&report),
        owned(&[
            ("flannel.1", "eth0", true),
            ("default/macvlan-conf-1", "net2", false),
            ("default/macvlan-conf-2", "net2", false),
        ])
    );
}

#[test]
fn devices_come_from_resources() {
    let dir = tempfile::tempdir().unwrap();
    let nad = r#"{"apiVersion": "k8s.cni.cncf.io/v1", "kind": "List", "items": [
        {"kind": "NetworkAttachmentDefinition",
         "metadata": {"name": "sriov", "namespace": "default",
           "annotations": {"k8s.v1.cni.cncf.io/resourceName": "intel.com/sriov"}},
         "spec": {"config": "{\"cniVersion\": \"0.3.1\", \"type\": \"sriov\"}"}}]}"#;
    let nad = write(dir.path(), "sriov.json", nad);
    let empty = write(
        dir.path(),
        "empty.yaml",
        "apiVersion: v1\nkind: List\nitems: []\n",
    );
    let resources = write(
        dir.path(),
        "resources.json",
        r#"{"intel.com/sriov": ["0000:03:00.1"]}"#,
    );
    let pod = pod_with_networks(dir.path(), "sriov");
    let run = explain(&[
        "--config",
        "00-multus.conf",
        "--pod",
        &pod,
        "--nad",
        &nad,
        "--nad",
        &empty,
        "--resources",
        &resources,
        "--output",
        "json",
    ]);
    assert_eq!(run.code, 0, "{}{}", run.stdout, run.stderr);
    let sriov = &run.json()["attachments"][1];
    assert_eq!(sriov["deviceID"], "0000:03:00.1");
    assert_eq!(sriov["config"]["deviceID"], "0000:03:00.1");

    // Without the devices: a warning, and ADD still goes ahead.
    let run = explain(&["--config", "00-multus.conf", "--pod", &pod, "--nad", &nad]);
    assert_eq!(run.code, 0, "{}{}", run.stdout, run.stderr);
    assert!(
        run.stdout.contains(
            "warnings:\n  network default/sriov: no unused device of resource intel.com/sriov \
             is allocated to pod default/broken\n"
        ),
        "{}",
        run.stdout
    );
}

#[test]
fn help_and_usage_errors() {
    let run = explain(&["--help"]);
    assert_eq!(run.code, 0);
    for flag in [
        "--config",
        "--pod",
        "--nad",
        "--conf-dir",
        "--ifname",
        "--resources",
        "--output",
        "--kubeconfig",
        "--namespace",
        "--name",
    ] {
        assert!(run.stdout.contains(flag), "{flag} missing: {}", run.stdout);
    }

    let run = explain(&["--config", "00-multus.conf"]);
    assert_eq!(run.code, 2, "no pod: {}", run.stderr);
    let run = explain(&[
        "--config",
        "00-multus.conf",
        "--pod",
        "pod-case-01.yaml",
        "--frobnicate",
    ]);
    assert_eq!(run.code, 2);
    assert!(run.stderr.contains("--frobnicate"), "{}", run.stderr);
    let run = explain(&["--config", "00-multus.conf", "--pod", "no-such-pod.yaml"]);
    assert_eq!(run.code, 2);
    assert!(
        run.stderr.contains("cannot read no-such-pod.yaml"),
        "{}",
        run.stderr
    );
    assert!(run.stdout.is_empty());
}

#[test]
fn pod_and_nads_from_a_live_cluster() {
    let api = multus_testsupport::ApiServer::start_blocking().unwrap();
    for file in [
        "namespace-testns1.yaml",
        "nad-macvlan-conf-1.yaml",
        "nad-macvlan-conf-2.yaml",
        "pod-case-06.yaml",
    ] {
        api.load_file(guide().join(file)).unwrap();
    }
    let dir = tempfile::tempdir().unwrap();
    let kubeconfig = dir.path().join("kubeconfig");
    api.write_kubeconfig(&kubeconfig).unwrap();
    let kubeconfig = kubeconfig.display().to_string();
    let live = |name: &str| {
        explain(&[
            "--config",
            "00-multus.conf",
            "--conf-dir",
            ".",
            "--kubeconfig",
            &kubeconfig,
            "--namespace",
            "default",
            "--name",
            name,
            "--output",
            "json",
        ])
    };

    let run = live("pod-case-06");
    assert_eq!(run.code, 0, "{}{}", run.stdout, run.stderr);
    let report = run.json();
    assert_eq!(
        plan(&report),
        owned(&[
            ("flannel.1", "eth0", true),
            ("default/macvlan-conf-1", "macvlan1", false),
            ("default/macvlan-conf-2", "net2", false),
        ])
    );
    // The pod's UID, as the API server gave it, is in CNI_ARGS.
    let uid = api.pod("default", "pod-case-06").unwrap()["metadata"]["uid"]
        .as_str()
        .unwrap()
        .to_owned();
    assert!(
        report["attachments"][0]["cniArgs"]
            .as_str()
            .unwrap()
            .contains(&format!("K8S_POD_UID={uid}")),
        "{report}"
    );

    let run = live("no-such-pod");
    assert_eq!(run.code, 1);
    assert_eq!(run.json()["error"]["kind"], "pod-not-found");
}

#[test]
fn conflist_gets_runtime_config_by_capabilities() {
    let dir = tempfile::tempdir().unwrap();
    let config = serde_json::json!({
        "cniVersion": "1.0.0", "name": "chain",
        "plugins": [
            {"type": "macvlan", "master": "eth1", "ipam": {"type": "static"}},
            {"type": "tuning", "capabilities": {"mac": true}}
        ]
    });
    let nad = serde_json::json!({
        "apiVersion": "k8s.cni.cncf.io/v1", "kind": "NetworkAttachmentDefinition",
        "metadata": {"name": "chain"},
        "spec": {"config": config.to_string()}
    });
    let nad = write(dir.path(), "chain.json", &nad.to_string());
    let pod = pod_with_networks(
        dir.path(),
        r#"[{"name": "chain", "mac": "c2:00:00:00:00:07"}]"#,
    );
    let run = explain(&[
        "--config",
        "00-multus.conf",
        "--pod",
        &pod,
        "--nad",
        &nad,
        "--output",
        "json",
    ]);
    assert_eq!(run.code, 0, "{}{}", run.stdout, run.stderr);
    let chain = &run.json()["attachments"][1];
    let plugins = chain["config"]["plugins"].as_array().unwrap();
    assert_eq!(chain["config"]["name"], "chain");
    // Each plugin as libcni sends it: the list's name and version injected,
    // runtimeConfig only where the capability is enabled.
    assert_eq!(plugins[0]["name"], "chain");
    assert_eq!(plugins[0]["cniVersion"], "1.0.0");
    assert!(plugins[0].get("runtimeConfig").is_none(), "{chain}");
    assert_eq!(
        plugins[1]["runtimeConfig"],
        serde_json::json!({"mac": "c2:00:00:00:00:07"})
    );
    let args = chain["cniArgs"].as_str().unwrap();
    assert!(args.ends_with(";MAC=c2:00:00:00:00:07"), "{args}");
}

#[test]
fn missing_conf_dir_file_and_ecmp() {
    // macvlan-conf-2's NAD has no spec.config: without --conf-dir the
    // config's default confDir (absent here) is searched.
    let run = explain(&[
        "--config",
        "00-multus.conf",
        "--pod",
        "pod-case-01.yaml",
        "--nad",
        ".",
        "--conf-dir",
        "/nonexistent-multus-explain",
        "--output",
        "json",
    ]);
    assert_eq!(run.code, 1);
    let report = run.json();
    assert_eq!(report["error"]["kind"], "config");
    assert_eq!(
        report["error"]["message"],
        "Multus: [default/pod-case-01/]: No networks found in /nonexistent-multus-explain \
         (pod default/pod-case-01, network default/macvlan-conf-2)"
    );

    let dir = tempfile::tempdir().unwrap();
    let pod = pod_with_networks(
        dir.path(),
        r#"[{"name": "macvlan-conf-1", "default-route": ["10.10.0.254"]},
            {"name": "macvlan-conf", "default-route": ["192.168.2.1"]}]"#,
    );
    let run = explain_guide("00-multus.conf", &pod);
    assert_eq!(run.code, 1);
    let report = run.json();
    assert_eq!(report["error"]["kind"], "default-route");
    assert!(
        report["error"]["message"]
            .as_str()
            .unwrap()
            .contains("multus does not support ECMP for default-route"),
        "{report}"
    );
}
