//! The config manager: generates `00-multus.conf` at start, then watches the
//! autoconfig dir and the readiness indicator file's dir with inotify.
//!
//! - A write to, creation of, or rename onto the primary file regenerates
//!   the config (the primary path is fixed at start, as upstream).
//! - A primary that cannot be used (half-written, invalid, incompatible
//!   version) leaves the last good file in place; upstream writes an empty
//!   file there. See [`FailureLatch`].
//! - Removal or rename of the readiness indicator file removes
//!   `00-multus.conf` and ends the manager with [`ConfigEvent::ReadinessLost`]:
//!   upstream's daemon exits with status 2 then, and the caller should too.

use std::io;
use std::path::{Path, PathBuf};
use std::time::Duration;

use notify::event::{ModifyKind, RenameMode};
use notify::{Event, EventKind, RecursiveMode, Watcher};
use tokio::sync::{mpsc, oneshot};
use tokio::task::JoinHandle;

use super::generator::{Generator, GeneratorConfig};
use super::latch::FailureLatch;
use super::primary::{
    DEFAULT_FIND_ATTEMPTS, DEFAULT_FIND_INTERVAL, PrimaryConfig, find_primary, force_cni_version,
};
use super::{Error, gojson, write_atomic};

/// Exit status of upstream's daemon when the readiness file goes away.
pub const READINESS_LOST_EXIT_CODE: i32 = 2;

/// What [`ConfigManager::start`] needs.
#[derive(Debug, Clone)]
pub struct ManagerSettings {
    /// The daemon config's generator keys.
    pub config: GeneratorConfig,
    /// How many times to look for a primary config (upstream: 120).
    pub find_attempts: u32,
    /// The pause between two looks (upstream: 1 s).
    pub find_interval: Duration,
}

impl ManagerSettings {
    /// Settings with upstream's timing.
    pub fn new(config: GeneratorConfig) -> Self {
        Self {
            config,
            find_attempts: DEFAULT_FIND_ATTEMPTS,
            find_interval: DEFAULT_FIND_INTERVAL,
        }
    }
}

/// What the manager reports while it runs.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum ConfigEvent {
    /// The primary changed and `00-multus.conf` was rewritten.
    Regenerated {
        /// The file written.
        path: PathBuf,
    },
    /// The primary changed but could not be used; the last good file stays.
    /// Reported once per distinct error.
    KeptLastGood {
        /// Why.
        error: String,
    },
    /// The readiness indicator file was removed or renamed: `00-multus.conf`
    /// was removed and the manager stopped. Exit with
    /// [`READINESS_LOST_EXIT_CODE`], as upstream.
    ReadinessLost {
        /// The readiness indicator file.
        readiness_file: PathBuf,
    },
    /// inotify reported an error; watching goes on.
    WatchError(String),
}

impl ConfigEvent {
    /// The exit status the daemon should end with, for events that end it.
    pub fn exit_code(&self) -> Option<i32> {
        match self {
            Self::ReadinessLost { .. } => Some(READINESS_LOST_EXIT_CODE),
            _ => None,
        }
    }
}

/// Starts the config manager; see [`ConfigManager::start`].
#[derive(Debug)]
pub struct ConfigManager;

/// The running manager. [`ConfigManagerHandle::shutdown`] stops it and
/// removes the generated file; dropping the handle only stops watching
/// (the file stays).
#[derive(Debug)]
pub struct ConfigManagerHandle {
    generated: PathBuf,
    primary: PathBuf,
    stop: Option<oneshot::Sender<()>>,
    task: Option<JoinHandle<()>>,
}

impl ConfigManager {
    /// Finds the primary config (`multusMasterCNI`, or the first config in
    /// the autoconfig dir, waited for), applies `forceCNIVersion`, starts
    /// watching, loads the primary (version check, capabilities,
    /// `overrideNetworkName`), writes `<cniConfigDir>/00-multus.conf` (mode
    /// 0600, atomically) and returns the handle and the event stream. Needs
    /// a tokio runtime with the time driver.
    ///
    /// # Errors
    /// Any [`Error`]: no primary in time, an unusable primary, a version
    /// mismatch, the primary being the generated file, inotify or I/O
    /// failures. Upstream's daemon exits with status 2 on these.
    pub async fn start(
        settings: ManagerSettings,
    ) -> Result<(ConfigManagerHandle, mpsc::UnboundedReceiver<ConfigEvent>), Error> {
        let config = settings.config;
        let autoconfig_dir = config.multus_autoconfig_dir.clone();
        let primary_name = if config.multus_master_cni.is_empty() {
            find_primary(
                &autoconfig_dir,
                settings.find_attempts,
                settings.find_interval,
            )
            .await?
        } else {
            config.multus_master_cni.clone()
        };
        let primary_path = gojson::join_path(&autoconfig_dir, &primary_name);
        let generated = config.generated_path();
        if Path::new(&primary_path) == Path::new(&generated) {
            return Err(Error::Recursive(generated));
        }
        if config.force_cni_version {
            force_cni_version(&primary_path, &config.cni_version)?;
        }

        let readiness = (!config.readiness_indicator_file.is_empty())
            .then(|| PathBuf::from(gojson::clean_path(&config.readiness_indicator_file)));
        let (raw_tx, raw_rx) = mpsc::unbounded_channel();
        let watcher = watch_dirs(&autoconfig_dir, readiness.as_deref(), raw_tx)?;

        let primary = PrimaryConfig::read(&primary_path)?;
        let override_name = config.override_network_name;
        let mut generator = Generator::new(config);
        generator.load(&primary)?;
        if override_name {
            generator.override_name(&primary)?;
        }
        let generated = PathBuf::from(generated);
        persist(&generated, &generator.render())?;

        let (events_tx, events_rx) = mpsc::unbounded_channel();
        let (stop_tx, stop_rx) = oneshot::channel();
        let state = Watching {
            generator,
            primary: PathBuf::from(&primary_path),
            readiness,
            generated: generated.clone(),
            latch: FailureLatch::new(),
            events: events_tx,
        };
        let task = tokio::spawn(state.run(watcher, raw_rx, stop_rx));
        Ok((
            ConfigManagerHandle {
                generated,
                primary: PathBuf::from(primary_path),
                stop: Some(stop_tx),
                task: Some(task),
            },
            events_rx,
        ))
    }
}

impl ConfigManagerHandle {
    /// `<cniConfigDir>/00-multus.conf`.
    pub fn generated_path(&self) -> &Path {
        &self.generated
    }

    /// The primary config the generated file points at (`clusterNetwork`).
    pub fn primary_path(&self) -> &Path {
        &self.primary
    }

    /// Stops watching and removes the generated file (upstream does this
    /// when its context is cancelled on SIGTERM/SIGINT).
    ///
    /// # Errors
    /// [`Error::Io`] when the file exists but cannot be removed.
    pub async fn shutdown(mut self) -> Result<(), Error> {
        if let Some(stop) = self.stop.take() {
            let _ = stop.send(());
        }
        if let Some(task) = self.task.take() {
            let _ = task.await;
        }
        remove_generated(&self.generated).map(drop)
    }
}

/// Removes the generated file; `Ok(false)` when it was not there.
///
/// # Errors
/// [`Error::Io`] for any failure but "not found".
pub fn remove_generated(path: &Path) -> Result<bool, Error> {
    match std::fs::remove_file(path) {
        Ok(()) => Ok(true),
        Err(e) if e.kind() == io::ErrorKind::NotFound => Ok(false),
        Err(source) => Err(Error::Io {
            context: format!("cannot remove {}", path.display()),
            source,
        }),
    }
}

fn persist(path: &Path, text: &str) -> Result<(), Error> {
    let mut temp = path.as_os_str().to_owned();
    temp.push(".new");
    write_atomic(path, Path::new(&temp), text.as_bytes(), 0o600)
}

type RawEvents = mpsc::UnboundedReceiver<notify::Result<Event>>;

/// Watches the autoconfig dir, and the readiness file's dir when it differs.
fn watch_dirs(
    autoconfig_dir: &str,
    readiness: Option<&Path>,
    tx: mpsc::UnboundedSender<notify::Result<Event>>,
) -> Result<notify::RecommendedWatcher, Error> {
    let mut watcher = notify::recommended_watcher(move |event| {
        let _ = tx.send(event);
    })
    .map_err(|e| Error::Watch {
        path: autoconfig_dir.to_owned(),
        message: e.to_string(),
    })?;
    // Watch the cleaned path, so event paths compare equal to the primary's.
    let dir = PathBuf::from(gojson::clean_path(autoconfig_dir));
    let mut add = |path: &Path| {
        watcher
            .watch(path, RecursiveMode::NonRecursive)
            .map_err(|e| Error::Watch {
                path: path.display().to_string(),
                message: e.to_string(),
            })
    };
    add(&dir)?;
    if let Some(parent) = readiness.and_then(Path::parent)
        && parent != dir
    {
        add(parent)?;
    }
    Ok(watcher)
}

/// What an inotify event means to the manager.
#[derive(Debug, PartialEq, Eq)]
enum Action {
    Ignore,
    Regenerate,
    ReadinessLost,
}

/// fsnotify's view, as upstream filters it: Remove or Rename of the
/// readiness file; Write or Create (a rename onto it included) of the
/// primary. Attribute changes and reads are ignored. notify reports a rename
/// as `From` and `To` and, when it pairs them, an extra `Both`; only the
/// first two count, or one rename would regenerate twice.
fn classify(event: &Event, primary: &Path, readiness: Option<&Path>) -> Action {
    let is = |p: Option<&PathBuf>, want: &Path| p.is_some_and(|p| p == want);
    let first = event.paths.first();
    if let Some(ready) = readiness {
        let gone = match event.kind {
            EventKind::Remove(_) => is(first, ready),
            EventKind::Modify(ModifyKind::Name(RenameMode::From | RenameMode::Any)) => {
                is(first, ready)
            }
            _ => false,
        };
        if gone {
            return Action::ReadinessLost;
        }
    }
    let touched = match event.kind {
        EventKind::Create(_) | EventKind::Modify(ModifyKind::Data(_) | ModifyKind::Any) => {
            is(first, primary)
        }
        EventKind::Modify(ModifyKind::Name(RenameMode::To)) => is(first, primary),
        _ => false,
    };
    if touched {
        Action::Regenerate
    } else {
        Action::Ignore
    }
}

/// The watch loop's state.
struct Watching {
    generator: Generator,
    primary: PathBuf,
    readiness: Option<PathBuf>,
    generated: PathBuf,
    latch: FailureLatch,
    events: mpsc::UnboundedSender<ConfigEvent>,
}

impl Watching {
    async fn run(
        mut self,
        watcher: notify::RecommendedWatcher,
        mut raw: RawEvents,
        mut stop: oneshot::Receiver<()>,
    ) {
        // The watcher lives as long as the loop: dropping it ends inotify.
        let _watcher = watcher;
        loop {
            tokio::select! {
                _ = &mut stop => return,
                event = raw.recv() => match event {
                    None => return,
                    Some(Err(e)) => self.report(ConfigEvent::WatchError(e.to_string())),
                    Some(Ok(event)) => {
                        match classify(&event, &self.primary, self.readiness.as_deref()) {
                            Action::Ignore => {}
                            Action::Regenerate => self.regenerate(),
                            Action::ReadinessLost => {
                                if let Err(e) = remove_generated(&self.generated) {
                                    self.report(ConfigEvent::WatchError(e.to_string()));
                                }
                                let readiness_file = self.readiness.clone().unwrap_or_default();
                                self.report(ConfigEvent::ReadinessLost { readiness_file });
                                return;
                            }
                        }
                    }
                },
            }
        }
    }

    fn regenerate(&mut self) {
        let primary = self.primary.to_string_lossy().into_owned();
        let result = PrimaryConfig::read(&primary).and_then(|p| {
            let mut next = self.generator.clone();
            next.load(&p)?;
            persist(&self.generated, &next.render())?;
            Ok(next)
        });
        match result {
            Ok(next) => {
                self.generator = next;
                self.latch.succeeded();
                self.report(ConfigEvent::Regenerated {
                    path: self.generated.clone(),
                });
            }
            Err(e) => {
                let error = e.to_string();
                if self.latch.failed(&error) {
                    self.report(ConfigEvent::KeptLastGood { error });
                }
            }
        }
    }

    fn report(&self, event: ConfigEvent) {
        // Nobody listening is fine: the files are what matters.
        let _ = self.events.send(event);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use notify::event::{CreateKind, DataChange, MetadataKind, RemoveKind};

    fn ev(kind: EventKind, paths: &[&str]) -> Event {
        let mut e = Event::new(kind);
        for p in paths {
            e = e.add_path(PathBuf::from(p));
        }
        e
    }

    #[test]
    fn events_as_upstream_filters_them() {
        let p = Path::new("/d/10-a.conf");
        let r = Some(Path::new("/r/ready"));
        let data = EventKind::Modify(ModifyKind::Data(DataChange::Any));
        assert_eq!(
            classify(&ev(data, &["/d/10-a.conf"]), p, r),
            Action::Regenerate
        );
        assert_eq!(classify(&ev(data, &["/d/10-b.conf"]), p, r), Action::Ignore);
        let create = EventKind::Create(CreateKind::File);
        assert_eq!(
            classify(&ev(create, &["/d/10-a.conf"]), p, r),
            Action::Regenerate
        );
        let to = EventKind::Modify(ModifyKind::Name(RenameMode::To));
        assert_eq!(
            classify(&ev(to, &["/d/10-a.conf"]), p, r),
            Action::Regenerate
        );
        let both = EventKind::Modify(ModifyKind::Name(RenameMode::Both));
        assert_eq!(
            classify(&ev(both, &["/d/x.tmp", "/d/10-a.conf"]), p, r),
            Action::Ignore
        );
        let meta = EventKind::Modify(ModifyKind::Metadata(MetadataKind::Any));
        assert_eq!(classify(&ev(meta, &["/d/10-a.conf"]), p, r), Action::Ignore);
        let removed = EventKind::Remove(RemoveKind::File);
        assert_eq!(
            classify(&ev(removed, &["/d/10-a.conf"]), p, r),
            Action::Ignore
        );
        assert_eq!(
            classify(&ev(removed, &["/r/ready"]), p, r),
            Action::ReadinessLost
        );
        let from = EventKind::Modify(ModifyKind::Name(RenameMode::From));
        assert_eq!(
            classify(&ev(from, &["/r/ready"]), p, r),
            Action::ReadinessLost
        );
        assert_eq!(
            classify(&ev(both, &["/r/ready", "/r/ready.old"]), p, r),
            Action::Ignore
        );
        assert_eq!(classify(&ev(create, &["/r/ready"]), p, r), Action::Ignore);
        assert_eq!(
            classify(&ev(removed, &["/r/ready"]), p, None),
            Action::Ignore
        );
    }
}
