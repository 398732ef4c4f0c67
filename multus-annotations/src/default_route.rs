//! `default-route` requests across a pod's attachments: the ECMP check and
//! the per-attachment "filter IPv4 / IPv6 default routes" flags.
//!
//! Upstream's rule (`conf.go` `CheckGatewayConfig`): handling is active only
//! when at least one attachment carries a `default-route` key, even `[]`.
//! Then more than one IPv4 or more than one IPv6 gateway across all
//! attachments is an error, and every attachment filters both families
//! except each family it requested a gateway for.
//!
//! The functions take one `Option<&[IpAddr]>` per attachment, in attachment
//! order, so they apply equally to parsed [`NetworkSelectionElement`]s and to
//! delegates built from other sources (the master included); elements give
//! theirs with [`NetworkSelectionElement::gateway_request`].
//!
//! ```
//! use multus_annotations::{default_route, parse_networks};
//! let nets = parse_networks(
//!     r#"[{"name":"a"},{"name":"b","default-route":["192.168.2.1"]}]"#, "default")?;
//! let filters = default_route::gateway_filters(nets.iter().map(|n| n.gateway_request()))?
//!     .expect("b carries default-route");
//! assert!(filters[0].filter_v4 && filters[0].filter_v6);
//! assert!(!filters[1].filter_v4 && filters[1].filter_v6);
//! # Ok::<(), multus_annotations::Error>(())
//! ```

use std::net::IpAddr;

use multus_types::addr::is_ipv4;

use crate::{Error, NetworkSelectionElement};

/// Which families of default routes one attachment must not keep.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct GatewayFilter {
    /// Remove IPv4 default routes this attachment's plugin installed.
    pub filter_v4: bool,
    /// Remove IPv6 default routes this attachment's plugin installed.
    pub filter_v6: bool,
}

impl GatewayFilter {
    /// The flags for one attachment while handling is active: both set,
    /// each cleared for a family the attachment requested a gateway of.
    pub fn for_request(request: Option<&[IpAddr]>) -> Self {
        let mut filter = Self {
            filter_v4: true,
            filter_v6: true,
        };
        for gw in request.unwrap_or_default() {
            if is_ipv4(*gw) {
                filter.filter_v4 = false;
            } else {
                filter.filter_v6 = false;
            }
        }
        filter
    }
}

/// Whether default-route handling is active: some attachment carries the
/// `default-route` key (even with `[]`).
pub fn is_active<'a>(requests: impl IntoIterator<Item = Option<&'a [IpAddr]>>) -> bool {
    requests.into_iter().any(|r| r.is_some())
}

/// Fails with `multus does not support ECMP for default-route` when more
/// than one IPv4 or more than one IPv6 gateway is requested across all
/// attachments.
///
/// ```
/// use multus_annotations::default_route::check_ecmp;
/// let a = ["10.0.0.1".parse().unwrap()];
/// let b = ["10.0.1.1".parse().unwrap(), "fd00::1".parse().unwrap()];
/// assert!(check_ecmp([Some(&a[..]), None]).is_ok());
/// assert!(check_ecmp([Some(&a[..]), Some(&b[..])]).is_err());
/// ```
pub fn check_ecmp<'a>(
    requests: impl IntoIterator<Item = Option<&'a [IpAddr]>>,
) -> Result<(), Error> {
    let (ipv4, ipv6): (Vec<IpAddr>, Vec<IpAddr>) = requests
        .into_iter()
        .flatten()
        .flatten()
        .partition(|gw| is_ipv4(**gw));
    if ipv4.len() > 1 || ipv6.len() > 1 {
        return Err(Error::Ecmp { ipv4, ipv6 });
    }
    Ok(())
}

/// The whole rule: `None` when handling is not active; else, after the
/// ECMP check, one [`GatewayFilter`] per attachment, in order.
pub fn gateway_filters<'a>(
    requests: impl IntoIterator<Item = Option<&'a [IpAddr]>>,
) -> Result<Option<Vec<GatewayFilter>>, Error> {
    let requests: Vec<Option<&[IpAddr]>> = requests.into_iter().collect();
    if !is_active(requests.iter().copied()) {
        return Ok(None);
    }
    check_ecmp(requests.iter().copied())?;
    Ok(Some(
        requests
            .into_iter()
            .map(GatewayFilter::for_request)
            .collect(),
    ))
}

/// [`gateway_filters`] over parsed elements.
pub fn element_gateway_filters(
    elements: &[NetworkSelectionElement],
) -> Result<Option<Vec<GatewayFilter>>, Error> {
    gateway_filters(
        elements
            .iter()
            .map(NetworkSelectionElement::gateway_request),
    )
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::parse_networks;

    fn ips(list: &[&str]) -> Vec<IpAddr> {
        list.iter().map(|s| s.parse().unwrap()).collect()
    }

    #[test]
    fn inactive_without_any_key() {
        let nets = parse_networks("a,b", "default").unwrap();
        assert_eq!(element_gateway_filters(&nets), Ok(None));
        assert!(!is_active(nets.iter().map(|n| n.gateway_request())));
    }

    #[test]
    fn empty_list_activates_and_filters_everything() {
        let nets = parse_networks(
            r#"[{"name":"a"},{"name":"b","default-route":[]}]"#,
            "default",
        )
        .unwrap();
        let filters = element_gateway_filters(&nets).unwrap().unwrap();
        let both = GatewayFilter {
            filter_v4: true,
            filter_v6: true,
        };
        assert_eq!(filters, vec![both, both]);
    }

    #[test]
    fn per_family_flags() {
        let v4 = ips(&["192.168.2.1"]);
        let v6 = ips(&["fd00::1"]);
        let dual = ips(&["10.0.0.1", "fd00::2"]);
        let filters = gateway_filters([None, Some(&v4[..])]).unwrap().unwrap();
        assert_eq!(
            filters[1],
            GatewayFilter {
                filter_v4: false,
                filter_v6: true
            }
        );
        let filters = gateway_filters([Some(&v6[..])]).unwrap().unwrap();
        assert_eq!(
            filters[0],
            GatewayFilter {
                filter_v4: true,
                filter_v6: false
            }
        );
        let filters = gateway_filters([Some(&dual[..]), None]).unwrap().unwrap();
        assert_eq!(filters[0], GatewayFilter::default());
    }

    #[test]
    fn ecmp_across_elements_is_rejected() {
        let nets = parse_networks(
            r#"[{"name":"a","default-route":["10.0.0.1"]},{"name":"b","default-route":["10.0.1.1"]}]"#,
            "default",
        )
        .unwrap();
        let e = element_gateway_filters(&nets).unwrap_err();
        assert!(
            e.to_string()
                .starts_with("multus does not support ECMP for default-route"),
            "{e}"
        );
        assert_eq!(
            e,
            Error::Ecmp {
                ipv4: ips(&["10.0.0.1", "10.0.1.1"]),
                ipv6: vec![]
            }
        );
        let two_v6 = ips(&["fd00::1", "fd00::2"]);
        assert!(check_ecmp([Some(&two_v6[..])]).is_err());
        let one_each = ips(&["10.0.0.1", "fd00::2"]);
        assert!(check_ecmp([Some(&one_each[..]), Some(&[][..])]).is_ok());
    }

    #[test]
    fn mapped_ipv4_counts_as_ipv4() {
        let gws: Vec<IpAddr> = vec![
            "10.0.0.1".parse().unwrap(),
            IpAddr::V6("::ffff:10.0.0.2".parse().unwrap()),
        ];
        assert!(check_ecmp([Some(&gws[..])]).is_err());
        let filter = GatewayFilter::for_request(Some(&gws[1..]));
        assert!(!filter.filter_v4 && filter.filter_v6);
    }
}
