//! The plugin's error type: every crate's error, mapped onto a CNI error code.

use multus_types::{CniError, ErrorCode, ToCniError};

/// Why a CNI operation failed.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// The config, `CNI_ARGS` or a result did not parse.
    #[error(transparent)]
    Types(#[from] multus_types::Error),
    /// Running the delegates failed.
    #[error(transparent)]
    Delegate(#[from] multus_delegate::Error),
    /// Talking to Kubernetes or resolving the pod's networks failed.
    #[error(transparent)]
    K8s(#[from] multus_k8s::Error),
    /// The pod's network namespace or netlink failed.
    #[error(transparent)]
    Netns(#[from] multus_netns::Error),
    /// Reading a device-info file or similar local I/O.
    #[error("{what}: {source}")]
    Io {
        /// What was being done.
        what: String,
        /// The OS error.
        source: std::io::Error,
    },
    /// An interface of that name already exists in the pod.
    #[error("validateIfName: interface name {0} already exists")]
    IfnameTaken(String),
    /// Context added at the top: `Multus: [<ns>/<name>/<uid>]: <error>`.
    #[error("Multus: [{pod}]: {source}")]
    Pod {
        /// `<namespace>/<name>/<uid>`.
        pod: String,
        /// What went wrong.
        source: Box<Error>,
    },
}

impl Error {
    /// Wraps the error with upstream's top-level `Multus: [<pod>]: ` prefix.
    pub fn in_pod(self, pod: String) -> Self {
        Self::Pod {
            pod,
            source: Box::new(self),
        }
    }
}

impl ToCniError for Error {
    fn cni_code(&self) -> ErrorCode {
        match self {
            Self::Types(e) => e.cni_code(),
            Self::Delegate(e) => e.cni_code(),
            Self::K8s(e) => e.cni_code(),
            Self::Netns(e) => e.cni_code(),
            Self::Io { .. } => ErrorCode::IoFailure,
            Self::IfnameTaken(_) => ErrorCode::Internal,
            Self::Pod { source, .. } => source.cni_code(),
        }
    }

    fn to_cni_error(&self) -> CniError {
        CniError::new(self.cni_code(), self.to_string())
    }
}
