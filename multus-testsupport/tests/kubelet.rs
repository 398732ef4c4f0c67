//! The pod-resources client of `multus-podresources` against the stand-in
//! kubelet: real gRPC over a real unix socket, with the stand-in's faults.

#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::time::{Duration, Instant};

use multus_podresources::{Error, PodResourcesClient, proto, socket_present};
use multus_testsupport::kubelet::Kubelet;

fn client(kubelet: &Kubelet) -> PodResourcesClient {
    PodResourcesClient::new(kubelet.socket())
}

#[tokio::test]
async fn devices_of_every_container_of_the_pod_matched_by_name_and_namespace() {
    let kubelet = Kubelet::start_blocking().unwrap();
    kubelet.add_devices(
        "default",
        "p",
        "app",
        "intel.com/sriov",
        &["0000:03:02.3", "0000:03:02.1"],
    );
    kubelet.add_devices(
        "default",
        "p",
        "sidecar",
        "intel.com/sriov",
        &["0000:03:02.0"],
    );
    kubelet.add_devices("default", "p", "sidecar", "mellanox.com/rdma", &["mlx-7"]);
    // Same name in another namespace, another pod in the same namespace: not ours.
    kubelet.add_devices("other", "p", "app", "intel.com/sriov", &["0000:03:02.9"]);
    kubelet.add_devices("default", "q", "app", "intel.com/sriov", &["0000:03:02.8"]);

    let devices = client(&kubelet).pod_devices("default", "p").await.unwrap();
    assert_eq!(
        devices["intel.com/sriov"],
        ["0000:03:02.0", "0000:03:02.1", "0000:03:02.3"]
    );
    assert_eq!(devices["mellanox.com/rdma"], ["mlx-7"]);
    assert_eq!(devices.len(), 2);
    assert!(
        client(&kubelet)
            .pod_devices("default", "nobody")
            .await
            .unwrap()
            .is_empty()
    );
    assert_eq!(kubelet.list_calls(), 2);
}

#[tokio::test]
async fn a_slow_kubelet_hits_the_call_timeout() {
    let kubelet = Kubelet::start_blocking().unwrap();
    kubelet.set_delay(Duration::from_secs(3));
    let start = Instant::now();
    let e = client(&kubelet)
        .with_timeouts(Duration::from_secs(1), Duration::from_millis(300))
        .pod_devices("default", "p")
        .await
        .unwrap_err();
    assert!(
        start.elapsed() < Duration::from_secs(2),
        "{:?}",
        start.elapsed()
    );
    assert!(matches!(e, Error::List { .. }), "{e:?}");
    assert!(e.to_string().contains("no answer within 300ms"), "{e}");
    assert!(
        e.to_string()
            .contains(&kubelet.socket().display().to_string()),
        "{e}"
    );
}

#[tokio::test]
async fn a_failing_kubelet_reports_its_status() {
    let kubelet = Kubelet::start_blocking().unwrap();
    kubelet.fail_with(Some((tonic::Code::Unavailable, "kubelet is shutting down")));
    let e = client(&kubelet).list().await.unwrap_err();
    let text = e.to_string();
    assert!(matches!(e, Error::List { .. }), "{e:?}");
    assert!(
        text.contains("Unavailable: kubelet is shutting down"),
        "{text}"
    );
    kubelet.fail_with(None);
    assert!(client(&kubelet).list().await.unwrap().is_empty());
}

#[tokio::test]
async fn a_socket_nobody_listens_on_is_refused_and_a_missing_one_is_absent() {
    let mut kubelet = Kubelet::start_blocking().unwrap();
    assert!(socket_present(kubelet.socket()));
    kubelet.refuse_connections().unwrap();
    assert!(
        socket_present(kubelet.socket()),
        "the dead socket file stays"
    );
    let e = client(&kubelet).list().await.unwrap_err();
    assert!(matches!(e, Error::Connect { .. }), "{e:?}");
    assert!(
        e.to_string().to_lowercase().contains("connection refused"),
        "{e}"
    );
    kubelet.remove_socket().unwrap();
    assert!(!socket_present(kubelet.socket()));
    kubelet.restart().unwrap();
    kubelet.add_devices("default", "p", "app", "r", &["1"]);
    assert_eq!(
        client(&kubelet).pod_devices("default", "p").await.unwrap()["r"],
        ["1"]
    );
}

#[tokio::test]
async fn answers_over_the_message_limit_are_refused() {
    let kubelet = Kubelet::start_blocking().unwrap();
    let ids: Vec<String> = (0..2000).map(|i| format!("0000:{i:04x}:00.0")).collect();
    kubelet.set_pods(vec![proto::PodResources {
        name: "p".into(),
        namespace: "default".into(),
        containers: vec![proto::ContainerResources {
            name: "app".into(),
            devices: vec![proto::ContainerDevices {
                resource_name: "intel.com/sriov".into(),
                device_ids: ids,
                topology: None,
            }],
            ..Default::default()
        }],
    }]);
    let e = client(&kubelet)
        .with_max_message_size(1024)
        .list()
        .await
        .unwrap_err();
    assert!(matches!(e, Error::List { .. }), "{e:?}");
    // The default 16 MiB takes it.
    let devices = client(&kubelet).pod_devices("default", "p").await.unwrap();
    assert_eq!(devices["intel.com/sriov"].len(), 2000);
}
