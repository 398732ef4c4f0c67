//! The CNI specification as Rust data, and the Multus configuration file.
//!
//! * [`CniVersion`]: the seven spec versions, ordered, with "missing = 0.1.0".
//! * [`result`]: results of every version and libcni's conversions between them.
//! * [`CniError`] / [`ErrorCode`]: the error object plugins print, and [`ToCniError`]
//!   which every error type of the workspace implements.
//!
//! This crate depends on serde, serde_json, thiserror and ipnetwork only, so
//! any CNI tool can use it without pulling in Kubernetes.

pub mod casefold;
mod error;
pub mod result;
mod runtime;
mod version;

pub use error::{CniError, Error, ErrorCode, ToCniError};
pub use runtime::{Bandwidth, Capabilities, PortMapping, RuntimeConfig};
pub use version::{CniVersion, ResultFamily, compare_version_strings};
