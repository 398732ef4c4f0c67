//! Fixtures for the privileged tests: uniquely named network namespaces
//! (`multus_testsupport::netns::TestNetns`, removed on drop, also when a test
//! fails) and veth topologies inside them.
//! Only documentation prefixes (192.0.2.0/24, 198.51.100.0/24, 2001:db8::/32)
//! are used, and only inside namespaces made here.

#![allow(dead_code, clippy::unwrap_used, clippy::expect_used)]

use multus_testsupport::netns::{TestNetns, random_hex, require_privileged};

/// Whether the privileged tests can run. Not root (or no `ip`): fails with a
/// clear message, unless `MULTUS_SKIP_PRIVILEGED=1`, which skips.
#[track_caller]
pub fn privileged() -> bool {
    require_privileged("multus-netns tests", &[])
}

/// A unique `mrs-nt-<tag>-<random>` name.
pub fn unique(tag: &str) -> String {
    format!("mrs-nt-{tag}-{}", random_hex(8))
}

/// A network namespace `mrs-nt-<tag>-<random>` with `lo` up, deleted on drop.
pub fn test_ns(tag: &str) -> TestNetns {
    let ns = TestNetns::with_prefix(&format!("mrs-nt-{tag}-"));
    ns.ip(&["link", "set", "lo", "up"]);
    ns
}

/// Gateways of the two-interface topology.
pub const ETH0_GW4: &str = "192.0.2.1";
pub const ETH0_GW6: &str = "2001:db8:1::1";
pub const NET1_GW4: &str = "198.51.100.1";
pub const NET1_GW6: &str = "2001:db8:2::1";

/// A "pod" namespace with `eth0` and `net1`, both veths whose peers (`p0`,
/// `p1`, holding the gateway addresses) live in a second "router" namespace.
/// Dual stack on both; the pod has default routes (both families) via eth0
/// and, with metric 100, via net1.
pub struct Topology {
    pub pod: TestNetns,
    pub router: TestNetns,
}

impl Topology {
    pub fn new() -> Self {
        let pod = test_ns("pod");
        let router = test_ns("rtr");
        for (dev, peer, v4, gw4, v6, gw6) in [
            (
                "eth0",
                "p0",
                "192.0.2.2/24",
                "192.0.2.1/24",
                "2001:db8:1::2/64",
                "2001:db8:1::1/64",
            ),
            (
                "net1",
                "p1",
                "198.51.100.2/24",
                "198.51.100.1/24",
                "2001:db8:2::2/64",
                "2001:db8:2::1/64",
            ),
        ] {
            pod.ip(&[
                "link",
                "add",
                dev,
                "type",
                "veth",
                "peer",
                "name",
                peer,
                "netns",
                router.name(),
            ]);
            pod.ip(&["addr", "add", v4, "dev", dev]);
            pod.ip(&["addr", "add", v6, "dev", dev, "nodad"]);
            pod.ip(&["link", "set", dev, "up"]);
            router.ip(&["addr", "add", gw4, "dev", peer]);
            router.ip(&["addr", "add", gw6, "dev", peer, "nodad"]);
            router.ip(&["link", "set", peer, "up"]);
        }
        pod.ip(&["route", "add", "default", "via", ETH0_GW4, "dev", "eth0"]);
        pod.ip(&[
            "-6", "route", "add", "default", "via", ETH0_GW6, "dev", "eth0",
        ]);
        pod.ip(&[
            "route", "add", "default", "via", NET1_GW4, "dev", "net1", "metric", "100",
        ]);
        pod.ip(&[
            "-6", "route", "add", "default", "via", NET1_GW6, "dev", "net1", "metric", "100",
        ]);
        Self { pod, router }
    }
}

/// The inode of the calling thread's network namespace, to prove it never moves.
pub fn thread_netns() -> String {
    std::fs::read_link("/proc/thread-self/ns/net")
        .map(|p| p.display().to_string())
        .unwrap_or_default()
}
