//! Privileged tests against real network namespaces and veth pairs.
//!
//! They need root and iproute2 and fail (not skip) without them, unless
//! `MULTUS_SKIP_PRIVILEGED=1`.

#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use std::net::IpAddr;

use common::{ETH0_GW4, ETH0_GW6, NET1_GW4, NET1_GW6, Topology, privileged, test_ns};
use multus_netns::{DefaultRouteAction, Error, IpFamily, NetNs, Netlink, default_route_action};
use multus_testsupport::netns::TestNetns;

fn ip(s: &str) -> IpAddr {
    s.parse().unwrap()
}

/// Runs the multus flow for eth0 (no key) and net1 (the given request),
/// applying each delegate's action in order, as the CLI does after each ADD.
async fn run_flow(nl: &Netlink, net1_request: Option<Vec<IpAddr>>) -> Vec<DefaultRouteAction> {
    let requests = vec![None, net1_request];
    let actions = actions_for(&requests);
    for (ifname, action) in ["eth0", "net1"].iter().zip(&actions) {
        nl.apply_default_route_action(ifname, action).await.unwrap();
    }
    actions
}

/// The flags for the whole list (as the CLI computes them, with
/// multus-annotations), then each delegate's action; both results had IPs.
fn actions_for(requests: &[Option<Vec<IpAddr>>]) -> Vec<DefaultRouteAction> {
    let filters =
        multus_annotations::default_route::gateway_filters(requests.iter().map(|r| r.as_deref()))
            .unwrap()
            .unwrap_or_else(|| vec![Default::default(); requests.len()]);
    filters
        .iter()
        .zip(requests)
        .map(|(f, r)| default_route_action(f.filter_v4, f.filter_v6, r.as_deref(), true))
        .collect()
}

fn all_routes(ns: &TestNetns) -> (Vec<serde_json::Value>, Vec<serde_json::Value>) {
    (ns.routes4(), ns.routes6())
}

#[tokio::test]
async fn make_net1_default_leaves_one_default_per_family() {
    if !privileged() {
        return;
    }
    let topo = Topology::new();
    let before_thread_ns = common::thread_netns();
    let ns = NetNs::open(topo.pod.path()).unwrap();
    let nl = ns.netlink().await.unwrap();

    // Two default routes per family to start with.
    assert_eq!(topo.pod.default_routes4().len(), 2);
    assert_eq!(topo.pod.default_routes6().len(), 2);
    assert_eq!(
        nl.default_routes(&[IpFamily::V4, IpFamily::V6], None)
            .await
            .unwrap()
            .len(),
        4
    );

    run_flow(&nl, Some(vec![ip(NET1_GW4), ip(NET1_GW6)])).await;

    // Through iproute2's JSON.
    assert_eq!(
        topo.pod.default_routes4(),
        vec![(NET1_GW4.to_string(), "net1".to_string())]
    );
    assert_eq!(
        topo.pod.default_routes6(),
        vec![(NET1_GW6.to_string(), "net1".to_string())]
    );
    // Through our own listing.
    let net1 = nl.link("net1").await.unwrap();
    for (family, gw) in [(IpFamily::V4, NET1_GW4), (IpFamily::V6, NET1_GW6)] {
        let d = nl.default_routes(&[family], None).await.unwrap();
        assert_eq!(d.len(), 1, "{family}: {d:?}");
        assert_eq!(d[0].gateway, Some(ip(gw)));
        assert_eq!(d[0].oif, Some(net1.index));
        assert!(d[0].is_default());
        assert_eq!(d[0].family, family);
    }
    // Other routes (connected prefixes) untouched.
    let v4 = nl.routes(IpFamily::V4).await.unwrap();
    assert!(
        v4.iter()
            .any(|r| r.destination == Some(ip("192.0.2.0")) && r.prefix_len == 24)
    );

    // Running it twice changes nothing.
    let before = all_routes(&topo.pod);
    let requests = vec![None, Some(vec![ip(NET1_GW4), ip(NET1_GW6)])];
    let actions = actions_for(&requests);
    for (ifname, action) in ["eth0", "net1"].iter().zip(&actions) {
        let applied = nl.apply_default_route_action(ifname, action).await.unwrap();
        assert!(applied.removed.is_empty(), "{ifname}: {applied:?}");
        assert!(applied.added.is_empty(), "{ifname}: {applied:?}");
    }
    assert_eq!(all_routes(&topo.pod), before);

    // The test's own thread never changed namespace.
    assert_eq!(common::thread_netns(), before_thread_ns);
}

#[tokio::test]
async fn empty_request_removes_every_default_route() {
    if !privileged() {
        return;
    }
    let topo = Topology::new();
    let ns = NetNs::open(topo.pod.path()).unwrap();
    let nl = ns.netlink().await.unwrap();

    let actions = run_flow(&nl, Some(vec![])).await;
    assert!(
        actions
            .iter()
            .all(|a| a.remove_v4 && a.remove_v6 && a.add.is_empty())
    );

    assert!(topo.pod.default_routes4().is_empty());
    assert!(topo.pod.default_routes6().is_empty());
    assert!(
        nl.default_routes(&[IpFamily::V4, IpFamily::V6], None)
            .await
            .unwrap()
            .is_empty()
    );
    // Connected routes are kept.
    assert!(
        topo.pod
            .routes4()
            .iter()
            .any(|r| r["dst"] == "198.51.100.0/24")
    );
}

#[tokio::test]
async fn no_key_anywhere_changes_nothing() {
    if !privileged() {
        return;
    }
    let topo = Topology::new();
    let nl = NetNs::open(topo.pod.path())
        .unwrap()
        .netlink()
        .await
        .unwrap();
    let before = all_routes(&topo.pod);
    let actions = run_flow(&nl, None).await;
    assert!(actions.iter().all(DefaultRouteAction::is_noop));
    assert_eq!(all_routes(&topo.pod), before);
}

#[tokio::test]
async fn link_address_and_route_queries() {
    if !privileged() {
        return;
    }
    let topo = Topology::new();
    let ns = NetNs::open(topo.pod.path()).unwrap();
    let nl = ns.netlink().await.unwrap();
    assert_eq!(nl.netns(), std::path::Path::new(topo.pod.path()));

    assert!(nl.link_exists("net1").await.unwrap());
    assert!(!nl.link_exists("net9").await.unwrap());
    assert!(!nl.link_exists("a-name-longer-than-15").await.unwrap());
    assert!(nl.link_by_name("net9").await.unwrap().is_none());

    let net1 = nl.link("net1").await.unwrap();
    let j = topo.pod.link("net1").unwrap();
    assert_eq!(u64::from(net1.index), j["ifindex"].as_u64().unwrap());
    assert_eq!(net1.mac.as_deref(), j["address"].as_str());
    assert_eq!(u64::from(net1.mtu.unwrap()), j["mtu"].as_u64().unwrap());
    assert!(net1.up);
    assert_eq!(net1.name, "net1");

    let links = nl.links().await.unwrap();
    let names: Vec<&str> = links.iter().map(|l| l.name.as_str()).collect();
    assert!(names.contains(&"lo") && names.contains(&"eth0") && names.contains(&"net1"));

    let addrs = nl.addresses(Some(net1.index)).await.unwrap();
    assert!(addrs.iter().all(|a| a.index == net1.index));
    assert!(
        addrs
            .iter()
            .any(|a| a.address == ip("198.51.100.2") && a.prefix_len == 24)
    );
    assert!(
        addrs
            .iter()
            .any(|a| a.address == ip("2001:db8:2::2") && a.prefix_len == 64)
    );
    let all = nl.addresses(None).await.unwrap();
    assert!(all.iter().any(|a| a.address == ip("192.0.2.2")));

    let v6 = nl.routes(IpFamily::V6).await.unwrap();
    assert!(v6.iter().any(|r| r.destination == Some(ip("2001:db8:2::"))
        && r.prefix_len == 64
        && r.oif == Some(net1.index)));
    assert!(v6.iter().all(|r| r.family == IpFamily::V6));
}

#[tokio::test]
async fn add_default_route_is_idempotent_and_reports_conflicts() {
    if !privileged() {
        return;
    }
    let topo = Topology::new();
    let nl = NetNs::open(topo.pod.path())
        .unwrap()
        .netlink()
        .await
        .unwrap();

    // Already there (from the fixture): no change.
    assert!(!nl.add_default_route("eth0", ip(ETH0_GW4)).await.unwrap());
    assert!(!nl.add_default_route("net1", ip(NET1_GW6)).await.unwrap());

    // Remove net1's defaults.
    let removed = nl
        .remove_default_routes("net1", &[IpFamily::V4, IpFamily::V6])
        .await
        .unwrap();
    assert_eq!(removed.len(), 2, "{removed:?}");
    assert!(removed.iter().all(|r| r.metric == Some(100)), "{removed:?}");

    // eth0 still has its IPv4 default with metric 0: a metric-0 default via
    // net1 is blocked by the kernel (EEXIST), and said so rather than ignored.
    let e = nl
        .add_default_route("net1", ip(NET1_GW4))
        .await
        .unwrap_err();
    assert!(matches!(e, Error::DefaultRouteConflict { .. }), "{e}");
    let msg = e.to_string();
    assert!(
        msg.contains("same metric") && msg.contains(&format!("default via {ETH0_GW4} dev eth0")),
        "{msg}"
    );
    // The same for IPv6 (eth0's default has the kernel's default metric 1024).
    let e = nl
        .add_default_route("net1", ip(NET1_GW6))
        .await
        .unwrap_err();
    assert!(matches!(e, Error::DefaultRouteConflict { .. }), "{e}");
    assert!(e.to_string().contains(ETH0_GW6), "{e}");

    // With eth0's gone, adding works, and adding again changes nothing.
    let removed = nl
        .remove_default_routes("eth0", &[IpFamily::V4])
        .await
        .unwrap();
    assert_eq!(removed.len(), 1);
    assert!(topo.pod.default_routes6().iter().any(|(_, d)| d == "eth0"));
    assert!(nl.add_default_route("net1", ip(NET1_GW4)).await.unwrap());
    let once = all_routes(&topo.pod);
    assert!(!nl.add_default_route("net1", ip(NET1_GW4)).await.unwrap());
    assert_eq!(all_routes(&topo.pod), once);
    assert_eq!(
        topo.pod.default_routes4(),
        vec![(NET1_GW4.to_string(), "net1".to_string())]
    );
}

#[tokio::test]
async fn missing_interface_is_a_clear_error() {
    if !privileged() {
        return;
    }
    let topo = Topology::new();
    let nl = NetNs::open(topo.pod.path())
        .unwrap()
        .netlink()
        .await
        .unwrap();
    let action = DefaultRouteAction {
        remove_v4: true,
        remove_v6: true,
        add: vec![ip(NET1_GW4)],
    };
    let e = nl
        .apply_default_route_action("nope0", &action)
        .await
        .unwrap_err();
    assert!(matches!(e, Error::LinkNotFound { .. }), "{e}");
    let msg = e.to_string();
    assert!(
        msg.contains("\"nope0\"") && msg.contains(topo.pod.name()),
        "{msg}"
    );
    assert!(matches!(
        nl.remove_default_routes("nope0", &[IpFamily::V4]).await,
        Err(Error::LinkNotFound { .. })
    ));
    assert!(matches!(
        nl.add_default_route("nope0", ip(NET1_GW4)).await,
        Err(Error::LinkNotFound { .. })
    ));
    assert!(matches!(
        nl.link("nope0").await,
        Err(Error::LinkNotFound { .. })
    ));
    // A noop action does not even look the interface up.
    nl.apply_default_route_action("nope0", &DefaultRouteAction::default())
        .await
        .unwrap();
}

#[tokio::test]
async fn unreachable_gateway_is_a_netlink_error_with_context() {
    if !privileged() {
        return;
    }
    let topo = Topology::new();
    let nl = NetNs::open(topo.pod.path())
        .unwrap()
        .netlink()
        .await
        .unwrap();
    nl.remove_default_routes("net1", &[IpFamily::V4])
        .await
        .unwrap();
    nl.remove_default_routes("eth0", &[IpFamily::V4])
        .await
        .unwrap();
    // 203.0.113.1 is not on net1's subnet.
    let e = nl
        .add_default_route("net1", ip("203.0.113.1"))
        .await
        .unwrap_err();
    let msg = e.to_string();
    assert!(matches!(e, Error::Netlink { .. }), "{msg}");
    assert!(
        msg.contains("add default route via 203.0.113.1 dev net1"),
        "{msg}"
    );
}

#[tokio::test]
async fn netlink_outlives_the_netns_handle_and_bind_mount() {
    if !privileged() {
        return;
    }
    let ns = test_ns("gone");
    let netns = NetNs::open(ns.path()).unwrap();
    let nl = netns.netlink().await.unwrap();
    drop(netns);
    drop(ns); // `ip netns del`: the socket keeps the namespace alive
    let links = nl.links().await.unwrap();
    assert_eq!(links.len(), 1);
    assert_eq!(links[0].name, "lo");
}

#[tokio::test]
async fn namespace_of_another_type_is_refused() {
    if !privileged() {
        return;
    }
    let ns = NetNs::open("/proc/self/ns/mnt").unwrap();
    let e = ns.netlink().await.unwrap_err();
    assert!(matches!(e, Error::NotNetNs { .. }), "{e}");
    assert!(e.to_string().contains("is not a network namespace"), "{e}");
}

// The following need no privileges.

#[test]
fn missing_netns_path_is_a_clear_error() {
    let path = format!("/run/netns/{}", common::unique("missing"));
    let e = NetNs::open(&path).unwrap_err();
    assert!(matches!(e, Error::NetNsNotFound { .. }), "{e}");
    assert_eq!(
        e.to_string(),
        format!("network namespace \"{path}\" does not exist")
    );
}

#[test]
fn regular_file_is_not_a_netns() {
    let e = NetNs::open("/etc/hostname").or_else(|_| NetNs::open("/proc/self/exe"));
    let e = e.unwrap_err();
    assert!(matches!(e, Error::NotNetNs { .. }), "{e}");
    assert!(e.to_string().contains("is not a network namespace"), "{e}");

    let tmp = std::env::temp_dir().join(common::unique("file"));
    std::fs::write(&tmp, b"x").unwrap();
    let e = NetNs::open(&tmp).unwrap_err();
    std::fs::remove_file(&tmp).unwrap();
    assert!(matches!(e, Error::NotNetNs { .. }), "{e}");
}

#[test]
fn netlink_outside_a_runtime_is_an_error_not_a_panic() {
    // Our own namespace: needs no privileges, and nothing is entered.
    let netns = NetNs::open("/proc/self/ns/net").unwrap();
    // Poll the future with a trivial executor, outside any tokio runtime.
    let fut = netns.netlink();
    let waker = std::task::Waker::noop();
    let mut cx = std::task::Context::from_waker(waker);
    let mut fut = std::pin::pin!(fut);
    match fut.as_mut().poll(&mut cx) {
        std::task::Poll::Ready(Err(Error::NoRuntime { .. })) => {}
        std::task::Poll::Ready(other) => panic!("expected NoRuntime, got {:?}", other.err()),
        std::task::Poll::Pending => panic!("expected an immediate error"),
    }
}
