//! The work multus does around each delegate of an ADD, plugged into the
//! runner: the interface-name check and, after each success, default-route
//! changes, the `AddedInterface` event and the network-status entries.

use k8s_openapi::api::core::v1::Pod;
use multus_annotations::{DeviceInfo, NetworkStatus};
use multus_delegate::ResultCache;
use multus_delegate::multus::{AddHooks, DelegateStep, PodContext};
use multus_netns::{NetNs, Netlink, default_route_action, rewrite_default_routes};
use multus_types::result::CniResult;

use crate::{Error, debug, warning};

type HookResult = Result<(), multus_delegate::Error>;

/// Where the device plugin leaves a device's info, for delegates that do not write their own.
const DEVINFO_DP_DIR: &str = "/var/run/k8s.cni.cncf.io/devinfo/dp";

pub(super) struct Hooks<'a> {
    ctx: &'a PodContext,
    client: Option<&'a kube::Client>,
    pod: Option<&'a Pod>,
    results: &'a ResultCache,
    netlink: Option<Netlink>,
    /// The network-status entries of every delegate so far, in order.
    pub statuses: Vec<NetworkStatus>,
    /// `AddedInterface` events on their way to the API server.
    events: Vec<tokio::task::JoinHandle<()>>,
}

impl<'a> Hooks<'a> {
    pub(super) fn new(
        ctx: &'a PodContext,
        client: Option<&'a kube::Client>,
        pod: Option<&'a Pod>,
        results: &'a ResultCache,
    ) -> Self {
        Self {
            ctx,
            client,
            pod,
            results,
            netlink: None,
            statuses: Vec::new(),
            events: Vec::new(),
        }
    }

    /// Waits for the events sent so far (each write is bounded by
    /// [`multus_k8s::events::EVENT_TIMEOUT`], and they run concurrently).
    pub(super) async fn events_sent(&mut self) {
        for handle in self.events.drain(..) {
            let _ = handle.await;
        }
    }

    /// One netlink connection into the pod's namespace, opened on first use.
    async fn netlink(&mut self) -> Result<&Netlink, Error> {
        let nl = match self.netlink.take() {
            Some(nl) => nl,
            None => NetNs::open(&self.ctx.netns)?.netlink().await?,
        };
        Ok(self.netlink.insert(nl))
    }

    async fn check_ifname(&mut self, step: &DelegateStep<'_>) -> Result<(), Error> {
        let ifname = &step.attachment.ifname;
        if self.netlink().await?.link_exists(ifname).await? {
            return Err(Error::IfnameTaken(ifname.clone()));
        }
        copy_device_plugin_info(step);
        Ok(())
    }

    async fn after(&mut self, step: &DelegateStep<'_>, result: &CniResult) -> Result<(), Error> {
        let a = step.attachment;
        let v1 = result.to_v1()?;
        let has_interfaces_or_ips = v1.has_interfaces_or_ips();
        let action = default_route_action(
            a.filter_v4_gateway,
            a.filter_v6_gateway,
            a.default_route.as_deref(),
            has_interfaces_or_ips,
        );
        if !action.is_noop() {
            let nl = self.netlink().await?;
            // DPDK / vhost-user style attachments report an interface the
            // kernel never sees: with nothing to add there is nothing to do in
            // the namespace (a gateway to add on a missing link is an error).
            if action.add.is_empty() && !nl.link_exists(&a.ifname).await? {
                warning!(
                    "{} is not a kernel interface of the pod: no default route to remove",
                    a.ifname
                );
            } else {
                let applied = nl.apply_default_route_action(&a.ifname, &action).await?;
                debug!("default routes of {}: {applied:?}", a.ifname);
            }
            // The libcni cache entry of the interface, to match. Only with
            // something to change: a missing entry is then an error (as
            // upstream), never when the action is a no-op.
            self.results.update_result(
                a.network_name(),
                &self.ctx.container_id,
                &a.ifname,
                |result| {
                    rewrite_default_routes(result, action.remove_v4, action.remove_v6, &action.add)
                },
            )?;
        }
        if let (Some(client), Some(pod)) = (self.client, self.pod) {
            // Events are best effort and must not slow the ADD down: sent
            // concurrently, awaited (each bounded) once the delegates ran.
            let (client, pod, result) = (client.clone(), pod.clone(), v1.clone());
            let (ifname, network) = (a.ifname.clone(), a.status_name.clone());
            self.events.push(tokio::spawn(async move {
                if let Err(e) =
                    multus_k8s::events::added_interface(&client, &pod, &ifname, &result, &network)
                        .await
                {
                    warning!("{e}");
                }
            }));
            let device_info = read_device_info(&a.runtime_config.cni_device_info_file);
            self.statuses.extend(NetworkStatus::from_result(
                &v1,
                &a.status_name,
                a.master,
                device_info,
            ));
        }
        Ok(())
    }
}

impl AddHooks for Hooks<'_> {
    async fn before_add(&mut self, step: &DelegateStep<'_>) -> HookResult {
        self.check_ifname(step)
            .await
            .map_err(multus_delegate::Error::hook)
    }

    async fn after_add(&mut self, step: &DelegateStep<'_>, result: &CniResult) -> HookResult {
        self.after(step, result)
            .await
            .map_err(multus_delegate::Error::hook)
    }

    fn rollback_failed(&mut self, step: &DelegateStep<'_>, error: &multus_delegate::Error) {
        warning!(
            "rollback of {} ({}) failed: {error}",
            step.attachment.status_name,
            step.attachment.ifname
        );
    }
}

/// As upstream: when a device came from a device plugin, its info file is
/// copied to where the delegate's `CNIDeviceInfoFile` points, if it exists —
/// only ever to the file generated for the attachment in
/// `DEVINFO_CNI_DIR`, never to a path the runtime supplied.
fn copy_device_plugin_info(step: &DelegateStep<'_>) {
    let a = step.attachment;
    if a.device_id.is_empty() || a.resource_name.is_empty() {
        return;
    }
    let Some(target) = a.generated_device_info_file(&step.runtime_conf.container_id) else {
        return;
    };
    let name = format!("{}-{}-device.json", a.resource_name, a.device_id).replace('/', "-");
    let source = std::path::Path::new(DEVINFO_DP_DIR).join(name);
    if source.exists() {
        if let Some(dir) = std::path::Path::new(target).parent() {
            let _ = std::fs::create_dir_all(dir);
        }
        if let Err(e) = std::fs::copy(&source, target) {
            warning!(
                "cannot copy device info {} to {target}: {e}",
                source.display()
            );
        }
    }
}

/// The device-info file a delegate wrote, if any (a bad file is logged and skipped).
fn read_device_info(path: &str) -> Option<DeviceInfo> {
    if path.is_empty() {
        return None;
    }
    let bytes = std::fs::read(path).ok()?;
    match serde_json::from_slice(&bytes) {
        Ok(info) => Some(info),
        Err(e) => {
            warning!("device info {path}: {e}");
            None
        }
    }
}
