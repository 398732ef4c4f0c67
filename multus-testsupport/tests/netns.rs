//! The privileged fixtures of `multus_testsupport::netns` against the real
//! kernel: namespaces and links are made, read back through `ip -j`, and gone
//! after drop.
//!
//! Needs root and iproute2; fails (never skips) without them, unless
//! `MULTUS_SKIP_PRIVILEGED=1`.

#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::net::{Ipv4Addr, Ipv6Addr};
use std::path::Path;

use multus_testsupport::netns::{
    HostLink, IFNAME_MAX, TestNetns, host_link, host_ports_of, ip, link_flags, require_privileged,
};

fn privileged() -> bool {
    require_privileged("multus-testsupport netns fixture tests", &[])
}

fn netns_listed(name: &str) -> bool {
    ip(&["netns", "list"])
        .lines()
        .any(|l| l.split_whitespace().next() == Some(name))
}

#[test]
fn a_namespace_is_made_unique_and_removed_on_drop() {
    if !privileged() {
        return;
    }
    let ns = TestNetns::new();
    let other = TestNetns::with_prefix("mrs-ts-");
    assert!(ns.name().starts_with("mrs-"), "{}", ns.name());
    assert!(other.name().starts_with("mrs-ts-"), "{}", other.name());
    assert_ne!(ns.name(), other.name());
    assert_eq!(ns.path(), format!("/run/netns/{}", ns.name()));
    assert!(Path::new(ns.path()).exists());
    assert!(netns_listed(ns.name()));

    // A fresh namespace has only lo, down, as a runtime leaves it.
    assert_eq!(ns.link_names(), ["lo"]);
    let lo = ns.link("lo").unwrap();
    assert!(!link_flags(&lo).contains(&"UP".to_owned()), "{lo}");
    assert!(ns.link("nope0").is_none());
    assert!(ns.addrs4("nope0").is_empty());

    let (name, path) = (ns.name().to_owned(), ns.path().to_owned());
    drop(ns);
    assert!(!Path::new(&path).exists());
    assert!(!netns_listed(&name));

    // delete() now, and the guard's drop has nothing left to do.
    let path = other.path().to_owned();
    other.delete();
    assert!(!Path::new(&path).exists());
    drop(other);
}

#[test]
fn readers_see_links_addresses_and_routes() {
    if !privileged() {
        return;
    }
    let ns = TestNetns::with_prefix("mrs-ts-");
    ns.ip(&["link", "add", "v0", "type", "veth", "peer", "name", "v1"]);
    ns.ip(&["addr", "add", "192.0.2.2/24", "dev", "v0"]);
    ns.ip(&["addr", "add", "2001:db8::2/64", "dev", "v0", "nodad"]);
    ns.ip(&["link", "set", "v0", "up"]);
    ns.ip(&["link", "set", "v1", "up"]);
    ns.ip(&["route", "add", "default", "via", "192.0.2.1", "dev", "v0"]);
    ns.ip(&[
        "-6",
        "route",
        "add",
        "default",
        "via",
        "2001:db8::1",
        "dev",
        "v0",
    ]);

    assert_eq!(ns.link_names(), ["lo", "v0", "v1"]);
    let v0 = ns.link("v0").unwrap();
    assert_eq!(v0["linkinfo"]["info_kind"], "veth", "{v0}");
    assert!(link_flags(&v0).contains(&"UP".to_owned()), "{v0}");
    assert_eq!(
        ns.ip_json(&["link", "show", "dev", "v1"]).unwrap()[0]["ifname"],
        "v1"
    );

    assert_eq!(ns.addrs4("v0"), [(Ipv4Addr::new(192, 0, 2, 2), 24)]);
    assert_eq!(ns.cidrs4("v0"), ["192.0.2.2/24"]);
    assert!(ns.addrs4("v1").is_empty());
    let v6 = ns.addrs6("v0");
    assert!(
        v6.contains(&("2001:db8::2".parse::<Ipv6Addr>().unwrap(), 64)),
        "{v6:?}"
    );

    assert_eq!(
        ns.default_routes4(),
        [("192.0.2.1".to_owned(), "v0".to_owned())]
    );
    assert_eq!(
        ns.default_routes6(),
        [("2001:db8::1".to_owned(), "v0".to_owned())]
    );
    assert!(
        ns.routes4()
            .iter()
            .any(|r| r["dst"] == "192.0.2.0/24" && r["dev"] == "v0")
    );
    assert!(ns.routes6().iter().any(|r| r["dst"] == "2001:db8::/64"));
}

#[test]
fn host_links_are_made_and_removed_on_drop() {
    if !privileged() {
        return;
    }
    let bridge = HostLink::bridge(Some("02:00:00:00:75:01"));
    let veth = HostLink::veth_pair();
    let peer = veth.peer().unwrap().to_owned();
    for name in [bridge.name(), veth.name(), &peer] {
        assert!(
            name.starts_with("mrs") && name.len() <= IFNAME_MAX,
            "{name}"
        );
    }

    let b = host_link(bridge.name()).unwrap();
    assert_eq!(b["linkinfo"]["info_kind"], "bridge", "{b}");
    assert_eq!(b["address"], "02:00:00:00:75:01", "{b}");
    assert!(link_flags(&b).contains(&"UP".to_owned()), "{b}");
    assert!(link_flags(&host_link(veth.name()).unwrap()).contains(&"UP".to_owned()));
    assert!(link_flags(&host_link(&peer).unwrap()).contains(&"UP".to_owned()));

    assert!(host_ports_of(bridge.name()).is_empty());
    ip(&["link", "set", &peer, "master", bridge.name()]);
    assert_eq!(host_ports_of(bridge.name()), [peer.as_str()]);

    // Dropping the veth guard removes both ends.
    let first = veth.name().to_owned();
    drop(veth);
    assert!(host_link(&first).is_none());
    assert!(host_link(&peer).is_none());

    // A bridge without a fixed MAC, and a link adopted after the fact.
    let plain = HostLink::bridge(None);
    let adopted_name = format!("{}x", &plain.name()[..IFNAME_MAX - 1]);
    ip(&["link", "add", "name", &adopted_name, "type", "bridge"]);
    let adopted = HostLink::adopt(&adopted_name);
    assert!(host_link(adopted.name()).is_some());

    let bridge_name = bridge.name().to_owned();
    let plain_name = plain.name().to_owned();
    drop((bridge, plain, adopted));
    for name in [bridge_name, plain_name, adopted_name] {
        assert!(host_link(&name).is_none(), "{name} left behind");
    }
}
