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
//!    [`rewrite_cached_result_file`](crate::rewrite_cached_result_file).
//!
//! ```
//! use std::net::IpAddr;
//! use multus_netns::{default_route_action, gateway_filters};
//!
//! // eth0 (cluster network) without the key, net1 with a gateway.
//! let gw: IpAddr = "192.0.2.1".parse().unwrap();
//! let requests = vec![None, Some(vec![gw])];
//! let filters = gateway_filters(&requests).unwrap();
//! assert!(filters[0].filter_v4 && filters[0].filter_v6);
//! assert!(!filters[1].filter_v4 && filters[1].filter_v6);
//!
//! let eth0 = default_route_action(filters[0], requests[0].as_deref(), true);
//! assert!(eth0.remove_v4 && eth0.remove_v6 && eth0.add.is_empty());
//! let net1 = default_route_action(filters[1], requests[1].as_deref(), true);
//! assert!(net1.remove_v4 && net1.remove_v6);
//! assert_eq!(net1.add, vec![gw]);
//! ```

use std::fmt;
use std::net::IpAddr;

use crate::Error;

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
/// counts as IPv4, as in Go's `To4()`.
pub fn family_of(ip: IpAddr) -> IpFamily {
    match ip {
        IpAddr::V4(_) => IpFamily::V4,
        IpAddr::V6(v6) if v6.to_ipv4_mapped().is_some() => IpFamily::V4,
        IpAddr::V6(_) => IpFamily::V6,
    }
}

/// The per-delegate gateway filter flags (upstream `IsFilterV4Gateway` /
/// `IsFilterV6Gateway`, also stored in the delegate cache).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Hash)]
pub struct GatewayFilter {
    /// Remove this delegate's IPv4 default routes after its ADD.
    pub filter_v4: bool,
    /// Remove this delegate's IPv6 default routes after its ADD.
    pub filter_v6: bool,
}

/// Computes the filter flags of every delegate, in order, from each
/// delegate's `default-route` request: `None` when the attachment has no
/// `default-route` key, `Some(gateways)` (possibly empty) when it has.
///
/// When no delegate has the key, every flag is `false` (the feature is off).
/// Otherwise every delegate gets both flags, cleared per family for which
/// that delegate requested a gateway. More than one gateway of a family over
/// all delegates is [`Error::Ecmp`] (`multus does not support ECMP for
/// default-route`), as upstream.
pub fn gateway_filters(requests: &[Option<Vec<IpAddr>>]) -> Result<Vec<GatewayFilter>, Error> {
    if requests.iter().all(Option::is_none) {
        return Ok(vec![GatewayFilter::default(); requests.len()]);
    }
    let all = requests.iter().flatten().flatten().copied();
    let v4 = all
        .clone()
        .filter(|g| family_of(*g) == IpFamily::V4)
        .count();
    let v6 = all.filter(|g| family_of(*g) == IpFamily::V6).count();
    if v4 > 1 || v6 > 1 {
        return Err(Error::Ecmp);
    }
    Ok(requests
        .iter()
        .map(|req| {
            let gws = req.as_deref().unwrap_or_default();
            GatewayFilter {
                filter_v4: !gws.iter().any(|g| family_of(*g) == IpFamily::V4),
                filter_v6: !gws.iter().any(|g| family_of(*g) == IpFamily::V6),
            }
        })
        .collect())
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
/// `filter` is the delegate's [`GatewayFilter`], `request` its
/// `default-route` gateways (`None` without the key), and
/// `result_has_interfaces_or_ips` whether its result (converted to the
/// current version) has interfaces or IPs — see
/// [`result_has_interfaces_or_ips`](crate::result_has_interfaces_or_ips);
/// without either, nothing is done.
///
/// Default routes are removed if the delegate filters a family or requested
/// a non-empty gateway list. Upstream then removes the default routes of
/// *both* families from the interface; with the flags computed by
/// [`gateway_filters`] the two `remove_*` fields are always equal, so this is
/// the same. A default route is added via each requested gateway.
pub fn default_route_action(
    filter: GatewayFilter,
    request: Option<&[IpAddr]>,
    result_has_interfaces_or_ips: bool,
) -> DefaultRouteAction {
    if !result_has_interfaces_or_ips {
        return DefaultRouteAction::default();
    }
    let gws = request.unwrap_or_default();
    let override_gw = !gws.is_empty();
    DefaultRouteAction {
        remove_v4: filter.filter_v4 || override_gw,
        remove_v6: filter.filter_v6 || override_gw,
        add: gws.to_vec(),
    }
}

/// Both steps for a whole attachment list: the actions for every delegate,
/// in order, given each one's request and whether its result had interfaces
/// or IPs.
pub fn default_route_actions(
    requests: &[Option<Vec<IpAddr>>],
    results_have_interfaces_or_ips: &[bool],
) -> Result<Vec<DefaultRouteAction>, Error> {
    let filters = gateway_filters(requests)?;
    Ok(filters
        .iter()
        .zip(requests)
        .enumerate()
        .map(|(i, (f, r))| {
            let has = results_have_interfaces_or_ips
                .get(i)
                .copied()
                .unwrap_or(false);
            default_route_action(*f, r.as_deref(), has)
        })
        .collect())
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::expect_used)]
mod tests {
    use super::*;

    fn ip(s: &str) -> IpAddr {
        s.parse().unwrap()
    }

    #[test]
    fn no_key_anywhere_means_off() {
        let f = gateway_filters(&[None, None]).unwrap();
        assert_eq!(f, vec![GatewayFilter::default(); 2]);
        let a = default_route_action(f[0], None, true);
        assert!(a.is_noop());
        assert!(
            default_route_actions(&[None, None], &[true, true])
                .unwrap()
                .iter()
                .all(DefaultRouteAction::is_noop)
        );
    }

    #[test]
    fn empty_list_filters_everyone() {
        let reqs = vec![None, Some(vec![])];
        let f = gateway_filters(&reqs).unwrap();
        for g in &f {
            assert!(g.filter_v4 && g.filter_v6);
        }
        let acts = default_route_actions(&reqs, &[true, true]).unwrap();
        for a in acts {
            assert!(a.remove_v4 && a.remove_v6);
            assert!(a.add.is_empty());
        }
    }

    #[test]
    fn gateway_clears_its_family_only() {
        let reqs = vec![
            None,
            Some(vec![ip("192.0.2.1")]),
            Some(vec![ip("2001:db8::1")]),
        ];
        let f = gateway_filters(&reqs).unwrap();
        assert_eq!(
            f,
            vec![
                GatewayFilter {
                    filter_v4: true,
                    filter_v6: true
                },
                GatewayFilter {
                    filter_v4: false,
                    filter_v6: true
                },
                GatewayFilter {
                    filter_v4: true,
                    filter_v6: false
                },
            ]
        );
        let acts = default_route_actions(&reqs, &[true, true, true]).unwrap();
        assert_eq!(
            acts[0],
            DefaultRouteAction {
                remove_v4: true,
                remove_v6: true,
                add: vec![]
            }
        );
        assert_eq!(
            acts[1],
            DefaultRouteAction {
                remove_v4: true,
                remove_v6: true,
                add: vec![ip("192.0.2.1")]
            }
        );
        assert_eq!(
            acts[2],
            DefaultRouteAction {
                remove_v4: true,
                remove_v6: true,
                add: vec![ip("2001:db8::1")]
            }
        );
        assert_eq!(acts[0].removed_families(), vec![IpFamily::V4, IpFamily::V6]);
    }

    #[test]
    fn dual_stack_on_one_delegate() {
        let reqs = vec![None, Some(vec![ip("192.0.2.1"), ip("2001:db8::1")])];
        let f = gateway_filters(&reqs).unwrap();
        assert_eq!(f[1], GatewayFilter::default());
        let a = default_route_action(f[1], reqs[1].as_deref(), true);
        assert!(a.remove_v4 && a.remove_v6);
        assert_eq!(a.add.len(), 2);
    }

    #[test]
    fn no_interfaces_or_ips_means_nothing() {
        let reqs = vec![None, Some(vec![ip("192.0.2.1")])];
        let acts = default_route_actions(&reqs, &[false, false]).unwrap();
        assert!(acts.iter().all(DefaultRouteAction::is_noop));
        // Missing entries in the bool list count as "no".
        let acts = default_route_actions(&reqs, &[true]).unwrap();
        assert!(!acts[0].is_noop());
        assert!(acts[1].is_noop());
    }

    #[test]
    fn ecmp_is_refused() {
        let two_v4 = vec![Some(vec![ip("192.0.2.1")]), Some(vec![ip("198.51.100.1")])];
        let e = gateway_filters(&two_v4).unwrap_err();
        assert_eq!(
            e.to_string(),
            "multus does not support ECMP for default-route"
        );
        let same_delegate = vec![Some(vec![ip("2001:db8::1"), ip("2001:db8::2")])];
        assert!(matches!(gateway_filters(&same_delegate), Err(Error::Ecmp)));
        // One of each family is fine.
        let ok = vec![Some(vec![ip("192.0.2.1")]), Some(vec![ip("2001:db8::1")])];
        assert!(gateway_filters(&ok).is_ok());
    }

    #[test]
    fn mapped_v4_counts_as_v4() {
        assert_eq!(family_of(ip("::ffff:192.0.2.1")), IpFamily::V4);
        let reqs = vec![Some(vec![ip("::ffff:192.0.2.1")])];
        let f = gateway_filters(&reqs).unwrap();
        assert_eq!(
            f[0],
            GatewayFilter {
                filter_v4: false,
                filter_v6: true
            }
        );
    }
}
