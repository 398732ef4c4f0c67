//! `multus-shim`, the client half of thick Multus: a CNI plugin binary that
//! checks its invocation as libcni's `skel` does, then forwards the whole call
//! (its environment and the CNI config from stdin) to the multus daemon over
//! the unix socket `<daemonSocketDir>/multus.sock`, and prints the answer.
//!
//! The crate is small on purpose (multus-types, serde and serde_json; HTTP/1.1
//! is written by hand over `std::os::unix::net::UnixStream`): the runtime runs
//! the binary once per pod sandbox and operation.
//!
//! * [`skel`]: the CNI entry checks, `VERSION`, the error object.
//! * [`ShimConf`]: the config keys the shim reads.
//! * [`client`]: readiness checks, the `/cni` request, the answer per command.
//! * [`http`]: the minimal HTTP/1.1 client.

pub mod client;
mod conf;
mod error;
pub mod http;
pub mod log;
pub mod skel;

pub use client::Request;
pub use conf::{
    DEFAULT_SOCKET_DIR, READY_POLL_INTERVAL, READY_POLL_TIMEOUT, READY_TIMEOUT_KEY, SOCKET_NAME,
    ShimConf,
};
pub use error::Error;
