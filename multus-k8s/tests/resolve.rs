//! Resolving plans against the stand-in API server with the real kube
//! client (built from the multus config's kubeconfig, as the plugin does).
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use common::{CONTAINER_ID, DEFAULT_NETWORK, Env, NETWORKS, RESOURCE_NAME, plan_json, summary};
use std::sync::atomic::{AtomicUsize, Ordering};

use multus_delegate::multus::DelegateCache;
use multus_k8s::devices::ResourceMap;
use multus_k8s::{Error, ResolveRequest};
use multus_types::ToCniError;
use serde_json::json;

const MACVLAN_NOT_FOUND: &str =
    "getKubernetesDelegate: cannot find a network-attachment-definition";

// ----- the user guide's examples -----

#[tokio::test]
async fn pod_case_01_nad_and_nad_without_config_from_confdir() {
    let env = Env::guide().await;
    let plan = env
        .plan(&env.conf(json!({})), "default", "pod-case-01")
        .await
        .unwrap();
    assert_eq!(
        summary(&plan),
        [
            "eth0 flannel.1",
            "net1 default/macvlan-conf-1",
            "net2 default/macvlan-conf-2"
        ]
    );
    assert!(plan.warnings.is_empty(), "{:?}", plan.warnings);
    insta::assert_json_snapshot!("pod_case_01", plan_json(&plan));
    // Two NAD reads, no more.
    assert_eq!(
        env.nad_requests(),
        [
            "GET /apis/k8s.cni.cncf.io/v1/namespaces/default/network-attachment-definitions/macvlan-conf-1",
            "GET /apis/k8s.cni.cncf.io/v1/namespaces/default/network-attachment-definitions/macvlan-conf-2"
        ]
    );
}

#[tokio::test]
async fn pod_case_02_nad_in_another_namespace() {
    let env = Env::guide().await;
    let plan = env
        .plan(&env.conf(json!({})), "default", "pod-case-02")
        .await
        .unwrap();
    assert_eq!(
        summary(&plan),
        ["eth0 flannel.1", "net1 testns1/macvlan-conf-3"]
    );
    assert_eq!(
        plan.attachments[1].conf.as_map()["ipam"]["ranges"][0][0]["subnet"],
        "12.10.0.0/16"
    );
}

#[tokio::test]
async fn pod_case_03_explicit_interface() {
    let env = Env::guide().await;
    let plan = env
        .plan(&env.conf(json!({})), "default", "pod-case-03")
        .await
        .unwrap();
    assert_eq!(
        summary(&plan),
        ["eth0 flannel.1", "macvlan1 default/macvlan-conf-1"]
    );
}

#[tokio::test]
async fn pod_case_04_json_list() {
    let env = Env::guide().await;
    let plan = env
        .plan(&env.conf(json!({})), "default", "pod-case-04")
        .await
        .unwrap();
    assert_eq!(
        summary(&plan),
        [
            "eth0 flannel.1",
            "net1 default/macvlan-conf-1",
            "net2 default/macvlan-conf-2"
        ]
    );
}

#[tokio::test]
async fn pod_case_05_json_namespace() {
    let env = Env::guide().await;
    let conf = env.conf(json!({}));
    // The guide's NAD macvlan-conf-1 lives in `default`, not in testns1.
    let e = env
        .plan(&conf, "default", "pod-case-05")
        .await
        .unwrap_err()
        .to_string();
    assert_eq!(
        e,
        "getKubernetesDelegate: cannot find a network-attachment-definition (macvlan-conf-1) in \
         namespace (testns1): network-attachment-definitions.k8s.cni.cncf.io \"macvlan-conf-1\" \
         not found (pod default/pod-case-05, network testns1/macvlan-conf-1)"
    );
    let config = env.server.nad("default", "macvlan-conf-1").unwrap()["spec"]["config"]
        .as_str()
        .unwrap()
        .to_owned();
    env.server
        .insert_nad("testns1", "macvlan-conf-1", Some(&config), &[]);
    let plan = env.plan(&conf, "default", "pod-case-05").await.unwrap();
    assert_eq!(
        summary(&plan),
        ["eth0 flannel.1", "net1 testns1/macvlan-conf-1"]
    );
}

#[tokio::test]
async fn pod_case_06_json_interface_and_positional_names() {
    let env = Env::guide().await;
    let plan = env
        .plan(&env.conf(json!({})), "default", "pod-case-06")
        .await
        .unwrap();
    // Explicit names do not compact the numbering.
    assert_eq!(
        summary(&plan),
        [
            "eth0 flannel.1",
            "macvlan1 default/macvlan-conf-1",
            "net2 default/macvlan-conf-2"
        ]
    );
}

#[tokio::test]
async fn samplepod_default_route() {
    let env = Env::guide().await;
    let plan = env
        .plan(&env.conf(json!({})), "default", "samplepod")
        .await
        .unwrap();
    insta::assert_json_snapshot!("samplepod", plan_json(&plan));
    let master = &plan.attachments[0];
    assert!(master.filter_v4_gateway && master.filter_v6_gateway);
    let macvlan = &plan.attachments[1];
    assert!(!macvlan.filter_v4_gateway && macvlan.filter_v6_gateway);
}

#[tokio::test]
async fn master_takes_cni_ifname() {
    let env = Env::guide().await;
    let plan = env
        .plan_with(
            &env.conf(json!({})),
            "default",
            "pod-case-01",
            &ResourceMap::new(),
            "eth7",
        )
        .await
        .unwrap();
    assert_eq!(plan.attachments[0].ifname, "eth7");
    assert_eq!(plan.attachments[1].ifname, "net1");
}

// ----- unknown networks -----

#[tokio::test]
async fn unknown_nad_fails_with_upstream_text_and_event() {
    let env = Env::guide().await;
    env.insert_pod("default", "p", &[(NETWORKS, "macvlan-conf-1, nope")]);
    let e = env
        .plan(&env.conf(json!({})), "default", "p")
        .await
        .unwrap_err();
    assert_eq!(
        e.to_string(),
        "getKubernetesDelegate: cannot find a network-attachment-definition (nope) in namespace \
         (default): network-attachment-definitions.k8s.cni.cncf.io \"nope\" not found \
         (pod default/p, network default/nope)"
    );
    assert_eq!(
        env.events(),
        [(
            "Warning".to_owned(),
            "NoNetworkFound".to_owned(),
            "cannot find a network-attachment-definition (nope) in namespace (default): \
             network-attachment-definitions.k8s.cni.cncf.io \"nope\" not found"
                .to_owned()
        )]
    );
    let event = &env.server.events()[0];
    assert_eq!(event["involvedObject"]["name"], "p");
    assert_eq!(event["involvedObject"]["kind"], "Pod");
    assert_eq!(event["source"]["component"], "multus");
    assert_eq!(event["reportingComponent"], "multus");
}

#[tokio::test]
async fn names_that_escape_the_api_path_are_refused_without_a_request() {
    let env = Env::guide().await;
    env.insert_pod(
        "default",
        "p",
        &[(
            NETWORKS,
            r#"[{"name":"../../../api/v1/namespaces/default/pods/x"}]"#,
        )],
    );
    let e = env
        .plan(&env.conf(json!({})), "default", "p")
        .await
        .unwrap_err()
        .to_string();
    assert!(e.starts_with(MACVLAN_NOT_FOUND), "{e}");
    assert!(e.contains("it may not contain '/'"), "{e}");
    assert!(env.nad_requests().is_empty());
    env.insert_pod("default", "q", &[(NETWORKS, r#"[{"name":""}]"#)]);
    let e = env
        .plan(&env.conf(json!({})), "default", "q")
        .await
        .unwrap_err()
        .to_string();
    assert!(
        e.contains("cannot find a network-attachment-definition () in namespace (default)"),
        "{e}"
    );
}

#[tokio::test]
async fn nad_without_config_aborts_on_a_broken_conf_file() {
    let env = Env::guide().await;
    env.add_conf_file("00-broken.conf", r#"{"name":"other"}"#);
    let e = env
        .plan(&env.conf(json!({})), "default", "pod-case-01")
        .await
        .unwrap_err()
        .to_string();
    assert!(e.starts_with("Error loading CNI config file "), "{e}");
    assert!(
        e.ends_with(
            "00-broken.conf: no 'type'; perhaps this is a .conflist? (pod default/pod-case-01, \
             network default/macvlan-conf-2)"
        ),
        "{e}"
    );
}

#[tokio::test]
async fn nad_without_config_and_no_file() {
    let env = Env::guide().await;
    std::fs::remove_file(env.conf_dir().join("macvlan2.conf")).unwrap();
    env.add_conf_file(
        "10-other.conflist",
        r#"{"name":"other","plugins":[{"type":"x"}]}"#,
    );
    let e = env
        .plan(&env.conf(json!({})), "default", "pod-case-01")
        .await
        .unwrap_err()
        .to_string();
    assert!(
        e.starts_with("no network available in the name macvlan-conf-2 in cni dir "),
        "{e}"
    );
}

// ----- namespace isolation -----

#[tokio::test]
async fn isolation_refuses_before_any_nad_read() {
    let env = Env::guide().await;
    env.insert_pod(
        "default",
        "p",
        &[(NETWORKS, "macvlan-conf-1, testns1/macvlan-conf-3")],
    );
    let conf = env.conf(json!({"namespaceIsolation": true}));
    let e = env.plan(&conf, "default", "p").await.unwrap_err();
    assert_eq!(
        e.to_string(),
        "GetNetworkDelegates: namespace isolation enabled, annotation violates permission, pod is \
         in namespace default but refers to target namespace testns1 (namespaces open to every \
         pod: \"default\") (pod default/p, network testns1/macvlan-conf-3)"
    );
    assert!(matches!(e.root(), Error::NamespaceIsolation { .. }));
    assert!(env.nad_requests().is_empty(), "{:?}", env.nad_requests());
    assert!(env.events().is_empty());
}

#[tokio::test]
async fn isolation_default_namespace_rule() {
    let env = Env::guide().await;
    env.insert_pod(
        "testns1",
        "p",
        &[(NETWORKS, "default/macvlan-conf-1, macvlan-conf-3")],
    );
    // `default` is global when globalNamespaces is empty.
    let plan = env
        .plan(
            &env.conf(json!({"namespaceIsolation": true})),
            "testns1",
            "p",
        )
        .await
        .unwrap();
    assert_eq!(
        summary(&plan),
        [
            "eth0 flannel.1",
            "net1 default/macvlan-conf-1",
            "net2 testns1/macvlan-conf-3"
        ]
    );
    // A non-empty globalNamespaces replaces it...
    let conf = env.conf(json!({"namespaceIsolation": true, "globalNamespaces": "kube-system"}));
    let e = env
        .plan(&conf, "testns1", "p")
        .await
        .unwrap_err()
        .to_string();
    assert!(
        e.contains("pod is in namespace testns1 but refers to target namespace default"),
        "{e}"
    );
    // ... so it must be listed explicitly.
    let conf =
        env.conf(json!({"namespaceIsolation": true, "globalNamespaces": "kube-system, default"}));
    assert!(env.plan(&conf, "testns1", "p").await.is_ok());
    // Without isolation anything goes.
    let conf = env.conf(json!({"globalNamespaces": "kube-system"}));
    assert!(env.plan(&conf, "testns1", "p").await.is_ok());
}

// ----- default-network annotation -----

#[tokio::test]
async fn default_network_annotation_replaces_the_master() {
    let env = Env::guide().await;
    env.server.insert_nad(
        "kube-system",
        "calico-alt",
        Some(r#"{"cniVersion":"0.3.1","type":"calico"}"#),
        &[],
    );
    env.insert_pod(
        "default",
        "p",
        &[
            (DEFAULT_NETWORK, "calico-alt"),
            (NETWORKS, "macvlan-conf-1"),
        ],
    );
    let plan = env
        .plan(&env.conf(json!({})), "default", "p")
        .await
        .unwrap();
    assert_eq!(
        summary(&plan),
        ["eth0 kube-system/calico-alt", "net1 default/macvlan-conf-1"]
    );
    assert!(plan.attachments[0].master);
    // The NAD name is injected into a nameless config.
    assert_eq!(plan.attachments[0].conf.name(), "calico-alt");

    // An explicit interface overrides CNI_IFNAME; isolation does not apply.
    env.insert_pod(
        "testns1",
        "q",
        &[(
            DEFAULT_NETWORK,
            r#"[{"name":"calico-alt","namespace":"kube-system","interface":"eth9"}]"#,
        )],
    );
    let plan = env
        .plan(
            &env.conf(json!({"namespaceIsolation": true})),
            "testns1",
            "q",
        )
        .await
        .unwrap();
    assert_eq!(summary(&plan), ["eth9 kube-system/calico-alt"]);
}

#[tokio::test]
async fn default_network_annotation_errors() {
    let env = Env::guide().await;
    env.insert_pod("default", "two", &[(DEFAULT_NETWORK, "a,b")]);
    let e = env
        .plan(&env.conf(json!({})), "default", "two")
        .await
        .unwrap_err()
        .to_string();
    assert_eq!(
        e,
        "more than one default network is specified: a,b (annotation \
         v1.multus-cni.io/default-network) (pod default/two)"
    );
    env.insert_pod("default", "missing", &[(DEFAULT_NETWORK, "nope")]);
    let e = env
        .plan(&env.conf(json!({})), "default", "missing")
        .await
        .unwrap_err()
        .to_string();
    assert!(e.contains("(nope) in namespace (kube-system)"), "{e}");
    assert_eq!(env.events()[0].1, "NoNetworkFound");
}

// ----- clusterNetwork / defaultNetworks -----

#[tokio::test]
async fn cluster_network_and_default_networks_lookups() {
    let env = Env::guide().await;
    // NAD in multusNamespace.
    env.server.insert_nad(
        "kube-system",
        "flannel",
        Some(r#"{"cniVersion":"0.3.1","name":"flannel.1","type":"flannel"}"#),
        &[],
    );
    // A directory (first file whatever its name) and a file path.
    let dir = env.dir.path().join("dir-net");
    std::fs::create_dir_all(&dir).unwrap();
    std::fs::write(
        dir.join("20-b.conf"),
        r#"{"cniVersion":"0.3.1","name":"dir-b","type":"bridge"}"#,
    )
    .unwrap();
    std::fs::write(
        dir.join("10-a.json"),
        r#"{"cniVersion":"0.3.1","name":"dir-a","type":"ptp"}"#,
    )
    .unwrap();
    let file = env.dir.path().join("30-file.conflist");
    std::fs::write(
        &file,
        r#"{"cniVersion":"0.4.0","name":"file-net","plugins":[{"type":"ptp"}]}"#,
    )
    .unwrap();
    std::fs::create_dir_all(env.dir.path().join("file-net")).unwrap();
    std::fs::write(
        env.dir.path().join("file-net/portmap.conf"),
        r#"{"type":"portmap","capabilities":{"portMappings":true}}"#,
    )
    .unwrap();

    let conf = env.conf(json!({
        "clusterNetwork": "flannel",
        "defaultNetworks": ["macvlan-conf-2", dir, file],
    }));
    let plan = env.plan(&conf, "default", "pod-case-03").await.unwrap();
    assert_eq!(
        summary(&plan),
        [
            "eth0 kube-system/flannel",
            "net1 macvlan-conf-2",
            "net2 dir-a",
            "net3 file-net",
            "macvlan1 default/macvlan-conf-1"
        ]
    );
    insta::assert_json_snapshot!("cluster_network_default_networks", plan_json(&plan));
    // macvlan-conf-2 was first looked for as a NAD in kube-system.
    assert!(
        env.nad_requests().contains(
            &"GET /apis/k8s.cni.cncf.io/v1/namespaces/kube-system/network-attachment-definitions/macvlan-conf-2".to_owned()
        )
    );
    assert_eq!(plan.warnings.len(), 1, "{:?}", plan.warnings);
    assert!(
        plan.warnings[0].starts_with("network macvlan-conf-2: getKubernetesDelegate"),
        "{:?}",
        plan.warnings
    );
    // Found in confDir: no event.
    assert!(env.events().is_empty());

    // Pods in systemNamespaces do not get defaultNetworks.
    env.insert_pod(
        "kube-system",
        "sys",
        &[(NETWORKS, "default/macvlan-conf-1")],
    );
    let plan = env.plan(&conf, "kube-system", "sys").await.unwrap();
    assert_eq!(
        summary(&plan),
        ["eth0 kube-system/flannel", "net1 default/macvlan-conf-1"]
    );
    // ... unless systemNamespaces says otherwise.
    let conf = env.conf(json!({
        "clusterNetwork": "flannel", "defaultNetworks": ["macvlan-conf-2"], "systemNamespaces": ["other"],
    }));
    let plan = env.plan(&conf, "kube-system", "sys").await.unwrap();
    assert_eq!(plan.attachments.len(), 3);
}

#[tokio::test]
async fn cluster_network_by_name_in_confdir_and_multus_namespace() {
    let env = Env::guide().await;
    env.add_conf_file(
        "10-flannel.conflist",
        r#"{"cniVersion":"0.4.0","name":"cbr0","plugins":[{"type":"flannel"}]}"#,
    );
    let conf = env.conf(json!({"clusterNetwork": "cbr0"}));
    let plan = env.plan(&conf, "default", "pod-case-02").await.unwrap();
    assert_eq!(summary(&plan), ["eth0 cbr0", "net1 testns1/macvlan-conf-3"]);
    // multusNamespace moves the NAD lookup.
    env.server.insert_nad(
        "multus",
        "cbr0",
        Some(r#"{"cniVersion":"0.3.1","type":"flannel"}"#),
        &[],
    );
    let conf = env.conf(json!({"clusterNetwork": "cbr0", "multusNamespace": "multus"}));
    let plan = env.plan(&conf, "default", "pod-case-02").await.unwrap();
    assert_eq!(plan.attachments[0].status_name, "multus/cbr0");
}

#[tokio::test]
async fn cluster_network_not_found() {
    let env = Env::guide().await;
    let conf = env.conf(json!({"clusterNetwork": "nope"}));
    let e = env.plan(&conf, "default", "pod-case-01").await.unwrap_err();
    let text = e.to_string();
    assert!(
        text.starts_with(
            "GetDefaultNetworks: failed to get clusterNetwork nope in namespace kube-system: \
             getNetDelegate: cannot find network: nope (getKubernetesDelegate: cannot find a \
             network-attachment-definition (nope) in namespace (kube-system): "
        ),
        "{text}"
    );
    assert!(
        text.contains("; no network available in the name nope in cni dir "),
        "{text}"
    );
    assert!(
        text.ends_with("(pod default/pod-case-01, network nope)"),
        "{text}"
    );
    assert_eq!(env.events().len(), 1);
    assert_eq!(env.events()[0].1, "NoNetworkFound");

    let conf = env.conf(json!({"clusterNetwork": "/nonexistent/10-x.conf"}));
    let e = env
        .plan(&conf, "default", "pod-case-01")
        .await
        .unwrap_err()
        .to_string();
    assert!(
        e.contains("getNetDelegate: cannot find network: /nonexistent/10-x.conf"),
        "{e}"
    );
}

#[tokio::test]
async fn without_a_client() {
    let env = Env::guide().await;
    // Delegates mode: only the config's delegates, annotations unread.
    let conf = env.conf(json!({"kubeconfig": ""}));
    if std::env::var_os("KUBERNETES_SERVICE_HOST").is_some() {
        return;
    }
    let plan = env.plan(&conf, "default", "pod-case-01").await.unwrap();
    assert_eq!(summary(&plan), ["eth0 flannel.1"]);
    assert!(env.server.requests().is_empty());
    // clusterNetwork mode needs a client, even for a path.
    let conf = env.conf(json!({"kubeconfig": "", "clusterNetwork": "/etc/cni/net.d/10-x.conf"}));
    let e = env.plan(&conf, "default", "pod-case-01").await.unwrap_err();
    assert!(matches!(e.root(), Error::NoKubernetesNorDelegates));
    assert!(
        e.to_string()
            .starts_with("GetDefaultNetworks: must have either Kubernetes config or delegates"),
        "{e}"
    );
}

#[tokio::test]
async fn without_the_pod_only_the_master() {
    let env = Env::guide().await;
    env.server.insert_nad(
        "kube-system",
        "flannel",
        Some(r#"{"cniVersion":"0.3.1","name":"flannel.1","type":"flannel"}"#),
        &[],
    );
    let conf =
        env.conf(json!({"clusterNetwork": "flannel", "defaultNetworks": ["macvlan-conf-2"]}));
    let client = env.client().await;
    let args = common::k8s_args("default", "gone");
    let request = ResolveRequest::new(&conf, &args, "c", "eth0");
    let plan = multus_k8s::resolve(Some(&client), &request).await.unwrap();
    assert_eq!(summary(&plan), ["eth0 kube-system/flannel"]);
}

#[tokio::test]
async fn auxiliary_chain_and_subdirectory_plugins() {
    let env = Env::guide().await;
    let cluster = env.add_conf_file(
        "10-flannel.conflist",
        r#"{"cniVersion":"1.0.0","name":"cbr0","plugins":[{"type":"flannel"}]}"#,
    );
    env.add_conf_file("cbr0/20-portmap.conf", r#"{"type":"portmap"}"#);
    env.add_conf_file(
        "aux/10-tuning.conf",
        r#"{"type":"tuning","sysctl":{"net.ipv4.conf.all.log_martians":"1"}}"#,
    );
    let conf = env.conf(json!({
        "cniVersion": "1.0.0", "clusterNetwork": cluster, "auxiliaryCNIChainName": "aux",
    }));
    let plan = env.plan(&conf, "default", "pod-case-03").await.unwrap();
    assert_eq!(
        summary(&plan),
        ["eth0 cbr0", "macvlan1 default/macvlan-conf-1", "net2 aux"]
    );
    insta::assert_json_snapshot!("auxiliary_chain", plan_json(&plan));

    // The chain needs clusterNetwork to be a path.
    let conf = env.conf(json!({"clusterNetwork": "cbr0", "auxiliaryCNIChainName": "aux"}));
    let e = env
        .plan(&conf, "default", "pod-case-03")
        .await
        .unwrap_err()
        .to_string();
    assert!(
        e.starts_with(
            "auxiliary chain used but ClusterNetwork must be a path, and it is not a path: cbr0"
        ),
        "{e}"
    );
    // A chain without plugins is skipped with a warning.
    let conf = env.conf(json!({"clusterNetwork": cluster, "auxiliaryCNIChainName": "none"}));
    let plan = env.plan(&conf, "default", "pod-case-03").await.unwrap();
    assert_eq!(plan.attachments.len(), 2);
    assert_eq!(plan.warnings.len(), 1);
}

// ----- per-attachment requests -----

#[tokio::test]
async fn runtime_config_cni_args_and_requests() {
    let env = Env::guide().await;
    env.server.insert_nad(
        "default",
        "chain",
        Some(r#"{"cniVersion":"1.0.0","name":"chain","plugins":[{"type":"bridge","args":{"cni":{"keep":"yes","over":"old"}}},{"type":"tuning","capabilities":{"mac":true}}]}"#),
        &[],
    );
    env.insert_pod(
        "default",
        "p",
        &[(
            NETWORKS,
            r#"[
              {"name":"chain","interface":"ext0","ips":["10.1.1.5/24"],"mac":"c2:b0:57:49:47:f1",
               "cni-args":{"over":"new","extra":1},
               "portMappings":[{"hostPort":8080,"containerPort":80,"protocol":"tcp"}],
               "bandwidth":{"ingressRate":1000,"ingressBurst":2000,"egressRate":3000,"egressBurst":4000},
               "infiniband-guid":"24:8a:07:03:00:8d:ae:2f","deviceID":"0000:03:00.1"},
              {"name":"macvlan-conf-1","ips":[]}
            ]"#,
        )],
    );
    let conf = env.conf(json!({
        "runtimeConfig": {"portMappings":[{"hostPort":9090,"containerPort":90}],"mac":"c2:00:00:00:00:01","CNIDeviceInfoFile":"/x"}
    }));
    let plan = env.plan(&conf, "default", "p").await.unwrap();
    insta::assert_json_snapshot!("requests", plan_json(&plan));
    // The master gets only the runtime's values, its CNIDeviceInfoFile
    // included (as upstream, on ADD as on DEL).
    assert_eq!(plan.attachments[0].runtime_config.mac, "c2:00:00:00:00:01");
    assert_eq!(
        plan.attachments[0].runtime_config.cni_device_info_file,
        "/x"
    );
    // A runtime-supplied file is never one of ours to write or remove.
    assert_eq!(
        plan.attachments[0].generated_device_info_file(CONTAINER_ID),
        None
    );
    let chain = &plan.attachments[1];
    assert_eq!(chain.runtime_config.port_mappings[0].host_port, 8080);
    assert_eq!(
        chain.runtime_config.cni_device_info_file,
        "/var/run/k8s.cni.cncf.io/devinfo/cni/default-chain-c0ffee_ext0"
    );
    assert_eq!(
        chain.generated_device_info_file(CONTAINER_ID),
        Some("/var/run/k8s.cni.cncf.io/devinfo/cni/default-chain-c0ffee_ext0")
    );
    // `ips: []` still overrides and is still a request.
    assert_eq!(plan.attachments[2].ip_request, Some(vec![]));
    assert!(plan.attachments[2].runtime_config.ips.is_empty());
    assert_eq!(plan.attachments[2].runtime_config.mac, "c2:00:00:00:00:01");
    assert_eq!(
        plan.attachments[2].runtime_config.cni_device_info_file,
        "/x"
    );
}

/// `"portMappings": []` on an element empties the runtime's port mappings
/// (the pod's hostPorts) for that attachment, as upstream
/// (`PortMappingsRequest != nil`); without the key (or with `null`) the
/// attachment keeps the runtime's.
#[tokio::test]
async fn empty_port_mappings_request_overrides_the_pods_host_ports() {
    let env = Env::guide().await;
    env.insert_pod(
        "default",
        "p",
        &[(
            NETWORKS,
            r#"[{"name":"macvlan-conf-1","portMappings":[]},
                {"name":"macvlan-conf-2"},
                {"name":"macvlan-conf-1","interface":"mv3","portMappings":null},
                {"name":"macvlan-conf-2","interface":"mv4",
                 "portMappings":[{"hostPort":8443,"containerPort":443}]}]"#,
        )],
    );
    let conf = env.conf(json!({
        "runtimeConfig": {"portMappings": [{"hostPort": 8080, "containerPort": 80, "protocol": "tcp"}]}
    }));
    let plan = env.plan(&conf, "default", "p").await.unwrap();
    let host_ports: Vec<Vec<i64>> = plan
        .attachments
        .iter()
        .map(|a| {
            a.runtime_config
                .port_mappings
                .iter()
                .map(|p| p.host_port)
                .collect()
        })
        .collect();
    assert_eq!(
        host_ports,
        [vec![8080], vec![], vec![8080], vec![8080], vec![8443]]
    );
}

/// ADD builds each delegate's runtimeConfig from the annotation, DEL from
/// the delegate cache written before the ADD: both go through
/// `delegate_runtime_config` and `positional_ifname`, so they agree — for
/// everything the cache holds (as upstream's, it holds no portMappings or
/// bandwidth request and drops an empty `ips` list, so those are not asked
/// for here).
#[tokio::test]
async fn add_and_del_from_the_cache_see_the_same_runtime_config() {
    let env = Env::guide().await;
    env.server.insert_nad(
        "default",
        "sriov-a",
        Some(r#"{"cniVersion":"0.3.1","type":"sriov"}"#),
        &[(RESOURCE_NAME, "intel.com/sriov")],
    );
    env.insert_pod(
        "default",
        "p",
        &[(
            NETWORKS,
            r#"[
              {"name":"sriov-a","interface":"sr0","mac":"c2:b0:57:49:47:f1","ips":["10.1.1.5/24"],
               "infiniband-guid":"24:8a:07:03:00:8d:ae:2f"},
              {"name":"macvlan-conf-1"},
              {"name":"macvlan-conf-2","deviceID":"0000:98:00.0","ips":["10.1.1.9/24"]},
              {"name":"macvlan-conf-1","interface":"mv9","mac":"c2:b0:57:49:47:f2"}
            ]"#,
        )],
    );
    let conf = env.conf(json!({
        "runtimeConfig": {
            "portMappings": [{"hostPort": 9090, "containerPort": 90}],
            "mac": "c2:00:00:00:00:01",
            "ips": ["10.9.9.9/24"],
            "CNIDeviceInfoFile": "/var/lib/kubelet/device-info.json"
        }
    }));
    let resources = ResourceMap::from([(
        "intel.com/sriov".to_owned(),
        vec!["0000:03:02.0".to_owned()],
    )]);
    let plan = env
        .plan_with(&conf, "default", "p", &resources, "eth7")
        .await
        .unwrap();
    assert_eq!(
        summary(&plan),
        [
            "eth7 flannel.1",
            "sr0 default/sriov-a",
            "net2 default/macvlan-conf-1",
            "net3 default/macvlan-conf-2",
            "mv9 default/macvlan-conf-1"
        ]
    );

    let cache = DelegateCache::new(env.dir.path().join("multus"));
    cache
        .write(CONTAINER_ID, "eth7", &plan.attachments)
        .unwrap();
    let base = conf.runtime_config.clone().unwrap_or_default();
    let cached = cache.read(CONTAINER_ID, "eth7", &base).unwrap().unwrap();
    let del: Vec<_> = cached.attachments().collect();
    assert_eq!(del.len(), plan.attachments.len());
    for (add, del) in plan.attachments.iter().zip(del) {
        assert_eq!(add.ifname, del.ifname);
        assert_eq!(add.master, del.master);
        assert_eq!(
            add.runtime_config, del.runtime_config,
            "{}",
            add.status_name
        );
        assert_eq!(
            add.generated_device_info_file(CONTAINER_ID),
            del.generated_device_info_file(CONTAINER_ID)
        );
    }
    // What they agree on: the runtime's file for delegates without a
    // device, the generated one for those with one.
    let rc = |i: usize| &plan.attachments[i].runtime_config;
    assert_eq!(rc(0), &base);
    assert_eq!(
        rc(1).cni_device_info_file,
        "/var/run/k8s.cni.cncf.io/devinfo/cni/default-sriov-a-c0ffee_sr0"
    );
    assert_eq!(rc(1).device_id, "0000:03:02.0");
    assert_eq!(rc(1).ips, ["10.1.1.5/24"]);
    assert_eq!(
        rc(2).cni_device_info_file,
        "/var/lib/kubelet/device-info.json"
    );
    assert_eq!(rc(2).mac, "c2:00:00:00:00:01");
    assert_eq!(
        rc(3).cni_device_info_file,
        "/var/run/k8s.cni.cncf.io/devinfo/cni/default-macvlan-conf-2-c0ffee_net3"
    );
    assert_eq!(rc(4).mac, "c2:b0:57:49:47:f2");
}

#[tokio::test]
async fn ecmp_is_refused() {
    let env = Env::guide().await;
    env.insert_pod(
        "default",
        "p",
        &[(
            NETWORKS,
            r#"[{"name":"macvlan-conf-1","default-route":["10.10.0.254"]},{"name":"macvlan-conf","default-route":["192.168.2.1"]}]"#,
        )],
    );
    let e = env
        .plan(&env.conf(json!({})), "default", "p")
        .await
        .unwrap_err()
        .to_string();
    assert!(
        e.starts_with("multus does not support ECMP for default-route"),
        "{e}"
    );
    assert!(e.ends_with("(pod default/p)"), "{e}");
}

#[tokio::test]
async fn device_ids_from_resources() {
    let env = Env::guide().await;
    let sriov = r#"{"cniVersion":"0.3.1","type":"sriov","ipam":{"type":"host-local","subnet":"10.56.217.0/24"}}"#;
    env.server.insert_nad(
        "default",
        "sriov-a",
        Some(sriov),
        &[(RESOURCE_NAME, "intel.com/sriov")],
    );
    env.server.insert_nad(
        "default",
        "sriov-list",
        Some(r#"{"cniVersion":"0.4.0","plugins":[{"type":"sriov"},{"type":"tuning"}]}"#),
        &[(RESOURCE_NAME, "intel.com/sriov")],
    );
    env.insert_pod(
        "default",
        "p",
        &[(
            NETWORKS,
            r#"[{"name":"sriov-a"},{"name":"sriov-list"},{"name":"sriov-a","deviceID":"0000:99:00.0"},{"name":"macvlan-conf-1","deviceID":"0000:98:00.0"}]"#,
        )],
    );
    let resources = ResourceMap::from([(
        "intel.com/sriov".to_owned(),
        vec!["0000:03:02.1".to_owned(), "0000:03:02.0".to_owned()],
    )]);
    let plan = env
        .plan_with(&env.conf(json!({})), "default", "p", &resources, "eth0")
        .await
        .unwrap();
    insta::assert_json_snapshot!("devices", plan_json(&plan));
    let ids: Vec<(&str, &str)> = plan
        .attachments
        .iter()
        .map(|a| (a.device_id.as_str(), a.resource_name.as_str()))
        .collect();
    assert_eq!(
        ids,
        [
            ("", ""),
            ("0000:03:02.0", "intel.com/sriov"),
            ("0000:03:02.1", "intel.com/sriov"),
            // Exhausted: the annotation's deviceID is used.
            ("0000:99:00.0", ""),
            ("0000:98:00.0", "")
        ]
    );
    assert_eq!(plan.warnings.len(), 1, "{:?}", plan.warnings);
    assert!(plan.warnings[0].contains("no unused device of resource intel.com/sriov"));
}

#[tokio::test]
async fn devices_are_read_only_for_networks_with_a_resource() {
    let env = Env::guide().await;
    let sriov = r#"{"cniVersion":"0.3.1","type":"sriov"}"#;
    for name in ["sriov-a", "sriov-b"] {
        env.server.insert_nad(
            "default",
            name,
            Some(sriov),
            &[(RESOURCE_NAME, "intel.com/sriov")],
        );
    }
    env.insert_pod(
        "default",
        "p",
        &[(NETWORKS, "macvlan-conf-1, sriov-a, sriov-b")],
    );
    let conf = env.conf(json!({}));
    let calls = AtomicUsize::new(0);
    let broken = || {
        calls.fetch_add(1, Ordering::Relaxed);
        Err(Error::DeviceCheckpoint {
            path: "/var/lib/kubelet/device-plugins/kubelet_internal_checkpoint".into(),
            reason: "expected value at line 1 column 1".into(),
        })
    };

    // No network of the pod names a resource: the source is never asked, so
    // a broken one does not matter.
    let plan = env
        .plan_with(&conf, "default", "pod-case-01", &broken, "eth0")
        .await
        .unwrap();
    assert_eq!(plan.attachments.len(), 3);
    assert_eq!(calls.load(Ordering::Relaxed), 0);

    // Two networks with a resource: asked once; its error fails the plan.
    let e = env
        .plan_with(&conf, "default", "p", &broken, "eth0")
        .await
        .unwrap_err();
    assert_eq!(calls.load(Ordering::Relaxed), 1);
    assert_eq!(
        e.to_string(),
        "failed to read the device-plugin checkpoint \
         /var/lib/kubelet/device-plugins/kubelet_internal_checkpoint: expected value at line 1 \
         column 1 (pod default/p, network default/sriov-a)"
    );
    assert_eq!(e.cni_code().code(), 5);

    let calls = AtomicUsize::new(0);
    let lazy = || {
        calls.fetch_add(1, Ordering::Relaxed);
        Ok(ResourceMap::from([(
            "intel.com/sriov".to_owned(),
            vec!["0000:03:02.1".to_owned(), "0000:03:02.0".to_owned()],
        )]))
    };
    let plan = env
        .plan_with(&conf, "default", "p", &lazy, "eth0")
        .await
        .unwrap();
    assert_eq!(calls.load(Ordering::Relaxed), 1);
    let ids: Vec<&str> = plan
        .attachments
        .iter()
        .map(|a| a.device_id.as_str())
        .collect();
    assert_eq!(ids, ["", "", "0000:03:02.0", "0000:03:02.1"]);
}

#[tokio::test]
async fn default_network_nad_with_a_resource_gives_the_master_a_device() {
    let env = Env::guide().await;
    let sriov = r#"{"cniVersion":"0.3.1","type":"sriov"}"#;
    // The clusterNetwork names the resource too, but is replaced: it takes none.
    env.server.insert_nad(
        "kube-system",
        "sriov-cluster",
        Some(sriov),
        &[(RESOURCE_NAME, "intel.com/sriov")],
    );
    env.server.insert_nad(
        "kube-system",
        "sriov-default",
        Some(sriov),
        &[(RESOURCE_NAME, "intel.com/sriov")],
    );
    env.server.insert_nad(
        "default",
        "sriov-a",
        Some(sriov),
        &[(RESOURCE_NAME, "intel.com/sriov")],
    );
    env.insert_pod(
        "default",
        "p",
        &[(DEFAULT_NETWORK, "sriov-default"), (NETWORKS, "sriov-a")],
    );
    let resources = ResourceMap::from([(
        "intel.com/sriov".to_owned(),
        vec!["0000:03:02.1".to_owned(), "0000:03:02.0".to_owned()],
    )]);
    for conf in [
        env.conf(json!({})),
        env.conf(json!({"clusterNetwork": "sriov-cluster"})),
    ] {
        let plan = env
            .plan_with(&conf, "default", "p", &resources, "eth0")
            .await
            .unwrap();
        assert_eq!(
            summary(&plan),
            ["eth0 kube-system/sriov-default", "net1 default/sriov-a"]
        );
        let [master, net1] = &plan.attachments[..] else {
            panic!("{plan:?}")
        };
        // As upstream: the master's config gets the device; like every
        // master, its runtimeConfig keeps the runtime's (no deviceID).
        assert_eq!(master.device_id, "0000:03:02.0");
        assert_eq!(master.resource_name, "intel.com/sriov");
        assert_eq!(master.conf.as_map()["deviceID"], "0000:03:02.0");
        assert_eq!(master.conf.as_map()["pciBusID"], "0000:03:02.0");
        assert!(master.runtime_config.device_id.is_empty());
        assert!(master.runtime_config.cni_device_info_file.is_empty());
        // One allocation across the plan: the networks NAD of the same
        // resource takes the next device (upstream's separate map for the
        // default-network annotation would hand it the same one).
        assert_eq!(net1.device_id, "0000:03:02.1");
        assert_eq!(net1.conf.as_map()["deviceID"], "0000:03:02.1");
        assert_eq!(net1.runtime_config.device_id, "0000:03:02.1");
        assert!(plan.warnings.is_empty(), "{:?}", plan.warnings);
    }
}

#[tokio::test]
async fn cni_args_and_device_reach_the_loaded_delegate() {
    let env = Env::guide().await;
    env.server.insert_nad(
        "default",
        "sriov-list",
        Some(r#"{"cniVersion":"0.4.0","plugins":[{"type":"sriov"},{"type":"tuning"}]}"#),
        &[(RESOURCE_NAME, "intel.com/sriov")],
    );
    env.server
        .insert_nad("default", "no-type", Some(r#"{"cniVersion":"0.3.1"}"#), &[]);
    env.server.insert_nad(
        "default",
        "bad-args",
        Some(r#"{"cniVersion":"0.3.1","type":"macvlan","args":"nope"}"#),
        &[],
    );
    let resources = ResourceMap::from([(
        "intel.com/sriov".to_owned(),
        vec!["0000:03:02.0".to_owned()],
    )]);
    let conf = env.conf(json!({}));
    env.insert_pod(
        "default",
        "p",
        &[(NETWORKS, r#"[{"name":"sriov-list","cni-args":{"a":1}}]"#)],
    );
    let plan = env
        .plan_with(&conf, "default", "p", &resources, "eth0")
        .await
        .unwrap();
    let multus_types::DelegateConf::List(list) = &plan.attachments[1].conf else {
        panic!("{:?}", plan.attachments[1].conf)
    };
    // The parsed plugins carry both edits, as the list's object does.
    for (i, plugin) in list.plugins().iter().enumerate() {
        assert_eq!(plugin.as_map()["deviceID"], "0000:03:02.0");
        assert_eq!(plugin.as_map()["args"]["cni"]["a"], 1);
        assert_eq!(list.as_map()["plugins"][i], json!(plugin.as_map()));
    }

    // Not a delegate: reported as such, whatever cni-args asks.
    env.insert_pod(
        "default",
        "q",
        &[(NETWORKS, r#"[{"name":"no-type","cni-args":{"a":1}}]"#)],
    );
    let e = env
        .plan(&conf, "default", "q")
        .await
        .unwrap_err()
        .to_string();
    assert!(e.starts_with("failed to load the network config: "), "{e}");
    assert!(
        e.ends_with("(pod default/q, network default/no-type)"),
        "{e}"
    );
    // A delegate whose args cannot take cni-args.
    env.insert_pod(
        "default",
        "r",
        &[(NETWORKS, r#"[{"name":"bad-args","cni-args":{"a":1}}]"#)],
    );
    let e = env
        .plan(&conf, "default", "r")
        .await
        .unwrap_err()
        .to_string();
    assert!(
        e.starts_with(
            "cannot merge cni-args into the network config: args is a string, not an object"
        ),
        "{e}"
    );
}

#[tokio::test]
async fn del_without_cache_tolerates_annotation_errors() {
    let env = Env::guide().await;
    env.insert_pod("default", "p", &[(NETWORKS, "macvlan-conf-1, nope")]);
    let conf = env.conf(json!({}));
    let client = env.client().await;
    let pod = env.pod("default", "p").await;
    let args = common::k8s_args("default", "p");
    let request = ResolveRequest::new(&conf, &args, "c", "eth0").with_pod(Some(&pod));
    assert!(multus_k8s::resolve(Some(&client), &request).await.is_err());
    let request = request.tolerating_annotation_errors();
    let plan = multus_k8s::resolve(Some(&client), &request).await.unwrap();
    assert_eq!(summary(&plan), ["eth0 flannel.1"]);
    assert_eq!(plan.warnings.len(), 1);
    assert!(
        plan.warnings[0].starts_with("pod networks ignored: getKubernetesDelegate: cannot find"),
        "{:?}",
        plan.warnings
    );
    // Parse errors too.
    env.insert_pod("default", "bad", &[(NETWORKS, "a/b/c")]);
    let pod = env.pod("default", "bad").await;
    let args = common::k8s_args("default", "bad");
    let request = ResolveRequest::new(&conf, &args, "c", "eth0")
        .with_pod(Some(&pod))
        .tolerating_annotation_errors();
    let plan = multus_k8s::resolve(Some(&client), &request).await.unwrap();
    assert_eq!(summary(&plan), ["eth0 flannel.1"]);
}
