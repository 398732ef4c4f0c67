//! `multus-daemon`, the thick plugin's server: a long-running process per
//! node that answers the shim's requests on a unix socket by running the
//! same ADD/DEL/CHECK/STATUS/GC pipeline as the thin plugin
//! ([`crate::pipeline`]), plus hot-plug of single delegates, health and
//! readiness endpoints and Prometheus metrics.
//!
//! Start-up, in upstream's order: the readiness indicator file (45 s, else
//! exit 1); `multusConfigFile` (`auto`: the [`ConfigManager`] starts, exit 2
//! if it cannot; a path: the file is copied into `cniConfigDir`); the
//! socket directory deleted and recreated 0700, the socket 0600 (exit 3 if
//! the server cannot start); metrics. Then requests are served until
//! SIGTERM/SIGINT: `/readyz` fails at once, requests being processed finish
//! (at most 10 s), the config manager is stopped, exit 0.
//!
//! Logging comes from the daemon config only and is set once at start-up:
//! the logger is process-wide and requests run concurrently, so a request's
//! own `logLevel`/`logFile` never reconfigure it (upstream reconfigures the
//! global logger from every request's merged config).

pub mod auto;
pub mod config;
pub mod metrics;
pub mod request;
mod server;

use std::future::Future;
use std::os::unix::fs::{OpenOptionsExt as _, PermissionsExt as _};
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::sync::atomic::AtomicBool;
use std::time::Duration;

use tokio::sync::watch;

pub use auto::GeneratedConfig;
pub use config::DaemonConfig;

use crate::pipeline::{Options, Readiness};
use crate::{error, logging, verbose, warning};

/// How long requests being processed may take to finish after SIGTERM/SIGINT.
pub const SHUTDOWN_GRACE: Duration = Duration::from_secs(10);

/// Why the daemon could not start or had to stop; each maps to upstream's
/// exit code ([`exit_code`](Self::exit_code)).
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum DaemonError {
    /// The config file cannot be read or is invalid.
    #[error("daemon config {}: {reason}", path.display())]
    Config {
        /// The file.
        path: PathBuf,
        /// What is wrong.
        reason: String,
    },
    /// Not running as root.
    #[error("failed to run multus-daemon with root: now running in uid: {uid}")]
    NotRoot {
        /// The effective uid.
        uid: u32,
    },
    /// The readiness indicator file did not appear in time.
    #[error(
        "have you checked that your default network is ready? still waiting for readinessindicatorfile @ {path}: {reason}"
    )]
    Readiness {
        /// The file.
        path: String,
        /// The wait's error.
        reason: String,
    },
    /// The config manager (`multusConfigFile: auto`) failed.
    #[error("config manager: {0}")]
    ConfigManager(String),
    /// The socket or the metrics port could not be set up.
    #[error("failed to start the multus thick-plugin listener: {what} {}: {source}", path.display())]
    Listen {
        /// What was being done.
        what: &'static str,
        /// The socket (or metrics address).
        path: PathBuf,
        /// The OS error.
        source: std::io::Error,
    },
    /// The Kubernetes client could not be built.
    #[error("error getting k8s client: {0}")]
    Kubernetes(String),
    /// Something the daemon config asks for that is not built yet.
    #[error("{0}")]
    Unsupported(String),
}

impl DaemonError {
    /// Upstream's exit codes: 1 for config, root and readiness problems, 2
    /// when the config manager fails, 3 when the server cannot start.
    pub fn exit_code(&self) -> u8 {
        match self {
            Self::Config { .. } | Self::NotRoot { .. } | Self::Readiness { .. } => 1,
            Self::Unsupported(_) => 1,
            Self::ConfigManager(_) => 2,
            Self::Listen { .. } | Self::Kubernetes(_) => 3,
        }
    }
}

/// Lets a [`ConfigManager`] end the daemon (upstream: the readiness
/// indicator file was removed → exit 2).
#[derive(Debug, Clone)]
pub struct Stopper(watch::Sender<Option<u8>>);

impl Stopper {
    /// Asks the daemon to shut down (gracefully) and exit with `code`.
    pub fn stop(&self, code: u8) {
        self.0.send_if_modified(|c| {
            if c.is_none() {
                *c = Some(code);
                true
            } else {
                false
            }
        });
    }
}

/// The seam of the config generator/manager (`multusConfigFile: auto`):
/// generates `00-multus.conf` from the primary network's config and keeps
/// it current. Plugged in by the binary: [`GeneratedConfig`] (over
/// [`crate::confgen`]), or [`NoConfigManager`].
pub trait ConfigManager: Send {
    /// Called once at start-up, after the readiness wait and before the
    /// socket is served. An error ends the daemon with exit code 2. `stopper`
    /// may be kept to end the daemon later.
    fn start(
        &mut self,
        config: &DaemonConfig,
        stopper: Stopper,
    ) -> impl Future<Output = Result<(), String>> + Send;

    /// Called at shutdown, after the requests being processed finished
    /// (upstream deletes the generated config here).
    fn stop(&mut self) -> impl Future<Output = ()> + Send;
}

/// No config manager: `multusConfigFile: auto` only logs that nothing
/// generates the multus config.
#[derive(Debug, Clone, Copy, Default)]
pub struct NoConfigManager;

impl ConfigManager for NoConfigManager {
    async fn start(&mut self, _: &DaemonConfig, _: Stopper) -> Result<(), String> {
        warning!(
            "multusConfigFile is auto but this daemon has no config generator: no multus config is written"
        );
        Ok(())
    }

    async fn stop(&mut self) {}
}

/// Fails unless the process runs as root (upstream's check).
///
/// # Errors
/// [`DaemonError::NotRoot`].
pub fn require_root() -> Result<(), DaemonError> {
    let uid = nix::unistd::geteuid();
    if uid.is_root() {
        Ok(())
    } else {
        Err(DaemonError::NotRoot { uid: uid.as_raw() })
    }
}

/// Sets the process's logger from the daemon config, once. The log file is
/// skipped when it names the config file itself (upstream's guard).
pub fn configure_logging(config: &DaemonConfig, config_path: &Path) {
    let log_file = if Path::new(&config.log_file) == config_path {
        ""
    } else {
        config.log_file.as_str()
    };
    logging::configure(
        &config.log_level,
        config.log_to_stderr,
        log_file,
        config.log_options.as_ref(),
    );
}

/// Runs the daemon until `shutdown` completes (the binary passes
/// SIGTERM/SIGINT) or the config manager stops it; returns the exit code of
/// a graceful end (0, or the config manager's).
///
/// # Errors
/// [`DaemonError`] when it cannot start.
pub async fn run<M: ConfigManager>(
    config: DaemonConfig,
    mut manager: M,
    shutdown: impl Future<Output = ()>,
) -> Result<u8, DaemonError> {
    verbose!("multus-daemon started");
    let readiness_file = config.readiness_indicator_file().to_owned();
    if !readiness_file.is_empty() {
        let wait = Readiness::default();
        multus_netns::wait_for_readiness_indicator_file(
            &readiness_file,
            wait.interval,
            wait.timeout,
        )
        .await
        .map_err(|e| DaemonError::Readiness {
            path: readiness_file.clone(),
            reason: e.to_string(),
        })?;
    }
    if let Some(cert) = config.per_node_certificate.as_ref().filter(|c| c.enabled) {
        return Err(DaemonError::Unsupported(format!(
            "perNodeCertificate (bootstrapKubeconfig {}) is not supported yet: use the in-cluster service account or a kubeconfig",
            cert.bootstrap_kubeconfig
        )));
    }
    let settings = config
        .delegate_settings()
        .map_err(|reason| DaemonError::Config {
            path: PathBuf::from("(daemon config)"),
            reason,
        })?;
    // One client for every request, as upstream's daemon: the daemon
    // config's `kubeconfig`, else the in-cluster service account. Without
    // either, each request builds one from its own config, as the thin plugin.
    let client = multus_k8s::client::client_for_conf(&settings)
        .await
        .map_err(|e| DaemonError::Kubernetes(e.to_string()))?;
    // Pods of this node and every NAD come from informer caches, as
    // upstream's daemon: a NAD created after start-up is seen without a
    // restart, and a request costs no GET when the caches have the objects.
    let informers = match &client {
        Some(client) => {
            let (informers, report) = multus_k8s::informers::Informers::start(
                client.clone(),
                config.node_name.as_deref(),
                multus_k8s::informers::DEFAULT_SYNC_TIMEOUT,
            )
            .await;
            if !report.all_synced() {
                warning!(
                    "informer caches not synced after {:?} (pods: {}, NADs: {}); going on, lookups fall back to live reads",
                    multus_k8s::informers::DEFAULT_SYNC_TIMEOUT,
                    report.pods_synced,
                    report.nads_synced
                );
            }
            Some(Arc::new(informers))
        }
        None => None,
    };
    let mut options = Options::thin()
        .with_configure_logging(false)
        .with_client(client)
        .with_informers(informers);
    if !config.chroot_dir.is_empty() {
        let exec = multus_delegate::PluginExec::new()
            .with_chroot(&config.chroot_dir)
            .map_err(|e| DaemonError::Config {
                path: PathBuf::from(&config.chroot_dir),
                reason: e.to_string(),
            })?;
        verbose!("server configured with chroot: {}", config.chroot_dir);
        options = options.with_exec(exec);
    }

    let (stop_tx, mut stop_rx) = watch::channel(None::<u8>);
    let stopper = Stopper(stop_tx);
    let managed = config.is_auto();
    if managed {
        manager
            .start(&config, stopper.clone())
            .await
            .map_err(DaemonError::ConfigManager)?;
    } else if let Err(e) = copy_user_config(
        Path::new(&config.generator.multus_config_file),
        Path::new(&config.generator.cni_config_dir),
    ) {
        // As upstream: logged, not fatal.
        error!(
            "failed to copy the user provided configuration {}: {e}",
            config.generator.multus_config_file
        );
    }

    let listener = listen(&config.socket_path())?;
    let metrics = Arc::new(metrics::Metrics::new());
    // As upstream, a metrics port that cannot be bound does not stop the
    // daemon: it is retried every second (and logged) in the background.
    let metrics_task = config
        .metrics_port
        .map(|port| tokio::spawn(metrics::run(port, Arc::clone(&metrics))));
    let state = Arc::new(server::State {
        config,
        settings,
        options,
        metrics,
        ready: AtomicBool::new(true),
        in_flight: server::InFlight::default(),
    });
    let (accept_stop_tx, accept_stop_rx) = watch::channel(false);
    let accept = tokio::spawn(server::accept_loop(
        listener,
        Arc::clone(&state),
        accept_stop_rx,
    ));
    verbose!("listening on {}", state.config.socket_path().display());

    let code = tokio::select! {
        () = shutdown => 0,
        code = async { stop_rx.wait_for(Option::is_some).await.ok().and_then(|c| *c) } => code.unwrap_or(0),
    };
    verbose!("stopping: /readyz fails from now on");
    state
        .ready
        .store(false, std::sync::atomic::Ordering::SeqCst);
    if tokio::time::timeout(SHUTDOWN_GRACE, state.in_flight.idle())
        .await
        .is_err()
    {
        warning!(
            "requests still running after {}s: stopping anyway",
            SHUTDOWN_GRACE.as_secs()
        );
    }
    let _ = accept_stop_tx.send(true);
    let _ = accept.await;
    if let Some(task) = metrics_task {
        task.abort();
    }
    if managed {
        manager.stop().await;
    }
    verbose!("multus daemon is exited");
    Ok(code)
}

/// Upstream's `copyUserProvidedConfig`: `<cniConfigDir>/<file name>`,
/// written to a temporary file and renamed, so a runtime never reads half a
/// config.
fn copy_user_config(source: &Path, cni_config_dir: &Path) -> std::io::Result<()> {
    let name = source.file_name().ok_or_else(|| {
        std::io::Error::new(
            std::io::ErrorKind::InvalidInput,
            "multusConfigFile names no file",
        )
    })?;
    let bytes = std::fs::read(source)?;
    let target = cni_config_dir.join(name);
    let mut tmp_name = std::ffi::OsString::from(".");
    tmp_name.push(name);
    tmp_name.push(".tmp");
    let tmp = cni_config_dir.join(tmp_name);
    {
        use std::io::Write as _;
        let mut f = std::fs::OpenOptions::new()
            .create(true)
            .write(true)
            .truncate(true)
            .mode(0o600)
            .open(&tmp)?;
        f.write_all(&bytes)?;
        f.sync_all()?;
    }
    std::fs::rename(&tmp, &target)?;
    verbose!("copied {} to {}", source.display(), target.display());
    Ok(())
}

/// The socket directory deleted and recreated 0700, the socket bound and
/// made 0600 (upstream's `FilesystemPreRequirements` and `GetListener`).
fn listen(socket: &Path) -> Result<tokio::net::UnixListener, DaemonError> {
    let fail = |what, source| DaemonError::Listen {
        what,
        path: socket.to_owned(),
        source,
    };
    let dir = match socket.parent() {
        // Never `rm -rf /` for a `socketDir` of "/".
        Some(d) if d.parent().is_some() => d,
        _ => {
            return Err(fail(
                "refusing to recreate the root directory for",
                std::io::Error::new(std::io::ErrorKind::InvalidInput, "socketDir is /"),
            ));
        }
    };
    match std::fs::remove_dir_all(dir) {
        Ok(()) => {}
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
        Err(e) => return Err(fail("removing the socket directory of", e)),
    }
    std::fs::create_dir_all(dir).map_err(|e| fail("creating the socket directory of", e))?;
    std::fs::set_permissions(dir, std::fs::Permissions::from_mode(0o700))
        .map_err(|e| fail("setting the mode of the socket directory of", e))?;
    let listener = tokio::net::UnixListener::bind(socket).map_err(|e| fail("binding", e))?;
    std::fs::set_permissions(socket, std::fs::Permissions::from_mode(0o600))
        .map_err(|e| fail("setting the mode of", e))?;
    Ok(listener)
}
