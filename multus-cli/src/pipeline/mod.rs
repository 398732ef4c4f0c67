//! The CNI operations of multus: ADD, DEL, CHECK, STATUS and GC, each a
//! function from the runtime's request to its answer. The thin plugin calls
//! them once per process; the daemon (`multus-daemon`) calls them per request,
//! concurrently, with its own [`Options`].

mod add;
mod check;
mod del;
mod delegate;
mod hooks;
mod status;

use std::sync::Arc;
use std::time::Duration;

use multus_delegate::PluginExec;
use multus_delegate::multus::{PodContext, Runner};
use multus_k8s::informers::{CachedPodRetry, Informers};
use multus_k8s::{Plan, PodLookup, PodRetry, ResolveRequest};
use multus_types::{CniArgs, K8sArgs, MultusConf};

use crate::skel::{CmdArgs, Command};
use crate::{Error, logging};

pub use add::{add, add_result, empty_result};
pub use check::check;
pub use del::del;
pub use delegate::{DelegateRequest, delegate_add, delegate_check, delegate_del};
pub use status::{gc, status};

/// How long to wait for the readiness indicator file, and how often to look.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Readiness {
    /// Poll interval (upstream: 1 s).
    pub interval: Duration,
    /// Give up after (upstream: 45 s).
    pub timeout: Duration,
}

impl Default for Readiness {
    fn default() -> Self {
        Self {
            interval: multus_netns::READINESS_POLL_INTERVAL,
            timeout: multus_netns::READINESS_TIMEOUT,
        }
    }
}

impl Readiness {
    /// Waits for the config's readiness indicator file, if it names one.
    async fn wait(self, conf: &MultusConf) -> Result<(), Error> {
        if conf.readiness_indicator_file.is_empty() {
            return Ok(());
        }
        multus_netns::wait_for_readiness_indicator_file(
            &conf.readiness_indicator_file,
            self.interval,
            self.timeout,
        )
        .await?;
        Ok(())
    }
}

/// What differs between the callers of the pipeline: the thin plugin runs
/// one operation per process, the daemon many at once in one process.
#[derive(Clone)]
#[non_exhaustive]
pub struct Options {
    /// The readiness indicator wait of ADD, STATUS and GC.
    pub readiness: Readiness,
    /// Whether each operation applies its config's log settings (`logLevel`,
    /// `logFile`, ...) to the process's logger. The thin plugin does (one
    /// config per process). The daemon does not: its logger is configured
    /// once from the daemon config, because the logger is process-wide and
    /// concurrent requests must not reconfigure it for each other.
    pub configure_logging: bool,
    /// How delegate plugins are executed (the daemon's `chrootDir`).
    pub exec: PluginExec,
    /// Timing of the pod read with live GETs (when there are no informers).
    pub pod_retry: PodRetry,
    /// The daemon's informer caches: pods are then looked up in the pod
    /// cache with upstream's thick rules (50 ms polls for 2.5 s, NotFound
    /// retried on ADD, one live GET last) and NADs read from the NAD cache
    /// (a live GET on a miss), instead of a GET per lookup.
    pub informers: Option<Arc<Informers>>,
    /// The Kubernetes client every operation uses. `None` (the thin
    /// plugin): each operation builds one from its config (`kubeconfig`,
    /// else in-cluster, else none). The daemon builds one at start-up, as
    /// upstream's daemon uses its own client whatever the request says.
    pub client: Option<kube::Client>,
}

impl Options {
    /// The thin plugin's options: upstream's readiness wait, logging from
    /// the config, plugins run directly, the thin pod-read timing.
    pub fn thin() -> Self {
        Self {
            readiness: Readiness::default(),
            configure_logging: true,
            exec: PluginExec::new(),
            pod_retry: PodRetry::THIN,
            informers: None,
            client: None,
        }
    }

    /// Pod and NAD lookups go through `informers`.
    #[must_use]
    pub fn with_informers(mut self, informers: Option<Arc<Informers>>) -> Self {
        self.informers = informers;
        self
    }

    /// Reads the pod of `k8s` (on `ADD`, `for_add` says so: a pod missing
    /// from the informer cache is then waited for).
    async fn lookup_pod(
        &self,
        client: &kube::Client,
        k8s: &K8sArgs,
        conf: &MultusConf,
        for_add: bool,
    ) -> Result<PodLookup, Error> {
        let (ns, name, uid) = (&k8s.pod_namespace, &k8s.pod_name, &k8s.pod_uid);
        Ok(match &self.informers {
            Some(informers) => {
                informers
                    .pods
                    .lookup_pod(ns, name, uid, for_add, CachedPodRetry::THICK)
                    .await?
            }
            None => {
                let retry = self.pod_retry.with_total(conf.pod_lookup_timeout);
                multus_k8s::pod::lookup_pod(client, ns, name, uid, retry).await?
            }
        })
    }

    /// Resolves a plan, reading NADs from the informer cache when there is one.
    async fn resolve(
        &self,
        client: Option<&kube::Client>,
        request: &ResolveRequest<'_>,
    ) -> Result<Plan, Error> {
        Ok(match &self.informers {
            Some(informers) => {
                multus_k8s::resolve_with(Some(&informers.nads), client, request).await?
            }
            None => multus_k8s::resolve(client, request).await?,
        })
    }

    /// The timing of the pod read.
    #[must_use]
    pub fn with_pod_retry(mut self, pod_retry: PodRetry) -> Self {
        self.pod_retry = pod_retry;
        self
    }

    /// Operations use `client` instead of building one from their config.
    #[must_use]
    pub fn with_client(mut self, client: Option<kube::Client>) -> Self {
        self.client = client;
        self
    }

    /// The client of an operation: the one given, else one from `conf`.
    async fn client_for(&self, conf: &MultusConf) -> Result<Option<kube::Client>, Error> {
        match &self.client {
            Some(client) => Ok(Some(client.clone())),
            None => Ok(multus_k8s::client::client_for_conf(conf).await?),
        }
    }

    /// Whether operations configure the logger from their config.
    #[must_use]
    pub fn with_configure_logging(mut self, configure: bool) -> Self {
        self.configure_logging = configure;
        self
    }

    /// How delegate plugins are executed.
    #[must_use]
    pub fn with_exec(mut self, exec: PluginExec) -> Self {
        self.exec = exec;
        self
    }

    /// The readiness indicator wait.
    #[must_use]
    pub fn with_readiness(mut self, readiness: Readiness) -> Self {
        self.readiness = readiness;
        self
    }
}

impl std::fmt::Debug for Options {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Options")
            .field("readiness", &self.readiness)
            .field("configure_logging", &self.configure_logging)
            .field("exec", &self.exec)
            .field("pod_retry", &self.pod_retry)
            .field("informers", &self.informers.is_some())
            .field("client", &self.client.as_ref().map(|_| "kube::Client"))
            .finish()
    }
}

impl Default for Options {
    fn default() -> Self {
        Self::thin()
    }
}

/// Runs one operation as the thin plugin; `Ok(Some(text))` is printed on stdout.
pub async fn run(args: &CmdArgs) -> Result<Option<String>, Error> {
    run_with(args, &Options::thin()).await
}

/// Runs one operation with `options`; `Ok(Some(text))` is the answer (ADD's
/// result in the master's version, VERSION's JSON).
pub async fn run_with(args: &CmdArgs, options: &Options) -> Result<Option<String>, Error> {
    match args.command {
        Command::Add => add(args, options).await.map(Some),
        Command::Del => del(args, options).await.map(|()| None),
        Command::Check => check(args, options).await.map(|()| None),
        Command::Status => status(args, options).await.map(|()| None),
        Command::Gc => gc(args, options).await.map(|()| None),
        // skel answers VERSION before any operation runs.
        Command::Version => Ok(Some(crate::skel::version_json())),
    }
}

/// What every operation starts from: the config (with logging applied when
/// the options say so).
fn load_conf(args: &CmdArgs, options: &Options) -> Result<MultusConf, Error> {
    let conf = MultusConf::from_bytes(&args.stdin)?;
    if options.configure_logging {
        logging::configure(
            &conf.log_level,
            conf.log_to_stderr,
            &conf.log_file,
            conf.log_options.as_ref(),
        );
    }
    crate::debug!(
        "{:?}: containerID {:?}, netns {:?}, ifname {:?}, args {:?}",
        args.command,
        args.container_id,
        args.netns,
        args.ifname,
        args.args
    );
    Ok(conf)
}

/// The runtime's view of the pod sandbox.
fn pod_context(args: &CmdArgs) -> Result<PodContext, Error> {
    let runtime_args = CniArgs::parse(&args.args)?;
    Ok(
        PodContext::new(&args.container_id, &args.netns, &args.ifname)
            .with_runtime_args(runtime_args)?,
    )
}

/// The delegate runner: plugins from `binDir` then `CNI_PATH`, caches in `cniDir`.
fn runner(conf: &MultusConf, args: &CmdArgs, options: &Options) -> Runner {
    Runner::new(&conf.cni_dir, &conf.bin_dir, &args.path)
        .with_exec(options.exec.clone())
        .with_del_cni_version(conf.cni_version.clone())
}
