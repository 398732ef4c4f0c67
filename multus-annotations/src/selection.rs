//! The `k8s.v1.cni.cncf.io/networks` annotation: [`NetworkSelectionElement`]
//! and [`parse_networks`].

use std::fmt;
use std::net::IpAddr;

use multus_types::casefold::null_as_default;
use multus_types::{Bandwidth, PortMapping};
use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};

use crate::Error;
use crate::addr;

/// One requested attachment: an element of the networks annotation.
///
/// JSON keys are upstream's (`name`, `namespace`, `ips`, `mac`,
/// `infiniband-guid`, `interface`, `interfaceRequest`, `portMappings`,
/// `bandwidth`, `deviceID`, `cni-args`, `default-route`). Decoding matches
/// keys ignoring case, ignores unknown keys, treats `null` as absent and lets
/// the last of duplicate keys win, as Go does. Serialising omits absent keys.
///
/// Decoding alone does not validate `ips`, `mac` or `infiniband-guid`;
/// [`parse_networks`] does.
///
/// ```
/// use multus_annotations::NetworkSelectionElement;
/// let e: NetworkSelectionElement =
///     serde_json::from_str(r#"{"Name":"macvlan-conf","default-route":[],"other":1}"#).unwrap();
/// assert_eq!(e.name, "macvlan-conf");
/// assert_eq!(e.default_route, Some(vec![]));
/// assert_eq!(serde_json::to_string(&e).unwrap(), r#"{"name":"macvlan-conf","default-route":[]}"#);
/// ```
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(remote = "Self")]
pub struct NetworkSelectionElement {
    /// Name of the NetworkAttachmentDefinition. Not validated in the JSON form.
    #[serde(default, deserialize_with = "null_as_default")]
    pub name: String,

    /// Namespace of the NetworkAttachmentDefinition; [`parse_networks`] fills
    /// in the pod's namespace when it is empty.
    #[serde(
        default,
        skip_serializing_if = "String::is_empty",
        deserialize_with = "null_as_default"
    )]
    pub namespace: String,

    /// Requested addresses, each an IP or a CIDR, verbatim. `Some(vec![])`
    /// (the key with `[]`) differs from `None`: upstream then passes `IP=` in
    /// `CNI_ARGS`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub ips: Option<Vec<String>>,

    /// Requested MAC address, verbatim.
    #[serde(
        default,
        skip_serializing_if = "String::is_empty",
        deserialize_with = "null_as_default"
    )]
    pub mac: String,

    /// Requested InfiniBand GUID, verbatim.
    #[serde(
        rename = "infiniband-guid",
        default,
        skip_serializing_if = "String::is_empty",
        deserialize_with = "null_as_default"
    )]
    pub infiniband_guid: String,

    /// Requested interface name in the pod. [`parse_networks`] copies
    /// [`interface_request`](Self::interface_request) here when this is empty.
    #[serde(
        default,
        skip_serializing_if = "String::is_empty",
        deserialize_with = "null_as_default"
    )]
    pub interface: String,

    /// Deprecated spelling (`interfaceRequest`, before Multus 3.2); used only
    /// when `interface` is empty.
    #[serde(
        rename = "interfaceRequest",
        default,
        skip_serializing_if = "String::is_empty",
        deserialize_with = "null_as_default"
    )]
    pub interface_request: String,

    /// Requested port mappings (`portMappings` capability). `Some(vec![])`
    /// (the key with `[]`) differs from `None` (absent or `null`): as
    /// upstream (`PortMappingsRequest != nil`), it replaces the runtime's
    /// port mappings (the pod's `hostPort`s) with none for this attachment,
    /// while `None` leaves them. Serialised when `Some`, `[]` included.
    #[serde(
        rename = "portMappings",
        default,
        skip_serializing_if = "Option::is_none"
    )]
    pub port_mappings: Option<Vec<PortMapping>>,

    /// Requested bandwidth limits (`bandwidth` capability).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub bandwidth: Option<Bandwidth>,

    /// Device ID to use when the NAD's `resourceName` gives none.
    #[serde(
        rename = "deviceID",
        default,
        skip_serializing_if = "String::is_empty",
        deserialize_with = "null_as_default"
    )]
    pub device_id: String,

    /// Extra CNI arguments, merged into the delegate config's `args.cni`.
    #[serde(rename = "cni-args", default, skip_serializing_if = "Option::is_none")]
    pub cni_args: Option<Map<String, Value>>,

    /// Default-route gateways. The key's presence matters even with `[]`:
    /// any element carrying it turns default-route handling on for the pod
    /// (see [`crate::default_route`]). IPv4-mapped IPv6 gateways are stored
    /// as IPv4.
    #[serde(
        rename = "default-route",
        default,
        skip_serializing_if = "Option::is_none",
        deserialize_with = "crate::de::gateway_list"
    )]
    pub default_route: Option<Vec<IpAddr>>,
}
multus_types::case_insensitive_serde!(NetworkSelectionElement);

impl NetworkSelectionElement {
    /// An element selecting `namespace/name`, with nothing else requested.
    pub fn new(namespace: impl Into<String>, name: impl Into<String>) -> Self {
        Self {
            name: name.into(),
            namespace: namespace.into(),
            ..Self::default()
        }
    }

    /// The `default-route` request, for [`crate::default_route`].
    pub fn gateway_request(&self) -> Option<&[IpAddr]> {
        self.default_route.as_deref()
    }
}

/// The comma-form item: `[namespace/]name[@interface]`.
///
/// ```
/// use multus_annotations::NetworkSelectionElement;
/// let mut e = NetworkSelectionElement::new("testns1", "macvlan-conf-3");
/// assert_eq!(e.to_string(), "testns1/macvlan-conf-3");
/// e.interface = "macvlan1".into();
/// assert_eq!(e.to_string(), "testns1/macvlan-conf-3@macvlan1");
/// ```
impl fmt::Display for NetworkSelectionElement {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if !self.namespace.is_empty() {
            write!(f, "{}/", self.namespace)?;
        }
        f.write_str(&self.name)?;
        if !self.interface.is_empty() {
            write!(f, "@{}", self.interface)?;
        }
        Ok(())
    }
}

/// Parses the value of the `k8s.v1.cni.cncf.io/networks` annotation.
///
/// * `""` → no networks.
/// * A value containing `[`, `{` or `"` anywhere is the JSON form: a list of
///   objects (see [`NetworkSelectionElement`]); `ips` entries must be IPs or
///   CIDRs, `mac` and `infiniband-guid` hardware addresses, `default-route`
///   entries plain IPs.
/// * Anything else is the comma form: items `[namespace/]name[@interface]`,
///   each trimmed; namespace and name must be DNS-1123 labels
///   (`^[a-z0-9]([-a-z0-9]*[a-z0-9])?$`, no length limit), the interface at
///   most 15 bytes without whitespace or `/`.
///
/// An empty namespace becomes `pod_namespace`; an empty `interface` takes the
/// deprecated `interfaceRequest`.
///
/// ```
/// use multus_annotations::parse_networks;
/// let nets = parse_networks("macvlan-conf-1, testns1/macvlan-conf-3@macvlan1", "default")?;
/// assert_eq!(nets[0].to_string(), "default/macvlan-conf-1");
/// assert_eq!(nets[1].namespace, "testns1");
/// assert_eq!(nets[1].interface, "macvlan1");
///
/// let nets = parse_networks(r#"[{"name":"macvlan-conf","default-route":["192.168.2.1"]}]"#, "default")?;
/// assert_eq!(nets[0].default_route, Some(vec!["192.168.2.1".parse().unwrap()]));
///
/// assert!(parse_networks("a/b/c", "default").is_err());
/// # Ok::<(), multus_annotations::Error>(())
/// ```
pub fn parse_networks(
    value: &str,
    pod_namespace: &str,
) -> Result<Vec<NetworkSelectionElement>, Error> {
    if value.is_empty() {
        return Ok(Vec::new());
    }
    let mut elements = if is_json_form(value) {
        let elements = parse_json_form(value)?;
        for (index, e) in elements.iter().enumerate() {
            validate_requests(index, e)?;
        }
        elements
    } else {
        parse_comma_form(value)?
    };
    for e in &mut elements {
        if e.namespace.is_empty() {
            e.namespace = pod_namespace.to_owned();
        }
        if e.interface.is_empty() && !e.interface_request.is_empty() {
            e.interface = e.interface_request.clone();
        }
    }
    Ok(elements)
}

/// Upstream's form selection: any `[`, `{` or `"` means JSON.
fn is_json_form(value: &str) -> bool {
    value.contains(['[', '{', '"'])
}

fn parse_json_form(value: &str) -> Result<Vec<NetworkSelectionElement>, Error> {
    let list: Vec<Value> = serde_json::from_str(value).map_err(|e| Error::Json {
        detail: e.to_string(),
    })?;
    list.into_iter()
        .enumerate()
        .map(|(index, item)| {
            if item.is_null() {
                return Err(Error::NullElement { index });
            }
            // The trait method: the inherent `deserialize` that
            // `remote = "Self"` generates is the case-sensitive one.
            <NetworkSelectionElement as Deserialize>::deserialize(item).map_err(|e| Error::Json {
                detail: format!("[{index}]: {e}"),
            })
        })
        .collect()
}

/// The checks upstream runs on JSON-form requests after decoding.
fn validate_requests(index: usize, e: &NetworkSelectionElement) -> Result<(), Error> {
    if !e.mac.is_empty() && addr::parse_hardware_addr(&e.mac).is_none() {
        return Err(Error::InvalidMac {
            index,
            name: e.name.clone(),
            value: e.mac.clone(),
        });
    }
    if !e.infiniband_guid.is_empty() && addr::parse_hardware_addr(&e.infiniband_guid).is_none() {
        return Err(Error::InvalidInfinibandGuid {
            index,
            name: e.name.clone(),
            value: e.infiniband_guid.clone(),
        });
    }
    for (ip_index, ip) in e.ips.iter().flatten().enumerate() {
        if ip.contains('/') {
            if addr::parse_cidr(ip).is_none() {
                return Err(Error::InvalidCidr {
                    index,
                    name: e.name.clone(),
                    ip_index,
                    value: ip.clone(),
                });
            }
        } else if addr::parse_ip(ip).is_none() {
            return Err(Error::InvalidIp {
                index,
                name: e.name.clone(),
                ip_index,
                value: ip.clone(),
            });
        }
    }
    Ok(())
}

fn parse_comma_form(value: &str) -> Result<Vec<NetworkSelectionElement>, Error> {
    value
        .split(',')
        .enumerate()
        .map(|(i, item)| parse_comma_item(item.trim(), i + 1, value))
        .collect()
}

/// One `[namespace/]name[@interface]` item, already trimmed.
fn parse_comma_item(
    item: &str,
    position: usize,
    value: &str,
) -> Result<NetworkSelectionElement, Error> {
    if item.is_empty() {
        return Err(Error::EmptyItem {
            position,
            value: value.to_owned(),
        });
    }
    let mut slash = item.split('/');
    let (namespace, rest) = match (slash.next(), slash.next(), slash.next()) {
        (Some(rest), None, _) => ("", rest),
        (Some(ns), Some(rest), None) => (ns.trim(), rest),
        _ => {
            return Err(Error::TooManySlashes {
                position,
                item: item.to_owned(),
            });
        }
    };
    let mut at = rest.split('@');
    let (name, interface) = match (at.next(), at.next(), at.next()) {
        (Some(name), None, _) => (name.trim(), ""),
        (Some(name), Some(ifname), None) => (name.trim(), ifname.trim()),
        _ => {
            return Err(Error::TooManyAts {
                position,
                item: item.to_owned(),
            });
        }
    };
    for (field, part) in [("namespace", namespace), ("name", name)] {
        if !part.is_empty() && !is_dns1123_label(part) {
            return Err(Error::NotDnsLabel {
                position,
                item: item.to_owned(),
                field,
                value: part.to_owned(),
            });
        }
    }
    if !interface.is_empty() && !is_comma_form_ifname(interface) {
        return Err(Error::InvalidInterfaceName {
            position,
            item: item.to_owned(),
            interface: interface.to_owned(),
        });
    }
    if name.is_empty() {
        return Err(Error::EmptyName {
            position,
            item: item.to_owned(),
        });
    }
    Ok(NetworkSelectionElement {
        name: name.to_owned(),
        namespace: namespace.to_owned(),
        interface: interface.to_owned(),
        ..NetworkSelectionElement::default()
    })
}

/// `^[a-z0-9]([-a-z0-9]*[a-z0-9])?$`, written out.
fn is_dns1123_label(s: &str) -> bool {
    let alnum = |b: &u8| b.is_ascii_lowercase() || b.is_ascii_digit();
    let bytes = s.as_bytes();
    match (bytes.first(), bytes.last()) {
        (Some(first), Some(last)) => {
            alnum(first) && alnum(last) && bytes.iter().all(|b| alnum(b) || *b == b'-')
        }
        _ => false,
    }
}

/// Upstream's comma-form interface check: at most 15 bytes (IFNAMSIZ - 1),
/// no ASCII whitespace, no `/`. Nothing else is checked here.
fn is_comma_form_ifname(s: &str) -> bool {
    s.len() <= 15 && !s.contains([' ', '\t', '\n', '\u{0B}', '\u{0C}', '\r', '/'])
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(v: &str) -> Vec<NetworkSelectionElement> {
        parse_networks(v, "default").unwrap()
    }

    fn err(v: &str) -> Error {
        parse_networks(v, "default").unwrap_err()
    }

    fn triple(e: &NetworkSelectionElement) -> (&str, &str, &str) {
        (&e.namespace, &e.name, &e.interface)
    }

    #[test]
    fn empty_value_is_no_networks() {
        assert!(parse("").is_empty());
    }

    #[test]
    fn guide_comma_examples() {
        let nets = parse("macvlan-conf-1, macvlan-conf-2");
        assert_eq!(nets.len(), 2);
        assert_eq!(triple(&nets[0]), ("default", "macvlan-conf-1", ""));
        assert_eq!(triple(&nets[1]), ("default", "macvlan-conf-2", ""));

        let nets = parse("testns1/macvlan-conf-3");
        assert_eq!(triple(&nets[0]), ("testns1", "macvlan-conf-3", ""));

        let nets = parse("macvlan-conf-1@macvlan1");
        assert_eq!(triple(&nets[0]), ("default", "macvlan-conf-1", "macvlan1"));
    }

    #[test]
    fn comma_items_are_trimmed_everywhere() {
        let nets = parse("\t ns1 / net-a @ eth1 ,\u{a0}net-b\n");
        assert_eq!(triple(&nets[0]), ("ns1", "net-a", "eth1"));
        assert_eq!(triple(&nets[1]), ("default", "net-b", ""));
    }

    #[test]
    fn comma_form_edge_cases() {
        // Empty namespace → pod namespace; "name@" → no interface.
        assert_eq!(triple(&parse("/net-a")[0]), ("default", "net-a", ""));
        assert_eq!(triple(&parse("net-a@")[0]), ("default", "net-a", ""));
        // No length limit on labels; duplicates allowed.
        let long = "a".repeat(300);
        assert_eq!(parse(&long)[0].name, long);
        assert_eq!(parse("net-a,net-a").len(), 2);
        // `null` has no JSON marker, so it is a network named "null".
        assert_eq!(parse("null")[0].name, "null");
        // Interface: only length, whitespace and '/' are checked.
        assert_eq!(parse("n@Net_1:x")[0].interface, "Net_1:x");
        assert_eq!(parse("n@ïñtérfàc")[0].interface, "ïñtérfàc");
        assert_eq!(parse("n@123456789012345")[0].interface, "123456789012345");
    }

    #[test]
    fn slash_and_at_errors() {
        let e = err("net-a, a/b/c");
        assert_eq!(
            e,
            Error::TooManySlashes {
                position: 2,
                item: "a/b/c".into()
            }
        );
        assert!(
            e.to_string()
                .starts_with("Invalid network object (failed at '/') in item 2 \"a/b/c\"")
        );
        let e = err("a@b@c");
        assert!(
            e.to_string()
                .starts_with("Invalid network object (failed at '@')")
        );
        // '/' is split first: "a@b/c" has namespace "a@b".
        let e = err("a@b/c");
        assert!(
            matches!(e, Error::NotDnsLabel { field: "namespace", ref value, .. } if value == "a@b")
        );
    }

    #[test]
    fn dns_label_errors() {
        for (value, field, part) in [
            ("Net-A", "name", "Net-A"),
            ("net_a", "name", "net_a"),
            ("-net", "name", "-net"),
            ("net-", "name", "net-"),
            ("net.a", "name", "net.a"),
            ("nét", "name", "nét"),
            ("NS/net", "namespace", "NS"),
            ("ns/na me", "name", "na me"),
        ] {
            let e = err(value);
            assert_eq!(
                e,
                Error::NotDnsLabel {
                    position: 1,
                    item: value.into(),
                    field,
                    value: part.into()
                },
                "{value}"
            );
        }
        assert_eq!(
            err("Net-A").to_string(),
            "Failed to parse: one or more items did not match comma-delimited format (must consist \
             of lower case alphanumeric characters). Must start and end with an alphanumeric \
             character), mismatch @ 'Net-A' (the name in item 1 \"Net-A\")"
        );
    }

    #[test]
    fn interface_errors() {
        for value in [
            "n@1234567890123456",
            "n@net 1",
            "n@net\t1",
            "n@net\u{0B}1",
            "n@ééééééééé",
        ] {
            assert!(
                matches!(err(value), Error::InvalidInterfaceName { .. }),
                "{value:?}"
            );
        }
        // A '/' after '@' is split off as a namespace first.
        assert!(matches!(err("n@a/b"), Error::NotDnsLabel { .. }));
        assert_eq!(
            err("n@net 1").to_string(),
            "Failed to parse interface name: must be less than 15 chars and not contain '/' or \
             spaces. interface name 'net 1' (item 1 \"n@net 1\")"
        );
    }

    #[test]
    fn empty_items_are_errors_not_empty_names() {
        for (value, position) in [
            (",net-a", 1),
            ("net-a,", 2),
            ("net-a,,net-b", 2),
            ("net-a, ,net-b", 2),
            (" ", 1),
            ("\t\n", 1),
        ] {
            let e = err(value);
            assert_eq!(
                e,
                Error::EmptyItem {
                    position,
                    value: value.into()
                },
                "{value:?}"
            );
            assert!(e.to_string().contains(&format!("item {position} of")));
        }
        for value in ["ns/", "@net1", "ns/@net1", "/"] {
            assert!(matches!(err(value), Error::EmptyName { .. }), "{value:?}");
        }
    }

    #[test]
    fn guide_json_examples() {
        let nets = parse(r#"[{"name":"macvlan-conf","default-route":["192.168.2.1"]}]"#);
        assert_eq!(nets[0].name, "macvlan-conf");
        assert_eq!(nets[0].namespace, "default");
        assert_eq!(
            nets[0].default_route,
            Some(vec!["192.168.2.1".parse::<IpAddr>().unwrap()])
        );

        let nets = parse(
            r#"[
              {"name": "macvlan-conf", "namespace": "testns1", "interface": "macvlan1"},
              {"name": "macvlan-conf-2", "ips": ["10.1.1.101/24"], "mac": "c2:b0:57:49:47:f1"}
            ]"#,
        );
        assert_eq!(triple(&nets[0]), ("testns1", "macvlan-conf", "macvlan1"));
        assert_eq!(triple(&nets[1]), ("default", "macvlan-conf-2", ""));
        assert_eq!(nets[1].ips, Some(vec!["10.1.1.101/24".to_owned()]));
        assert_eq!(nets[1].mac, "c2:b0:57:49:47:f1");
    }

    #[test]
    fn guide_pod_cases_json() {
        // As YAML folds the guide's single-quoted multi-line values.
        let nets = parse(r#"[ { "name" : "macvlan-conf-1" }, { "name" : "macvlan-conf-2" } ]"#);
        assert_eq!(triple(&nets[0]), ("default", "macvlan-conf-1", ""));
        assert_eq!(triple(&nets[1]), ("default", "macvlan-conf-2", ""));
        let nets = parse(r#"[ { "name" : "macvlan-conf-1", "namespace": "testns1" } ]"#);
        assert_eq!(triple(&nets[0]), ("testns1", "macvlan-conf-1", ""));
        let nets = parse(
            r#"[ { "name" : "macvlan-conf-1", "interface": "macvlan1" }, { "name" : "macvlan-conf-2" } ]"#,
        );
        assert_eq!(triple(&nets[0]), ("default", "macvlan-conf-1", "macvlan1"));
        assert_eq!(triple(&nets[1]), ("default", "macvlan-conf-2", ""));
        let nets =
            parse("[{\n  \"name\": \"macvlan-conf\",\n  \"default-route\": [\"192.168.2.1\"]\n}]");
        assert_eq!(
            nets[0].gateway_request(),
            Some(&["192.168.2.1".parse().unwrap()][..])
        );
    }

    #[test]
    fn json_all_fields_case_insensitive() {
        let nets = parse(
            r#"[{"NAME":"n","NameSpace":"ns","IPS":["10.0.0.1","fd00::1/64"],"Mac":"c2-b0-57-49-47-f1",
                "infiniband-GUID":"24:8a:07:03:00:8d:ae:2f","Interface":"eth9",
                "PORTMAPPINGS":[{"hostPort":8080,"containerPort":80,"protocol":"tcp"}],
                "Bandwidth":{"ingressRate":100,"egressBurst":5},"deviceid":"0000:3b:02.1",
                "CNI-ARGS":{"vlan":30,"x":{"y":true}},"Default-Route":["fd00::1","10.0.0.254"],
                "ipRequest":"ignored","ipam-claim-reference":"ignored"}]"#,
        );
        let e = &nets[0];
        assert_eq!(triple(e), ("ns", "n", "eth9"));
        assert_eq!(e.ips.as_ref().map(Vec::len), Some(2));
        assert_eq!(e.infiniband_guid, "24:8a:07:03:00:8d:ae:2f");
        assert_eq!(e.port_mappings.as_ref().map(|p| p[0].host_port), Some(8080));
        assert_eq!(e.bandwidth.as_ref().map(|b| b.egress_burst), Some(5));
        assert_eq!(e.device_id, "0000:3b:02.1");
        assert_eq!(
            e.cni_args.as_ref().and_then(|a| a.get("vlan")),
            Some(&Value::from(30))
        );
        assert_eq!(e.default_route.as_ref().map(Vec::len), Some(2));
    }

    #[test]
    fn json_nulls_are_absent_and_last_duplicate_wins() {
        let nets = parse(
            r#"[{"name":"a","namespace":null,"ips":null,"mac":null,"interface":null,
                "portMappings":null,"bandwidth":null,"cni-args":null,"default-route":null,
                "Name":"b"}]"#,
        );
        assert_eq!(nets[0], NetworkSelectionElement::new("default", "b"));
    }

    #[test]
    fn json_empty_lists_are_kept() {
        let nets = parse(r#"[{"name":"a","ips":[],"default-route":[],"portMappings":[]}]"#);
        assert_eq!(nets[0].ips, Some(vec![]));
        assert_eq!(nets[0].default_route, Some(vec![]));
        assert_eq!(nets[0].port_mappings, Some(vec![]));
        // ... and written back, while absent stays absent.
        assert_eq!(
            serde_json::to_value(&nets[0]).unwrap(),
            serde_json::json!({"name": "a", "namespace": "default", "ips": [],
                               "portMappings": [], "default-route": []})
        );
        let nets = parse(r#"[{"name":"a"},{"name":"b","PortMappings":null}]"#);
        assert_eq!(nets[0].port_mappings, None);
        assert_eq!(nets[1].port_mappings, None);
        assert_eq!(
            serde_json::to_string(&nets[0]).unwrap(),
            r#"{"name":"a","namespace":"default"}"#
        );
        assert!(parse("[]").is_empty());
        assert!(parse(" [ ] ").is_empty());
    }

    #[test]
    fn json_names_and_interfaces_are_not_validated() {
        let nets = parse(r#"[{"name":"Weird/Name@x","interface":"far too long interface"}]"#);
        assert_eq!(nets[0].name, "Weird/Name@x");
        assert_eq!(nets[0].interface, "far too long interface");
        assert_eq!(parse(r#"[{}]"#)[0].name, "");
    }

    #[test]
    fn deprecated_interface_request() {
        let nets = parse(r#"[{"name":"a","interfaceRequest":"old0"}]"#);
        assert_eq!(nets[0].interface, "old0");
        let nets = parse(r#"[{"name":"a","interfaceRequest":"old0","interface":"new0"}]"#);
        assert_eq!(nets[0].interface, "new0");
    }

    #[test]
    fn json_decode_errors() {
        for value in [
            r#"{"name":"a"}"#,
            r#""a""#,
            r#"[{"name":"a"},]"#,
            r#"[{"name":"a"}] x"#,
            r#"[{"name":1}]"#,
            r#"["a"]"#,
            r#"net1,"net2""#,
            r#"[{"name":"a","portMappings":[{"hostPort":"80"}]}]"#,
            r#"[{"name":"a","default-route":"10.0.0.1"}]"#,
            r#"[{"name":"a","cni-args":[1]}]"#,
        ] {
            let e = err(value);
            assert!(matches!(e, Error::Json { .. }), "{value}: {e:?}");
            assert!(
                e.to_string().starts_with(
                    "failed to parse pod Network Attachment Selection Annotation JSON format: "
                ),
                "{e}"
            );
        }
        let e = err(r#"[{"name":"a"},{"name":"b","ips":"10.0.0.1"}]"#);
        assert!(e.to_string().contains("[1]: ips: invalid type"), "{e}");
    }

    #[test]
    fn json_default_route_entries_must_be_plain_ips() {
        for bad in [
            r#"["10.0.0.1/24"]"#,
            r#"["010.0.0.1"]"#,
            r#"["fe80::1%eth0"]"#,
            r#"[""]"#,
            r#"[null]"#,
            r#"[1]"#,
        ] {
            let value = format!(r#"[{{"name":"a","default-route":{bad}}}]"#);
            assert!(matches!(err(&value), Error::Json { .. }), "{bad}");
        }
        let e = err(r#"[{"name":"a","default-route":["10.0.0.1","bogus"]}]"#);
        assert!(
            e.to_string()
                .ends_with("[0]: default-route[1]: invalid IP address: bogus"),
            "{e}"
        );
        // IPv4-mapped is stored as IPv4, as Go treats it.
        let nets = parse(r#"[{"name":"a","default-route":["::ffff:10.0.0.1"]}]"#);
        assert_eq!(
            nets[0].default_route,
            Some(vec!["10.0.0.1".parse().unwrap()])
        );
    }

    #[test]
    fn null_element_is_an_error_not_a_panic() {
        assert_eq!(err("[null]"), Error::NullElement { index: 0 });
        assert_eq!(
            err(r#"[{"name":"a"}, null]"#),
            Error::NullElement { index: 1 }
        );
        assert!(err("[null]").to_string().contains("[0] is null"));
    }

    #[test]
    fn ips_validation() {
        assert_eq!(
            err(r#"[{"name":"a","ips":["10.0.0.1","10.0.0.1/33"]}]"#).to_string(),
            "failed to parse CIDR \"10.0.0.1/33\": invalid CIDR address: 10.0.0.1/33 \
             ([0].ips[1], network \"a\")"
        );
        assert_eq!(
            err(r#"[{"name":"a","ips":["10.0.0.01"]}]"#).to_string(),
            "failed to parse IP address \"10.0.0.01\" ([0].ips[0], network \"a\")"
        );
        for bad in ["", "fe80::1%eth0", "10.0.0.1 ", "10.0.0.1/"] {
            let value = format!(r#"[{{"name":"a","ips":["{bad}"]}}]"#);
            assert!(
                matches!(
                    err(&value),
                    Error::InvalidIp { .. } | Error::InvalidCidr { .. }
                ),
                "{bad:?}"
            );
        }
        // Kept verbatim.
        let nets = parse(r#"[{"name":"a","ips":["2001:DB8::1/64"]}]"#);
        assert_eq!(nets[0].ips, Some(vec!["2001:DB8::1/64".to_owned()]));
    }

    #[test]
    fn mac_and_guid_validation() {
        assert_eq!(
            err(r#"[{"name":"a","mac":"zz"}]"#).to_string(),
            "failed to mac: address zz: invalid MAC address ([0].mac, network \"a\")"
        );
        assert_eq!(
            err(r#"[{"name":"a","infiniband-guid":"24:8a:07"}]"#).to_string(),
            "failed to validate infiniband GUID: address 24:8a:07: invalid MAC address \
             ([0].infiniband-guid, network \"a\")"
        );
        // Empty strings are "not requested".
        assert_eq!(
            parse(r#"[{"name":"a","mac":"","infiniband-guid":""}]"#).len(),
            1
        );
        // Kept verbatim.
        assert_eq!(
            parse(r#"[{"name":"a","mac":"C2B0.5749.47F1"}]"#)[0].mac,
            "C2B0.5749.47F1"
        );
    }

    #[test]
    fn serialisation_uses_upstream_keys_and_omits_absent() {
        let nets = parse(
            r#"[{"name":"n","namespace":"ns","interface":"eth9","ips":["10.0.0.1"],
                "mac":"c2:b0:57:49:47:f1","cni-args":{"a":1},"default-route":["10.0.0.254"],
                "bandwidth":{"ingressRate":1}}]"#,
        );
        assert_eq!(
            serde_json::to_string(&nets[0]).unwrap(),
            r#"{"name":"n","namespace":"ns","ips":["10.0.0.1"],"mac":"c2:b0:57:49:47:f1","interface":"eth9","bandwidth":{"ingressRate":1,"ingressBurst":0,"egressRate":0,"egressBurst":0},"cni-args":{"a":1},"default-route":["10.0.0.254"]}"#
        );
        let round: NetworkSelectionElement =
            serde_json::from_str(&serde_json::to_string(&nets[0]).unwrap()).unwrap();
        assert_eq!(round, nets[0]);
    }

    #[test]
    fn dns_label_check() {
        for ok in ["a", "0", "a-b", "a--b", "abc123", "1a"] {
            assert!(is_dns1123_label(ok), "{ok}");
        }
        for bad in ["", "-", "-a", "a-", "A", "a_b", "a.b", "a b", "é"] {
            assert!(!is_dns1123_label(bad), "{bad}");
        }
    }
}
