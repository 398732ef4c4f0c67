//! The error type of this crate.

use std::io;
use std::path::PathBuf;

use multus_types::{ErrorCode, ToCniError};

/// Errors of `multus-netns`.
///
/// Every variant carries the context a user needs: the namespace path, the
/// interface name, the file.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// The namespace path does not exist.
    #[error("network namespace {path:?} does not exist")]
    NetNsNotFound {
        /// The path that was opened.
        path: PathBuf,
    },
    /// The path exists but is not a network namespace.
    #[error("{path:?} is not a network namespace: {reason}")]
    NotNetNs {
        /// The path that was opened.
        path: PathBuf,
        /// Why it was refused (filesystem magic, `setns` answer).
        reason: String,
    },
    /// The namespace path could not be opened or inspected.
    #[error("failed to open network namespace {path:?}: {source}")]
    NetNsOpen {
        /// The path that was opened.
        path: PathBuf,
        /// The operating system's error.
        source: io::Error,
    },
    /// Entering the namespace or creating the netlink socket in it failed.
    #[error("failed to open a netlink socket in network namespace {path:?}: {reason}")]
    Socket {
        /// The namespace path.
        path: PathBuf,
        /// What failed.
        reason: String,
    },
    /// Netlink work was started outside a tokio runtime.
    #[error(
        "netlink in network namespace {path:?} needs a tokio runtime with I/O enabled, and none is running"
    )]
    NoRuntime {
        /// The namespace path.
        path: PathBuf,
    },
    /// No interface of that name in the namespace.
    #[error("interface {name:?} not found in network namespace {netns:?}")]
    LinkNotFound {
        /// The namespace path.
        netns: PathBuf,
        /// The interface name that was looked up.
        name: String,
    },
    /// A netlink request failed.
    #[error("netlink: {op} in network namespace {netns:?} failed: {source}")]
    Netlink {
        /// The namespace path.
        netns: PathBuf,
        /// What was being done, e.g. `list routes`, `delete route default via 192.0.2.1 dev eth0`.
        op: String,
        /// The netlink error.
        source: rtnetlink::Error,
    },
    /// A default route via the gateway could not be added because another
    /// default route with the same metric is in the way.
    #[error(
        "cannot add default route via {gateway} dev {ifname} in network namespace {netns:?}: a default route with the same metric already exists ({existing})"
    )]
    DefaultRouteConflict {
        /// The namespace path.
        netns: PathBuf,
        /// The interface the route was meant for.
        ifname: String,
        /// The requested gateway.
        gateway: std::net::IpAddr,
        /// The default routes of that family found in the main table.
        existing: String,
    },
    /// A cached result that this crate cannot rewrite (unsupported version,
    /// unexpected shape). The message follows upstream's wording.
    #[error("{0}")]
    CachedResult(String),
    /// The readiness indicator file did not appear in time (text as upstream).
    #[error(
        "have you checked that your default network is ready? still waiting for readinessindicatorfile @ {path}. pollimmediate error: {reason}"
    )]
    ReadinessTimeout {
        /// The path as configured.
        path: String,
        /// Why waiting ended: `timed out waiting for the condition`, or a path error.
        reason: String,
    },
    /// Checking whether the readiness indicator file exists failed for a
    /// reason other than its absence.
    #[error("error checking readinessindicatorfile @ {path:?}: {source}")]
    ReadinessCheck {
        /// The path as configured.
        path: PathBuf,
        /// The `stat` error.
        source: io::Error,
    },
}

impl Error {
    /// Whether a netlink error carries this errno (positive, e.g. `libc::EEXIST`).
    pub(crate) fn netlink_errno(err: &rtnetlink::Error) -> Option<i32> {
        match err {
            rtnetlink::Error::NetlinkError(msg) => Some(msg.raw_code().abs()),
            _ => None,
        }
    }
}

impl ToCniError for Error {
    fn cni_code(&self) -> ErrorCode {
        match self {
            Self::NetNsNotFound { .. } | Self::NotNetNs { .. } | Self::NetNsOpen { .. } => {
                ErrorCode::InvalidNetNs
            }
            Self::ReadinessCheck { .. } => ErrorCode::IoFailure,
            Self::CachedResult(_) => ErrorCode::DecodingFailure,
            Self::Socket { .. }
            | Self::NoRuntime { .. }
            | Self::LinkNotFound { .. }
            | Self::Netlink { .. }
            | Self::DefaultRouteConflict { .. }
            | Self::ReadinessTimeout { .. } => ErrorCode::Internal,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn codes() {
        let e = Error::NetNsNotFound {
            path: "/run/netns/x".into(),
        };
        assert_eq!(e.cni_code(), ErrorCode::InvalidNetNs);
        assert_eq!(
            e.to_cni_error().msg,
            "network namespace \"/run/netns/x\" does not exist"
        );
    }

    #[test]
    fn readiness_text_matches_upstream() {
        let e = Error::ReadinessTimeout {
            path: "/run/flannel/subnet.env".into(),
            reason: "timed out waiting for the condition".into(),
        };
        assert_eq!(
            e.to_string(),
            "have you checked that your default network is ready? still waiting for readinessindicatorfile @ /run/flannel/subnet.env. pollimmediate error: timed out waiting for the condition"
        );
    }
}
