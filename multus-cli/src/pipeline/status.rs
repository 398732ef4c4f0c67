//! STATUS and GC: asked of the master delegate only, as upstream.

use multus_delegate::GcAttachment;
use multus_k8s::resolve::ResolveRequest;
use multus_types::{CniVersion, DelegateConf, K8sArgs, MultusConf, NetConfList};

use super::{Options, load_conf, runner};
use crate::Error;
use crate::skel::CmdArgs;

/// STATUS: waits for the readiness indicator, then asks the master network's
/// plugins (a single plugin, or a list older than 1.1.0, is ready by definition).
pub async fn status(args: &CmdArgs, options: &Options) -> Result<(), Error> {
    let conf = load_conf(args, options)?;
    let Some(DelegateConf::List(list)) = master(&conf, options).await? else {
        return Ok(());
    };
    if list.cni_version()? < CniVersion::V1_1_0 {
        return Ok(());
    }
    Ok(runner(&conf, args, options)
        .cni()
        .status_network_list(&list)
        .await?)
}

/// GC: every attachment in `<cniDir>/results` counts as valid (multus does
/// not know which of its pods are gone), so the master's plugins only drop
/// what no cached attachment uses.
pub async fn gc(args: &CmdArgs, options: &Options) -> Result<(), Error> {
    let conf = load_conf(args, options)?;
    let list = match master(&conf, options).await? {
        Some(DelegateConf::List(list)) => list,
        // libcni's GC works on lists: a single plugin is wrapped in one.
        Some(DelegateConf::Single(single)) => NetConfList::from_conf(single)?,
        None => return Ok(()),
    };
    let runner = runner(&conf, args, options);
    let valid: Vec<GcAttachment> = runner
        .cni()
        .cached_attachments(None)?
        .into_iter()
        .map(|e| GcAttachment {
            container_id: e.container_id,
            ifname: e.ifname,
        })
        .collect();
    Ok(runner.cni().gc_network_list(&list, Some(&valid)).await?)
}

/// The master network's config, after the readiness wait.
async fn master(conf: &MultusConf, options: &Options) -> Result<Option<DelegateConf>, Error> {
    options.readiness.wait(conf).await?;
    let client = if conf.is_cluster_network_mode() {
        options.client_for(conf).await?
    } else {
        None
    };
    let no_pod = K8sArgs::default();
    let request = ResolveRequest::new(conf, &no_pod, "", "");
    let plan = multus_k8s::resolve(client.as_ref(), &request).await?;
    Ok(plan.attachments.into_iter().next().map(|a| a.conf))
}
