//! The attachment plan: every delegate a pod gets, in execution order, with
//! everything needed to run it and to undo it later.

use std::net::IpAddr;

use multus_types::{DelegateConf, RuntimeConfig};

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
