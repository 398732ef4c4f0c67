//! Running one plugin: environment, stdin, stdout/stderr, exit status, timeout.

use std::io::{self, Write as _};
use std::path::{Path, PathBuf};
use std::process::{ExitStatus, Stdio};
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};
use std::time::Duration;

use multus_types::{CniError, CniResult, CniVersion};
use nix::sys::signal::{Signal, killpg};
use nix::unistd::Pid;
use tokio::io::{AsyncRead, AsyncReadExt, AsyncWriteExt};
use tokio::time::Instant;

use crate::{Error, PluginInfo, RuntimeConf};

/// A CNI command (`CNI_COMMAND`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Command {
    /// `ADD`: attach.
    Add,
    /// `DEL`: detach (best effort, repeatable).
    Del,
    /// `CHECK` (0.4.0+): verify an attachment.
    Check,
    /// `STATUS` (1.1.0): can the plugin service `ADD`?
    Status,
    /// `GC` (1.1.0): clean up everything but the valid attachments.
    Gc,
    /// `VERSION`: which spec versions the plugin supports.
    Version,
}

impl Command {
    /// The value of `CNI_COMMAND`.
    pub const fn as_str(self) -> &'static str {
        match self {
            Self::Add => "ADD",
            Self::Del => "DEL",
            Self::Check => "CHECK",
            Self::Status => "STATUS",
            Self::Gc => "GC",
            Self::Version => "VERSION",
        }
    }

    /// The command named by a `CNI_COMMAND` value (exact, upper case).
    pub fn from_cni_command(s: &str) -> Option<Self> {
        [
            Self::Add,
            Self::Del,
            Self::Check,
            Self::Status,
            Self::Gc,
            Self::Version,
        ]
        .into_iter()
        .find(|c| c.as_str() == s)
    }

    /// The word libcni uses in `plugin ... failed (<verb>)`.
    pub const fn verb(self) -> &'static str {
        match self {
            Self::Add => "add",
            Self::Del => "delete",
            Self::Check => "check",
            Self::Status => "status",
            Self::Gc => "gc",
            Self::Version => "version",
        }
    }
}

impl std::fmt::Display for Command {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

/// The six `CNI_*` variables of one invocation. libcni sets all of them
/// (empty when unused), appended to the runtime's own environment, which the
/// plugin inherits.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PluginEnv {
    /// `CNI_COMMAND`.
    pub command: Command,
    /// `CNI_CONTAINERID`.
    pub container_id: String,
    /// `CNI_NETNS`.
    pub netns: String,
    /// `CNI_IFNAME`.
    pub ifname: String,
    /// `CNI_ARGS` (`K=V;K2=V2`).
    pub args: String,
    /// `CNI_PATH`: the plugin directories joined with `:`.
    pub path: String,
}

impl PluginEnv {
    /// The environment of `command` for an attachment.
    pub fn new<P: AsRef<Path>>(command: Command, rt: &RuntimeConf, bin_dirs: &[P]) -> Self {
        Self {
            command,
            container_id: rt.container_id.clone(),
            netns: rt.netns.clone(),
            ifname: rt.ifname.clone(),
            args: rt.args.to_string(),
            path: join_dirs(bin_dirs),
        }
    }

    /// The environment of a command that concerns no attachment (`STATUS`,
    /// `GC`): only `CNI_COMMAND` and `CNI_PATH` have values.
    pub fn without_attachment<P: AsRef<Path>>(command: Command, bin_dirs: &[P]) -> Self {
        Self::new(command, &RuntimeConf::default(), bin_dirs)
    }

    /// The environment of libcni's `VERSION` probe: dummy values for the
    /// variables old plugin skeletons insist on.
    pub fn version_probe() -> Self {
        Self {
            command: Command::Version,
            container_id: String::new(),
            netns: "dummy".into(),
            ifname: "dummy".into(),
            args: String::new(),
            path: "dummy".into(),
        }
    }

    /// The variables, in libcni's order.
    pub fn vars(&self) -> [(&'static str, &str); 6] {
        [
            ("CNI_COMMAND", self.command.as_str()),
            ("CNI_CONTAINERID", &self.container_id),
            ("CNI_NETNS", &self.netns),
            ("CNI_ARGS", &self.args),
            ("CNI_IFNAME", &self.ifname),
            ("CNI_PATH", &self.path),
        ]
    }
}

fn join_dirs<P: AsRef<Path>>(dirs: &[P]) -> String {
    dirs.iter()
        .map(|d| d.as_ref().to_string_lossy().into_owned())
        .collect::<Vec<_>>()
        .join(":")
}

/// How long libcni waits before retrying an exec that failed with "text file busy".
const TEXT_BUSY_RETRY_DELAY: Duration = Duration::from_secs(1);
/// How many times libcni retries such an exec.
const TEXT_BUSY_RETRIES: u32 = 5;
/// How many times upstream's daemon retries an exec under `chrootDir`.
const CHROOT_TEXT_BUSY_RETRIES: u32 = 6;
/// How long to wait for a killed plugin's pipes to close.
const KILL_GRACE: Duration = Duration::from_millis(500);
/// How long to keep reading a plugin's stdout and stderr after it exited (Go's
/// `Cmd.WaitDelay`): a background process it left behind may hold them open.
const PIPE_GRACE: Duration = Duration::from_secs(1);

/// Runs plugin binaries: the `CNI_*` environment on top of the inherited one,
/// the config on stdin, stdout and stderr captured, an optional timeout.
///
/// Each plugin runs in a process group of its own, so a timeout (or dropping
/// the future) kills the plugin together with anything it started, such as
/// an IPAM plugin it delegated to.
///
/// The timeout applies to the plugin's exit. Once it has exited, its stdout
/// and stderr are read for at most one more second (like Go's
/// `Cmd.WaitDelay`): a background process it left behind holding them open
/// does not hold up the call, and what the plugin printed is used.
///
/// Needs a tokio runtime with IO and time enabled (`enable_all()`);
/// a current-thread runtime is enough.
#[derive(Debug, Clone)]
pub struct PluginExec {
    timeout: Option<Duration>,
    forward_stderr: bool,
    chroot: Option<Chroot>,
}

/// A directory plugins are run in with `chroot(2)`, ready for the child.
#[derive(Debug, Clone)]
struct Chroot {
    dir: PathBuf,
    c_dir: std::ffi::CString,
}

impl Default for PluginExec {
    fn default() -> Self {
        Self::new()
    }
}

/// What a finished plugin printed, and how it exited.
#[derive(Debug, Clone)]
pub struct PluginOutput {
    /// The exit status.
    pub status: ExitStatus,
    /// Everything written on stdout.
    pub stdout: Vec<u8>,
    /// Everything written on stderr.
    pub stderr: Vec<u8>,
}

impl PluginExec {
    /// No timeout; a successful plugin's stderr is copied to this process's
    /// stderr (as libcni does).
    pub fn new() -> Self {
        Self {
            timeout: None,
            forward_stderr: true,
            chroot: None,
        }
    }

    /// Runs every plugin with its root directory changed to `dir` (the
    /// thick daemon's `chrootDir`, usually the host's `/` mounted into the
    /// daemon's container). The plugin path is looked up in this process's
    /// file system and executed under `dir`, so it must be the same path in
    /// both. An exec that fails with "text file busy" is retried up to six
    /// times, one second apart, as upstream's daemon does.
    ///
    /// # Errors
    /// [`Error::InvalidArgument`] when `dir` contains a NUL byte.
    pub fn with_chroot(mut self, dir: impl Into<PathBuf>) -> Result<Self, Error> {
        use std::os::unix::ffi::OsStrExt as _;
        let dir = dir.into();
        let c_dir = std::ffi::CString::new(dir.as_os_str().as_bytes()).map_err(|_| {
            Error::InvalidArgument(multus_types::CniError::new(
                multus_types::ErrorCode::InvalidNetworkConfig,
                format!("chroot directory {} contains a NUL byte", dir.display()),
            ))
        })?;
        self.chroot = Some(Chroot { dir, c_dir });
        Ok(self)
    }

    /// The directory plugins are chrooted into, if any.
    pub fn chroot_dir(&self) -> Option<&Path> {
        self.chroot.as_ref().map(|c| c.dir.as_path())
    }

    /// Kills a plugin (and its process group) that runs longer than `timeout`;
    /// `None` waits forever.
    #[must_use]
    pub fn with_timeout(mut self, timeout: Option<Duration>) -> Self {
        self.timeout = timeout;
        self
    }

    /// Whether a successful plugin's stderr is copied to this process's stderr.
    #[must_use]
    pub fn with_forward_stderr(mut self, forward: bool) -> Self {
        self.forward_stderr = forward;
        self
    }

    /// The per-invocation timeout.
    pub fn timeout(&self) -> Option<Duration> {
        self.timeout
    }

    /// Runs `path` with `env` and `stdin`, and returns its stdout when it exits 0.
    ///
    /// # Errors
    /// [`Error::Spawn`], [`Error::Io`], [`Error::Timeout`]; a non-zero exit
    /// is [`Error::Plugin`] when stdout holds a CNI error object, else
    /// [`Error::PluginFailed`] with the exit status, stdout and stderr.
    pub async fn run(&self, path: &Path, stdin: &[u8], env: &PluginEnv) -> Result<Vec<u8>, Error> {
        let out = self.run_raw(path, stdin, env).await?;
        if !out.status.success() {
            return Err(failure(path, out));
        }
        if self.forward_stderr && !out.stderr.is_empty() {
            // A closed stderr must not turn a success into a panic.
            let _ = std::io::stderr().write_all(&out.stderr);
        }
        Ok(out.stdout)
    }

    /// Like [`run`](Self::run), and parses stdout as a result. A result
    /// without `cniVersion` is read as `config_version`, as libcni does.
    ///
    /// # Errors
    /// As [`run`](Self::run), plus [`Error::InvalidResult`] when stdout is
    /// not a result.
    pub async fn run_with_result(
        &self,
        path: &Path,
        stdin: &[u8],
        env: &PluginEnv,
        config_version: CniVersion,
    ) -> Result<CniResult, Error> {
        let stdout = self.run(path, stdin, env).await?;
        CniResult::parse(&stdout, config_version).map_err(|source| Error::InvalidResult {
            path: path.to_path_buf(),
            stdout: String::from_utf8_lossy(&stdout).into_owned(),
            source,
        })
    }

    /// Asks a plugin which versions it supports (libcni's `GetVersionInfo`):
    /// a plugin that answers `unknown CNI_COMMAND: VERSION` supports 0.1.0 only.
    ///
    /// # Errors
    /// As [`run`](Self::run), plus [`Error::VersionInfo`] for a reply that
    /// does not decode.
    pub async fn version_info(&self, path: &Path) -> Result<PluginInfo, Error> {
        let stdin = format!(r#"{{"cniVersion":"{}"}}"#, CniVersion::CURRENT);
        match self
            .run(path, stdin.as_bytes(), &PluginEnv::version_probe())
            .await
        {
            Ok(stdout) => PluginInfo::decode(&stdout).map_err(|reason| Error::VersionInfo {
                path: path.to_path_buf(),
                reason,
            }),
            Err(Error::Plugin { error, .. })
                if error.to_string() == "unknown CNI_COMMAND: VERSION" =>
            {
                Ok(PluginInfo::new("0.1.0", ["0.1.0"]))
            }
            Err(e) => Err(e),
        }
    }

    /// Runs `path` and returns whatever it printed and how it exited, without
    /// interpreting the exit status.
    ///
    /// # Errors
    /// [`Error::Spawn`] when it cannot be started (after libcni's retries on
    /// "text file busy"), [`Error::Io`] when its pipes fail,
    /// [`Error::Timeout`] when it was killed at the timeout.
    pub async fn run_raw(
        &self,
        path: &Path,
        stdin: &[u8],
        env: &PluginEnv,
    ) -> Result<PluginOutput, Error> {
        let mut child = spawn(path, env, self.chroot.as_ref()).await?;
        let mut group = GroupKiller(child.id().and_then(|id| i32::try_from(id).ok()));

        let stdin_pipe = child.stdin.take();
        let data = stdin.to_vec();
        let writer = tokio::spawn(async move {
            if let Some(mut pipe) = stdin_pipe {
                // A plugin may exit without reading stdin: EPIPE is not an error.
                let _ = pipe.write_all(&data).await;
                let _ = pipe.shutdown().await;
            }
        });
        let stdout = PipeReader::spawn(child.stdout.take());
        let stderr = PipeReader::spawn(child.stderr.take());

        // The timeout applies to the plugin's exit.
        let exited = match self.timeout {
            Some(limit) => tokio::time::timeout(limit, child.wait()).await.ok(),
            None => Some(child.wait().await),
        };
        writer.abort();

        let Some(status) = exited else {
            group.kill();
            let _ = child.start_kill();
            let _ = child.wait().await;
            let (stderr, _) = stderr.finish(Instant::now() + KILL_GRACE).await;
            return Err(Error::Timeout {
                path: path.to_path_buf(),
                timeout: self.timeout.unwrap_or_default(),
                stderr: String::from_utf8_lossy(&stderr).into_owned(),
            });
        };
        group.disarm();
        // Like Go's `Cmd.WaitDelay`: a process the plugin left behind may hold
        // its pipes open long after it exited; read until EOF for a short
        // while only, then go on with what was read.
        let until = Instant::now() + PIPE_GRACE;
        let (stdout, stdout_end) = stdout.finish(until).await;
        let (stderr, stderr_end) = stderr.finish(until).await;
        let io_err = |what, source| Error::Io {
            path: path.to_path_buf(),
            what,
            source,
        };
        let status = status.map_err(|e| io_err("waiting for the plugin", e))?;
        if let Some(Err(e)) = stdout_end {
            return Err(io_err("reading stdout", e));
        }
        if let Some(Err(e)) = stderr_end {
            return Err(io_err("reading stderr", e));
        }
        Ok(PluginOutput {
            status,
            stdout,
            stderr,
        })
    }
}

async fn spawn(
    path: &Path,
    env: &PluginEnv,
    chroot: Option<&Chroot>,
) -> Result<tokio::process::Child, Error> {
    let retries = if chroot.is_some() {
        CHROOT_TEXT_BUSY_RETRIES
    } else {
        TEXT_BUSY_RETRIES
    };
    let mut attempt = 0;
    loop {
        let mut cmd = tokio::process::Command::new(path);
        cmd.envs(env.vars())
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .kill_on_drop(true)
            .process_group(0);
        if let Some(chroot) = chroot {
            chroot_before_exec(&mut cmd, chroot.c_dir.clone());
        }
        match cmd.spawn() {
            Ok(child) => return Ok(child),
            Err(e) if e.kind() == io::ErrorKind::ExecutableFileBusy && attempt < retries => {
                attempt += 1;
                tokio::time::sleep(TEXT_BUSY_RETRY_DELAY).await;
            }
            Err(source) => {
                return Err(Error::Spawn {
                    path: path.to_path_buf(),
                    source,
                });
            }
        }
    }
}

/// Makes the child `chroot(dir)` and `chdir("/")` between fork and exec.
#[expect(
    unsafe_code,
    reason = "pre_exec is the only way to chroot a child before exec on stable Rust"
)]
fn chroot_before_exec(cmd: &mut tokio::process::Command, dir: std::ffi::CString) {
    const ROOT: &std::ffi::CStr = c"/";
    // SAFETY: the closure runs in the forked child before exec, where only
    // async-signal-safe calls are allowed. It calls chroot(2) and chdir(2)
    // (both plain system calls) on C strings allocated before the fork, reads
    // errno, and allocates nothing.
    unsafe {
        cmd.pre_exec(move || {
            if nix::libc::chroot(dir.as_ptr()) != 0 || nix::libc::chdir(ROOT.as_ptr()) != 0 {
                return Err(io::Error::last_os_error());
            }
            Ok(())
        });
    }
}

/// A task draining one of the plugin's pipes into a buffer that can be
/// taken at any time: what was read so far, when the pipe stays open.
struct PipeReader {
    buf: Arc<Mutex<Vec<u8>>>,
    task: tokio::task::JoinHandle<io::Result<()>>,
}

impl PipeReader {
    fn spawn<R: AsyncRead + Unpin + Send + 'static>(pipe: Option<R>) -> Self {
        let buf = Arc::new(Mutex::new(Vec::new()));
        let sink = Arc::clone(&buf);
        let task = tokio::spawn(async move {
            let Some(mut pipe) = pipe else {
                return Ok(());
            };
            let mut chunk = [0_u8; 8192];
            loop {
                match pipe.read(&mut chunk).await? {
                    0 => return Ok(()),
                    n => lock(&sink).extend_from_slice(&chunk[..n]),
                }
            }
        });
        Self { buf, task }
    }

    /// Waits for EOF until `deadline`, then returns what was read and how
    /// reading ended (`None`: cut short at the deadline).
    async fn finish(mut self, deadline: Instant) -> (Vec<u8>, Option<io::Result<()>>) {
        let end = match tokio::time::timeout_at(deadline, &mut self.task).await {
            Ok(joined) => Some(joined.map_err(io::Error::other).and_then(|r| r)),
            Err(_) => None,
        };
        (std::mem::take(&mut *lock(&self.buf)), end)
    }
}

impl Drop for PipeReader {
    fn drop(&mut self) {
        self.task.abort();
    }
}

fn lock(buf: &Mutex<Vec<u8>>) -> MutexGuard<'_, Vec<u8>> {
    buf.lock().unwrap_or_else(PoisonError::into_inner)
}

/// Kills the plugin's process group unless disarmed: on timeout, and when
/// the future running the plugin is dropped.
struct GroupKiller(Option<i32>);

impl GroupKiller {
    fn kill(&mut self) {
        if let Some(pgid) = self.0.take() {
            // ESRCH (already gone) is fine.
            let _ = killpg(Pid::from_raw(pgid), Signal::SIGKILL);
        }
    }

    fn disarm(&mut self) {
        self.0 = None;
    }
}

impl Drop for GroupKiller {
    fn drop(&mut self) {
        self.kill();
    }
}

/// libcni's `pluginErr`: stdout is the CNI error object, else the failure is
/// described with the exit status, stdout and stderr.
fn failure(path: &Path, out: PluginOutput) -> Error {
    let stdout_text = String::from_utf8_lossy(&out.stdout).into_owned();
    let stderr = String::from_utf8_lossy(&out.stderr).into_owned();
    let path: PathBuf = path.to_path_buf();
    if stdout_text.trim().is_empty() {
        return Error::PluginFailed {
            path,
            status: out.status,
            stdout: stdout_text,
            stderr,
            parse_error: None,
        };
    }
    match serde_json::from_slice::<CniError>(&out.stdout) {
        Ok(error) => Error::Plugin {
            path,
            error: Box::new(error),
            status: out.status,
            stderr,
        },
        Err(e) => Error::PluginFailed {
            path,
            status: out.status,
            stdout: stdout_text,
            stderr,
            parse_error: Some(e.to_string()),
        },
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    #[test]
    fn env_has_all_six_vars_in_libcni_order() {
        let rt = RuntimeConf::new("c1", "/run/netns/x", "eth0").with_arg("A", "b");
        let env = PluginEnv::new(Command::Add, &rt, &["/a", "/b"]);
        assert_eq!(
            env.vars(),
            [
                ("CNI_COMMAND", "ADD"),
                ("CNI_CONTAINERID", "c1"),
                ("CNI_NETNS", "/run/netns/x"),
                ("CNI_ARGS", "A=b"),
                ("CNI_IFNAME", "eth0"),
                ("CNI_PATH", "/a:/b"),
            ]
        );
        let gc = PluginEnv::without_attachment(Command::Gc, &["/a"]);
        assert_eq!(gc.vars()[1], ("CNI_CONTAINERID", ""));
        assert_eq!(gc.vars()[5], ("CNI_PATH", "/a"));
        assert_eq!(PluginEnv::version_probe().vars()[2], ("CNI_NETNS", "dummy"));
    }

    #[test]
    fn verbs() {
        assert_eq!(Command::Del.verb(), "delete");
        assert_eq!(Command::Check.to_string(), "CHECK");
    }
}
