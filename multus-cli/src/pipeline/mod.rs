//! The CNI operations of multus: ADD, DEL, CHECK, STATUS and GC, each a
//! function from the runtime's request to its answer. The thin plugin calls
//! them once per process; a daemon can call them per request.

mod add;
mod check;
mod del;
mod hooks;
mod status;

use std::time::Duration;

use multus_delegate::multus::{PodContext, Runner};
use multus_types::{CniArgs, MultusConf};

use crate::skel::{CmdArgs, Command};
use crate::{Error, logging};

pub use add::{add, empty_result};
pub use check::check;
pub use del::del;
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

/// Runs one operation; `Ok(Some(text))` is printed on stdout.
pub async fn run(args: &CmdArgs) -> Result<Option<String>, Error> {
    match args.command {
        Command::Add => add(args, Readiness::default()).await.map(Some),
        Command::Del => del(args).await.map(|()| None),
        Command::Check => check(args).await.map(|()| None),
        Command::Status => status(args, Readiness::default()).await.map(|()| None),
        Command::Gc => gc(args, Readiness::default()).await.map(|()| None),
        // skel answers VERSION before any operation runs.
        Command::Version => Ok(Some(crate::skel::version_json())),
    }
}

/// What every operation starts from: the config (with logging applied).
fn load_conf(args: &CmdArgs) -> Result<MultusConf, Error> {
    let conf = MultusConf::from_bytes(&args.stdin)?;
    logging::configure(
        &conf.log_level,
        conf.log_to_stderr,
        &conf.log_file,
        conf.log_options.as_ref(),
    );
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
fn runner(conf: &MultusConf, args: &CmdArgs) -> Runner {
    Runner::new(&conf.cni_dir, &conf.bin_dir, &args.path)
        .with_del_cni_version(conf.cni_version.clone())
}
