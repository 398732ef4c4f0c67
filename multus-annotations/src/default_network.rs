//! The `v1.multus-cni.io/default-network` pod annotation: one network that
//! replaces the cluster default network for that pod.

use crate::{Error, NetworkSelectionElement, parse_networks};

/// Parses the value of `v1.multus-cni.io/default-network`.
///
/// The grammar is the networks annotation's (see [`parse_networks`]), with
/// `multus_namespace` as the namespace of an element that names none. The
/// value must name exactly one network.
///
/// ```
/// use multus_annotations::parse_default_network;
/// let net = parse_default_network("calico-alt", "kube-system")?;
/// assert_eq!(net.to_string(), "kube-system/calico-alt");
///
/// let net = parse_default_network(r#"[{"name":"ovn","namespace":"ovn-kubernetes","interface":"eth0"}]"#, "kube-system")?;
/// assert_eq!(net.to_string(), "ovn-kubernetes/ovn@eth0");
///
/// let err = parse_default_network("a,b", "kube-system").unwrap_err();
/// assert_eq!(err.to_string(), "more than one default network is specified: a,b");
/// # Ok::<(), multus_annotations::Error>(())
/// ```
pub fn parse_default_network(
    value: &str,
    multus_namespace: &str,
) -> Result<NetworkSelectionElement, Error> {
    if value.is_empty() {
        return Err(Error::EmptyDefaultNetwork);
    }
    let mut networks = parse_networks(value, multus_namespace)?;
    if networks.len() > 1 {
        return Err(Error::MoreThanOneDefaultNetwork {
            value: value.to_owned(),
        });
    }
    networks.pop().ok_or_else(|| Error::NoDefaultNetwork {
        value: value.to_owned(),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn one_network_in_multus_namespace_by_default() {
        let net = parse_default_network("macvlan-conf", "kube-system").unwrap();
        assert_eq!(
            net,
            NetworkSelectionElement::new("kube-system", "macvlan-conf")
        );
        let net = parse_default_network("ns1/macvlan-conf@eth0", "kube-system").unwrap();
        assert_eq!(net.to_string(), "ns1/macvlan-conf@eth0");
    }

    #[test]
    fn json_form_keeps_requests() {
        let net = parse_default_network(
            r#"[{"name":"n","ips":["10.0.0.5/24"],"default-route":["10.0.0.1"]}]"#,
            "kube-system",
        )
        .unwrap();
        assert_eq!(net.namespace, "kube-system");
        assert_eq!(net.ips, Some(vec!["10.0.0.5/24".to_owned()]));
        assert!(net.default_route.is_some());
    }

    #[test]
    fn errors() {
        assert_eq!(
            parse_default_network("", "kube-system"),
            Err(Error::EmptyDefaultNetwork)
        );
        assert_eq!(
            parse_default_network("[]", "kube-system"),
            Err(Error::NoDefaultNetwork { value: "[]".into() })
        );
        let e = parse_default_network(r#"[{"name":"a"},{"name":"b"}]"#, "kube-system").unwrap_err();
        assert_eq!(
            e.to_string(),
            r#"more than one default network is specified: [{"name":"a"},{"name":"b"}]"#
        );
        assert!(matches!(
            parse_default_network(" ", "kube-system"),
            Err(Error::EmptyItem { .. })
        ));
        assert!(matches!(
            parse_default_network("[null]", "kube-system"),
            Err(Error::NullElement { index: 0 })
        ));
        assert!(matches!(
            parse_default_network("A", "kube-system"),
            Err(Error::NotDnsLabel { .. })
        ));
    }
}
