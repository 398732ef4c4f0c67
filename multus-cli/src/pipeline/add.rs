//! ADD: resolve the pod's networks, run every delegate with rollback, move
//! default routes, publish network-status (rolling every delegate back when
//! that fails), answer with the master's result.

use multus_delegate::multus::PodContext;
use multus_k8s::StatusWrite;
use multus_k8s::resolve::ResolveRequest;
use multus_types::result::{CniResult, v1};
use multus_types::{CniVersion, MultusConf};

use super::hooks::Hooks;
use super::{Options, load_conf, pod_context, runner};
use crate::skel::CmdArgs;
use crate::{Error, verbose, warning};

/// Runs ADD and returns the result to print (the master's, in its own version).
pub async fn add(args: &CmdArgs, options: &Options) -> Result<String, Error> {
    Ok(add_result(args, options).await?.to_json_string()?)
}

/// Runs ADD and returns the master's result (in its own version; for a pod
/// that is gone, upstream's placeholder in the multus config's version).
pub async fn add_result(args: &CmdArgs, options: &Options) -> Result<CniResult, Error> {
    let conf = load_conf(args, options)?;
    let ctx = pod_context(args)?;
    add_with(args, &conf, &ctx, options)
        .await
        .map_err(|e| match e {
            // Already `[<pod>:<network>]: error adding container to network ...`, as upstream returns it.
            e @ Error::Delegate(multus_delegate::Error::DelegateAdd { .. }) => e,
            e => e.in_pod(ctx.pod_label()),
        })
}

async fn add_with(
    args: &CmdArgs,
    conf: &MultusConf,
    ctx: &PodContext,
    options: &Options,
) -> Result<CniResult, Error> {
    let client = options.client_for(conf).await?;
    options.readiness.wait(conf).await?;
    let k8s = &ctx.k8s;
    let pod = match &client {
        Some(client) if !k8s.pod_name.is_empty() => {
            let lookup = options.lookup_pod(client, k8s, conf, true).await?;
            match lookup.for_add()? {
                Some(pod) => Some(pod),
                None => {
                    // As upstream: the pod is already gone, nothing to attach.
                    verbose!(
                        "pod {}/{} not found: returning an empty result",
                        k8s.pod_namespace,
                        k8s.pod_name
                    );
                    return placeholder_result(conf, args);
                }
            }
        }
        _ => None,
    };

    // The pod's devices (kubelet's pod-resources API or checkpoint, then DRA), read only if one
    // of the pod's networks names a resource, as upstream.
    let device_options = multus_k8s::devices::DeviceOptions::from_conf(conf);
    let devices = multus_k8s::devices::node_devices(client.as_ref(), pod.as_ref(), &device_options);
    let request = ResolveRequest::new(conf, k8s, &args.container_id, &args.ifname)
        .with_pod(pod.as_ref())
        .with_device_source(&devices);
    let plan = options.resolve(client.as_ref(), &request).await?;
    for w in &plan.warnings {
        warning!("{w}");
    }

    let runner = runner(conf, args, options);
    let mut hooks = Hooks::new(ctx, client.as_ref(), pod.as_ref(), runner.cni().cache());
    let outcome = runner.add(ctx, &plan.attachments, &mut hooks).await?;

    if let (Some(client), Some(_)) = (&client, &pod) {
        let written = multus_k8s::write_network_status(
            client,
            &k8s.pod_namespace,
            &k8s.pod_name,
            &k8s.pod_uid,
            &hooks.statuses,
        )
        .await;
        match written {
            Ok(StatusWrite::PodGone) => verbose!(
                "pod {}/{} was deleted before its network-status was written",
                k8s.pod_namespace,
                k8s.pod_name
            ),
            Ok(_) => {}
            Err(e) => {
                // The ADD fails, so nothing may stay: not every runtime follows a
                // failed ADD with DEL (upstream leaves the pod fully set up).
                hooks.events_sent().await;
                match runner.del(ctx, &plan.attachments).await {
                    Ok(()) => {
                        let _ = runner.delegate_cache().remove(&ctx.container_id);
                    }
                    Err(del) => warning!(
                        "rolling back after the failed network-status write: {del} (the delegate cache is kept for the runtime's DEL)"
                    ),
                }
                return Err(e.into());
            }
        }
    }
    hooks.events_sent().await;
    let master = outcome
        .master_result()
        .ok_or_else(|| multus_types::Error::Result("no result from the master delegate".into()))?;
    Ok(master.clone())
}

/// The answer to an ADD for a pod that no longer exists, as upstream gives
/// it: one interface (`CNI_IFNAME` in the netns) and the address `0.0.0.0/0`
/// with gateway `0.0.0.0`, in the multus config's version.
pub fn empty_result(conf: &MultusConf, args: &CmdArgs) -> Result<String, Error> {
    Ok(placeholder_result(conf, args)?.to_json_string()?)
}

fn placeholder_result(conf: &MultusConf, args: &CmdArgs) -> Result<CniResult, Error> {
    let version = CniVersion::parse_or_default(&conf.cni_version)?;
    let unspecified = std::net::IpAddr::from([0, 0, 0, 0]);
    let result = v1::Result {
        cni_version: CniVersion::V1_1_0,
        interfaces: vec![v1::Interface {
            name: args.ifname.clone(),
            sandbox: args.netns.clone(),
            ..v1::Interface::default()
        }],
        ips: vec![v1::IpConfig {
            interface: None,
            address: ipnetwork::IpNetwork::new(unspecified, 0)
                .map_err(|e| multus_types::Error::Result(e.to_string()))?,
            gateway: Some(unspecified),
        }],
        ..v1::Result::default()
    };
    Ok(CniResult::V1(result).convert_to(version)?)
}
