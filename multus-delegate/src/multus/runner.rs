//! Running a pod's attachment plan: `ADD` in order with rollback, `DEL` in
//! reverse collecting every error, `CHECK` in order — with the `CNI_ARGS`,
//! capability arguments, plugin directories and result cache upstream
//! Multus gives its delegates.

use std::borrow::Cow;
use std::future::Future;
use std::path::PathBuf;
use std::time::Duration;

use multus_types::{CniArgs, CniResult, DelegateConf, K8sArgs, NetConfList, addr};
use serde_json::{Map, Value};

use crate::multus::delegate_cache::{CachedPlan, DelegateCache};
use crate::multus::plan::Attachment;
use crate::{CniConfig, Command, Error, PluginExec, RuntimeConf};

/// What the runtime told multus about the pod sandbox: the same for every
/// delegate of the plan.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct PodContext {
    /// `CNI_CONTAINERID`.
    pub container_id: String,
    /// `CNI_NETNS` (may name a namespace that is already gone on `DEL`).
    pub netns: String,
    /// `CNI_IFNAME`: the master's interface unless it asked for another.
    pub ifname: String,
    /// The multus process's own `CNI_ARGS`, passed on to every delegate.
    pub runtime_args: CniArgs,
    /// The Kubernetes keys of those arguments (`K8S_POD_NAMESPACE`, ...).
    pub k8s: K8sArgs,
}

impl PodContext {
    /// A context without `CNI_ARGS`.
    pub fn new(
        container_id: impl Into<String>,
        netns: impl Into<String>,
        ifname: impl Into<String>,
    ) -> Self {
        Self {
            container_id: container_id.into(),
            netns: netns.into(),
            ifname: ifname.into(),
            ..Self::default()
        }
    }

    /// Sets the runtime's `CNI_ARGS` and reads their Kubernetes keys (as
    /// libcni's `LoadArgs`: unknown keys need `IgnoreUnknown`).
    ///
    /// # Errors
    /// [`Error::Types`] when the arguments are refused.
    ///
    /// ```
    /// use multus_delegate::multus::PodContext;
    /// use multus_types::CniArgs;
    /// let args = CniArgs::parse("IgnoreUnknown=1;K8S_POD_NAMESPACE=ns;K8S_POD_NAME=web;K8S_POD_UID=u1").unwrap();
    /// let ctx = PodContext::new("c0ffee", "/run/netns/x", "eth0").with_runtime_args(args).unwrap();
    /// assert_eq!(ctx.pod_label(), "ns/web/u1");
    /// ```
    pub fn with_runtime_args(mut self, args: CniArgs) -> Result<Self, Error> {
        self.k8s = args.k8s()?;
        self.runtime_args = args;
        Ok(self)
    }

    /// `<namespace>/<name>/<uid>`, how upstream names the pod in errors.
    pub fn pod_label(&self) -> String {
        format!(
            "{}/{}/{}",
            self.k8s.pod_namespace, self.k8s.pod_name, self.k8s.pod_uid
        )
    }

    /// The `CNI_ARGS` every delegate gets, exactly as upstream builds them:
    /// `IgnoreUnknown=true`, `K8S_POD_NAMESPACE`, `K8S_POD_NAME`,
    /// `K8S_POD_INFRA_CONTAINER_ID`, `K8S_POD_UID`, then each runtime pair:
    /// it fills the first pair of the same key whose value is empty (when
    /// its own value is not), otherwise it is appended. So the Kubernetes
    /// keys a runtime sends appear twice; that is what delegates of Go
    /// Multus see and it is harmless.
    ///
    /// ```
    /// use multus_delegate::multus::PodContext;
    /// use multus_types::CniArgs;
    /// let args = CniArgs::parse("IgnoreUnknown=1;K8S_POD_NAMESPACE=ns;K8S_POD_NAME=web;FOO=bar").unwrap();
    /// let ctx = PodContext::new("c0ffee", "/run/netns/x", "eth0").with_runtime_args(args).unwrap();
    /// assert_eq!(
    ///     ctx.delegate_args().to_string(),
    ///     "IgnoreUnknown=true;K8S_POD_NAMESPACE=ns;K8S_POD_NAME=web;K8S_POD_INFRA_CONTAINER_ID=;K8S_POD_UID=;\
    ///      IgnoreUnknown=1;K8S_POD_NAMESPACE=ns;K8S_POD_NAME=web;FOO=bar"
    /// );
    /// ```
    pub fn delegate_args(&self) -> CniArgs {
        let mut pairs: Vec<(String, String)> = vec![
            ("IgnoreUnknown".into(), "true".into()),
            ("K8S_POD_NAMESPACE".into(), self.k8s.pod_namespace.clone()),
            ("K8S_POD_NAME".into(), self.k8s.pod_name.clone()),
            (
                "K8S_POD_INFRA_CONTAINER_ID".into(),
                self.k8s.pod_infra_container_id.clone(),
            ),
            ("K8S_POD_UID".into(), self.k8s.pod_uid.clone()),
        ];
        for (key, value) in self.runtime_args.pairs() {
            let empty_slot = pairs
                .iter_mut()
                .find(|(k, v)| k == key && v.is_empty() && !value.is_empty());
            match empty_slot {
                Some(slot) => slot.1.clone_from(value),
                None => pairs.push((key.clone(), value.clone())),
            }
        }
        pairs.into_iter().collect()
    }

    /// The libcni runtime arguments of one delegate for `command`: this
    /// context's container, netns and [`delegate_args`](Self::delegate_args),
    /// the attachment's interface name and capability arguments (from its
    /// `runtime_config`: `portMappings` and `ips` when non-empty, `bandwidth`,
    /// `mac`, `infinibandGUID`, `deviceID`, `CNIDeviceInfoFile` when set).
    /// On `ADD` only, `MAC=<mac>` and `IP=<ip,ip>` are appended for the
    /// attachment's `mac`/`ips` requests (an empty `ips` list still gives `IP=`).
    ///
    /// # Errors
    /// [`Error::InvalidRequest`] on `ADD` when a requested MAC or IP does not parse.
    pub fn runtime_conf(
        &self,
        attachment: &Attachment,
        command: Command,
    ) -> Result<RuntimeConf, Error> {
        let mut args = self.delegate_args();
        if command == Command::Add {
            if !attachment.mac_request.is_empty() {
                if addr::parse_hardware_addr(&attachment.mac_request).is_none() {
                    return Err(Error::InvalidRequest {
                        what: "mac address",
                        value: attachment.mac_request.clone(),
                    });
                }
                args.push("MAC", attachment.mac_request.as_str());
            }
            if let Some(ips) = &attachment.ip_request {
                if let Some(bad) = ips.iter().find(|ip| !addr::is_ip_request(ip)) {
                    return Err(Error::InvalidRequest {
                        what: "IP address",
                        value: bad.clone(),
                    });
                }
                args.push("IP", ips.join(","));
            }
        }
        Ok(RuntimeConf {
            container_id: self.container_id.clone(),
            netns: self.netns.clone(),
            ifname: attachment.ifname.clone(),
            args,
            capability_args: capability_args(attachment),
        })
    }
}

/// The capability arguments of an attachment: its `runtime_config` as JSON,
/// which leaves out exactly what upstream leaves out.
fn capability_args(attachment: &Attachment) -> Map<String, Value> {
    match serde_json::to_value(&attachment.runtime_config) {
        Ok(Value::Object(map)) => map,
        _ => Map::new(),
    }
}

/// One delegate of the plan as the hooks see it.
#[derive(Debug, Clone, Copy)]
pub struct DelegateStep<'a> {
    /// Position in the plan.
    pub index: usize,
    /// The delegate.
    pub attachment: &'a Attachment,
    /// The arguments it is (or was) run with.
    pub runtime_conf: &'a RuntimeConf,
}

/// What a caller plugs into [`Runner::add`]: the work around each delegate
/// that needs things this crate must not depend on (netlink, the API server).
/// Every method has a default that does nothing; `()` implements the trait
/// with the defaults.
///
/// An error from [`before_add`](Self::before_add) or
/// [`after_add`](Self::after_add) fails the `ADD` like a failing delegate:
/// the delegates up to and including this one are deleted again (upstream
/// deletes on a failed interface-name check too; for errors after a
/// successful delegate, e.g. a default-route change, upstream leaves the
/// pod half set up — here nothing is left behind).
///
/// ```
/// use multus_delegate::Error;
/// use multus_delegate::multus::{AddHooks, DelegateStep};
/// use multus_types::CniResult;
///
/// struct Events(Vec<String>);
///
/// impl AddHooks for Events {
///     async fn after_add(&mut self, step: &DelegateStep<'_>, _: &CniResult) -> Result<(), Error> {
///         self.0.push(format!("Add {} from {}", step.attachment.ifname, step.attachment.status_name));
///         Ok(())
///     }
/// }
/// ```
pub trait AddHooks {
    /// Before delegate `step.index` runs (upstream checks here that the
    /// interface name is not taken in the pod's namespace).
    fn before_add(
        &mut self,
        step: &DelegateStep<'_>,
    ) -> impl Future<Output = Result<(), Error>> + Send {
        let _ = step;
        std::future::ready(Ok(()))
    }

    /// After delegate `step.index` succeeded with `result` (upstream
    /// changes default routes, emits the `AddedInterface` event, reads the
    /// device-info file and builds the network-status entries here).
    fn after_add(
        &mut self,
        step: &DelegateStep<'_>,
        result: &CniResult,
    ) -> impl Future<Output = Result<(), Error>> + Send {
        let _ = (step, result);
        std::future::ready(Ok(()))
    }

    /// A rollback `DEL` failed (it is otherwise ignored; log it here).
    fn rollback_failed(&mut self, step: &DelegateStep<'_>, error: &Error) {
        let _ = (step, error);
    }
}

impl AddHooks for () {}

/// The results of a successful [`Runner::add`].
#[derive(Debug, Clone, PartialEq)]
pub struct AddOutcome {
    /// Each delegate's result, in plan order, in the delegate's own CNI version.
    pub results: Vec<CniResult>,
    /// The index of the master's result: the attachment marked `master`,
    /// else the first (upstream: "master plugin result is always used if present").
    pub master: usize,
}

impl AddOutcome {
    /// The result multus returns to the runtime.
    pub fn master_result(&self) -> Option<&CniResult> {
        self.results.get(self.master)
    }
}

/// Runs attachment plans the way upstream Multus runs its delegates.
///
/// * plugins are looked up in `[binDir] + CNI_PATH`;
/// * libcni's result cache is `cniDir` (`<cniDir>/results/<net>-<cid>-<ifname>`);
/// * the delegate cache is `<cniDir>/<containerID>`, written before the
///   first delegate runs.
///
/// ```no_run
/// use multus_delegate::multus::{Attachment, PodContext, Runner};
/// use multus_types::{CniArgs, DelegateConf, RuntimeConfig};
///
/// # async fn demo() -> Result<(), Box<dyn std::error::Error>> {
/// let runner = Runner::new("/var/lib/cni/multus", "/opt/cni/bin", "/usr/lib/cni");
/// let ctx = PodContext::new("c0ffee", "/run/netns/pod", "eth0")
///     .with_runtime_args(CniArgs::parse("IgnoreUnknown=1;K8S_POD_NAMESPACE=ns;K8S_POD_NAME=web")?)?;
/// let conf = DelegateConf::from_bytes(br#"{"cniVersion":"1.0.0","name":"pod-net","plugins":[{"type":"ptp","ipam":{"type":"host-local","subnet":"10.9.0.0/24"}}]}"#)?;
/// let mut master = Attachment::new(conf, "eth0", "pod-net");
/// master.master = true;
///
/// let outcome = runner.add(&ctx, &[master], &mut ()).await?;
/// println!("{}", outcome.master_result().map(|r| r.to_json_string()).transpose()?.unwrap_or_default());
///
/// // DEL, possibly in another process: from the delegate cache.
/// if let Some(plan) = runner.delegate_cache().read(&ctx.container_id, &ctx.ifname, &RuntimeConfig::default())? {
///     runner.del_cached(&ctx, plan).await?;
/// }
/// runner.delegate_cache().remove(&ctx.container_id)?;
/// # Ok(()) }
/// ```
#[derive(Debug, Clone)]
pub struct Runner {
    cni: CniConfig,
    cache: DelegateCache,
    del_cni_version: String,
}

impl Runner {
    /// A runner for multus's `cniDir` and `binDir` and the `CNI_PATH` of the
    /// multus process (`:`-separated; empty entries skipped).
    pub fn new(cni_dir: impl Into<PathBuf>, bin_dir: impl Into<PathBuf>, cni_path: &str) -> Self {
        let cni_dir = cni_dir.into();
        let bin_dirs = std::iter::once(bin_dir.into()).chain(
            cni_path
                .split(':')
                .filter(|d| !d.is_empty())
                .map(PathBuf::from),
        );
        Self {
            cni: CniConfig::new(bin_dirs).with_cache_dir(&cni_dir),
            cache: DelegateCache::new(cni_dir),
            del_cni_version: String::new(),
        }
    }

    /// A runner from parts (any plugin directories, result cache and delegate cache).
    pub fn from_parts(cni: CniConfig, cache: DelegateCache) -> Self {
        Self {
            cni,
            cache,
            del_cni_version: String::new(),
        }
    }

    /// Kills each plugin invocation that runs longer than `timeout`.
    #[must_use]
    pub fn with_timeout(mut self, timeout: Option<Duration>) -> Self {
        self.cni = self.cni.with_timeout(timeout);
        self
    }

    /// Replaces the way plugins are executed.
    #[must_use]
    pub fn with_exec(mut self, exec: PluginExec) -> Self {
        self.cni = self.cni.with_exec(exec);
        self
    }

    /// The `cniVersion` given on `DEL` to configuration lists that have none
    /// (upstream uses the multus config's `cniVersion`). Empty: none given.
    #[must_use]
    pub fn with_del_cni_version(mut self, version: impl Into<String>) -> Self {
        self.del_cni_version = version.into();
        self
    }

    /// The libcni layer (plugin directories, result cache, execution).
    pub fn cni(&self) -> &CniConfig {
        &self.cni
    }

    /// The delegate cache.
    pub fn delegate_cache(&self) -> &DelegateCache {
        &self.cache
    }

    /// `ADD` of a plan: checks that every plugin binary of every delegate
    /// exists (nothing runs and nothing is written otherwise), writes the
    /// delegate cache, then runs each delegate in order (hooks before and
    /// after each). A single-plugin delegate runs
    /// as libcni's `AddNetwork`, a list as `AddNetworkList`.
    ///
    /// When delegate `i` (or a hook around it) fails, delegates `i`, `i-1`,
    /// …, `0` are deleted again (`i` only if it ran: one refused by
    /// [`AddHooks::before_add`] is not, unlike upstream, whose DEL of it
    /// removes the pod's existing interface of that name), errors ignored but handed to
    /// [`AddHooks::rollback_failed`] and kept in the returned error. Then
    /// the delegate cache is removed if every rollback `DEL` succeeded
    /// (nothing is left for a later `DEL` to do), and kept otherwise so the
    /// runtime's `DEL` can retry from it. (Upstream always keeps it.)
    ///
    /// # Errors
    /// [`Error::InvalidArgument`] for an empty plan or a container id that
    /// cannot name a file, [`Error::DelegateCacheIo`] (nothing ran),
    /// [`Error::DelegateAdd`] naming the pod and the failing network.
    pub async fn add<H: AddHooks>(
        &self,
        ctx: &PodContext,
        plan: &[Attachment],
        hooks: &mut H,
    ) -> Result<AddOutcome, Error> {
        if plan.is_empty() {
            return Err(Error::InvalidArgument(multus_types::CniError::new(
                multus_types::ErrorCode::InvalidNetworkConfig,
                "no delegates to add",
            )));
        }
        // Every plugin binary of every delegate is found before anything
        // runs, so a typo in a later NAD costs no rollback (and cannot leak
        // what a rollback fails to undo). The error reads as if that delegate
        // had failed.
        for (index, attachment) in plan.iter().enumerate() {
            if let Err(source) = self.cni.check_plugins(&attachment.conf) {
                return Err(Error::DelegateAdd {
                    pod: ctx.pod_label(),
                    network: attachment.network_name().to_owned(),
                    index,
                    source: Box::new(source),
                    rollback_errors: Vec::new(),
                });
            }
        }
        self.cache.write(&ctx.container_id, &ctx.ifname, plan)?;
        let mut results = Vec::with_capacity(plan.len());
        for (index, attachment) in plan.iter().enumerate() {
            match self.add_step(ctx, index, attachment, hooks).await {
                Ok(result) => results.push(result),
                Err(Failed { source, ran }) => {
                    // A delegate that never ran (refused by `before_add`, e.g. its
                    // interface name is taken) is not deleted: its DEL would remove
                    // whatever already holds that name in the pod.
                    let done = if ran { &plan[..=index] } else { &plan[..index] };
                    let rollback_errors = self.rollback(ctx, done, hooks).await;
                    if rollback_errors.is_empty() {
                        // Best effort: a stale file only makes a later DEL repeat DELs.
                        let _ = self.cache.remove(&ctx.container_id);
                    }
                    return Err(Error::DelegateAdd {
                        pod: ctx.pod_label(),
                        network: attachment.network_name().to_owned(),
                        index,
                        source: Box::new(source),
                        rollback_errors,
                    });
                }
            }
        }
        let master = plan.iter().position(|a| a.master).unwrap_or(0);
        Ok(AddOutcome { results, master })
    }

    async fn add_step<H: AddHooks>(
        &self,
        ctx: &PodContext,
        index: usize,
        attachment: &Attachment,
        hooks: &mut H,
    ) -> Result<CniResult, Failed> {
        let before = |source| Failed { source, ran: false };
        let after = |source| Failed { source, ran: true };
        let rt = ctx.runtime_conf(attachment, Command::Add).map_err(before)?;
        let step = DelegateStep {
            index,
            attachment,
            runtime_conf: &rt,
        };
        hooks.before_add(&step).await.map_err(before)?;
        let result = match &attachment.conf {
            DelegateConf::Single(conf) => self.cni.add_network(conf, &rt).await,
            DelegateConf::List(list) => self.cni.add_network_list(list, &rt).await,
        }
        .map_err(after)?;
        hooks.after_add(&step, &result).await.map_err(after)?;
        Ok(result)
    }

    /// Deletes `done` in reverse order after a failed `ADD`; returns the failures.
    async fn rollback<H: AddHooks>(
        &self,
        ctx: &PodContext,
        done: &[Attachment],
        hooks: &mut H,
    ) -> Vec<Error> {
        let mut errors = Vec::new();
        for (index, attachment) in done.iter().enumerate().rev() {
            let rt = match ctx.runtime_conf(attachment, Command::Del) {
                Ok(rt) => rt,
                Err(e) => {
                    errors.push(e);
                    continue;
                }
            };
            if let Err(e) = self.del_one(attachment, &attachment.conf, &rt).await {
                hooks.rollback_failed(
                    &DelegateStep {
                        index,
                        attachment,
                        runtime_conf: &rt,
                    },
                    &e,
                );
                errors.push(e);
            }
        }
        errors
    }

    /// `DEL` of a plan: every delegate in reverse order, without `MAC`/`IP`
    /// arguments, going on after errors; lists without `cniVersion` get the
    /// [`with_del_cni_version`](Self::with_del_cni_version) version. Each
    /// delegate's generated device-info file is removed afterwards
    /// ([`Attachment::generated_device_info_file`]; never a
    /// `CNIDeviceInfoFile` the runtime supplied). Works when the
    /// network namespace is gone (the plugins tolerate it) and when repeated.
    /// The delegate cache file is left alone (see [`DelegateCache::remove`]).
    ///
    /// # Errors
    /// [`Error::DelegateDel`] with every failure (`errors: <e1> / <e2>`).
    pub async fn del(&self, ctx: &PodContext, plan: &[Attachment]) -> Result<(), Error> {
        let mut errors = Vec::new();
        for attachment in plan.iter().rev() {
            if let Err(e) = self.del_with_fallback(ctx, attachment).await {
                errors.push(e);
            }
        }
        del_result(errors)
    }

    /// [`del`](Self::del) of a plan read from the delegate cache: entries
    /// that could not be read count as failures at their place in the
    /// reverse order, as upstream's `DEL` fails on them and goes on.
    ///
    /// # Errors
    /// [`Error::DelegateDel`] with every failure.
    pub async fn del_cached(&self, ctx: &PodContext, plan: CachedPlan) -> Result<(), Error> {
        let mut errors = Vec::new();
        for entry in plan.entries.into_iter().rev() {
            let outcome = match entry {
                Ok(attachment) => self.del_with_fallback(ctx, &attachment).await,
                Err(e) => Err(e),
            };
            if let Err(e) = outcome {
                errors.push(e);
            }
        }
        del_result(errors)
    }

    async fn del_with_fallback(
        &self,
        ctx: &PodContext,
        attachment: &Attachment,
    ) -> Result<(), Error> {
        let conf = self.with_fallback_version(&attachment.conf)?;
        let rt = ctx.runtime_conf(attachment, Command::Del)?;
        self.del_one(attachment, &conf, &rt).await
    }

    /// One delegate's `DEL` (`conf` may carry a back-filled version), then
    /// its generated device-info file removed
    /// ([`Attachment::generated_device_info_file`]).
    async fn del_one(
        &self,
        attachment: &Attachment,
        conf: &DelegateConf,
        rt: &RuntimeConf,
    ) -> Result<(), Error> {
        let (outcome, network) = match conf {
            DelegateConf::Single(c) => (self.cni.del_network(c, rt).await, c.name()),
            DelegateConf::List(l) => (self.cni.del_network_list(l, rt).await, l.name()),
        };
        // A plugin that cannot be found, in an attachment libcni never cached
        // (its ADD never completed, e.g. it failed on that very plugin):
        // nothing of it can exist, and an error would fail the pod's DEL for
        // good. The other plugins of a list were deleted all the same.
        let never_added = || {
            !self
                .cni
                .cache()
                .path(network, &rt.container_id, &rt.ifname)
                .is_ok_and(|p| p.exists())
        };
        let outcome = match outcome {
            Err(e) if matches!(e.root(), Error::PluginNotFound { .. }) && never_added() => Ok(()),
            other => other,
        };
        // Only the device-info file generated for this attachment, never a
        // path the runtime put in its runtimeConfig (upstream removes
        // whatever `CNIDeviceInfoFile` the delegate was given). As upstream,
        // the file may well not exist.
        if let Some(devinfo) = attachment.generated_device_info_file(&rt.container_id) {
            let _ = std::fs::remove_file(devinfo);
        }
        outcome.map_err(|e| delegate_op(Command::Del, attachment, e))
    }

    /// Upstream's `DEL` back-fill: a list without `cniVersion` gets the
    /// multus config's (the other keys are kept as they are).
    fn with_fallback_version<'a>(
        &self,
        conf: &'a DelegateConf,
    ) -> Result<Cow<'a, DelegateConf>, Error> {
        let DelegateConf::List(list) = conf else {
            return Ok(Cow::Borrowed(conf));
        };
        let declared = list
            .as_map()
            .get("cniVersion")
            .and_then(Value::as_str)
            .unwrap_or("");
        if !declared.is_empty() || self.del_cni_version.is_empty() {
            return Ok(Cow::Borrowed(conf));
        }
        let mut map = list.as_map().clone();
        map.insert(
            "cniVersion".into(),
            Value::from(self.del_cni_version.as_str()),
        );
        Ok(Cow::Owned(DelegateConf::List(NetConfList::from_map(map)?)))
    }

    /// `CHECK` of a plan: each delegate in order with the arguments of
    /// `ADD` minus `MAC`/`IP`; the first failure stops it. (Which delegates
    /// to check — upstream checks only the config's `delegates` — is the
    /// caller's choice.)
    ///
    /// # Errors
    /// [`Error::DelegateOp`] for the first failing delegate.
    pub async fn check(&self, ctx: &PodContext, plan: &[Attachment]) -> Result<(), Error> {
        for attachment in plan {
            let rt = ctx.runtime_conf(attachment, Command::Check)?;
            let outcome = match &attachment.conf {
                DelegateConf::Single(c) => self.cni.check_network(c, &rt).await,
                DelegateConf::List(l) => self.cni.check_network_list(l, &rt).await,
            };
            outcome.map_err(|e| delegate_op(Command::Check, attachment, e))?;
        }
        Ok(())
    }
}

/// A failed step of an `ADD`, and whether its delegate had started (then it
/// may have left something behind and is deleted with the others).
struct Failed {
    source: Error,
    ran: bool,
}

fn delegate_op(command: Command, attachment: &Attachment, source: Error) -> Error {
    Error::DelegateOp {
        command,
        is_list: attachment.is_list(),
        network: attachment.network_name().to_owned(),
        plugin_type: attachment.plugin_type().to_owned(),
        source: Box::new(source),
    }
}

fn del_result(errors: Vec<Error>) -> Result<(), Error> {
    if errors.is_empty() {
        Ok(())
    } else {
        Err(Error::DelegateDel { errors })
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use multus_types::{Bandwidth, PortMapping};
    use serde_json::json;

    use super::*;

    fn attachment(v: Value, ifname: &str) -> Attachment {
        Attachment::new(DelegateConf::from_value(v).unwrap(), ifname, "ns/net")
    }

    fn ctx(args: &str) -> PodContext {
        PodContext::new("c0ffee", "/run/netns/x", "eth0")
            .with_runtime_args(CniArgs::parse(args).unwrap())
            .unwrap()
    }

    #[test]
    fn delegate_args_fill_empty_keys_and_append_the_rest() {
        let c = ctx(
            "K8S_POD_NAMESPACE=ns;K8S_POD_NAME=web;K8S_POD_INFRA_CONTAINER_ID=c0ffee;K8S_POD_UID=u1",
        );
        assert_eq!(
            c.delegate_args().to_string(),
            "IgnoreUnknown=true;K8S_POD_NAMESPACE=ns;K8S_POD_NAME=web;K8S_POD_INFRA_CONTAINER_ID=c0ffee;K8S_POD_UID=u1;\
             K8S_POD_NAMESPACE=ns;K8S_POD_NAME=web;K8S_POD_INFRA_CONTAINER_ID=c0ffee;K8S_POD_UID=u1"
        );
        // A key whose parsed value is empty is filled by the runtime pair, not duplicated.
        let mut c = ctx("IgnoreUnknown=1;K8S_POD_UID=u2;EXTRA=x");
        c.k8s.pod_uid.clear();
        assert_eq!(
            c.delegate_args().to_string(),
            "IgnoreUnknown=true;K8S_POD_NAMESPACE=;K8S_POD_NAME=;K8S_POD_INFRA_CONTAINER_ID=;K8S_POD_UID=u2;\
             IgnoreUnknown=1;EXTRA=x"
        );
        // An empty runtime value never fills, it is appended.
        let c = ctx("K8S_POD_NAME=");
        assert_eq!(
            c.delegate_args().to_string(),
            "IgnoreUnknown=true;K8S_POD_NAMESPACE=;K8S_POD_NAME=;K8S_POD_INFRA_CONTAINER_ID=;K8S_POD_UID=;K8S_POD_NAME="
        );
        assert_eq!(PodContext::default().pod_label(), "//");
    }

    #[test]
    fn mac_and_ip_only_on_add_and_validated() {
        let c = ctx("IgnoreUnknown=1");
        let mut a = attachment(json!({"name": "n", "type": "macvlan"}), "net1");
        a.mac_request = "c2:11:22:33:44:55".into();
        a.ip_request = Some(vec!["10.1.1.5/24".into(), "2001:db8::5".into()]);
        let rt = c.runtime_conf(&a, Command::Add).unwrap();
        assert_eq!(rt.ifname, "net1");
        assert_eq!(
            rt.args.to_string(),
            "IgnoreUnknown=true;K8S_POD_NAMESPACE=;K8S_POD_NAME=;K8S_POD_INFRA_CONTAINER_ID=;K8S_POD_UID=;\
             IgnoreUnknown=1;MAC=c2:11:22:33:44:55;IP=10.1.1.5/24,2001:db8::5"
        );
        for cmd in [Command::Del, Command::Check] {
            let rt = c.runtime_conf(&a, cmd).unwrap();
            assert!(rt.args.get("MAC").is_none() && rt.args.get("IP").is_none());
        }
        a.ip_request = Some(Vec::new());
        let rt = c.runtime_conf(&a, Command::Add).unwrap();
        assert_eq!(rt.args.get("IP"), Some(""));

        a.mac_request = "c2:11:22:33:44".into();
        let e = c.runtime_conf(&a, Command::Add).unwrap_err();
        assert_eq!(
            e.to_string(),
            r#"DelegateAdd: failed to parse mac address "c2:11:22:33:44""#
        );
        a.mac_request.clear();
        a.ip_request = Some(vec!["10.1.1.300".into()]);
        let e = c.runtime_conf(&a, Command::Add).unwrap_err();
        assert_eq!(
            e.to_string(),
            r#"DelegateAdd: failed to parse IP address "10.1.1.300""#
        );
        // DEL does not care.
        assert!(c.runtime_conf(&a, Command::Del).is_ok());
    }

    #[test]
    fn capability_args_leave_out_what_upstream_leaves_out() {
        let c = ctx("");
        let mut a = attachment(json!({"name": "n", "type": "bridge"}), "eth0");
        assert!(
            c.runtime_conf(&a, Command::Add)
                .unwrap()
                .capability_args
                .is_empty()
        );
        a.runtime_config.port_mappings = vec![PortMapping {
            host_port: 8080,
            container_port: 80,
            protocol: "tcp".into(),
            host_ip: String::new(),
        }];
        a.runtime_config.bandwidth = Some(Bandwidth {
            ingress_rate: 1000,
            ..Bandwidth::default()
        });
        a.runtime_config.mac = "c2:11:22:33:44:55".into();
        a.runtime_config.device_id = "0000:03:00.1".into();
        a.runtime_config.cni_device_info_file = "/var/run/x".into();
        let caps = c.runtime_conf(&a, Command::Del).unwrap().capability_args;
        assert_eq!(
            Value::Object(caps),
            json!({
                "portMappings": [{"hostPort": 8080, "containerPort": 80, "protocol": "tcp"}],
                "bandwidth": {"ingressRate": 1000, "ingressBurst": 0, "egressRate": 0, "egressBurst": 0},
                "mac": "c2:11:22:33:44:55",
                "deviceID": "0000:03:00.1",
                "CNIDeviceInfoFile": "/var/run/x"
            })
        );
    }

    #[test]
    fn bin_dirs_are_bin_dir_then_cni_path() {
        let r = Runner::new("/var/lib/cni/multus", "/opt/cni/bin", "/a::/b:");
        assert_eq!(
            r.cni().bin_dirs(),
            [
                PathBuf::from("/opt/cni/bin"),
                PathBuf::from("/a"),
                PathBuf::from("/b")
            ]
        );
        assert_eq!(
            r.cni().cache().dir(),
            std::path::Path::new("/var/lib/cni/multus")
        );
        assert_eq!(
            r.delegate_cache().dir(),
            std::path::Path::new("/var/lib/cni/multus")
        );
    }

    #[test]
    fn fallback_version_only_for_lists_without_one() {
        let r = Runner::new("/x", "/y", "").with_del_cni_version("0.4.0");
        let no_version = DelegateConf::from_value(
            json!({"name": "l", "plugins": [{"type": "bridge", "keep": 1}]}),
        )
        .unwrap();
        let out = r.with_fallback_version(&no_version).unwrap();
        assert_eq!(out.cni_version_str(), "0.4.0");
        assert_eq!(out.as_map()["plugins"][0]["keep"], 1);
        let versioned = DelegateConf::from_value(
            json!({"cniVersion": "1.0.0", "name": "l", "plugins": [{"type": "bridge"}]}),
        )
        .unwrap();
        assert!(matches!(
            r.with_fallback_version(&versioned).unwrap(),
            Cow::Borrowed(_)
        ));
        let single = DelegateConf::from_value(json!({"name": "s", "type": "bridge"})).unwrap();
        assert!(matches!(
            r.with_fallback_version(&single).unwrap(),
            Cow::Borrowed(_)
        ));
        let r = Runner::new("/x", "/y", "");
        assert!(matches!(
            r.with_fallback_version(&no_version).unwrap(),
            Cow::Borrowed(_)
        ));
    }

    fn assert_send<T: Send>(_: &T) {}

    #[test]
    fn futures_are_send() {
        let r = Runner::new("/nonexistent", "/nonexistent", "");
        let c = ctx("");
        let plan: Vec<Attachment> = Vec::new();
        let mut hooks = ();
        assert_send(&r.add(&c, &plan, &mut hooks));
        assert_send(&r.del(&c, &plan));
        assert_send(&r.check(&c, &plan));
        assert_send(&r.del_cached(
            &c,
            CachedPlan {
                entries: Vec::new(),
            },
        ));
    }

    #[test]
    fn error_texts_are_upstreams() {
        let inner = || {
            Error::InvalidArgument(multus_types::CniError::new(
                multus_types::ErrorCode::Unknown,
                "boom",
            ))
        };
        let list = attachment(
            json!({"name": "blue", "plugins": [{"type": "bridge"}]}),
            "eth0",
        );
        let single = attachment(json!({"name": "red", "type": "macvlan"}), "net1");
        assert_eq!(
            delegate_op(Command::Del, &list, inner()).to_string(),
            r#"DelegateDel: error invoking ConflistDel - "blue": conflistDel: error in getting result from DelNetworkList: boom"#
        );
        assert_eq!(
            delegate_op(Command::Del, &single, inner()).to_string(),
            r#"DelegateDel: error invoking DelegateDel - "macvlan": error in getting result from DelNetwork: boom"#
        );
        assert_eq!(
            delegate_op(Command::Check, &list, inner()).to_string(),
            r#"DelegateCheck: error invoking ConflistCheck - "blue": conflistCheck: error in getting result from CheckNetworkList: boom"#
        );
        assert_eq!(
            delegate_op(Command::Check, &single, inner()).to_string(),
            r#"DelegateCheck: error invoking DelegateCheck - "macvlan": error in getting result from CheckNetwork: boom"#
        );
        let e = del_result(vec![inner(), inner()]).unwrap_err();
        assert_eq!(e.to_string(), "errors: boom / boom");
        let e = Error::DelegateAdd {
            pod: "ns/web/u1".into(),
            network: "blue".into(),
            index: 1,
            source: Box::new(inner()),
            rollback_errors: Vec::new(),
        };
        assert_eq!(
            e.to_string(),
            r#"[ns/web/u1:blue]: error adding container to network "blue": boom"#
        );
        assert!(matches!(e.root(), Error::InvalidArgument(_)));
    }
}
