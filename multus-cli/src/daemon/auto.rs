//! `multusConfigFile: auto`: the daemon's [`ConfigManager`] over
//! [`crate::confgen::ConfigManager`]. It generates `00-multus.conf` before
//! the socket is served, keeps it current while the daemon runs, ends the
//! daemon with exit status 2 when the readiness indicator file goes away, and
//! removes the generated file at shutdown (after in-flight requests finished:
//! the daemon calls [`ConfigManager::stop`] only then).

use std::time::Duration;

use tokio::task::JoinHandle;

use super::{ConfigManager, DaemonConfig, Stopper};
use crate::confgen::{self, ConfigEvent, ConfigManagerHandle, GeneratorConfig, ManagerSettings};
use crate::{error, verbose};

/// The config generator/manager of `multusConfigFile: auto`, as the daemon's
/// [`ConfigManager`].
#[derive(Debug, Default)]
pub struct GeneratedConfig {
    find: Option<(u32, Duration)>,
    handle: Option<ConfigManagerHandle>,
    events: Option<JoinHandle<()>>,
}

impl GeneratedConfig {
    /// With upstream's timing: the primary config is looked for 120 times,
    /// once a second.
    pub fn new() -> Self {
        Self::default()
    }

    /// Looks for the primary config `attempts` times, `interval` apart.
    pub fn with_find_timing(mut self, attempts: u32, interval: Duration) -> Self {
        self.find = Some((attempts, interval));
        self
    }
}

impl ConfigManager for GeneratedConfig {
    async fn start(&mut self, config: &DaemonConfig, stopper: Stopper) -> Result<(), String> {
        // The generator reads its keys from the same file as the daemon.
        let bytes = serde_json::to_vec(&config.overlay).map_err(|e| e.to_string())?;
        let generator = GeneratorConfig::from_slice(&bytes).map_err(|e| e.to_string())?;
        let mut settings = ManagerSettings::new(generator);
        if let Some((attempts, interval)) = self.find {
            settings.find_attempts = attempts;
            settings.find_interval = interval;
        }
        let (handle, mut events) = confgen::ConfigManager::start(settings)
            .await
            .map_err(|e| e.to_string())?;
        verbose!(
            "generated {} (clusterNetwork {})",
            handle.generated_path().display(),
            handle.primary_path().display()
        );
        self.handle = Some(handle);
        self.events = Some(tokio::spawn(async move {
            while let Some(event) = events.recv().await {
                match &event {
                    ConfigEvent::Regenerated { path } => {
                        verbose!("primary CNI config changed: regenerated {}", path.display());
                    }
                    ConfigEvent::KeptLastGood { error: e } => {
                        error!(
                            "primary CNI config unusable, the last good multus config stays: {e}"
                        );
                    }
                    ConfigEvent::ReadinessLost { readiness_file } => {
                        error!(
                            "readiness indicator file {} is gone: multus config removed, stopping",
                            readiness_file.display()
                        );
                    }
                    ConfigEvent::WatchError(e) => error!("config watch: {e}"),
                }
                if let Some(code) = event.exit_code() {
                    stopper.stop(u8::try_from(code).unwrap_or(1));
                    return;
                }
            }
        }));
        Ok(())
    }

    async fn stop(&mut self) {
        if let Some(task) = self.events.take() {
            task.abort();
        }
        if let Some(handle) = self.handle.take() {
            let path = handle.generated_path().to_owned();
            match handle.shutdown().await {
                Ok(()) => verbose!("removed {}", path.display()),
                Err(e) => error!("{e}"),
            }
        }
    }
}
