//! Opening a network namespace by path and connecting to netlink inside it.

use std::fs::File;
use std::io;
use std::os::fd::IntoRawFd;
use std::path::{Path, PathBuf};

use netlink_sys::{Socket, TokioSocket, protocols::NETLINK_ROUTE};
use nix::sched::{CloneFlags, setns};
use nix::sys::statfs::{NSFS_MAGIC, PROC_SUPER_MAGIC, fstatfs};

use crate::Error;
use crate::netlink::Netlink;

/// An open network namespace, e.g. a pod sandbox's `CNI_NETNS`.
///
/// Holding a `NetNs` keeps the namespace alive (the file descriptor pins it)
/// even if its bind mount is removed. No thread of the process ever switches
/// into it except a short-lived helper thread in [`NetNs::netlink`]; tokio
/// worker threads are never moved.
///
/// ```no_run
/// # async fn f() -> Result<(), multus_netns::Error> {
/// let ns = multus_netns::NetNs::open("/var/run/netns/cni-1234")?;
/// let nl = ns.netlink().await?;
/// let net1 = nl.link("net1").await?;
/// println!("net1: index {} mac {:?} mtu {:?}", net1.index, net1.mac, net1.mtu);
/// # Ok(()) }
/// ```
#[derive(Debug)]
pub struct NetNs {
    path: PathBuf,
    file: File,
}

impl NetNs {
    /// Opens the namespace at `path` (a bind mount such as `/run/netns/<name>`
    /// or a `/proc/<pid>/ns/net` link).
    ///
    /// A missing path gives [`Error::NetNsNotFound`]; a file that is not on
    /// nsfs (or procfs, for old kernels) gives [`Error::NotNetNs`]. A
    /// namespace of another type (e.g. `/proc/self/ns/mnt`) is refused by the
    /// kernel when [`NetNs::netlink`] enters it, also as [`Error::NotNetNs`].
    pub fn open(path: impl AsRef<Path>) -> Result<Self, Error> {
        let path = path.as_ref().to_path_buf();
        let file = match File::open(&path) {
            Ok(f) => f,
            Err(e) if e.kind() == io::ErrorKind::NotFound => {
                return Err(Error::NetNsNotFound { path });
            }
            Err(source) => return Err(Error::NetNsOpen { path, source }),
        };
        let fs = fstatfs(&file).map_err(|errno| Error::NetNsOpen {
            path: path.clone(),
            source: io::Error::from(errno),
        })?;
        let magic = fs.filesystem_type();
        if magic != NSFS_MAGIC && magic != PROC_SUPER_MAGIC {
            return Err(Error::NotNetNs {
                path,
                reason: format!("it is not on nsfs (filesystem magic {:#x})", magic.0 as u64),
            });
        }
        Ok(Self { path, file })
    }

    /// The path this namespace was opened from.
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// Opens a `NETLINK_ROUTE` connection bound to this namespace.
    ///
    /// The socket is created by a throwaway thread that `setns`'d into the
    /// namespace; the socket stays bound to the namespace and is handed back
    /// and driven by the current tokio runtime (which must have I/O enabled).
    /// The connection task is spawned on the current runtime and stops when
    /// the returned [`Netlink`] is dropped.
    pub async fn netlink(&self) -> Result<Netlink, Error> {
        if tokio::runtime::Handle::try_current().is_err() {
            return Err(Error::NoRuntime {
                path: self.path.clone(),
            });
        }
        let socket = self.socket_in_ns()?;
        socket.set_non_blocking(true).map_err(|e| Error::Socket {
            path: self.path.clone(),
            reason: format!("set non-blocking: {e}"),
        })?;
        let fd = socket.into_raw_fd();
        // SAFETY: `fd` was just released by `into_raw_fd` from a netlink
        // `Socket` we own, so it is an open, valid, non-blocking netlink socket
        // descriptor with no other owner; `TokioSocket` takes sole ownership
        // and closes it on drop. A tokio runtime is present (checked above).
        #[allow(unsafe_code)]
        let tokio_socket = unsafe { <TokioSocket as std::os::fd::FromRawFd>::from_raw_fd(fd) };
        let (connection, handle, _messages) = rtnetlink::from_socket(tokio_socket);
        let task = tokio::spawn(connection);
        Ok(Netlink::new(self.path.clone(), handle, task))
    }

    /// Creates the socket on a helper thread that entered the namespace.
    fn socket_in_ns(&self) -> Result<Socket, Error> {
        let file = &self.file;
        let joined = std::thread::scope(|s| {
            std::thread::Builder::new()
                .name("multus-netns".into())
                .spawn_scoped(s, move || -> Result<Socket, SocketError> {
                    setns(file, CloneFlags::CLONE_NEWNET).map_err(SocketError::Setns)?;
                    Socket::new(NETLINK_ROUTE).map_err(SocketError::Socket)
                })
                .map(|h| h.join())
        });
        match joined {
            Err(e) => Err(Error::Socket {
                path: self.path.clone(),
                reason: format!("cannot start helper thread: {e}"),
            }),
            Ok(Err(_panic)) => Err(Error::Socket {
                path: self.path.clone(),
                reason: "helper thread panicked".into(),
            }),
            Ok(Ok(Ok(socket))) => Ok(socket),
            Ok(Ok(Err(SocketError::Setns(nix::errno::Errno::EINVAL)))) => Err(Error::NotNetNs {
                path: self.path.clone(),
                reason: "the kernel refused to enter it as a network namespace (setns: EINVAL)"
                    .into(),
            }),
            Ok(Ok(Err(SocketError::Setns(errno)))) => Err(Error::Socket {
                path: self.path.clone(),
                reason: format!("setns: {}", io::Error::from(errno)),
            }),
            Ok(Ok(Err(SocketError::Socket(e)))) => Err(Error::Socket {
                path: self.path.clone(),
                reason: format!("socket: {e}"),
            }),
        }
    }
}

enum SocketError {
    Setns(nix::errno::Errno),
    Socket(io::Error),
}
