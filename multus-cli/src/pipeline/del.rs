//! DEL: undo every delegate, from the delegate cache when there is one (the
//! pod may be gone), else from the pod's annotations or the config alone.

use multus_delegate::multus::PodContext;
use multus_k8s::resolve::ResolveRequest;
use multus_types::MultusConf;

use super::{Options, load_conf, pod_context, runner};
use crate::skel::CmdArgs;
use crate::{Error, verbose, warning};

/// Runs DEL. Every delegate is deleted even when some fail; all failures are reported.
pub async fn del(args: &CmdArgs, options: &Options) -> Result<(), Error> {
    let conf = load_conf(args, options)?;
    let ctx = pod_context(args)?;
    del_with(args, &conf, &ctx, options)
        .await
        .map_err(|e| e.in_pod(ctx.pod_label()))
}

async fn del_with(
    args: &CmdArgs,
    conf: &MultusConf,
    ctx: &PodContext,
    options: &Options,
) -> Result<(), Error> {
    if !conf.readiness_indicator_file.is_empty()
        && !multus_netns::readiness_indicator_exists_now(&conf.readiness_indicator_file)
            .unwrap_or(false)
    {
        // DEL must not block on the default network: only noted, as upstream.
        warning!(
            "readiness indicator file {} is missing",
            conf.readiness_indicator_file
        );
    }
    let runner = runner(conf, args, options);
    let cache = runner.delegate_cache();
    let base = conf.runtime_config.clone().unwrap_or_default();
    let outcome = match cache.read(&args.container_id, &args.ifname, &base) {
        Ok(Some(plan)) => runner.del_cached(ctx, plan).await,
        Ok(None) => {
            let Some(plan) = rebuild_plan(args, conf, ctx, options).await else {
                return Ok(());
            };
            runner.del(ctx, &plan).await
        }
        Err(e) if e.is_delegate_cache_unusable() => {
            // As upstream: a cache that cannot be read deletes nothing and is left for inspection.
            warning!("{e}; nothing deleted");
            return Ok(());
        }
        Err(e) => return Err(e.into()),
    };
    let keep_for_retry = conf.retry_delete_on_error
        && outcome.as_ref().is_err_and(|e| {
            !e.to_string()
                .to_lowercase()
                .contains("no such file or directory")
        });
    if keep_for_retry {
        verbose!("DEL failed; keeping the delegate cache for a retry (retryDeleteOnError)");
    } else if let Err(e) = cache.remove(&args.container_id) {
        warning!("{e}");
    }
    Ok(outcome?)
}

/// Without a delegate cache: the plan ADD would have made, from the pod when
/// the API still has it (annotation errors tolerated), else from the config
/// alone. `None` when nothing can be planned.
async fn rebuild_plan(
    args: &CmdArgs,
    conf: &MultusConf,
    ctx: &PodContext,
    options: &Options,
) -> Option<Vec<multus_delegate::multus::Attachment>> {
    let client = match options.client_for(conf).await {
        Ok(c) => c,
        Err(e) => {
            warning!("{e}");
            None
        }
    };
    let k8s = &ctx.k8s;
    let pod = match &client {
        Some(client) if !k8s.pod_name.is_empty() => {
            match options.lookup_pod(client, k8s, conf, false).await {
                Ok(lookup) => lookup.for_del(),
                Err(e) => {
                    warning!("{e}");
                    None
                }
            }
        }
        _ => None,
    };
    let request = ResolveRequest::new(conf, k8s, &args.container_id, &args.ifname)
        .with_pod(pod.as_ref())
        .tolerating_annotation_errors();
    match options.resolve(client.as_ref(), &request).await {
        Ok(plan) => {
            for w in &plan.warnings {
                warning!("{w}");
            }
            Some(plan.attachments)
        }
        Err(e) => {
            verbose!("no delegate cache and no plan ({e}): nothing to delete");
            None
        }
    }
}
