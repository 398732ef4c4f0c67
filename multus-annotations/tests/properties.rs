//! Property tests: the parsers never panic, and what is rendered parses back.

#![allow(clippy::unwrap_used, clippy::expect_used)]

use multus_annotations::{
    NetworkSelectionElement, NetworkStatus, addr, parse_default_network, parse_network_status,
    parse_networks, render_network_status,
};
use proptest::prelude::*;

/// Strings rich in the characters the grammars care about.
fn annotation_like() -> impl Strategy<Value = String> {
    prop::collection::vec(
        prop_oneof![
            Just(",".to_owned()),
            Just("/".to_owned()),
            Just("@".to_owned()),
            Just("[".to_owned()),
            Just("]".to_owned()),
            Just("{".to_owned()),
            Just("}".to_owned()),
            Just("\"".to_owned()),
            Just(":".to_owned()),
            Just(" ".to_owned()),
            Just("null".to_owned()),
            Just("\"name\":".to_owned()),
            Just("\"ips\":[\"10.0.0.1/24\"]".to_owned()),
            Just("\"default-route\":[".to_owned()),
            Just("\"mac\":\"".to_owned()),
            "[a-z0-9-]{1,6}",
            "\\PC{1,3}",
        ],
        0..24,
    )
    .prop_map(|parts| parts.concat())
}

fn dns_label() -> impl Strategy<Value = String> {
    "[a-z0-9]([-a-z0-9]{0,20}[a-z0-9])?"
}

/// Interface names the comma form accepts and that survive trimming and
/// form selection: no whitespace, '/', ',', '@', '[', '{', '"'; ≤ 15 bytes.
fn comma_ifname() -> impl Strategy<Value = String> {
    "[^\\s/,@\\[{\"]{1,15}".prop_filter("at most 15 bytes", |s| s.len() <= 15)
}

fn comma_element() -> impl Strategy<Value = NetworkSelectionElement> {
    (
        prop::option::of(dns_label()),
        dns_label(),
        prop::option::of(comma_ifname()),
    )
        .prop_map(|(namespace, name, interface)| NetworkSelectionElement {
            namespace: namespace.unwrap_or_default(),
            name,
            interface: interface.unwrap_or_default(),
            ..NetworkSelectionElement::default()
        })
}

fn status_entry() -> impl Strategy<Value = NetworkStatus> {
    (
        "\\PC{0,12}",
        "\\PC{0,6}",
        prop::collection::vec("\\PC{0,8}", 0..3),
        "[0-9a-f:]{0,17}",
        any::<u32>(),
        any::<bool>(),
        prop::collection::vec("[0-9.]{1,15}", 0..3),
    )
        .prop_map(
            |(name, interface, ips, mac, mtu, default, gateway)| NetworkStatus {
                name,
                interface,
                ips,
                mac,
                mtu,
                default,
                gateway,
                ..NetworkStatus::default()
            },
        )
}

proptest! {
    #[test]
    fn parse_networks_never_panics(s in any::<String>()) {
        let _ = parse_networks(&s, "default");
    }

    #[test]
    fn parse_networks_never_panics_on_annotation_like_input(s in annotation_like()) {
        let _ = parse_networks(&s, "default");
        let _ = parse_default_network(&s, "kube-system");
    }

    #[test]
    fn parse_default_network_never_panics(s in any::<String>()) {
        let _ = parse_default_network(&s, "kube-system");
    }

    #[test]
    fn parse_network_status_never_panics(s in any::<String>()) {
        let _ = parse_network_status(&s);
    }

    #[test]
    fn address_parsers_never_panic(s in any::<String>()) {
        let _ = addr::parse_hardware_addr(&s);
        let _ = addr::parse_cidr(&s);
        let _ = addr::is_ip_request(&s);
    }

    #[test]
    fn comma_form_round_trips(elements in prop::collection::vec(comma_element(), 1..6),
                              spaces in prop::collection::vec("[ \t]{0,2}", 12)) {
        // Render with arbitrary whitespace around the items.
        let value = elements
            .iter()
            .enumerate()
            .map(|(i, e)| format!("{}{e}{}", spaces[i % 12], spaces[(i + 6) % 12]))
            .collect::<Vec<_>>()
            .join(",");
        let parsed = parse_networks(&value, "pod-ns").unwrap();
        let expected: Vec<NetworkSelectionElement> = elements
            .into_iter()
            .map(|mut e| {
                if e.namespace.is_empty() {
                    e.namespace = "pod-ns".into();
                }
                e
            })
            .collect();
        prop_assert_eq!(parsed, expected);
    }

    #[test]
    fn json_form_round_trips(elements in prop::collection::vec(comma_element(), 0..4),
                             gateway in prop::option::of(any::<std::net::Ipv4Addr>())) {
        let mut elements = elements;
        if let (Some(gw), Some(first)) = (gateway, elements.first_mut()) {
            first.default_route = Some(vec![gw.into()]);
            first.ips = Some(vec![format!("{gw}/24")]);
        }
        let value = serde_json::to_string(&elements).unwrap();
        let parsed = parse_networks(&value, "pod-ns").unwrap();
        prop_assert_eq!(parsed.len(), elements.len());
        for (p, e) in parsed.iter().zip(&elements) {
            let mut e = e.clone();
            if e.namespace.is_empty() {
                e.namespace = "pod-ns".into();
            }
            prop_assert_eq!(p, &e);
        }
    }

    #[test]
    fn mac_text_round_trips(bytes in prop_oneof![
        prop::collection::vec(any::<u8>(), 6),
        prop::collection::vec(any::<u8>(), 8),
        prop::collection::vec(any::<u8>(), 20),
    ], sep in prop_oneof![Just(":"), Just("-")]) {
        let text = bytes.iter().map(|b| format!("{b:02x}")).collect::<Vec<_>>().join(sep);
        prop_assert_eq!(addr::parse_hardware_addr(&text), Some(bytes.clone()));
        let dotted = bytes
            .chunks(2)
            .map(|c| format!("{:02X}{:02X}", c[0], c[1]))
            .collect::<Vec<_>>()
            .join(".");
        prop_assert_eq!(addr::parse_hardware_addr(&dotted), Some(bytes));
    }

    #[test]
    fn network_status_round_trips(entries in prop::collection::vec(status_entry(), 0..4)) {
        let text = render_network_status(&entries);
        prop_assert_eq!(parse_network_status(&text).unwrap(), entries);
    }
}
