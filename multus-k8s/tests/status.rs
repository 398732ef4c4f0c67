//! Writing network-status through pods/status, and pod events.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use common::{Env, NETWORK_STATUS};
use multus_annotations::{NetworkStatus, render_network_status};
use multus_k8s::events;
use multus_k8s::status::{Backoff, StatusWrite, write_network_status, write_network_status_with};
use multus_types::result::v1;

const STATUS_PATH: &str = "/api/v1/namespaces/default/pods/p/status";

fn entries() -> Vec<NetworkStatus> {
    let master: v1::Result = serde_json::from_str(
        r#"{"cniVersion":"1.0.0",
            "interfaces":[{"name":"eth0","mac":"0a:58:0a:f4:01:05","sandbox":"/var/run/netns/p"}],
            "ips":[{"address":"10.244.1.5/24","gateway":"10.244.1.1","interface":0}],
            "dns":{}}"#,
    )
    .unwrap();
    let macvlan: v1::Result = serde_json::from_str(
        r#"{"cniVersion":"1.0.0",
            "interfaces":[{"name":"net1","mac":"c2:b0:57:49:47:f1","sandbox":"/var/run/netns/p"}],
            "ips":[{"address":"10.10.1.20/16","interface":0}]}"#,
    )
    .unwrap();
    let mut all = NetworkStatus::from_result(&master, "flannel.1", true, None);
    all.extend(NetworkStatus::from_result(
        &macvlan,
        "default/macvlan-conf-1",
        false,
        None,
    ));
    all
}

async fn setup() -> (Env, kube::Client, String) {
    let env = Env::new().await;
    let pod = env.insert_pod("default", "p", &[("other", "kept")]);
    let uid = pod["metadata"]["uid"].as_str().unwrap().to_owned();
    let client = env.client().await;
    (env, client, uid)
}

fn put_statuses(env: &Env) -> Vec<Option<u16>> {
    env.server
        .requests_matching("PUT", STATUS_PATH)
        .iter()
        .map(|r| r.status)
        .collect()
}

#[tokio::test]
async fn writes_the_rendered_annotation() {
    let (env, client, uid) = setup().await;
    let outcome = write_network_status(&client, "default", "p", &uid, &entries())
        .await
        .unwrap();
    assert_eq!(outcome, StatusWrite::Written { attempts: 1 });
    let value = env
        .server
        .pod_annotation("default", "p", NETWORK_STATUS)
        .unwrap();
    assert_eq!(value, render_network_status(&entries()));
    insta::assert_snapshot!("network_status", value);
    // Other annotations survive.
    assert_eq!(
        env.server
            .pod_annotation("default", "p", "other")
            .as_deref(),
        Some("kept")
    );
    assert_eq!(put_statuses(&env), [Some(200)]);
}

#[tokio::test]
async fn conflicts_are_retried_and_written_once() {
    let (env, client, uid) = setup().await;
    env.server.inject_status_conflicts(3);
    let outcome = write_network_status(&client, "default", "p", &uid, &entries())
        .await
        .unwrap();
    assert_eq!(outcome, StatusWrite::Written { attempts: 4 });
    assert_eq!(
        put_statuses(&env),
        [Some(409), Some(409), Some(409), Some(200)]
    );
    // Each attempt re-read the pod first.
    assert_eq!(
        env.server
            .requests_matching("GET", "/api/v1/namespaces/default/pods/p$")
            .len(),
        4
    );
    assert!(
        env.server
            .pod_annotation("default", "p", NETWORK_STATUS)
            .is_some()
    );
}

#[tokio::test]
async fn too_many_conflicts_fail_after_five_attempts() {
    let (env, client, uid) = setup().await;
    env.server.inject_status_conflicts(5);
    let e = write_network_status(&client, "default", "p", &uid, &entries())
        .await
        .unwrap_err();
    assert_eq!(put_statuses(&env).len(), 5);
    assert!(
        e.to_string().starts_with(
            "SetNetworkStatus: failed to update the pod default/p in out of cluster comm: "
        ),
        "{e}"
    );
    assert!(
        env.server
            .pod_annotation("default", "p", NETWORK_STATUS)
            .is_none()
    );
    // A custom backoff can allow more.
    env.server.inject_status_conflicts(5);
    let backoff = Backoff {
        steps: 6,
        ..Backoff::DEFAULT_RETRY
    };
    let outcome = write_network_status_with(&client, "default", "p", &uid, &entries(), backoff)
        .await
        .unwrap();
    assert_eq!(outcome, StatusWrite::Written { attempts: 6 });
}

#[tokio::test]
async fn a_backoff_with_odd_values_does_not_panic() {
    let (env, client, uid) = setup().await;
    env.server.inject_status_conflicts(2);
    // The second pause works out negative (10 ms × -1): no pause, no panic.
    let backoff = Backoff {
        steps: 3,
        factor: -1.0,
        jitter: 0.0,
        ..Backoff::DEFAULT_RETRY
    };
    let outcome = write_network_status_with(&client, "default", "p", &uid, &entries(), backoff)
        .await
        .unwrap();
    assert_eq!(outcome, StatusWrite::Written { attempts: 3 });
}

#[tokio::test]
async fn a_deleted_pod_is_tolerated() {
    let (env, client, uid) = setup().await;
    env.server.delete_pod("default", "p");
    let outcome = write_network_status(&client, "default", "p", &uid, &entries())
        .await
        .unwrap();
    assert_eq!(outcome, StatusWrite::PodGone);
    assert!(put_statuses(&env).is_empty());
}

#[tokio::test]
async fn a_pod_deleted_between_read_and_write_is_tolerated() {
    let (env, client, uid) = setup().await;
    // The write answers 404, as when the pod disappears after the read.
    env.server.inject(
        multus_testsupport::Fault::new(404, 1)
            .method("PUT")
            .path(STATUS_PATH),
    );
    let outcome = write_network_status(&client, "default", "p", &uid, &entries())
        .await
        .unwrap();
    assert_eq!(outcome, StatusWrite::PodGone);
}

#[tokio::test]
async fn no_entries_no_request() {
    let (env, client, uid) = setup().await;
    let outcome = write_network_status(&client, "default", "p", &uid, &[])
        .await
        .unwrap();
    assert_eq!(outcome, StatusWrite::Skipped);
    assert!(env.server.requests().is_empty());
}

#[tokio::test]
async fn a_recreated_pod_is_not_written() {
    let (env, client, _uid) = setup().await;
    let e = write_network_status(&client, "default", "p", "old-uid", &entries())
        .await
        .unwrap_err();
    assert!(
        e.to_string()
            .starts_with(r#"SetNetworkStatus: expected pod default/p UID "old-uid" but got ""#),
        "{e}"
    );
    assert!(put_statuses(&env).is_empty());
}

#[tokio::test]
async fn kube_system_pods_get_status_too() {
    let env = Env::new().await;
    let pod = env.insert_pod("kube-system", "coredns", &[]);
    let client = env.client().await;
    let uid = pod["metadata"]["uid"].as_str().unwrap();
    write_network_status(&client, "kube-system", "coredns", uid, &entries())
        .await
        .unwrap();
    assert!(
        env.server
            .pod_annotation("kube-system", "coredns", NETWORK_STATUS)
            .is_some()
    );
}

#[tokio::test]
async fn added_interface_event() {
    let (env, client, _uid) = setup().await;
    let pod = env.pod("default", "p").await;
    let result: v1::Result = serde_json::from_str(
        r#"{"cniVersion":"1.0.0",
            "interfaces":[{"name":"net1","sandbox":"/var/run/netns/p"}],
            "ips":[{"address":"10.10.1.20/16","interface":0},{"address":"fd00::14/64","interface":0}]}"#,
    )
    .unwrap();
    events::added_interface(&client, &pod, "net1", &result, "default/macvlan-conf-1")
        .await
        .unwrap();
    // Nothing for an empty result.
    let empty: v1::Result = serde_json::from_str(r#"{"cniVersion":"1.0.0"}"#).unwrap();
    events::added_interface(&client, &pod, "net2", &empty, "x")
        .await
        .unwrap();
    assert_eq!(
        env.events(),
        [(
            "Normal".to_owned(),
            "AddedInterface".to_owned(),
            "Add net1 [10.10.1.20/16 fd00::14/64] from default/macvlan-conf-1".to_owned()
        )]
    );
    let event = &env.server.events()[0];
    assert_eq!(event["involvedObject"]["uid"], pod.metadata.uid.unwrap());
    assert_eq!(event["involvedObject"]["namespace"], "default");
    assert_eq!(event["source"]["component"], "multus");
    assert_eq!(event["count"], 1);
}

#[tokio::test]
async fn events_are_best_effort_and_bounded() {
    let (env, client, _uid) = setup().await;
    let pod = env.pod("default", "p").await;
    env.server.set_down(true).unwrap();
    let start = std::time::Instant::now();
    let e = events::no_network_found(&client, &pod, "m")
        .await
        .unwrap_err();
    assert!(start.elapsed() < std::time::Duration::from_secs(2));
    assert!(
        e.to_string()
            .starts_with("failed to record event NoNetworkFound for pod default/p: "),
        "{e}"
    );
}
