//! The `default-route` decision logic, as plain data and pure functions.
//!
//! Multus lets an attachment request `"default-route": ["<gw>", ...]` in the
//! pod's networks annotation. The feature is active only when at least one
//! attachment of the pod has the key (even with `[]`). Then:
//!
//! 1. Before any ADD, every delegate gets "filter v4" and "filter v6" flags
//!    ([`gateway_filters`]); a delegate's flag is cleared for each family in
//!    which it requested a gateway.
//! 2. After each delegate ADD whose result has interfaces or IPs, the
//!    delegate's [`DefaultRouteAction`] ([`default_route_action`]) says which
//!    default routes of its interface to remove and which to add; apply it
//!    with [`Netlink::apply_default_route_action`](crate::Netlink::apply_default_route_action)
//!    and to the libcni result cache with
//!    [`rewrite_default_routes`](crate::rewrite_default_routes) (handed to
//!    `multus_delegate::ResultCache::update_result`, which owns the file).
//!
//! ```
//! use multus_netns::default_route_action;
//!
//! // net1 asked for `"default-route": ["192.0.2.1"]`; its flags (computed by
//! // multus_annotations::default_route::gateway_filters) filter IPv6 only.
//! let gw = "192.0.2.1".parse().unwrap();
//! let net1 = default_route_action(false, true, Some(&[gw]), true);
//! assert!(net1.remove_v4 && net1.remove_v6);
//! assert_eq!(net1.add, vec![gw]);
//! ```

use std::fmt;
use std::net::IpAddr;

/// An IP address family.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum IpFamily {
    /// IPv4.
    V4,
    /// IPv6.
    V6,
}

impl fmt::Display for IpFamily {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Self::V4 => "IPv4",
            Self::V6 => "IPv6",
        })
    }
}

/// The family of an address; an IPv4-mapped IPv6 address (`::ffff:a.b.c.d`)
/// counts as IPv4, as in Go's `To4()` (and `multus_types::addr::is_ipv4`).
pub fn family_of(ip: IpAddr) -> IpFamily {
    match ip.to_canonical() {
        IpAddr::V4(_) => IpFamily::V4,
        IpAddr::V6(_) => IpFamily::V6,
    }
}

/// What to do with one delegate's interface after its ADD.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct DefaultRouteAction {
    /// Remove the interface's IPv4 default routes (and `0.0.0.0/0` routes
    /// from its cached result).
    pub remove_v4: bool,
    /// Remove the interface's IPv6 default routes (and `::/0` routes from its
    /// cached result).
    pub remove_v6: bool,
    /// Add a default route via each gateway on the interface (and to its
    /// cached result).
    pub add: Vec<IpAddr>,
}

impl DefaultRouteAction {
    /// Nothing to remove, nothing to add.
    pub fn is_noop(&self) -> bool {
        !self.remove_v4 && !self.remove_v6 && self.add.is_empty()
    }

    /// The families whose default routes are removed.
    pub fn removed_families(&self) -> Vec<IpFamily> {
        let mut f = Vec::with_capacity(2);
        if self.remove_v4 {
            f.push(IpFamily::V4);
        }
        if self.remove_v6 {
            f.push(IpFamily::V6);
        }
        f
    }
}

/// The action for one delegate after its ADD (upstream `multus.go`).
///
/// `filter_v4`/`filter_v6` are the delegate's gateway filter flags (computed
/// for the whole attachment list, with the ECMP check, by
/// `multus_annotations::default_route::gateway_filters`), `request` its
/// `default-route` gateways (`None` without the key), and
/// `result_has_interfaces_or_ips` whether its result has interfaces or IPs
/// ([`v1::Result::has_interfaces_or_ips`](multus_types::result::v1::Result::has_interfaces_or_ips),
/// or the same method of [`CniResult`](multus_types::CniResult)); without
/// them nothing is done.
///
/// Default routes are removed when the delegate filters a family or
/// requested a non-empty gateway list; upstream then removes the default
/// routes of *both* families from the interface, and so does this. A default
/// route is added via each requested gateway.
pub fn default_route_action(
    filter_v4: bool,
    filter_v6: bool,
    request: Option<&[IpAddr]>,
    result_has_interfaces_or_ips: bool,
) -> DefaultRouteAction {
    let gws = request.unwrap_or_default();
    let remove = filter_v4 || filter_v6 || !gws.is_empty();
    if !result_has_interfaces_or_ips {
        return DefaultRouteAction::default();
    }
    DefaultRouteAction {
        remove_v4: remove,
        remove_v6: remove,
        add: gws.to_vec(),
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::expect_used)]
mod tests {
    use super::*;

    fn ip(s: &str) -> IpAddr {
        s.parse().unwrap()
    }

    #[test]
    fn handling_off_means_nothing() {
        assert!(default_route_action(false, false, None, true).is_noop());
    }

    #[test]
    fn filtered_delegate_loses_its_default_routes() {
        let a = default_route_action(true, true, None, true);
        assert_eq!(
            a,
            DefaultRouteAction {
                remove_v4: true,
                remove_v6: true,
                add: vec![]
            }
        );
        assert_eq!(a.removed_families(), vec![IpFamily::V4, IpFamily::V6]);
    }

    #[test]
    fn gateway_request_replaces_both_families() {
        // net1 asked for an IPv4 gateway: it filters IPv6 only, yet (as
        // upstream) the default routes of both families are replaced.
        let gw = ip("192.0.2.1");
        let a = default_route_action(false, true, Some(&[gw]), true);
        assert_eq!(
            a,
            DefaultRouteAction {
                remove_v4: true,
                remove_v6: true,
                add: vec![gw]
            }
        );
        let dual = [gw, ip("2001:db8::1")];
        let a = default_route_action(false, false, Some(&dual), true);
        assert!(a.remove_v4 && a.remove_v6);
        assert_eq!(a.add.len(), 2);
    }

    #[test]
    fn empty_request_on_unfiltered_delegate_is_noop() {
        assert!(default_route_action(false, false, Some(&[]), true).is_noop());
    }

    #[test]
    fn no_interfaces_or_ips_means_nothing() {
        assert!(default_route_action(true, true, Some(&[ip("192.0.2.1")]), false).is_noop());
    }

    #[test]
    fn mapped_v4_counts_as_v4() {
        assert_eq!(family_of(ip("::ffff:192.0.2.1")), IpFamily::V4);
        assert_eq!(family_of(ip("2001:db8::1")), IpFamily::V6);
    }
}
