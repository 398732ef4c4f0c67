//! Network namespaces and netlink for Multus (multus-rs).
//!
//! * [`NetNs`]: open a network namespace by path (refusing paths that are
//!   missing or are not namespaces) and get a [`Netlink`] connection bound to
//!   it — without ever switching the namespace of a tokio worker thread: the
//!   `NETLINK_ROUTE` socket is created by a short-lived helper thread that
//!   entered the namespace, then driven by the caller's runtime.
//! * [`Netlink`]: link queries (exists, index, MAC, MTU), address and route
//!   listing, and default-route control: remove an interface's default routes,
//!   add a default route via a gateway (idempotent), apply a
//!   [`DefaultRouteAction`].
//! * The `default-route` action after each delegate ADD
//!   ([`default_route_action`]), the matching edit of a cached CNI result
//!   ([`rewrite_default_routes`], a pure function on the result JSON; the
//!   cache file itself is `multus-delegate`'s `ResultCache::update_result`),
//!   and the readiness indicator wait ([`wait_for_readiness_indicator_file`]).
//!
//! ```no_run
//! use multus_netns::{NetNs, default_route_action};
//! # async fn f() -> Result<(), multus_netns::Error> {
//! let gw = "192.0.2.1".parse().unwrap();
//! // net1 carries `"default-route": ["192.0.2.1"]`: it filters IPv6 only.
//! let action = default_route_action(false, true, Some(&[gw]), true);
//! let ns = NetNs::open("/var/run/netns/cni-1234")?;
//! let nl = ns.netlink().await?;
//! nl.apply_default_route_action("net1", &action).await?;
//! # Ok(()) }
//! ```
//!
//! Linux only.

mod cache;
mod default_route;
mod error;
mod netlink;
mod netns;
mod readiness;

pub use cache::rewrite_default_routes;
pub use default_route::{DefaultRouteAction, IpFamily, default_route_action, family_of};
pub use error::Error;
pub use netlink::{AddressInfo, AppliedDefaultRoutes, LinkInfo, Netlink, RouteInfo};
pub use netns::NetNs;
pub use readiness::{
    READINESS_POLL_INTERVAL, READINESS_TIMEOUT, absolute_clean_path, clean_path,
    readiness_indicator_exists_now, wait_for_readiness_indicator_file,
};
