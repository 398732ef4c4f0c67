//! Snapshots of rendered network-status annotations and parsed elements.

#![allow(clippy::unwrap_used, clippy::expect_used)]

use multus_annotations::{
    DeviceInfo, NetworkStatus, parse_network_status, parse_networks, render_network_status,
};
use multus_types::result::v1;

fn result(json: &str) -> v1::Result {
    serde_json::from_str(json).unwrap()
}

/// Renders, checks the text parses back to the same entries, returns it.
fn render(entries: &[NetworkStatus]) -> String {
    let text = render_network_status(entries);
    assert_eq!(parse_network_status(&text).unwrap(), entries);
    text
}

#[test]
fn master_single_interface() {
    // A ptp/calico-style master: one sandbox interface, default routes of
    // both families, DNS.
    let r = result(
        r#"{"cniVersion":"1.1.0",
            "interfaces":[{"name":"eth0","mac":"0a:58:0a:f4:01:07","mtu":1450,"sandbox":"/var/run/netns/cni-1234"}],
            "ips":[{"address":"10.244.1.7/24","gateway":"10.244.1.1","interface":0},
                   {"address":"fd00:10:244:1::7/64","gateway":"fd00:10:244:1::1","interface":0}],
            "routes":[{"dst":"0.0.0.0/0","gw":"10.244.1.1"},{"dst":"::/0","gw":"fd00:10:244:1::1"}],
            "dns":{"nameservers":["10.96.0.10"],"domain":"cluster.local","search":["default.svc.cluster.local"],"options":["ndots:5"]}}"#,
    );
    let entries = NetworkStatus::from_result(&r, "k8s-pod-network", true, None);
    insta::assert_snapshot!(render(&entries));
}

#[test]
fn macvlan_attachment() {
    let r = result(
        r#"{"cniVersion":"1.0.0",
            "interfaces":[{"name":"net1","mac":"c2:b0:57:49:47:f1","sandbox":"/var/run/netns/cni-1234"}],
            "ips":[{"address":"10.1.1.101/24","gateway":"10.1.1.1","interface":0}],
            "dns":{}}"#,
    );
    let entries = NetworkStatus::from_result(&r, "default/macvlan-conf", false, None);
    insta::assert_snapshot!(render(&entries));
}

#[test]
fn bridge_with_host_interfaces_as_master_plus_attachment() {
    // A bridge result: bridge and host veth end first, then the pod side.
    let master = result(
        r#"{"cniVersion":"1.0.0",
            "interfaces":[{"name":"cni0","mac":"6e:f8:1a:2b:3c:4d"},
                          {"name":"veth5f2a1b3c","mac":"a2:11:22:33:44:55"},
                          {"name":"eth0","mac":"0a:58:0a:f4:00:05","sandbox":"/var/run/netns/cni-1234"}],
            "ips":[{"address":"10.244.0.5/24","gateway":"10.244.0.1","interface":2}],
            "routes":[{"dst":"0.0.0.0/0","gw":"10.244.0.1"}]}"#,
    );
    // A plugin that creates two pod interfaces (e.g. a bond with its links).
    let multi = result(
        r#"{"cniVersion":"1.1.0",
            "interfaces":[{"name":"br-data","mac":"6e:00:00:00:00:01"},
                          {"name":"data0","mac":"02:00:00:00:00:10","mtu":9000,"sandbox":"/var/run/netns/cni-1234"},
                          {"name":"data1","mac":"02:00:00:00:00:11","mtu":9000,"sandbox":"/var/run/netns/cni-1234"}],
            "ips":[{"address":"192.168.10.5/24","interface":1},
                   {"address":"192.168.11.5/24","interface":2},
                   {"address":"2001:db8:0:11::5/64"}],
            "routes":[{"dst":"192.168.0.0/16","gw":"192.168.10.1"}]}"#,
    );
    let mut entries = NetworkStatus::from_result(&master, "cbr0", true, None);
    entries.extend(NetworkStatus::from_result(
        &multi,
        "team-a/data-net",
        false,
        None,
    ));
    assert_eq!(entries.len(), 3);
    insta::assert_snapshot!(render(&entries));
}

#[test]
fn sriov_with_device_info() {
    let r = result(
        r#"{"cniVersion":"1.0.0",
            "interfaces":[{"name":"net1","mac":"02:00:00:00:50:09","sandbox":"/var/run/netns/cni-1234","pciID":"0000:3b:02.1"}],
            "ips":[{"address":"10.50.0.9/24","interface":0}]}"#,
    );
    let device: DeviceInfo = serde_json::from_str(
        r#"{"type":"pci","version":"1.1.0",
            "pci":{"pci-address":"0000:3b:02.1","pf-pci-address":"0000:3b:00.0","rdma-device":"mlx5_3",
                   "representor-device":"ens1f0_3","some-future-key":"dropped"}}"#,
    )
    .unwrap();
    let entries = NetworkStatus::from_result(&r, "team-a/storage-net", false, Some(device));
    insta::assert_snapshot!(render(&entries));
}

#[test]
fn vhost_user_device_info_and_html_escaping() {
    let r = result(
        r#"{"cniVersion":"1.1.0",
            "interfaces":[{"name":"net1","sandbox":"/var/run/netns/cni-1234","socketPath":"/var/run/vhost/sock0"}]}"#,
    );
    let device: DeviceInfo = serde_json::from_str(
        r#"{"type":"vhost-user","version":"1.1.0","vhost-user":{"mode":"server","path":"/var/run/vhost/<pod>&sock0"}}"#,
    )
    .unwrap();
    let entries = NetworkStatus::from_result(&r, "dpdk/vhost-net", false, Some(device));
    insta::assert_snapshot!(render(&entries));
}

#[test]
fn parsed_json_form_elements() {
    let elements = parse_networks(
        r#"[
          {"name": "macvlan-conf", "namespace": "testns1", "interface": "macvlan1",
           "ips": ["10.1.1.101/24", "2001:db8::65"], "mac": "c2:b0:57:49:47:f1"},
          {"name": "storage-net", "Interface": "stor0", "infiniband-guid": "24:8a:07:03:00:8d:ae:2f",
           "deviceID": "0000:3b:02.1",
           "portMappings": [{"hostPort": 8080, "containerPort": 80, "protocol": "tcp"}],
           "bandwidth": {"ingressRate": 1000000, "ingressBurst": 2000000, "egressRate": 1000000, "egressBurst": 2000000}},
          {"name": "mgmt", "interfaceRequest": "mgmt0", "default-route": ["192.168.30.1"],
           "cni-args": {"vlan": 30, "labels": {"tier": "mgmt"}}, "unknown-key": true},
          {"name": "plain", "default-route": [], "ips": []}
        ]"#,
        "default",
    )
    .unwrap();
    insta::assert_json_snapshot!(elements);
}

#[test]
fn parsed_comma_form_elements() {
    let elements = parse_networks(
        "macvlan-conf-1, testns1/macvlan-conf-3@macvlan1 ,/sriov-net@net5",
        "default",
    )
    .unwrap();
    insta::assert_json_snapshot!(elements);
}
