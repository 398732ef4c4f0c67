//! The shim's one error type.

use std::path::PathBuf;
use std::time::Duration;

use multus_types::{CniError, ErrorCode, ToCniError};

/// Everything that can go wrong between stdin and the daemon's answer.
/// The texts follow upstream's shim where it has one.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// A shim key in the CNI config has the wrong type.
    #[error("invalid CNI configuration passed to multus-shim: {0}")]
    Config(String),
    /// The daemon's socket could not be connected to.
    #[error("failed to send CNI request: dial unix {}: {source}", socket.display())]
    Connect {
        /// The socket path.
        socket: PathBuf,
        /// Why.
        source: std::io::Error,
    },
    /// The HTTP exchange failed or the answer was not HTTP/1.x.
    #[error("failed to send CNI request: {0}")]
    Http(String),
    /// A non-200 answer whose body is not a CNI error object.
    #[error("CNI request failed with status {status}: '{body}'")]
    Status {
        /// The HTTP status.
        status: u16,
        /// The body, as text.
        body: String,
    },
    /// The daemon answered with a CNI error object; printed as it came.
    #[error("{0}")]
    Cni(CniError),
    /// The daemon did not become ready in time (ADD, CHECK, STATUS, GC).
    #[error("multus daemon at {} not ready after {waited:?}: {last}", socket.display())]
    NotReady {
        /// The socket path.
        socket: PathBuf,
        /// How long the shim polled.
        waited: Duration,
        /// The last poll's failure.
        last: Box<Error>,
    },
    /// The one health check before DEL failed.
    #[error("CheckAPIReadyNow: Daemon not reachable over socketfile: {0}")]
    Unhealthy(Box<Error>),
    /// A 200 answer that is not the JSON the protocol defines.
    #[error("failed to unmarshal response '{body}': {reason}")]
    BadResponse {
        /// The body, as text.
        body: String,
        /// What was wrong.
        reason: String,
    },
    /// The daemon's result could not be written in the config's version.
    #[error("cannot print the daemon's result as version {version}: {source}")]
    Result {
        /// The config's `cniVersion`.
        version: String,
        /// The conversion error.
        source: multus_types::Error,
    },
    /// Upstream appends the config to errors of the `/cni` request itself.
    #[error("{source}: StdinData: {stdin}")]
    WithStdin {
        /// The request's failure.
        source: Box<Error>,
        /// The CNI config as sent.
        stdin: String,
    },
}

impl Error {
    /// The daemon's CNI error object, if that is what this error is.
    pub fn daemon_cni_error(&self) -> Option<&CniError> {
        match self {
            Self::Cni(e) => Some(e),
            Self::WithStdin { source, .. } => source.daemon_cni_error(),
            _ => None,
        }
    }
}

/// The daemon's code for its CNI errors, 999 (`Internal`) for everything else,
/// as Go's skel reports a plain error.
impl ToCniError for Error {
    fn cni_code(&self) -> ErrorCode {
        match self {
            Self::Cni(e) => e.code,
            Self::WithStdin { source, .. } => source.cni_code(),
            _ => ErrorCode::Internal,
        }
    }
}
