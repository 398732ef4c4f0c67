//! The attachment plan: every delegate a pod gets, in execution order, with
//! everything needed to run it and to undo it later.

use std::net::IpAddr;
use std::path::Path;

use multus_types::{Bandwidth, DelegateConf, PortMapping, RuntimeConfig};

/// One delegate of a pod: the cluster network (the master) or an additional
/// attachment. Built by the resolver (`multus-k8s`, or from the config's
/// `delegates` alone), run by the multus runner, and persisted in the
/// delegate cache so DEL works when the pod is gone.
#[derive(Debug, Clone, PartialEq)]
pub struct Attachment {
    /// The CNI config to run, single plugin or list, exactly as delegates get it
    /// (NAD name injected, `args.cni` merged, `deviceID` written, ...).
    pub conf: DelegateConf,
    /// Interface name in the pod: the explicit request, else `CNI_IFNAME`
    /// for the master, else `net<position>`.
    pub ifname: String,
    /// Name in network-status and events: `<namespace>/<nad>` for NADs, the
    /// CNI network name for config files.
    pub status_name: String,
    /// The master: its result is what multus returns to the runtime.
    pub master: bool,
    /// Capability arguments sent to this delegate (`runtimeConfig`, filtered
    /// by the plugin's capabilities when run).
    pub runtime_config: RuntimeConfig,
    /// `mac` requested by the annotation (`MAC=` in `CNI_ARGS` on ADD).
    pub mac_request: String,
    /// `ips` requested by the annotation; `Some(vec![])` still yields `IP=`.
    pub ip_request: Option<Vec<String>>,
    /// `infiniband-guid` requested by the annotation.
    pub infiniband_guid_request: String,
    /// `default-route` gateways requested (`None` = key absent).
    pub default_route: Option<Vec<IpAddr>>,
    /// Remove this delegate's IPv4 default routes after its ADD.
    pub filter_v4_gateway: bool,
    /// Remove this delegate's IPv6 default routes after its ADD.
    pub filter_v6_gateway: bool,
    /// Device assigned from the NAD's `resourceName` (or the annotation's `deviceID`).
    pub device_id: String,
    /// The NAD's `k8s.v1.cni.cncf.io/resourceName`.
    pub resource_name: String,
}

impl Attachment {
    /// An attachment with only a config, an interface name and a status name.
    pub fn new(
        conf: DelegateConf,
        ifname: impl Into<String>,
        status_name: impl Into<String>,
    ) -> Self {
        Self {
            conf,
            ifname: ifname.into(),
            status_name: status_name.into(),
            master: false,
            runtime_config: RuntimeConfig::default(),
            mac_request: String::new(),
            ip_request: None,
            infiniband_guid_request: String::new(),
            default_route: None,
            filter_v4_gateway: false,
            filter_v6_gateway: false,
            device_id: String::new(),
            resource_name: String::new(),
        }
    }

    /// The CNI network name (list name for lists): what libcni's result cache uses.
    pub fn network_name(&self) -> &str {
        self.conf.name()
    }
}

/// The interface name a delegate gets when it does not request one
/// (upstream `getIfname`): the runtime's `CNI_IFNAME` for the master (index
/// 0), `net<index>` for the others. Numbering is positional over the whole
/// plan; explicit names do not compact it. Used both to build a plan for
/// `ADD` and to read it back from the delegate cache on `DEL`.
///
/// ```
/// use multus_delegate::multus::positional_ifname;
/// assert_eq!(positional_ifname(0, "eth0"), "eth0");
/// assert_eq!(positional_ifname(3, "eth0"), "net3");
/// ```
pub fn positional_ifname(index: usize, runtime_ifname: &str) -> String {
    if index == 0 {
        runtime_ifname.to_owned()
    } else {
        format!("net{index}")
    }
}

/// What one attachment asks for on top of the runtime's `runtimeConfig`
/// (the request fields of upstream's `DelegateNetConf`).
///
/// On `ADD` they come from the networks annotation (and the device taken
/// from the NAD's resource); on `DEL` from the delegate cache, which — as
/// upstream's — stores `ipRequest` (only when non-empty), `macRequest`,
/// `infinibandGUIDRequest` and `deviceID` but neither port mappings nor
/// bandwidth: a `DEL` from the cache sends the runtime's values of those.
#[derive(Debug, Clone, Copy, Default, PartialEq)]
pub struct RuntimeRequests<'a> {
    /// `portMappings`: `Some` (even empty) replaces the runtime's.
    pub port_mappings: Option<&'a [PortMapping]>,
    /// `bandwidth`: `Some` replaces the runtime's.
    pub bandwidth: Option<&'a Bandwidth>,
    /// `ips`: `Some` (even empty) replaces the runtime's.
    pub ips: Option<&'a [String]>,
    /// `mac`: non-empty replaces the runtime's.
    pub mac: &'a str,
    /// `infiniband-guid`: non-empty replaces the runtime's.
    pub infiniband_guid: &'a str,
    /// The device of the attachment: non-empty replaces the runtime's.
    pub device_id: &'a str,
}

/// The `runtimeConfig` of one delegate (upstream `delegateRuntimeConfig`
/// with `mergeCNIRuntimeConfig`), the same on `ADD` and on `DEL`:
///
/// 1. `base`, the runtime's own `runtimeConfig`, for every delegate;
/// 2. for a non-master, its `requests` on top (see [`RuntimeRequests`]);
///    the master gets the runtime's values only;
/// 3. when the result has a `deviceID`, `CNIDeviceInfoFile` becomes the
///    generated [`cni_device_info_path`]`(delegate_name, container_id, ifname)`,
///    whatever the runtime said. Otherwise the runtime's `CNIDeviceInfoFile`
///    (if any) is passed on unchanged, as upstream does on both `ADD` and
///    `DEL`. Such a runtime-supplied path is only handed to the delegates
///    (and read for the network-status): Multus never writes or deletes it,
///    see [`Attachment::generated_device_info_file`].
///
/// ```
/// use multus_delegate::multus::{RuntimeRequests, delegate_runtime_config};
/// use multus_types::RuntimeConfig;
///
/// let base = RuntimeConfig { mac: "c2:00:00:00:00:01".into(), ..RuntimeConfig::default() };
/// let requests = RuntimeRequests { device_id: "0000:03:00.1", ..RuntimeRequests::default() };
/// let rc = delegate_runtime_config(&base, &requests, false, "default/sriov", "c0ffee", "net1");
/// assert_eq!(rc.mac, "c2:00:00:00:00:01");
/// assert_eq!(rc.device_id, "0000:03:00.1");
/// assert_eq!(rc.cni_device_info_file, "/var/run/k8s.cni.cncf.io/devinfo/cni/default-sriov-c0ffee_net1");
/// // The master keeps the runtime's values.
/// assert_eq!(delegate_runtime_config(&base, &requests, true, "pod-net", "c0ffee", "eth0"), base);
/// ```
pub fn delegate_runtime_config(
    base: &RuntimeConfig,
    requests: &RuntimeRequests<'_>,
    master: bool,
    delegate_name: &str,
    container_id: &str,
    ifname: &str,
) -> RuntimeConfig {
    let mut rc = base.clone();
    if !master {
        if let Some(port_mappings) = requests.port_mappings {
            rc.port_mappings = port_mappings.to_vec();
        }
        if let Some(bandwidth) = requests.bandwidth {
            rc.bandwidth = Some(bandwidth.clone());
        }
        if let Some(ips) = requests.ips {
            rc.ips = ips.to_vec();
        }
        if !requests.mac.is_empty() {
            requests.mac.clone_into(&mut rc.mac);
        }
        if !requests.infiniband_guid.is_empty() {
            requests.infiniband_guid.clone_into(&mut rc.infiniband_guid);
        }
        if !requests.device_id.is_empty() {
            requests.device_id.clone_into(&mut rc.device_id);
        }
    }
    if !rc.device_id.is_empty() {
        rc.cni_device_info_file = cni_device_info_path(delegate_name, container_id, ifname);
    }
    rc
}

/// Where delegates write device-info files (NPWG device-info spec): the
/// `CNIDeviceInfoFile` capability argument points into this directory.
pub const DEVINFO_CNI_DIR: &str = "/var/run/k8s.cni.cncf.io/devinfo/cni";

/// The `CNIDeviceInfoFile` upstream gives a delegate that has a `deviceID`:
/// `<DEVINFO_CNI_DIR>/<delegateName>-<containerID>_<ifname>`, every `/` of
/// that file name replaced by `-` (a NAD status name is `<ns>/<name>`).
///
/// ```
/// use multus_delegate::multus::cni_device_info_path;
/// assert_eq!(
///     cni_device_info_path("default/sriov-net", "c0ffee", "net1"),
///     "/var/run/k8s.cni.cncf.io/devinfo/cni/default-sriov-net-c0ffee_net1"
/// );
/// ```
pub fn cni_device_info_path(delegate_name: &str, container_id: &str, ifname: &str) -> String {
    let file = format!("{delegate_name}-{container_id}_{ifname}").replace('/', "-");
    format!("{DEVINFO_CNI_DIR}/{file}")
}

impl Attachment {
    /// The device-info file generated for this attachment, if its
    /// `CNIDeviceInfoFile` is one: the attachment has a `deviceID` in its
    /// `runtimeConfig` and the file is exactly
    /// [`cni_device_info_path`]`(status_name, container_id, ifname)`, a file
    /// directly in [`DEVINFO_CNI_DIR`]. Only such a file is ever written
    /// (the device plugin's info copied into it on `ADD`) or removed (after
    /// `DEL`); a path the runtime supplied in its `runtimeConfig` is `None`.
    ///
    /// ```
    /// use multus_delegate::multus::{Attachment, cni_device_info_path};
    /// use multus_types::DelegateConf;
    ///
    /// let conf = DelegateConf::from_bytes(br#"{"cniVersion":"1.0.0","name":"sriov","type":"sriov"}"#).unwrap();
    /// let mut a = Attachment::new(conf, "net1", "default/sriov");
    /// a.runtime_config.cni_device_info_file = "/etc/important".into();
    /// assert_eq!(a.generated_device_info_file("c0ffee"), None);
    /// a.runtime_config.device_id = "0000:03:00.1".into();
    /// assert_eq!(a.generated_device_info_file("c0ffee"), None);
    /// a.runtime_config.cni_device_info_file = cni_device_info_path("default/sriov", "c0ffee", "net1");
    /// assert_eq!(
    ///     a.generated_device_info_file("c0ffee"),
    ///     Some("/var/run/k8s.cni.cncf.io/devinfo/cni/default-sriov-c0ffee_net1")
    /// );
    /// ```
    pub fn generated_device_info_file(&self, container_id: &str) -> Option<&str> {
        let rc = &self.runtime_config;
        if rc.device_id.is_empty() || rc.cni_device_info_file.is_empty() {
            return None;
        }
        let expected = cni_device_info_path(&self.status_name, container_id, &self.ifname);
        let path = Path::new(&rc.cni_device_info_file);
        let in_dir = path.parent() == Some(Path::new(DEVINFO_CNI_DIR))
            && path
                .file_name()
                .is_some_and(|n| n != "." && n != ".." && !n.is_empty());
        (rc.cni_device_info_file == expected && in_dir).then_some(rc.cni_device_info_file.as_str())
    }

    /// Whether the config is a configuration list (run with the `*_network_list` calls).
    pub fn is_list(&self) -> bool {
        matches!(self.conf, DelegateConf::List(_))
    }

    /// The plugin `type` of a single-plugin config (`""` for lists), as
    /// upstream names a failing single delegate.
    pub fn plugin_type(&self) -> &str {
        match &self.conf {
            DelegateConf::Single(c) => c.plugin_type(),
            DelegateConf::List(_) => "",
        }
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    fn base() -> RuntimeConfig {
        RuntimeConfig {
            port_mappings: vec![PortMapping {
                host_port: 9090,
                container_port: 90,
                ..PortMapping::default()
            }],
            bandwidth: Some(Bandwidth {
                ingress_rate: 1,
                ..Bandwidth::default()
            }),
            ips: vec!["10.9.9.9/24".into()],
            mac: "c2:00:00:00:00:01".into(),
            infiniband_guid: "00:01".into(),
            device_id: String::new(),
            cni_device_info_file: "/runtime/devinfo.json".into(),
        }
    }

    #[test]
    fn non_masters_take_their_requests_masters_the_runtimes_values() {
        let pm = [PortMapping {
            host_port: 8080,
            container_port: 80,
            ..PortMapping::default()
        }];
        let bw = Bandwidth {
            egress_rate: 7,
            ..Bandwidth::default()
        };
        let ips = ["10.1.1.5/24".to_owned()];
        let requests = RuntimeRequests {
            port_mappings: Some(&pm),
            bandwidth: Some(&bw),
            ips: Some(&ips),
            mac: "c2:b0:57:49:47:f1",
            infiniband_guid: "24:8a",
            device_id: "0000:03:00.1",
        };
        let rc = delegate_runtime_config(&base(), &requests, false, "ns/n", "cid", "net1");
        assert_eq!(
            rc,
            RuntimeConfig {
                port_mappings: pm.to_vec(),
                bandwidth: Some(bw.clone()),
                ips: ips.to_vec(),
                mac: "c2:b0:57:49:47:f1".into(),
                infiniband_guid: "24:8a".into(),
                device_id: "0000:03:00.1".into(),
                cni_device_info_file: format!("{DEVINFO_CNI_DIR}/ns-n-cid_net1"),
            }
        );
        let master = delegate_runtime_config(&base(), &requests, true, "ns/n", "cid", "eth0");
        assert_eq!(master, base());
    }

    #[test]
    fn empty_lists_override_empty_strings_do_not() {
        let requests = RuntimeRequests {
            port_mappings: Some(&[]),
            ips: Some(&[]),
            ..RuntimeRequests::default()
        };
        let rc = delegate_runtime_config(&base(), &requests, false, "n", "cid", "net1");
        assert!(rc.port_mappings.is_empty() && rc.ips.is_empty());
        assert_eq!(rc.mac, base().mac);
        assert_eq!(rc.bandwidth, base().bandwidth);
        // No device: the runtime's CNIDeviceInfoFile passes through.
        assert_eq!(rc.cni_device_info_file, "/runtime/devinfo.json");
        let none = delegate_runtime_config(
            &base(),
            &RuntimeRequests::default(),
            false,
            "n",
            "cid",
            "net1",
        );
        assert_eq!(none, base());
    }

    #[test]
    fn a_runtime_device_id_gives_every_delegate_its_generated_file() {
        let base = RuntimeConfig {
            device_id: "0000:01:00.0".into(),
            ..base()
        };
        let rc = delegate_runtime_config(
            &base,
            &RuntimeRequests::default(),
            true,
            "pod-net",
            "cid",
            "eth0",
        );
        assert_eq!(
            rc.cni_device_info_file,
            format!("{DEVINFO_CNI_DIR}/pod-net-cid_eth0")
        );
    }

    #[test]
    fn only_the_generated_file_is_ours() {
        let conf = DelegateConf::from_bytes(br#"{"name":"n","type":"t"}"#).unwrap();
        let mut a = Attachment::new(conf, "net1", "ns/n");
        a.runtime_config = delegate_runtime_config(
            &base(),
            &RuntimeRequests {
                device_id: "d",
                ..RuntimeRequests::default()
            },
            false,
            &a.status_name,
            "cid",
            "net1",
        );
        let ours = format!("{DEVINFO_CNI_DIR}/ns-n-cid_net1");
        assert_eq!(a.generated_device_info_file("cid"), Some(ours.as_str()));
        // Another container's, or a name that does not match the attachment.
        assert_eq!(a.generated_device_info_file("other"), None);
        for path in [
            "/etc/passwd".to_owned(),
            format!("{DEVINFO_CNI_DIR}/../ns-n-cid_net1"),
            format!("{DEVINFO_CNI_DIR}/sub/ns-n-cid_net1"),
            format!("{DEVINFO_CNI_DIR}/"),
        ] {
            a.runtime_config.cni_device_info_file = path;
            assert_eq!(a.generated_device_info_file("cid"), None);
        }
        // No deviceID: whatever the path, it is the runtime's.
        a.runtime_config.cni_device_info_file = ours;
        a.runtime_config.device_id.clear();
        assert_eq!(a.generated_device_info_file("cid"), None);
    }

    #[test]
    fn positional_names() {
        assert_eq!(positional_ifname(0, "eth0"), "eth0");
        assert_eq!(positional_ifname(1, "eth0"), "net1");
        assert_eq!(positional_ifname(12, ""), "net12");
    }
}
