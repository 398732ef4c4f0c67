//! The long-running part: after the first installation, wait for SIGTERM or
//! SIGINT, or with the watch loop keep the kubeconfig and the generated
//! config up to date every second; on exit optionally remove what was written.

use std::fs;
use std::future::poll_fn;
use std::io;
use std::path::PathBuf;
use std::task::Poll;
use std::time::Duration;

use tokio::signal::unix::{Signal, SignalKind, signal};

use super::autoconf::{AutoconfUpdate, ensure_multus_config};
use super::install::copy_file_atomic;
use super::kubeconfig::{ApiServer, KubeconfigHashes, ensure_kubeconfig};
use super::{Error, Options};
use crate::confgen::FailureLatch;

/// How often the watch loop looks at the service account and the master.
pub const WATCH_INTERVAL: Duration = Duration::from_secs(1);

/// SIGTERM and SIGINT, caught.
#[derive(Debug)]
pub struct Signals {
    term: Signal,
    int: Signal,
}

impl Signals {
    /// Installs the handlers (needs a tokio runtime with I/O enabled).
    pub fn new() -> io::Result<Self> {
        Ok(Self {
            term: signal(SignalKind::terminate())?,
            int: signal(SignalKind::interrupt())?,
        })
    }

    /// Waits for either signal; returns its name.
    pub async fn recv(&mut self) -> &'static str {
        poll_fn(|cx| {
            if self.term.poll_recv(cx).is_ready() {
                return Poll::Ready("SIGTERM");
            }
            if self.int.poll_recv(cx).is_ready() {
                return Poll::Ready("SIGINT");
            }
            Poll::Pending
        })
        .await
    }

    /// Sleeps for `d` unless a signal comes first (then returns its name).
    pub async fn sleep(&mut self, d: Duration) -> Option<&'static str> {
        tokio::time::timeout(d, self.recv()).await.ok()
    }
}

/// What the entrypoint has installed so far, and what it watches.
#[derive(Debug, Default)]
pub struct State {
    /// Digests behind the kubeconfig last written.
    pub kubeconfig: Option<KubeconfigHashes>,
    /// The master config in use (auto mode).
    pub master: Option<PathBuf>,
    /// Digest of the master's bytes when the config was last generated.
    pub master_hash: Option<[u8; 32]>,
    /// Whether the master is currently missing (the loop waits for it).
    pub master_missing: bool,
    /// Config files written by this process, removed on exit with
    /// `--cleanup-config-on-exit`.
    pub written: Vec<PathBuf>,
}

impl State {
    fn record(&mut self, update: AutoconfUpdate) {
        self.master = Some(update.master);
        self.master_hash = Some(update.master_hash);
        if let Some(path) = update.written {
            // A cniVersion change switches between 00-multus.conf and
            // 00-multus.conflist: drop the one this process wrote before, or
            // the runtime would keep reading the stale one (sorted first).
            for old in self.written.iter().filter(|p| **p != path) {
                remove_if_present(old);
            }
            self.written.retain(|p| *p == path);
            if self.written.is_empty() {
                self.written.push(path);
            }
        }
    }

    /// Writes the kubeconfig, then copies the user's config or generates one.
    pub fn install(&mut self, options: &Options, server: &ApiServer) -> Result<(), Error> {
        let kube = ensure_kubeconfig(options, server, None)?;
        self.kubeconfig = Some(kube.hashes);
        if options.is_auto() {
            let update = ensure_multus_config(options, None)?;
            self.record(update);
        } else {
            let src = PathBuf::from(&options.multus_conf_file);
            let name = src
                .file_name()
                .map(|n| n.to_string_lossy().into_owned())
                .ok_or_else(|| {
                    Error::Config(format!("{} has no file name", options.multus_conf_file))
                })?;
            let dst =
                copy_file_atomic(&src, &options.cni_conf_dir, &format!("{name}.temp"), &name)?;
            println!("multus config file {} is copied.", options.multus_conf_file);
            self.written.push(dst);
        }
        Ok(())
    }

    /// One round of the watch loop: rewrite the kubeconfig if the service
    /// account changed; if the master is gone, wait for it; otherwise
    /// re-select the master and regenerate if its bytes changed.
    pub fn tick(&mut self, options: &Options, server: &ApiServer) -> Result<(), Error> {
        let kube = ensure_kubeconfig(options, server, self.kubeconfig.as_ref())?;
        self.kubeconfig = Some(kube.hashes);
        if let Some(master) = &self.master {
            let gone =
                matches!(fs::metadata(master), Err(e) if e.kind() == io::ErrorKind::NotFound);
            if gone {
                if !self.master_missing {
                    println!(
                        "Master plugin @ {:?} has been deleted. Waiting until it is back...",
                        master.display().to_string()
                    );
                    self.master_missing = true;
                }
                return Ok(());
            }
            if self.master_missing {
                println!(
                    "Master plugin @ {:?} was restored. Regenerating the configuration.",
                    master.display().to_string()
                );
                self.master_missing = false;
            }
        }
        let update = ensure_multus_config(options, self.master_hash.as_ref())?;
        self.record(update);
        Ok(())
    }

    /// Removes every config file this process wrote.
    pub fn cleanup(&mut self) {
        for path in self.written.drain(..) {
            remove_if_present(&path);
        }
    }
}

fn remove_if_present(path: &PathBuf) {
    match fs::remove_file(path) {
        Ok(()) => println!("removed {}", path.display()),
        Err(e) if e.kind() == io::ErrorKind::NotFound => {}
        Err(e) => eprintln!("cannot remove {}: {e}", path.display()),
    }
}

/// Runs everything after the path checks and the binary copy: install, then
/// wait or watch, then clean up. Returns the exit status.
pub async fn serve(options: &Options, server: &ApiServer) -> i32 {
    let mut signals = match Signals::new() {
        Ok(s) => s,
        Err(e) => {
            eprintln!("cannot install signal handlers: {e}");
            return 1;
        }
    };
    let mut state = State::default();
    let code = match state.install(options, server) {
        Err(e) => {
            eprintln!("failed to install the multus configuration: {e}");
            1
        }
        Ok(()) if options.watch_enabled() => {
            println!("Entering watch loop...");
            // A master caught mid-rewrite (or broken for a while) must not take
            // Multus off the node: the last good config stays, the error is
            // reported once, and the next tick tries again.
            let mut latch = FailureLatch::new();
            loop {
                if let Some(sig) = signals.sleep(WATCH_INTERVAL).await {
                    println!("received {sig}, exiting");
                    break 0;
                }
                match state.tick(options, server) {
                    Ok(()) => {
                        if latch.succeeded() {
                            println!("the multus configuration is up to date again");
                        }
                    }
                    Err(e) => {
                        let text = e.to_string();
                        if latch.failed(&text) {
                            eprintln!(
                                "failed to update the multus configuration (keeping the last one): {text}"
                            );
                        }
                    }
                }
            }
        }
        Ok(()) => {
            let sig = signals.recv().await;
            println!("received {sig}, exiting");
            0
        }
    };
    if options.cleanup_config_on_exit {
        state.cleanup();
    }
    code
}
