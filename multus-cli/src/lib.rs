//! The `multus` CNI plugin binary of multus-rs, and the pieces it is made of:
//! the CNI entry point ([`skel`]), logging ([`logging`]), and the ADD / DEL /
//! CHECK / STATUS / GC pipelines shared by the thin plugin and, later, the
//! thick daemon.

mod error;

pub mod confgen;
pub mod entrypoint;
pub mod logging;
pub mod pipeline;
pub mod skel;

pub use error::Error;
