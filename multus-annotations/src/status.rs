//! The `k8s.v1.cni.cncf.io/network-status` annotation: [`NetworkStatus`],
//! [`DeviceInfo`], building entries from a CNI result, and rendering the
//! annotation value byte for byte as upstream does.

use std::net::IpAddr;

use multus_types::casefold::null_as_default;
use multus_types::result::v1;
use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};

use multus_types::gojson;

use crate::Error;

/// One entry of the network-status annotation.
///
/// Serialised keys, in this order: `name`, `interface`, `ips`, `mac`, `mtu`,
/// `default`, `dns`, `device-info`, `gateway`. `dns` is always present (`{}`
/// when empty), `default` only when true, `mtu` only when non-zero, the
/// others only when non-empty. Decoding matches keys ignoring case and
/// ignores unknown keys.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(remote = "Self")]
pub struct NetworkStatus {
    /// `<namespace>/<nad name>` for NAD attachments, else the CNI network name.
    #[serde(default, deserialize_with = "null_as_default")]
    pub name: String,
    /// Interface name in the pod.
    #[serde(
        default,
        skip_serializing_if = "String::is_empty",
        deserialize_with = "null_as_default"
    )]
    pub interface: String,
    /// Addresses, bare (no prefix length) in canonical text.
    #[serde(
        default,
        skip_serializing_if = "Vec::is_empty",
        deserialize_with = "null_as_default"
    )]
    pub ips: Vec<String>,
    /// Hardware address, verbatim from the result.
    #[serde(
        default,
        skip_serializing_if = "String::is_empty",
        deserialize_with = "null_as_default"
    )]
    pub mac: String,
    /// Interface MTU (1.1.0 results).
    #[serde(
        default,
        skip_serializing_if = "is_zero",
        deserialize_with = "null_as_default"
    )]
    pub mtu: u32,
    /// Whether this is the pod's cluster default network.
    #[serde(
        default,
        skip_serializing_if = "is_false",
        deserialize_with = "null_as_default"
    )]
    pub default: bool,
    /// DNS settings of the result.
    #[serde(default, deserialize_with = "null_as_default")]
    pub dns: Dns,
    /// Device information read from the attachment's device-info file.
    #[serde(
        rename = "device-info",
        default,
        skip_serializing_if = "Option::is_none"
    )]
    pub device_info: Option<DeviceInfo>,
    /// Gateways of the result's default routes.
    #[serde(
        default,
        skip_serializing_if = "Vec::is_empty",
        deserialize_with = "null_as_default"
    )]
    pub gateway: Vec<String>,
}
multus_types::case_insensitive_serde!(NetworkStatus);

/// DNS settings in a status entry.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(remote = "Self")]
pub struct Dns {
    /// Name servers.
    #[serde(
        default,
        skip_serializing_if = "Vec::is_empty",
        deserialize_with = "null_as_default"
    )]
    pub nameservers: Vec<String>,
    /// Local domain.
    #[serde(
        default,
        skip_serializing_if = "String::is_empty",
        deserialize_with = "null_as_default"
    )]
    pub domain: String,
    /// Search domains.
    #[serde(
        default,
        skip_serializing_if = "Vec::is_empty",
        deserialize_with = "null_as_default"
    )]
    pub search: Vec<String>,
    /// Resolver options.
    #[serde(
        default,
        skip_serializing_if = "Vec::is_empty",
        deserialize_with = "null_as_default"
    )]
    pub options: Vec<String>,
}
multus_types::case_insensitive_serde!(Dns);

impl From<&v1::Dns> for Dns {
    fn from(d: &v1::Dns) -> Self {
        Self {
            nameservers: d.nameservers.clone(),
            domain: d.domain.clone(),
            search: d.search.clone(),
            options: d.options.clone(),
        }
    }
}

/// Device information (device-info-spec 1.x): the `device-info` of a status
/// entry and the content of the files device plugins and CNI plugins write
/// under `/var/run/k8s.cni.cncf.io/devinfo/`.
///
/// Fields are upstream's Go struct's: every key is omitted when empty, and
/// unknown keys are dropped on decoding (upstream drops them too), so the
/// rendered annotation is what upstream writes.
///
/// ```
/// use multus_annotations::DeviceInfo;
/// let d: DeviceInfo = serde_json::from_str(r#"{"type":"pci","version":"1.1.0",
///     "pci":{"pci-address":"0000:3b:02.1","pf-pci-address":"0000:3b:00.0"}}"#).unwrap();
/// assert_eq!(d.pci.unwrap().pci_address, "0000:3b:02.1");
/// ```
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(remote = "Self")]
pub struct DeviceInfo {
    /// `pci`, `vdpa`, `vhost-user` or `memif`.
    #[serde(
        rename = "type",
        default,
        skip_serializing_if = "String::is_empty",
        deserialize_with = "null_as_default"
    )]
    pub device_type: String,
    /// Spec version, e.g. `1.1.0`.
    #[serde(
        default,
        skip_serializing_if = "String::is_empty",
        deserialize_with = "null_as_default"
    )]
    pub version: String,
    /// PCI device details.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub pci: Option<PciDevice>,
    /// vDPA device details.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub vdpa: Option<VdpaDevice>,
    /// vhost-user socket details.
    #[serde(
        rename = "vhost-user",
        default,
        skip_serializing_if = "Option::is_none"
    )]
    pub vhost_user: Option<VhostUserDevice>,
    /// memif socket details.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub memif: Option<MemifDevice>,
}
multus_types::case_insensitive_serde!(DeviceInfo);

/// `device-info.pci`.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(remote = "Self")]
pub struct PciDevice {
    /// PCI address, `dddd:BB:DD.f`.
    #[serde(
        rename = "pci-address",
        default,
        skip_serializing_if = "String::is_empty",
        deserialize_with = "null_as_default"
    )]
    pub pci_address: String,
    /// vhost-net device path.
    #[serde(
        rename = "vhost-net",
        default,
        skip_serializing_if = "String::is_empty",
        deserialize_with = "null_as_default"
    )]
    pub vhost_net: String,
    /// RDMA device name.
    #[serde(
        rename = "rdma-device",
        default,
        skip_serializing_if = "String::is_empty",
        deserialize_with = "null_as_default"
    )]
    pub rdma_device: String,
    /// PCI address of the physical function.
    #[serde(
        rename = "pf-pci-address",
        default,
        skip_serializing_if = "String::is_empty",
        deserialize_with = "null_as_default"
    )]
    pub pf_pci_address: String,
    /// Representor netdev name.
    #[serde(
        rename = "representor-device",
        default,
        skip_serializing_if = "String::is_empty",
        deserialize_with = "null_as_default"
    )]
    pub representor_device: String,
}
multus_types::case_insensitive_serde!(PciDevice);

/// `device-info.vdpa`.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(remote = "Self")]
pub struct VdpaDevice {
    /// Parent vDPA device.
    #[serde(
        rename = "parent-device",
        default,
        skip_serializing_if = "String::is_empty",
        deserialize_with = "null_as_default"
    )]
    pub parent_device: String,
    /// `vhost` or `virtio`.
    #[serde(
        default,
        skip_serializing_if = "String::is_empty",
        deserialize_with = "null_as_default"
    )]
    pub driver: String,
    /// Device path.
    #[serde(
        default,
        skip_serializing_if = "String::is_empty",
        deserialize_with = "null_as_default"
    )]
    pub path: String,
    /// PCI address.
    #[serde(
        rename = "pci-address",
        default,
        skip_serializing_if = "String::is_empty",
        deserialize_with = "null_as_default"
    )]
    pub pci_address: String,
    /// PCI address of the physical function.
    #[serde(
        rename = "pf-pci-address",
        default,
        skip_serializing_if = "String::is_empty",
        deserialize_with = "null_as_default"
    )]
    pub pf_pci_address: String,
    /// Representor netdev name.
    #[serde(
        rename = "representor-device",
        default,
        skip_serializing_if = "String::is_empty",
        deserialize_with = "null_as_default"
    )]
    pub representor_device: String,
}
multus_types::case_insensitive_serde!(VdpaDevice);

/// `device-info.vhost-user`.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(remote = "Self")]
pub struct VhostUserDevice {
    /// `client` or `server`.
    #[serde(
        default,
        skip_serializing_if = "String::is_empty",
        deserialize_with = "null_as_default"
    )]
    pub mode: String,
    /// Socket path.
    #[serde(
        default,
        skip_serializing_if = "String::is_empty",
        deserialize_with = "null_as_default"
    )]
    pub path: String,
}
multus_types::case_insensitive_serde!(VhostUserDevice);

/// `device-info.memif`.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(remote = "Self")]
pub struct MemifDevice {
    /// `master` or `slave`.
    #[serde(
        default,
        skip_serializing_if = "String::is_empty",
        deserialize_with = "null_as_default"
    )]
    pub role: String,
    /// Socket path.
    #[serde(
        default,
        skip_serializing_if = "String::is_empty",
        deserialize_with = "null_as_default"
    )]
    pub path: String,
    /// `ethernet`, `ip` or `inject-punt`.
    #[serde(
        default,
        skip_serializing_if = "String::is_empty",
        deserialize_with = "null_as_default"
    )]
    pub mode: String,
}
multus_types::case_insensitive_serde!(MemifDevice);

impl NetworkStatus {
    /// The status entries for one attachment's result (convert older results
    /// to 1.x first), as upstream computes them:
    ///
    /// * no interfaces → no entry;
    /// * exactly one interface → one entry: interface, mac and mtu from it
    ///   when it has a sandbox; every IP; `default` = `is_default`;
    /// * several interfaces → one entry per sandbox interface (host-side
    ///   ones skipped); each IP goes to the entry of its `interface` index
    ///   (dropped when that is not a sandbox interface), IPs without an index
    ///   to the last entry; when `is_default`, the entry of the interface
    ///   referenced by the first IP having both a gateway and an index is
    ///   default — or, with no such IP, the first entry; if that IP points
    ///   at a host interface, no entry is.
    ///
    /// Every entry gets `name`, the result's DNS, `device_info`, and as
    /// `gateway` the gateways of the result's default routes (a route whose
    /// destination address is `0.0.0.0` or `::`, prefix length ignored).
    /// Addresses are written bare in canonical form, IPv4-mapped IPv6 as IPv4.
    ///
    /// ```
    /// use multus_annotations::NetworkStatus;
    /// let result = serde_json::from_str(r#"{"cniVersion":"1.0.0",
    ///     "interfaces":[{"name":"net1","mac":"0a:58:0a:01:01:05","sandbox":"/run/netns/p"}],
    ///     "ips":[{"address":"10.1.1.5/24","gateway":"10.1.1.1","interface":0}],
    ///     "routes":[{"dst":"0.0.0.0/0","gw":"10.1.1.1"}]}"#).unwrap();
    /// let entries = NetworkStatus::from_result(&result, "default/macvlan-conf", false, None);
    /// assert_eq!(entries[0].interface, "net1");
    /// assert_eq!(entries[0].ips, ["10.1.1.5"]);
    /// assert_eq!(entries[0].gateway, ["10.1.1.1"]);
    /// ```
    pub fn from_result(
        result: &v1::Result,
        name: &str,
        is_default: bool,
        device_info: Option<DeviceInfo>,
    ) -> Vec<NetworkStatus> {
        let gateway = default_gateways(result);
        let dns = Dns::from(&result.dns);
        let base = NetworkStatus {
            name: name.to_owned(),
            dns,
            device_info,
            gateway,
            ..NetworkStatus::default()
        };

        if let [iface] = result.interfaces.as_slice() {
            let mut entry = base;
            entry.default = is_default;
            if iface.is_sandbox() {
                entry.interface = iface.name.clone();
                entry.mac = iface.mac.clone();
                entry.mtu = iface.mtu;
            }
            entry.ips = result
                .ips
                .iter()
                .map(|ip| bare_ip(ip.address.ip()))
                .collect();
            return vec![entry];
        }

        // The interface that gets `default`: upstream takes the index of the
        // first IP with a gateway and an index; -1 (or none) means "the first
        // sandbox interface".
        let gateway_index = if is_default {
            result
                .ips
                .iter()
                .find(|ip| ip.gateway.is_some() && ip.interface.is_some())
                .and_then(|ip| ip.interface)
                .unwrap_or(-1)
        } else {
            -1
        };

        let mut entries: Vec<NetworkStatus> = Vec::new();
        // Result interface index -> entry index.
        let mut entry_of: Vec<Option<usize>> = vec![None; result.interfaces.len()];
        let mut default_set = false;
        for (i, iface) in result.interfaces.iter().enumerate() {
            if !iface.is_sandbox() {
                continue;
            }
            let mut entry = base.clone();
            let by_gateway = i64::try_from(i).is_ok_and(|i| i == i64::from(gateway_index));
            if is_default && !default_set && (by_gateway || gateway_index == -1) {
                entry.default = true;
                default_set = true;
            }
            entry.interface = iface.name.clone();
            entry.mac = iface.mac.clone();
            entry.mtu = iface.mtu;
            entry_of[i] = Some(entries.len());
            entries.push(entry);
        }

        for ip in &result.ips {
            let target = match ip.interface {
                Some(index) => usize::try_from(index)
                    .ok()
                    .and_then(|i| entry_of.get(i).copied().flatten()),
                None => entries.len().checked_sub(1),
            };
            if let Some(entry) = target.and_then(|t| entries.get_mut(t)) {
                entry.ips.push(bare_ip(ip.address.ip()));
            }
        }
        entries
    }

    /// The entry as Go's JSON encoder sees it (key order, omissions).
    fn to_go_value(&self) -> Value {
        let mut m = Map::new();
        m.insert("name".into(), Value::from(self.name.as_str()));
        put_str(&mut m, "interface", &self.interface);
        put_list(&mut m, "ips", &self.ips);
        put_str(&mut m, "mac", &self.mac);
        if self.mtu != 0 {
            m.insert("mtu".into(), Value::from(self.mtu));
        }
        if self.default {
            m.insert("default".into(), Value::Bool(true));
        }
        let mut dns = Map::new();
        put_list(&mut dns, "nameservers", &self.dns.nameservers);
        put_str(&mut dns, "domain", &self.dns.domain);
        put_list(&mut dns, "search", &self.dns.search);
        put_list(&mut dns, "options", &self.dns.options);
        m.insert("dns".into(), Value::Object(dns));
        if let Some(d) = &self.device_info {
            m.insert("device-info".into(), d.to_go_value());
        }
        put_list(&mut m, "gateway", &self.gateway);
        Value::Object(m)
    }
}

impl DeviceInfo {
    fn to_go_value(&self) -> Value {
        let mut m = Map::new();
        put_str(&mut m, "type", &self.device_type);
        put_str(&mut m, "version", &self.version);
        if let Some(p) = &self.pci {
            let mut o = Map::new();
            put_str(&mut o, "pci-address", &p.pci_address);
            put_str(&mut o, "vhost-net", &p.vhost_net);
            put_str(&mut o, "rdma-device", &p.rdma_device);
            put_str(&mut o, "pf-pci-address", &p.pf_pci_address);
            put_str(&mut o, "representor-device", &p.representor_device);
            m.insert("pci".into(), Value::Object(o));
        }
        if let Some(v) = &self.vdpa {
            let mut o = Map::new();
            put_str(&mut o, "parent-device", &v.parent_device);
            put_str(&mut o, "driver", &v.driver);
            put_str(&mut o, "path", &v.path);
            put_str(&mut o, "pci-address", &v.pci_address);
            put_str(&mut o, "pf-pci-address", &v.pf_pci_address);
            put_str(&mut o, "representor-device", &v.representor_device);
            m.insert("vdpa".into(), Value::Object(o));
        }
        if let Some(v) = &self.vhost_user {
            let mut o = Map::new();
            put_str(&mut o, "mode", &v.mode);
            put_str(&mut o, "path", &v.path);
            m.insert("vhost-user".into(), Value::Object(o));
        }
        if let Some(v) = &self.memif {
            let mut o = Map::new();
            put_str(&mut o, "role", &v.role);
            put_str(&mut o, "path", &v.path);
            put_str(&mut o, "mode", &v.mode);
            m.insert("memif".into(), Value::Object(o));
        }
        Value::Object(m)
    }
}

fn put_str(m: &mut Map<String, Value>, key: &str, value: &str) {
    if !value.is_empty() {
        m.insert(key.into(), Value::from(value));
    }
}

fn put_list(m: &mut Map<String, Value>, key: &str, values: &[String]) {
    if !values.is_empty() {
        m.insert(
            key.into(),
            Value::Array(values.iter().map(|v| Value::from(v.as_str())).collect()),
        );
    }
}

/// The gateways of the default routes: destination address unspecified
/// (`0.0.0.0`, `::`, or IPv4-mapped `0.0.0.0`), whatever the prefix length.
/// A default route without a gateway contributes nothing.
fn default_gateways(result: &v1::Result) -> Vec<String> {
    result
        .routes
        .iter()
        .filter(|r| r.dst.ip().to_canonical().is_unspecified())
        .filter_map(|r| r.gw.map(bare_ip))
        .collect()
}

/// Go's `net.IP.String()`: canonical text, IPv4-mapped IPv6 as IPv4.
fn bare_ip(ip: IpAddr) -> String {
    ip.to_canonical().to_string()
}

/// The annotation value upstream writes for these entries: `[`, each entry
/// as Go's `json.MarshalIndent(entry, "", "    ")` (HTML characters
/// escaped), joined by `,`, then `]`.
///
/// ```
/// use multus_annotations::{NetworkStatus, render_network_status};
/// let entry = NetworkStatus { name: "a<b".into(), default: true, ..Default::default() };
/// assert_eq!(
///     render_network_status(&[entry]),
///     "[{\n    \"name\": \"a\\u003cb\",\n    \"default\": true,\n    \"dns\": {}\n}]"
/// );
/// ```
pub fn render_network_status(entries: &[NetworkStatus]) -> String {
    let mut out = String::from("[");
    for (i, entry) in entries.iter().enumerate() {
        if i > 0 {
            out.push(',');
        }
        gojson::write_indented(&mut out, &entry.to_go_value(), 0);
    }
    out.push(']');
    out
}

/// Parses a network-status annotation value (written by upstream, by this
/// crate or by another implementation). `null` reads as no entries, as in Go.
///
/// ```
/// use multus_annotations::parse_network_status;
/// let entries = parse_network_status(r#"[{"name":"default/macvlan-conf","interface":"net1",
///     "ips":["10.1.1.5"],"mac":"0a:58:0a:01:01:05","dns":{}}]"#)?;
/// assert_eq!(entries[0].interface, "net1");
/// # Ok::<(), multus_annotations::Error>(())
/// ```
pub fn parse_network_status(value: &str) -> Result<Vec<NetworkStatus>, Error> {
    let json: Value = serde_json::from_str(value).map_err(|e| Error::NetworkStatusJson {
        detail: e.to_string(),
    })?;
    if json.is_null() {
        return Ok(Vec::new());
    }
    multus_types::casefold::decode_tracked(json, |de| Vec::<NetworkStatus>::deserialize(de))
        .map_err(|detail| Error::NetworkStatusJson { detail })
}

fn is_zero(n: &u32) -> bool {
    *n == 0
}

fn is_false(b: &bool) -> bool {
    !*b
}

#[cfg(test)]
mod tests {
    use super::*;

    fn result(json: &str) -> v1::Result {
        serde_json::from_str(json).unwrap()
    }

    #[test]
    fn no_interfaces_no_entry() {
        let r = result(r#"{"cniVersion":"1.0.0","ips":[{"address":"10.0.0.2/24"}]}"#);
        assert!(NetworkStatus::from_result(&r, "n", true, None).is_empty());
    }

    #[test]
    fn single_interface_takes_all_ips() {
        let r = result(
            r#"{"cniVersion":"1.1.0",
                "interfaces":[{"name":"eth0","mac":"0A:58:0a:f4:01:07","mtu":1450,"sandbox":"/var/run/netns/x"}],
                "ips":[{"address":"10.244.1.7/24","gateway":"10.244.1.1","interface":0},
                       {"address":"fd00:10:244:1::7/64","interface":5},
                       {"address":"::ffff:10.9.9.9/120"}],
                "routes":[{"dst":"0.0.0.0/0","gw":"10.244.1.1"},{"dst":"10.96.0.0/12","gw":"10.244.1.1"},
                          {"dst":"::/0","gw":"fd00:10:244:1::1"},{"dst":"0.0.0.0/8","gw":"10.244.1.2"},
                          {"dst":"::/0"}],
                "dns":{"nameservers":["10.96.0.10"],"search":["svc.cluster.local"]}}"#,
        );
        let entries = NetworkStatus::from_result(&r, "k8s-pod-network", true, None);
        assert_eq!(
            entries,
            vec![NetworkStatus {
                name: "k8s-pod-network".into(),
                interface: "eth0".into(),
                ips: vec![
                    "10.244.1.7".into(),
                    "fd00:10:244:1::7".into(),
                    "10.9.9.9".into()
                ],
                mac: "0A:58:0a:f4:01:07".into(),
                mtu: 1450,
                default: true,
                dns: Dns {
                    nameservers: vec!["10.96.0.10".into()],
                    search: vec!["svc.cluster.local".into()],
                    ..Dns::default()
                },
                device_info: None,
                gateway: vec![
                    "10.244.1.1".into(),
                    "fd00:10:244:1::1".into(),
                    "10.244.1.2".into()
                ],
            }]
        );
    }

    #[test]
    fn single_host_interface_gives_entry_without_interface() {
        let r = result(
            r#"{"cniVersion":"1.0.0","interfaces":[{"name":"veth0","mac":"aa:bb:cc:dd:ee:ff"}],
                "ips":[{"address":"10.0.0.2/24","interface":0}]}"#,
        );
        let e = NetworkStatus::from_result(&r, "n", false, None);
        assert_eq!(e.len(), 1);
        assert_eq!(e[0].interface, "");
        assert_eq!(e[0].mac, "");
        assert_eq!(e[0].ips, ["10.0.0.2"]);
        assert!(!e[0].default);
    }

    #[test]
    fn several_interfaces_place_ips_by_index() {
        let r = result(
            r#"{"cniVersion":"1.0.0",
                "interfaces":[{"name":"br0","mac":"00:00:00:00:00:01"},
                              {"name":"veth1","mac":"00:00:00:00:00:02"},
                              {"name":"net1","mac":"00:00:00:00:00:03","sandbox":"/p"},
                              {"name":"net2","mac":"00:00:00:00:00:04","sandbox":"/p"}],
                "ips":[{"address":"10.0.0.3/24","interface":2},
                       {"address":"10.0.1.4/24","interface":3},
                       {"address":"10.0.2.5/24","interface":1},
                       {"address":"10.0.3.6/24","interface":9},
                       {"address":"10.0.4.7/24","interface":-1},
                       {"address":"10.0.5.8/24"}]}"#,
        );
        let e = NetworkStatus::from_result(&r, "ns/n", false, None);
        assert_eq!(e.len(), 2);
        assert_eq!(
            (e[0].interface.as_str(), &e[0].ips[..]),
            ("net1", &["10.0.0.3".to_owned()][..])
        );
        assert_eq!(
            (e[1].interface.as_str(), &e[1].ips[..]),
            ("net2", &["10.0.1.4".to_owned(), "10.0.5.8".to_owned()][..])
        );
        assert!(!e[0].default && !e[1].default);
    }

    fn multi(ips: &str) -> Vec<NetworkStatus> {
        let r = result(&format!(
            r#"{{"cniVersion":"1.0.0",
                "interfaces":[{{"name":"host0"}},{{"name":"a","sandbox":"/p"}},{{"name":"b","sandbox":"/p"}}],
                "ips":{ips}}}"#
        ));
        NetworkStatus::from_result(&r, "n", true, None)
    }

    fn defaults(entries: &[NetworkStatus]) -> Vec<&str> {
        entries
            .iter()
            .filter(|e| e.default)
            .map(|e| e.interface.as_str())
            .collect()
    }

    #[test]
    fn default_choice_for_master() {
        // First IP with both gateway and index decides.
        let e = multi(
            r#"[{"address":"10.0.0.2/24","interface":1},{"address":"10.0.1.2/24","gateway":"10.0.1.1","interface":2}]"#,
        );
        assert_eq!(defaults(&e), ["b"]);
        // None such: first sandbox interface.
        let e = multi(r#"[{"address":"10.0.0.2/24","gateway":"10.0.0.1"}]"#);
        assert_eq!(defaults(&e), ["a"]);
        let e = multi("[]");
        assert_eq!(defaults(&e), ["a"]);
        // Points at the host interface: nobody.
        let e = multi(r#"[{"address":"10.0.0.2/24","gateway":"10.0.0.1","interface":0}]"#);
        assert!(defaults(&e).is_empty());
        // Points out of range: nobody.
        let e = multi(r#"[{"address":"10.0.0.2/24","gateway":"10.0.0.1","interface":7}]"#);
        assert!(defaults(&e).is_empty());
        // Index -1 is upstream's "not found" sentinel: first sandbox interface.
        let e = multi(r#"[{"address":"10.0.0.2/24","gateway":"10.0.0.1","interface":-1}]"#);
        assert_eq!(defaults(&e), ["a"]);
    }

    #[test]
    fn non_master_is_never_default() {
        let r = result(
            r#"{"cniVersion":"1.0.0","interfaces":[{"name":"a","sandbox":"/p"},{"name":"b","sandbox":"/p"}],
                "ips":[{"address":"10.0.0.2/24","gateway":"10.0.0.1","interface":0}]}"#,
        );
        assert!(defaults(&NetworkStatus::from_result(&r, "n", false, None)).is_empty());
    }

    #[test]
    fn gateways_dns_and_device_info_copied_to_every_entry() {
        let r = result(
            r#"{"cniVersion":"1.0.0","interfaces":[{"name":"a","sandbox":"/p"},{"name":"b","sandbox":"/p"}],
                "routes":[{"dst":"::/0","gw":"::ffff:10.0.0.1"}],"dns":{"domain":"example.org"}}"#,
        );
        let dev = DeviceInfo {
            device_type: "pci".into(),
            ..DeviceInfo::default()
        };
        let e = NetworkStatus::from_result(&r, "n", false, Some(dev.clone()));
        for entry in &e {
            assert_eq!(entry.gateway, ["10.0.0.1"]);
            assert_eq!(entry.dns.domain, "example.org");
            assert_eq!(entry.device_info.as_ref(), Some(&dev));
        }
    }

    #[test]
    fn ipv6_text_is_canonical() {
        let r = result(
            r#"{"cniVersion":"1.0.0","interfaces":[{"name":"a","sandbox":"/p"}],
                "ips":[{"address":"2001:0DB8:0000:0000:0000:0000:0000:0001/64"},
                       {"address":"2001:db8:0:1:0:0:0:1/64"},{"address":"::1.2.3.4/96"},
                       {"address":"1:0:0:2:0:0:0:3/64"}]}"#,
        );
        let e = NetworkStatus::from_result(&r, "n", false, None);
        assert_eq!(
            e[0].ips,
            ["2001:db8::1", "2001:db8:0:1::1", "::102:304", "1:0:0:2::3"]
        );
    }

    #[test]
    fn go_value_matches_serde_serialisation() {
        let entry = NetworkStatus {
            name: "n".into(),
            interface: "net1".into(),
            ips: vec!["10.0.0.1".into()],
            mac: "m".into(),
            mtu: 9000,
            default: true,
            dns: Dns {
                nameservers: vec!["1.1.1.1".into()],
                domain: "d".into(),
                search: vec!["s".into()],
                options: vec!["o".into()],
            },
            device_info: Some(DeviceInfo {
                device_type: "t".into(),
                version: "v".into(),
                pci: Some(PciDevice {
                    pci_address: "a".into(),
                    vhost_net: "b".into(),
                    rdma_device: "c".into(),
                    pf_pci_address: "d".into(),
                    representor_device: "e".into(),
                }),
                vdpa: Some(VdpaDevice {
                    parent_device: "a".into(),
                    driver: "b".into(),
                    path: "c".into(),
                    pci_address: "d".into(),
                    pf_pci_address: "e".into(),
                    representor_device: "f".into(),
                }),
                vhost_user: Some(VhostUserDevice {
                    mode: "a".into(),
                    path: "b".into(),
                }),
                memif: Some(MemifDevice {
                    role: "a".into(),
                    path: "b".into(),
                    mode: "c".into(),
                }),
            }),
            gateway: vec!["10.0.0.254".into()],
        };
        for e in [entry.clone(), NetworkStatus::default()] {
            let serde_text = serde_json::to_string(&e).unwrap();
            let go_text = serde_json::to_string(&e.to_go_value()).unwrap();
            assert_eq!(serde_text, go_text);
        }
        let rendered = render_network_status(&[entry.clone(), entry.clone()]);
        assert_eq!(
            parse_network_status(&rendered).unwrap(),
            vec![entry.clone(), entry]
        );
    }

    #[test]
    fn render_empty_and_escaping() {
        assert_eq!(render_network_status(&[]), "[]");
        let e = NetworkStatus {
            name: "ns/a&b".into(),
            ..NetworkStatus::default()
        };
        assert_eq!(
            render_network_status(&[e.clone(), e]),
            "[{\n    \"name\": \"ns/a\\u0026b\",\n    \"dns\": {}\n},{\n    \"name\": \"ns/a\\u0026b\",\n    \"dns\": {}\n}]"
        );
    }

    #[test]
    fn parse_is_lenient_like_go() {
        let e = parse_network_status(
            r#"[{"NAME":"a","ips":null,"dns":null,"Default":true,"mtu":null,"extra":{"x":1},
                 "device-info":{"TYPE":"pci","pci":{"PCI-Address":"0000:00:01.0","unknown":"x"}}}]"#,
        )
        .unwrap();
        assert_eq!(e[0].name, "a");
        assert!(e[0].default);
        assert_eq!(
            e[0].device_info
                .as_ref()
                .and_then(|d| d.pci.as_ref())
                .map(|p| p.pci_address.as_str()),
            Some("0000:00:01.0")
        );
        assert_eq!(parse_network_status("null").unwrap(), vec![]);
        assert_eq!(parse_network_status("[]").unwrap(), vec![]);
    }

    #[test]
    fn parse_errors_name_the_entry_and_key() {
        let e = parse_network_status(r#"[{"name":"a"},{"name":"b","mtu":"big"}]"#).unwrap_err();
        assert!(
            e.to_string()
                .starts_with("failed to parse network-status annotation: [1]: mtu: invalid type"),
            "{e}"
        );
        assert!(matches!(
            parse_network_status(""),
            Err(Error::NetworkStatusJson { .. })
        ));
        assert!(matches!(
            parse_network_status("{}"),
            Err(Error::NetworkStatusJson { .. })
        ));
    }
}
