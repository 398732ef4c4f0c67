//! The `multus` CNI plugin binary of multus-rs, and the pieces it is made of:
//! the CNI entry point ([`skel`]), logging ([`logging`]), and the ADD / DEL /
//! CHECK / STATUS / GC pipelines shared by the thin plugin and the thick
//! daemon (`daemon`, behind the `daemon` feature).

mod error;

pub mod confgen;
#[cfg(feature = "daemon")]
pub mod daemon;
pub mod entrypoint;
pub mod explain;
pub mod logging;
pub mod pipeline;
pub mod skel;

pub use error::Error;
