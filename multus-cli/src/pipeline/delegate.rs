//! Hot-plug: ADD, DEL or CHECK of one delegate in a running pod (the
//! daemon's `/delegate` endpoint). The request's config is the delegate; the
//! multus settings (`binDir`, `cniDir`, `kubeconfig`) come from the caller.
//! Unlike a pod ADD there is no delegate cache and no network-status update,
//! as upstream.

use multus_delegate::multus::{AddHooks, Attachment, DelegateStep, RuntimeRequests};
use multus_delegate::{Command, multus::delegate_runtime_config};
use multus_types::{DelegateConf, MultusConf, RuntimeConfig};
use serde_json::{Map, Value};

use super::hooks::Hooks;
use super::{Options, pod_context, runner};
use crate::Error;
use crate::skel::CmdArgs;

/// One hot-plug request.
#[derive(Debug, Clone, PartialEq)]
pub struct DelegateRequest {
    /// The runtime's arguments; `stdin` is the delegate's CNI config and
    /// `ifname` the interface it gets.
    pub args: CmdArgs,
    /// `interfaceAttributes.mac`: `MAC=` and the `mac` capability on ADD.
    pub mac: String,
    /// `interfaceAttributes.ips`: `IP=` and the `ips` capability on ADD.
    pub ips: Option<Vec<String>>,
    /// `interfaceAttributes.cni-args`: merged into the config's `args.cni`.
    pub cni_args: Option<Map<String, Value>>,
}

impl DelegateRequest {
    /// The delegate as an attachment: config (with `cni-args` merged), the
    /// request's interface name, and the MAC/IP requests as capability args.
    fn attachment(&self, with_requests: bool) -> Result<Attachment, Error> {
        let value: Value = serde_json::from_slice(&self.args.stdin).map_err(|e| {
            multus_types::Error::InvalidConfig(format!("delegate config is not JSON: {e}"))
        })?;
        let Value::Object(mut map) = value else {
            return Err(multus_types::Error::InvalidConfig(
                "delegate config is not a JSON object".into(),
            )
            .into());
        };
        if with_requests && let Some(cni_args) = &self.cni_args {
            multus_k8s::config_edits::merge_cni_args(&mut map, cni_args)?;
        }
        let conf = DelegateConf::from_value(Value::Object(map))?;
        let name = conf.name().to_owned();
        let mut attachment = Attachment::new(conf, &self.args.ifname, name.clone());
        if with_requests {
            attachment.mac_request.clone_from(&self.mac);
            attachment.ip_request.clone_from(&self.ips);
            let requests = RuntimeRequests {
                ips: self.ips.as_deref(),
                mac: &self.mac,
                ..RuntimeRequests::default()
            };
            attachment.runtime_config = delegate_runtime_config(
                &RuntimeConfig::default(),
                &requests,
                false,
                &name,
                &self.args.container_id,
                &self.args.ifname,
            );
        }
        Ok(attachment)
    }
}

/// Hot-plug ADD: the pod is read (for the `AddedInterface` event; a pod that
/// is gone is no error), the interface name must be free in the pod, then
/// the delegate runs. Returns its result, in its own version.
pub async fn delegate_add(
    req: &DelegateRequest,
    conf: &MultusConf,
    options: &Options,
) -> Result<multus_types::CniResult, Error> {
    let ctx = pod_context(&req.args)?;
    let client = options.client_for(conf).await?;
    let k8s = &ctx.k8s;
    let pod = match &client {
        Some(client) => options
            .lookup_pod(client, k8s, conf, true)
            .await?
            .for_add()?,
        None => None,
    };
    let attachment = req.attachment(true)?;
    let runner = runner(conf, &req.args, options);
    let rt = ctx.runtime_conf(&attachment, Command::Add)?;
    let step = DelegateStep {
        index: 0,
        attachment: &attachment,
        runtime_conf: &rt,
    };
    let mut hooks = Hooks::new(&ctx, client.as_ref(), pod.as_ref(), runner.cni().cache());
    hooks.before_add(&step).await?;
    let result = match &attachment.conf {
        DelegateConf::Single(c) => runner.cni().add_network(c, &rt).await,
        DelegateConf::List(l) => runner.cni().add_network_list(l, &rt).await,
    }?;
    if let Err(e) = hooks.after_add(&step, &result).await {
        // Nothing may be left half done: undo the delegate.
        let rt = ctx.runtime_conf(&attachment, Command::Del)?;
        let _ = del_one(&runner, &attachment, &rt).await;
        return Err(e.into());
    }
    hooks.events_sent().await;
    Ok(result)
}

/// Hot-plug DEL: the pod must still be readable (its errors are returned,
/// as upstream); the delegate's DEL error is returned too.
pub async fn delegate_del(
    req: &DelegateRequest,
    conf: &MultusConf,
    options: &Options,
) -> Result<(), Error> {
    let ctx = pod_context(&req.args)?;
    if let Some(client) = options.client_for(conf).await? {
        let k8s = &ctx.k8s;
        options.lookup_pod(&client, k8s, conf, false).await?;
    }
    let attachment = req.attachment(false)?;
    let runner = runner(conf, &req.args, options);
    let rt = ctx.runtime_conf(&attachment, Command::Del)?;
    del_one(&runner, &attachment, &rt).await
}

/// Hot-plug CHECK: the config as it is, no pod read.
pub async fn delegate_check(
    req: &DelegateRequest,
    conf: &MultusConf,
    options: &Options,
) -> Result<(), Error> {
    let ctx = pod_context(&req.args)?;
    let attachment = req.attachment(false)?;
    runner(conf, &req.args, options)
        .check(&ctx, std::slice::from_ref(&attachment))
        .await?;
    Ok(())
}

async fn del_one(
    runner: &multus_delegate::multus::Runner,
    attachment: &Attachment,
    rt: &multus_delegate::RuntimeConf,
) -> Result<(), Error> {
    match &attachment.conf {
        DelegateConf::Single(c) => runner.cni().del_network(c, rt).await?,
        DelegateConf::List(l) => runner.cni().del_network_list(l, rt).await?,
    }
    Ok(())
}
