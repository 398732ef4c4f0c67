//! CHECK: the config's delegates, as upstream checks them.

use multus_k8s::resolve::ResolveRequest;

use super::{Options, load_conf, pod_context, runner};
use crate::Error;
use crate::skel::CmdArgs;

/// Runs CHECK over the config's `delegates` (master on `CNI_IFNAME`, the
/// others on `net<position>`). In clusterNetwork mode nothing is checked and
/// CHECK succeeds, and annotation networks are never checked: both as upstream.
pub async fn check(args: &CmdArgs, options: &Options) -> Result<(), Error> {
    let conf = load_conf(args, options)?;
    let ctx = pod_context(args)?;
    if conf.is_cluster_network_mode() {
        return Ok(());
    }
    let request = ResolveRequest::new(&conf, &ctx.k8s, &args.container_id, &args.ifname);
    let run = async {
        let plan = multus_k8s::resolve(None, &request).await?;
        runner(&conf, args, options)
            .check(&ctx, &plan.attachments)
            .await?;
        Ok::<(), Error>(())
    };
    run.await.map_err(|e| e.in_pod(ctx.pod_label()))
}
