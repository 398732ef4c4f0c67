//! The crate's error type.

use std::io;
use std::path::{Path, PathBuf};
use std::process::ExitStatus;
use std::time::Duration;

use multus_types::{CniError, ErrorCode, ToCniError};

use crate::Command;

/// Everything that can go wrong while running CNI plugins.
///
/// Each variant carries what a user needs to act on it: the plugin's path,
/// exit status and stderr, the directories searched, the cache file. Errors of
/// one plugin inside a configuration list are wrapped in
/// [`Error::PluginStep`], whose text reads like libcni's
/// (`plugin type="bridge" name="blue" failed (add): ...`).
///
/// [`ToCniError`] maps every variant to a CNI error code; a CNI error printed
/// by a plugin keeps the plugin's own code.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// A plugin `type` that cannot name a file in a directory.
    #[error("invalid plugin name {plugin_type:?}: {reason}")]
    InvalidPluginName {
        /// The `type` as configured.
        plugin_type: String,
        /// Why it is refused.
        reason: &'static str,
    },

    /// No directory of the search path holds the plugin as a regular file.
    #[error("failed to find plugin {plugin_type:?} in path [{}]", join_paths(dirs))]
    PluginNotFound {
        /// The `type` looked for.
        plugin_type: String,
        /// The directories searched, in order (empty when none were given).
        dirs: Vec<PathBuf>,
    },

    /// The plugin could not be started.
    #[error("failed to execute plugin {}: {source}", path.display())]
    Spawn {
        /// The plugin binary.
        path: PathBuf,
        /// The operating system's error.
        source: io::Error,
    },

    /// Reading from or waiting for a running plugin failed.
    #[error("plugin {}: {what}: {source}", path.display())]
    Io {
        /// The plugin binary.
        path: PathBuf,
        /// What was being done.
        what: &'static str,
        /// The operating system's error.
        source: io::Error,
    },

    /// The plugin failed and printed a CNI error object; the text is the
    /// plugin's own (`msg; details`), as libcni reports it.
    #[error("{error}")]
    Plugin {
        /// The plugin binary.
        path: PathBuf,
        /// The error object the plugin printed on stdout.
        error: Box<CniError>,
        /// How the plugin exited.
        status: ExitStatus,
        /// What the plugin wrote on stderr.
        stderr: String,
    },

    /// The plugin failed without printing a CNI error object.
    #[error("{}", describe_failure(path, *status, stdout, stderr, parse_error.as_deref()))]
    PluginFailed {
        /// The plugin binary.
        path: PathBuf,
        /// How the plugin exited.
        status: ExitStatus,
        /// What the plugin wrote on stdout (not a CNI error object).
        stdout: String,
        /// What the plugin wrote on stderr.
        stderr: String,
        /// Why stdout is not a CNI error object, when it is not empty.
        parse_error: Option<String>,
    },

    /// The plugin did not finish in time; it and its process group were killed.
    #[error("plugin {} timed out after {} and was killed{}", path.display(), secs(*timeout), stderr_suffix(stderr))]
    Timeout {
        /// The plugin binary.
        path: PathBuf,
        /// The timeout that expired.
        timeout: Duration,
        /// What the plugin had written on stderr.
        stderr: String,
    },

    /// The plugin succeeded but its stdout is not a result of its version.
    #[error("plugin {} returned an invalid result: {source}; output: {stdout:?}", path.display())]
    InvalidResult {
        /// The plugin binary.
        path: PathBuf,
        /// What the plugin wrote on stdout.
        stdout: String,
        /// Why it is not a result.
        source: multus_types::Error,
    },

    /// A container id, interface name or network name that libcni would refuse.
    #[error("{0}")]
    InvalidArgument(CniError),

    /// A configuration or result that `multus-types` refused.
    #[error(transparent)]
    Types(#[from] multus_types::Error),

    /// The configuration's version predates the command.
    #[error("configuration version {version:?} does not support the {command} command")]
    UnsupportedCommand {
        /// The configuration's `cniVersion`.
        version: String,
        /// The command asked for.
        command: Command,
    },

    /// The result cache needs a network name, container id and interface name.
    #[error(
        "cache file path requires network name ({network:?}), container ID ({container_id:?}), and interface name ({ifname:?})"
    )]
    CacheKey {
        /// The network name given.
        network: String,
        /// The container id given.
        container_id: String,
        /// The interface name given.
        ifname: String,
    },

    /// Reading or writing a result cache file failed.
    #[error("result cache {}: {source}", path.display())]
    CacheIo {
        /// The cache file or directory.
        path: PathBuf,
        /// The operating system's error.
        source: io::Error,
    },

    /// A result cache file that cannot be used.
    #[error("result cache {}: {reason}", path.display())]
    CacheInvalid {
        /// The cache file.
        path: PathBuf,
        /// What is wrong with it.
        reason: String,
    },

    /// A caller's edit of a cached result failed
    /// ([`ResultCache::update_result`](crate::ResultCache::update_result));
    /// the file was left as it was.
    #[error("result cache {}: {source}", path.display())]
    CacheUpdate {
        /// The cache file.
        path: PathBuf,
        /// The edit's error.
        source: Box<dyn std::error::Error + Send + Sync + 'static>,
    },

    /// A `VERSION` reply that does not decode.
    #[error("decoding version info of plugin {}: {reason}", path.display())]
    VersionInfo {
        /// The plugin binary.
        path: PathBuf,
        /// What is wrong with the reply.
        reason: String,
    },

    /// A plugin whose `VERSION` reply does not list the configuration's version.
    #[error("plugin {plugin_type} does not support config version {version:?} (it supports [{}])", supported.join(", "))]
    VersionUnsupported {
        /// The plugin `type`.
        plugin_type: String,
        /// The configuration's version.
        version: String,
        /// What the plugin supports.
        supported: Vec<String>,
    },

    /// No version offered by a configuration list is supported by all its plugins.
    #[error(
        "network {network:?}: no CNI version of [{}] is supported by every plugin ({})",
        offered.join(", "),
        plugins.iter().map(|(t, v)| format!("{t} supports [{}]", v.join(", "))).collect::<Vec<_>>().join("; ")
    )]
    NoCommonVersion {
        /// The network name.
        network: String,
        /// The versions the configuration offers (`cniVersion` and `cniVersions`).
        offered: Vec<String>,
        /// Each plugin type with the versions it supports.
        plugins: Vec<(String, Vec<String>)>,
    },

    /// One plugin of a network failed; `source` says how.
    #[error("plugin {} failed ({}): {source}", describe_plugin(plugin_type, network), command.verb())]
    PluginStep {
        /// The plugin `type`.
        plugin_type: String,
        /// The network name.
        network: String,
        /// The command that failed.
        command: Command,
        /// The plugin's error.
        source: Box<Error>,
    },

    /// A failure with a sentence of context in front (e.g. which attachment, which cache).
    #[error("{context}: {source}")]
    Context {
        /// What was being done.
        context: String,
        /// What went wrong.
        source: Box<Error>,
    },

    /// Several independent failures (GC and validation go on after an error).
    #[error("{}", errors.iter().map(ToString::to_string).collect::<Vec<_>>().join("; "))]
    Multiple {
        /// The failures, in the order they happened.
        errors: Vec<Error>,
    },

    /// The multus delegate cache (`<cniDir>/<containerID>`) could not be
    /// written or removed. Nothing has run yet when writing fails.
    #[error("error saving the delegates to {}: {source}", path.display())]
    DelegateCacheIo {
        /// The cache file or directory.
        path: PathBuf,
        /// The operating system's error.
        source: io::Error,
    },

    /// A delegate cache file exists but cannot be used: unreadable, or not
    /// a delegate cache. Upstream's `DEL` logs this, deletes nothing,
    /// leaves the file and reports success; the caller decides
    /// ([`Error::is_delegate_cache_unusable`]).
    #[error("failed to load the cached delegates from {}: {reason}", path.display())]
    DelegateCacheUnusable {
        /// The cache file.
        path: PathBuf,
        /// What is wrong with it.
        reason: String,
    },

    /// One delegate of a delegate cache whose config (`Bytes`) is not a
    /// plugin config or list; the other delegates can still be deleted.
    #[error("cached delegate {index} ({name:?}): {source}")]
    CachedDelegateInvalid {
        /// Its position in the file.
        index: usize,
        /// Its `Name` (status name).
        name: String,
        /// Why its config is refused.
        source: multus_types::Error,
    },

    /// A `mac` or `ips` request that is not a MAC address or an IP address
    /// (with or without prefix), checked before it goes into `CNI_ARGS`.
    #[error("DelegateAdd: failed to parse {what} {value:?}")]
    InvalidRequest {
        /// `"mac address"` or `"IP address"`.
        what: &'static str,
        /// The value requested.
        value: String,
    },

    /// An error raised by a caller's hook (interface name check, default
    /// route change, ...), kept as the caller made it.
    #[error(transparent)]
    Hook(Box<dyn std::error::Error + Send + Sync + 'static>),

    /// `ADD` of one delegate of a pod failed (or one of its hooks did). The
    /// delegates up to and including it were deleted again, in reverse
    /// order; failures of those `DEL`s are in `rollback_errors`. The text is
    /// upstream's: `[<ns>/<pod>/<uid>:<net>]: error adding container to network "<net>": <err>`.
    #[error("[{pod}:{network}]: error adding container to network {network:?}: {source}")]
    DelegateAdd {
        /// `<namespace>/<name>/<uid>` of the pod.
        pod: String,
        /// The CNI network name of the failing delegate.
        network: String,
        /// Its position in the plan.
        index: usize,
        /// What failed.
        source: Box<Error>,
        /// Errors of the rollback `DEL`s (ignored, as upstream does).
        rollback_errors: Vec<Error>,
    },

    /// `DEL` or `CHECK` of one delegate failed; the text is upstream's
    /// (`DelegateDel: error invoking ConflistDel - "<net>": ...`).
    #[error("{}", describe_delegate_op(*command, *is_list, network, plugin_type, source))]
    DelegateOp {
        /// `DEL` or `CHECK`.
        command: Command,
        /// Whether the delegate is a configuration list.
        is_list: bool,
        /// The CNI network name.
        network: String,
        /// The plugin type (single-plugin delegates).
        plugin_type: String,
        /// What failed.
        source: Box<Error>,
    },

    /// `DEL` of a pod's delegates: every failure, in the order they happened
    /// (the `DEL`s go on after an error). Upstream's text: `errors: <e1> / <e2>`.
    #[error("errors: {}", errors.iter().map(ToString::to_string).collect::<Vec<_>>().join(" / "))]
    DelegateDel {
        /// The failures.
        errors: Vec<Error>,
    },
}

impl Error {
    /// Wraps this error as the failure of one plugin of a network.
    pub(crate) fn in_plugin(self, plugin_type: &str, network: &str, command: Command) -> Self {
        Self::PluginStep {
            plugin_type: plugin_type.to_owned(),
            network: network.to_owned(),
            command,
            source: Box::new(self),
        }
    }

    /// Wraps an error of a caller's hook.
    pub fn hook(error: impl Into<Box<dyn std::error::Error + Send + Sync + 'static>>) -> Self {
        Self::Hook(error.into())
    }

    /// Whether this is a delegate cache that exists but cannot be used
    /// (upstream's `DEL` then succeeds without deleting anything).
    pub fn is_delegate_cache_unusable(&self) -> bool {
        matches!(self, Self::DelegateCacheUnusable { .. })
    }

    /// Puts a sentence of context in front of this error.
    pub(crate) fn context(self, context: impl Into<String>) -> Self {
        Self::Context {
            context: context.into(),
            source: Box::new(self),
        }
    }

    /// One error, or all of them; `None` when the list is empty.
    pub(crate) fn collect(mut errors: Vec<Error>) -> Option<Self> {
        match errors.len() {
            0 => None,
            1 => errors.pop(),
            _ => Some(Self::Multiple { errors }),
        }
    }

    /// The innermost error, looking through [`Error::PluginStep`] and [`Error::Context`].
    pub fn root(&self) -> &Error {
        match self {
            Self::PluginStep { source, .. }
            | Self::Context { source, .. }
            | Self::DelegateAdd { source, .. }
            | Self::DelegateOp { source, .. } => source.root(),
            other => other,
        }
    }

    /// The CNI error object the plugin printed, if this failure is one.
    pub fn plugin_error(&self) -> Option<&CniError> {
        match self.root() {
            Self::Plugin { error, .. } => Some(error),
            _ => None,
        }
    }

    /// What the failing plugin wrote on stderr, if a plugin failed.
    pub fn stderr(&self) -> Option<&str> {
        match self.root() {
            Self::Plugin { stderr, .. }
            | Self::PluginFailed { stderr, .. }
            | Self::Timeout { stderr, .. } => Some(stderr),
            _ => None,
        }
    }

    /// How the failing plugin exited, if a plugin ran and failed.
    pub fn exit_status(&self) -> Option<ExitStatus> {
        match self.root() {
            Self::Plugin { status, .. } | Self::PluginFailed { status, .. } => Some(*status),
            _ => None,
        }
    }

    /// Whether this is (or wraps) a timeout.
    pub fn is_timeout(&self) -> bool {
        matches!(self.root(), Self::Timeout { .. })
    }
}

impl ToCniError for Error {
    fn cni_code(&self) -> ErrorCode {
        match self {
            Self::InvalidPluginName { .. } | Self::UnsupportedCommand { .. } => {
                ErrorCode::InvalidNetworkConfig
            }
            Self::PluginNotFound { .. }
            | Self::Spawn { .. }
            | Self::CacheKey { .. }
            | Self::CacheInvalid { .. } => ErrorCode::Internal,
            Self::Io { .. } | Self::CacheIo { .. } => ErrorCode::IoFailure,
            Self::Plugin { error, .. } => error.code,
            Self::PluginFailed { .. } => ErrorCode::Unknown,
            Self::Timeout { .. } => ErrorCode::TryAgainLater,
            Self::InvalidResult { .. } | Self::VersionInfo { .. } | Self::CacheUpdate { .. } => {
                ErrorCode::DecodingFailure
            }
            Self::InvalidArgument(e) => e.code,
            Self::Types(e) => e.cni_code(),
            Self::VersionUnsupported { .. } | Self::NoCommonVersion { .. } => {
                ErrorCode::IncompatibleCniVersion
            }
            Self::PluginStep { source, .. }
            | Self::Context { source, .. }
            | Self::DelegateAdd { source, .. }
            | Self::DelegateOp { source, .. } => source.cni_code(),
            Self::Multiple { errors } | Self::DelegateDel { errors } => errors
                .first()
                .map_or(ErrorCode::Internal, ToCniError::cni_code),
            Self::DelegateCacheIo { .. } | Self::DelegateCacheUnusable { .. } => {
                ErrorCode::IoFailure
            }
            Self::CachedDelegateInvalid { source, .. } => source.cni_code(),
            Self::InvalidRequest { .. } => ErrorCode::InvalidNetworkConfig,
            Self::Hook(_) => ErrorCode::Internal,
        }
    }
}

fn join_paths(dirs: &[PathBuf]) -> String {
    dirs.iter()
        .map(|d| d.display().to_string())
        .collect::<Vec<_>>()
        .join(" ")
}

fn describe_plugin(plugin_type: &str, network: &str) -> String {
    if network.is_empty() {
        format!("type={plugin_type:?}")
    } else {
        format!("type={plugin_type:?} name={network:?}")
    }
}

/// Upstream's `DelegateDel` / `DelegateCheck` messages.
fn describe_delegate_op(
    command: Command,
    is_list: bool,
    network: &str,
    plugin_type: &str,
    source: &Error,
) -> String {
    let op = if command == Command::Check {
        "Check"
    } else {
        "Del"
    };
    if is_list {
        format!(
            "Delegate{op}: error invoking Conflist{op} - {network:?}: conflist{op}: error in getting result from {op}NetworkList: {source}"
        )
    } else {
        format!(
            "Delegate{op}: error invoking Delegate{op} - {plugin_type:?}: error in getting result from {op}Network: {source}"
        )
    }
}

fn secs(d: Duration) -> String {
    format!("{:.1}s", d.as_secs_f64())
}

fn stderr_suffix(stderr: &str) -> String {
    let stderr = stderr.trim();
    if stderr.is_empty() {
        String::new()
    } else {
        format!("; stderr: {stderr:?}")
    }
}

fn describe_failure(
    path: &Path,
    status: ExitStatus,
    stdout: &str,
    stderr: &str,
    parse_error: Option<&str>,
) -> String {
    let mut out = format!("plugin {} failed ({status})", path.display());
    let stdout = stdout.trim();
    match parse_error {
        Some(why) => {
            out.push_str(&format!(
                " and its output is not a CNI error ({why}): {stdout:?}"
            ));
        }
        None if stderr.trim().is_empty() => out.push_str(" with no error message"),
        None => {}
    }
    out.push_str(&stderr_suffix(stderr));
    out
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use std::os::unix::process::ExitStatusExt;

    use super::*;

    fn exit(code: i32) -> ExitStatus {
        ExitStatus::from_raw(code << 8)
    }

    #[test]
    fn plugin_step_reads_like_libcni() {
        let inner = Error::Plugin {
            path: "/opt/cni/bin/bridge".into(),
            error: Box::new(
                CniError::new(ErrorCode::TryAgainLater, "busy").with_details("lock held"),
            ),
            status: exit(1),
            stderr: String::new(),
        };
        let e = inner.in_plugin("bridge", "blue", Command::Add);
        assert_eq!(
            e.to_string(),
            r#"plugin type="bridge" name="blue" failed (add): busy; lock held"#
        );
        assert_eq!(e.cni_code(), ErrorCode::TryAgainLater);
        assert_eq!(e.plugin_error().unwrap().msg, "busy");
        assert_eq!(e.exit_status().unwrap().code(), Some(1));
    }

    #[test]
    fn failure_without_cni_error_carries_status_and_stderr() {
        let e = Error::PluginFailed {
            path: "/x/p".into(),
            status: exit(3),
            stdout: String::new(),
            stderr: "boom\n".into(),
            parse_error: None,
        };
        assert_eq!(
            e.to_string(),
            r#"plugin /x/p failed (exit status: 3); stderr: "boom""#
        );
        let e = Error::PluginFailed {
            path: "/x/p".into(),
            status: exit(2),
            stdout: "garbage".into(),
            stderr: String::new(),
            parse_error: Some("expected value at line 1 column 1".into()),
        };
        assert_eq!(
            e.to_string(),
            r#"plugin /x/p failed (exit status: 2) and its output is not a CNI error (expected value at line 1 column 1): "garbage""#
        );
        let e = Error::PluginFailed {
            path: "/x/p".into(),
            status: ExitStatus::from_raw(9),
            stdout: String::new(),
            stderr: String::new(),
            parse_error: None,
        };
        assert_eq!(
            e.to_string(),
            "plugin /x/p failed (signal: 9 (SIGKILL)) with no error message"
        );
    }

    #[test]
    fn error_is_send_sync_static() {
        fn check<T: Send + Sync + 'static>() {}
        check::<Error>();
    }

    #[test]
    fn not_found_lists_the_dirs() {
        let e = Error::PluginNotFound {
            plugin_type: "bridge".into(),
            dirs: vec!["/a".into(), "/b".into()],
        };
        assert_eq!(
            e.to_string(),
            r#"failed to find plugin "bridge" in path [/a /b]"#
        );
    }

    #[test]
    fn multiple_joins_and_takes_the_first_code() {
        let e = Error::collect(vec![
            Error::InvalidArgument(CniError::new(ErrorCode::InvalidEnvironmentVariables, "a")),
            Error::InvalidArgument(CniError::new(ErrorCode::InvalidNetworkConfig, "b")),
        ])
        .unwrap();
        assert_eq!(e.to_string(), "a; b");
        assert_eq!(e.cni_code(), ErrorCode::InvalidEnvironmentVariables);
        assert!(Error::collect(Vec::new()).is_none());
    }
}
