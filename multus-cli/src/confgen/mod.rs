//! The thick plugin's config generator and manager (upstream's
//! `pkg/server/config`): write `<cniConfigDir>/00-multus.conf`, which points
//! the `multus-shim` at the node's primary CNI config, and keep it current.
//!
//! - [`GeneratorConfig`]: the generator keys of the daemon config.
//! - [`Generator`]: the text of `00-multus.conf`, byte for byte as upstream's
//!   `json.Marshal` writes it.
//! - [`ConfigManager`]: finds the primary, writes the file, watches the
//!   primary and the readiness indicator file with inotify, regenerates, and
//!   reports to the daemon through [`ConfigEvent`]s (readiness loss = exit 2).
//!
//! ```no_run
//! # async fn run() -> Result<i32, multus_cli::confgen::Error> {
//! use multus_cli::confgen::{ConfigManager, GeneratorConfig, ManagerSettings};
//! use std::path::Path;
//!
//! let config = GeneratorConfig::from_file(Path::new("/etc/cni/net.d/multus.d/daemon-config.json"))?;
//! let (handle, mut events) = ConfigManager::start(ManagerSettings::new(config)).await?;
//! while let Some(event) = events.recv().await {
//!     if let Some(code) = event.exit_code() {
//!         return Ok(code); // the readiness file is gone: upstream exits 2
//!     }
//! }
//! handle.shutdown().await?; // on SIGTERM: stop watching, remove 00-multus.conf
//! # Ok(0) }
//! ```

pub mod generator;
pub mod gojson;
pub mod latch;
pub mod manager;
pub mod primary;

use std::io;
use std::path::Path;

pub use generator::{GENERATED_FILE_NAME, Generator, GeneratorConfig};
pub use latch::FailureLatch;
pub use manager::{
    ConfigEvent, ConfigManager, ConfigManagerHandle, ManagerSettings, remove_generated,
};
pub use primary::PrimaryConfig;

/// Why the config could not be generated or managed.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// The daemon config is not a JSON object or a key has the wrong type.
    #[error("failed to unmarshall the daemon configuration: {0}")]
    DaemonConfig(String),
    /// A file operation failed.
    #[error("{context}: {source}")]
    Io {
        /// What was being done, with the path.
        context: String,
        /// The error.
        source: io::Error,
    },
    /// No primary config appeared in the autoconfig dir in time.
    #[error("could not find a plugin configuration in {0}")]
    NoPrimary(String),
    /// The primary config cannot be used (not JSON, bad `plugins` or
    /// `capabilities`, no name to take).
    #[error("{0}")]
    Primary(String),
    /// The CNI versions do not go together (or ours is not a semantic version).
    #[error("{0}")]
    Version(String),
    /// The primary would be the generated file itself.
    #[error("cannot specify {0} to prevent recursive config load")]
    Recursive(String),
    /// inotify could not be set up on a directory.
    #[error("failed to add a watch on {path}: {message}")]
    Watch {
        /// The directory.
        path: String,
        /// notify's error.
        message: String,
    },
}

/// The entrypoint's atomic write (temp file, sync, rename), with this module's error.
pub(crate) fn write_atomic(
    path: &Path,
    temp: &Path,
    contents: &[u8],
    mode: u32,
) -> Result<(), Error> {
    crate::entrypoint::install::write_atomic(path, temp, contents, mode).map_err(|e| match e {
        crate::entrypoint::Error::Io { context, source } => Error::Io { context, source },
        other => Error::Io {
            context: format!("cannot write {}", path.display()),
            source: io::Error::other(other.to_string()),
        },
    })
}
