//! The few keys of the CNI config the shim itself reads. Everything else on
//! stdin is the daemon's business and is forwarded untouched.

use std::path::PathBuf;
use std::time::Duration;

use serde::Deserialize;

use crate::Error;

/// Where the daemon's socket directory is when the config names none.
pub const DEFAULT_SOCKET_DIR: &str = "/run/multus/";
/// The socket's file name inside the socket directory.
pub const SOCKET_NAME: &str = "multus.sock";
/// Interval between two readiness polls (upstream's `APIReadyPollDuration`).
pub const READY_POLL_INTERVAL: Duration = Duration::from_millis(100);
/// How long ADD/CHECK/STATUS/GC wait for the daemon to be ready
/// (upstream's `APIReadyPollTimeout`).
pub const READY_POLL_TIMEOUT: Duration = Duration::from_secs(60);
/// The hidden config key that shortens [`READY_POLL_TIMEOUT`], in
/// milliseconds. For tests; upstream has no such key (and ignores it).
pub const READY_TIMEOUT_KEY: &str = "shimReadyTimeoutMs";

/// The shim's settings, read from the CNI config on stdin.
///
/// ```
/// use multus_shim::ShimConf;
/// let conf = ShimConf::from_bytes(br#"{"cniVersion":"0.3.1","name":"multus-cni-network"}"#)?;
/// assert_eq!(conf.socket_path(), std::path::Path::new("/run/multus/multus.sock"));
/// assert_eq!(conf.ready_timeout(), std::time::Duration::from_secs(60));
/// # Ok::<(), multus_shim::Error>(())
/// ```
#[derive(Debug, Clone, Default, PartialEq, Eq, Deserialize)]
pub struct ShimConf {
    /// `cniVersion`: the version the ADD result is printed in.
    #[serde(rename = "cniVersion", default)]
    pub cni_version: String,
    /// `daemonSocketDir`: where `multus.sock` is (default `/run/multus/`).
    #[serde(rename = "daemonSocketDir", default)]
    pub daemon_socket_dir: String,
    /// `logFile`: append log lines to this file.
    #[serde(rename = "logFile", default)]
    pub log_file: String,
    /// `logLevel`: `panic` (default), `error`, `verbose` or `debug`.
    #[serde(rename = "logLevel", default)]
    pub log_level: String,
    /// `logToStderr` (default false, as upstream's shim).
    #[serde(rename = "logToStderr", default)]
    pub log_to_stderr: bool,
    /// Hidden: [`READY_TIMEOUT_KEY`].
    #[serde(rename = "shimReadyTimeoutMs", default)]
    pub ready_timeout_ms: Option<u64>,
}

impl ShimConf {
    /// Reads the shim's keys from the CNI config. A `null` value counts as
    /// absent, as in Go.
    ///
    /// # Errors
    /// [`Error::Config`] when a key has the wrong type (e.g. `"logToStderr": "yes"`).
    pub fn from_bytes(stdin: &[u8]) -> Result<Self, Error> {
        let mut value: serde_json::Value = serde_json::from_slice(stdin).map_err(|e| {
            Error::Config(format!("failed to gather the multus configuration: {e}"))
        })?;
        if let Some(map) = value.as_object_mut() {
            map.retain(|_, v| !v.is_null());
        }
        serde_json::from_value(value)
            .map_err(|e| Error::Config(format!("failed to gather the multus configuration: {e}")))
    }

    /// `<daemonSocketDir>/multus.sock`.
    pub fn socket_path(&self) -> PathBuf {
        let dir = if self.daemon_socket_dir.is_empty() {
            DEFAULT_SOCKET_DIR
        } else {
            &self.daemon_socket_dir
        };
        PathBuf::from(dir).join(SOCKET_NAME)
    }

    /// How long to wait for the daemon before ADD/CHECK/STATUS/GC.
    pub fn ready_timeout(&self) -> Duration {
        self.ready_timeout_ms
            .map_or(READY_POLL_TIMEOUT, Duration::from_millis)
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    #[test]
    fn reads_its_keys_and_ignores_the_rest() {
        let conf = ShimConf::from_bytes(
            br#"{"cniVersion":"1.0.0","name":"m","daemonSocketDir":"/tmp/s","logToStderr":true,
                 "logLevel":"debug","logFile":null,"clusterNetwork":"x","shimReadyTimeoutMs":5}"#,
        )
        .unwrap();
        assert_eq!(conf.socket_path(), PathBuf::from("/tmp/s/multus.sock"));
        assert!(conf.log_to_stderr);
        assert_eq!(conf.log_file, "");
        assert_eq!(conf.ready_timeout(), Duration::from_millis(5));
    }

    #[test]
    fn wrong_types_are_named() {
        let e = ShimConf::from_bytes(br#"{"logToStderr":"yes"}"#).unwrap_err();
        assert!(
            e.to_string()
                .starts_with("invalid CNI configuration passed to multus-shim: failed to gather the multus configuration: invalid type"),
            "{e}"
        );
    }
}
