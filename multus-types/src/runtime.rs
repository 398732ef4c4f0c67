//! `runtimeConfig` and capabilities (CNI CONVENTIONS.md), as Multus passes them on.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

use crate::casefold::null_as_default;

/// The capability arguments Multus understands and forwards to delegates.
///
/// Keys decode case-insensitively like upstream's Go struct; other keys are
/// dropped, as upstream drops them.
#[derive(Debug, Clone, PartialEq, Eq, Default, Deserialize, Serialize)]
#[serde(remote = "Self")]
pub struct RuntimeConfig {
    /// `portMappings` capability.
    #[serde(
        rename = "portMappings",
        default,
        skip_serializing_if = "Vec::is_empty",
        deserialize_with = "null_as_default"
    )]
    pub port_mappings: Vec<PortMapping>,
    /// `bandwidth` capability.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub bandwidth: Option<Bandwidth>,
    /// `ips` capability: addresses, with or without prefix.
    #[serde(
        default,
        skip_serializing_if = "Vec::is_empty",
        deserialize_with = "null_as_default"
    )]
    pub ips: Vec<String>,
    /// `mac` capability.
    #[serde(
        default,
        skip_serializing_if = "String::is_empty",
        deserialize_with = "null_as_default"
    )]
    pub mac: String,
    /// `infinibandGUID` capability.
    #[serde(
        rename = "infinibandGUID",
        default,
        skip_serializing_if = "String::is_empty",
        deserialize_with = "null_as_default"
    )]
    pub infiniband_guid: String,
    /// `deviceID` capability (PCI address or device name).
    #[serde(
        rename = "deviceID",
        default,
        skip_serializing_if = "String::is_empty",
        deserialize_with = "null_as_default"
    )]
    pub device_id: String,
    /// Where the delegate writes its device-info file.
    #[serde(
        rename = "CNIDeviceInfoFile",
        default,
        skip_serializing_if = "String::is_empty",
        deserialize_with = "null_as_default"
    )]
    pub cni_device_info_file: String,
}
crate::case_insensitive_serde!(RuntimeConfig);

impl RuntimeConfig {
    /// Whether nothing is set.
    pub fn is_empty(&self) -> bool {
        self == &Self::default()
    }
}

/// One entry of the `portMappings` capability.
#[derive(Debug, Clone, PartialEq, Eq, Default, Deserialize, Serialize)]
#[serde(remote = "Self")]
pub struct PortMapping {
    /// Port on the host.
    #[serde(rename = "hostPort", default)]
    pub host_port: i64,
    /// Port in the container.
    #[serde(rename = "containerPort", default)]
    pub container_port: i64,
    /// `tcp`, `udp` or `sctp`.
    #[serde(
        default,
        skip_serializing_if = "String::is_empty",
        deserialize_with = "null_as_default"
    )]
    pub protocol: String,
    /// Host address to bind.
    #[serde(
        rename = "hostIP",
        default,
        skip_serializing_if = "String::is_empty",
        deserialize_with = "null_as_default"
    )]
    pub host_ip: String,
}
crate::case_insensitive_serde!(PortMapping);

/// The `bandwidth` capability (rates in bits per second, bursts in bits).
#[derive(Debug, Clone, PartialEq, Eq, Default, Deserialize, Serialize)]
#[serde(remote = "Self")]
pub struct Bandwidth {
    /// Ingress rate.
    #[serde(rename = "ingressRate", default)]
    pub ingress_rate: i64,
    /// Ingress burst.
    #[serde(rename = "ingressBurst", default)]
    pub ingress_burst: i64,
    /// Egress rate.
    #[serde(rename = "egressRate", default)]
    pub egress_rate: i64,
    /// Egress burst.
    #[serde(rename = "egressBurst", default)]
    pub egress_burst: i64,
}
crate::case_insensitive_serde!(Bandwidth);

/// A plugin's `capabilities` map: which runtimeConfig keys it wants.
pub type Capabilities = BTreeMap<String, bool>;

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn decodes_case_insensitively_and_drops_unknown_keys() {
        let rc: RuntimeConfig = serde_json::from_str(
            r#"{"PortMappings":[{"hostport":8080,"containerPort":80,"protocol":"tcp"}],
                "bandwidth":{"ingressRate":1000,"INGRESSBURST":2000},
                "ips":["10.1.1.1/24"],"mac":"c2:11:22:33:44:55","foo":1}"#,
        )
        .unwrap();
        assert_eq!(rc.port_mappings[0].host_port, 8080);
        assert_eq!(rc.bandwidth.as_ref().unwrap().ingress_burst, 2000);
        assert_eq!(
            serde_json::to_string(&rc).unwrap(),
            r#"{"portMappings":[{"hostPort":8080,"containerPort":80,"protocol":"tcp"}],"bandwidth":{"ingressRate":1000,"ingressBurst":2000,"egressRate":0,"egressBurst":0},"ips":["10.1.1.1/24"],"mac":"c2:11:22:33:44:55"}"#
        );
    }

    #[test]
    fn strict_types_with_the_key_named() {
        let err = serde_json::from_str::<RuntimeConfig>(r#"{"portMappings":[{"hostPort":"80"}]}"#)
            .unwrap_err()
            .to_string();
        assert!(err.contains("hostPort"), "{err}");
    }

    #[test]
    fn empty_is_empty() {
        assert!(RuntimeConfig::default().is_empty());
        let rc: RuntimeConfig = serde_json::from_str(r#"{"ips":null,"mac":null}"#).unwrap();
        assert!(rc.is_empty());
    }
}
