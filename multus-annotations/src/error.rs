//! The crate's one error type.

use std::fmt;
use std::net::IpAddr;

use multus_types::{ErrorCode, ToCniError};

/// Everything that can go wrong reading or checking an annotation.
///
/// Where upstream Multus has a message for the same fault, the message starts
/// with (or contains) upstream's text, so logs and alerts keyed on it keep
/// working; the item, field and value at fault follow.
///
/// Positions: comma-form items count from 1 (`item 2`); JSON elements are
/// shown as their array index (`[0]`), followed by the key path.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// A comma-form item that is empty after trimming (leading, trailing or
    /// doubled comma, or a value of only whitespace).
    #[error(
        "item {position} of {value:?} is empty: remove the leading, trailing or doubled ',' \
         (comma-delimited format: [namespace/]name[@interface], ...)"
    )]
    EmptyItem {
        /// 1-based position of the item.
        position: usize,
        /// The whole annotation value.
        value: String,
    },

    /// A comma-form item whose network name is empty (`ns/`, `@net1`).
    #[error(
        "item {position} {item:?} has an empty network name (expected [namespace/]name[@interface])"
    )]
    EmptyName {
        /// 1-based position of the item.
        position: usize,
        /// The item, trimmed.
        item: String,
    },

    /// A comma-form item with more than one `/`.
    #[error(
        "Invalid network object (failed at '/') in item {position} {item:?}: \
         expected [namespace/]name[@interface]"
    )]
    TooManySlashes {
        /// 1-based position of the item.
        position: usize,
        /// The item, trimmed.
        item: String,
    },

    /// A comma-form item with more than one `@`.
    #[error(
        "Invalid network object (failed at '@') in item {position} {item:?}: \
         expected [namespace/]name[@interface]"
    )]
    TooManyAts {
        /// 1-based position of the item.
        position: usize,
        /// The item, trimmed.
        item: String,
    },

    /// A comma-form namespace or name that is not a DNS-1123 label.
    #[error(
        "Failed to parse: one or more items did not match comma-delimited format (must consist of \
         lower case alphanumeric characters). Must start and end with an alphanumeric character), \
         mismatch @ '{value}' (the {field} in item {position} {item:?})"
    )]
    NotDnsLabel {
        /// 1-based position of the item.
        position: usize,
        /// The item, trimmed.
        item: String,
        /// `"namespace"` or `"name"`.
        field: &'static str,
        /// The offending part.
        value: String,
    },

    /// A comma-form interface name longer than 15 bytes or containing
    /// whitespace or `/`.
    #[error(
        "Failed to parse interface name: must be less than 15 chars and not contain '/' or spaces. \
         interface name '{interface}' (item {position} {item:?})"
    )]
    InvalidInterfaceName {
        /// 1-based position of the item.
        position: usize,
        /// The item, trimmed.
        item: String,
        /// The offending interface name.
        interface: String,
    },

    /// The JSON form did not decode: syntax, wrong types, a value that is
    /// not a list of objects, or a `default-route` entry that is not an IP.
    #[error("failed to parse pod Network Attachment Selection Annotation JSON format: {detail}")]
    Json {
        /// The decoder's message, with the element index and key path.
        detail: String,
    },

    /// A `null` element in the JSON form (upstream panics on it).
    #[error(
        "failed to parse pod Network Attachment Selection Annotation JSON format: \
         [{index}] is null, expected an object with at least \"name\""
    )]
    NullElement {
        /// 0-based index of the element.
        index: usize,
    },

    /// An `ips` entry with a `/` that is not a valid CIDR.
    #[error(
        "failed to parse CIDR {value:?}: invalid CIDR address: {value} ([{index}].ips[{ip_index}], network {name:?})"
    )]
    InvalidCidr {
        /// 0-based index of the element.
        index: usize,
        /// The element's network name.
        name: String,
        /// 0-based index in `ips`.
        ip_index: usize,
        /// The offending entry.
        value: String,
    },

    /// An `ips` entry without `/` that is not a valid IP address.
    #[error("failed to parse IP address {value:?} ([{index}].ips[{ip_index}], network {name:?})")]
    InvalidIp {
        /// 0-based index of the element.
        index: usize,
        /// The element's network name.
        name: String,
        /// 0-based index in `ips`.
        ip_index: usize,
        /// The offending entry.
        value: String,
    },

    /// A `mac` that is not a hardware address.
    #[error(
        "failed to mac: address {value}: invalid MAC address ([{index}].mac, network {name:?})"
    )]
    InvalidMac {
        /// 0-based index of the element.
        index: usize,
        /// The element's network name.
        name: String,
        /// The offending value.
        value: String,
    },

    /// An `infiniband-guid` that is not a hardware address.
    #[error(
        "failed to validate infiniband GUID: address {value}: invalid MAC address \
         ([{index}].infiniband-guid, network {name:?})"
    )]
    InvalidInfinibandGuid {
        /// 0-based index of the element.
        index: usize,
        /// The element's network name.
        name: String,
        /// The offending value.
        value: String,
    },

    /// The `v1.multus-cni.io/default-network` annotation is present but empty.
    #[error("the v1.multus-cni.io/default-network annotation is empty: it must name one network")]
    EmptyDefaultNetwork,

    /// The `v1.multus-cni.io/default-network` annotation parsed to no network (`[]`).
    #[error(
        "the v1.multus-cni.io/default-network annotation {value:?} names no network: it must name one"
    )]
    NoDefaultNetwork {
        /// The annotation value.
        value: String,
    },

    /// The `v1.multus-cni.io/default-network` annotation names more than one network.
    #[error("more than one default network is specified: {value}")]
    MoreThanOneDefaultNetwork {
        /// The annotation value.
        value: String,
    },

    /// More than one IPv4 or more than one IPv6 `default-route` gateway
    /// across all attachments of a pod.
    #[error("multus does not support ECMP for default-route: {}", EcmpDetail { ipv4, ipv6 })]
    Ecmp {
        /// Every IPv4 gateway requested, in attachment order.
        ipv4: Vec<IpAddr>,
        /// Every IPv6 gateway requested, in attachment order.
        ipv6: Vec<IpAddr>,
    },

    /// A network-status annotation that did not decode.
    #[error("failed to parse network-status annotation: {detail}")]
    NetworkStatusJson {
        /// The decoder's message, with the entry index and key path.
        detail: String,
    },
}

/// The gateways of an ECMP error, one family per clause.
struct EcmpDetail<'a> {
    ipv4: &'a [IpAddr],
    ipv6: &'a [IpAddr],
}

impl fmt::Display for EcmpDetail<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let mut first = true;
        for (family, gws) in [("IPv4", self.ipv4), ("IPv6", self.ipv6)] {
            if gws.len() < 2 {
                continue;
            }
            if !first {
                f.write_str("; ")?;
            }
            first = false;
            write!(f, "{} {family} gateways requested (", gws.len())?;
            for (i, gw) in gws.iter().enumerate() {
                if i > 0 {
                    f.write_str(", ")?;
                }
                write!(f, "{gw}")?;
            }
            f.write_str(")")?;
        }
        f.write_str(", at most one per family across all networks")
    }
}

impl ToCniError for Error {
    fn cni_code(&self) -> ErrorCode {
        match self {
            Self::Ecmp { .. } => ErrorCode::InvalidNetworkConfig,
            _ => ErrorCode::DecodingFailure,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ecmp_message_keeps_upstream_text_and_names_gateways() {
        let e = Error::Ecmp {
            ipv4: vec!["10.0.0.1".parse().unwrap(), "10.0.0.2".parse().unwrap()],
            ipv6: vec!["fd00::1".parse().unwrap()],
        };
        assert_eq!(
            e.to_string(),
            "multus does not support ECMP for default-route: 2 IPv4 gateways requested \
             (10.0.0.1, 10.0.0.2), at most one per family across all networks"
        );
        assert_eq!(e.cni_code(), ErrorCode::InvalidNetworkConfig);
    }

    #[test]
    fn parse_errors_are_decoding_failures() {
        let e = Error::EmptyDefaultNetwork;
        assert_eq!(e.to_cni_error().code, ErrorCode::DecodingFailure);
    }
}
