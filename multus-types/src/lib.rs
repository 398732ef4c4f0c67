//! The CNI specification as Rust data, and the Multus configuration file.
//!
//! * [`CniVersion`]: the seven spec versions, ordered, with "missing = 0.1.0".
//! * [`result`]: results of every version and libcni's conversions between them.
//! * [`CniError`] / [`ErrorCode`]: the error object plugins print, and [`ToCniError`]
//!   which every error type of the workspace implements.
//! * [`addr`]: IP, CIDR and hardware-address syntax with Go's strictness, and
//!   Go's IPv4-or-IPv6 decision ([`addr::is_ipv4`]).
//!
//! This crate depends on serde, serde_json, thiserror and ipnetwork only, so
//! any CNI tool can use it without pulling in Kubernetes.

pub mod addr;
mod args;
pub mod casefold;
mod config;
mod duration;
mod error;
pub mod gojson;
mod multus_conf;
pub mod result;
mod runtime;
mod version;

pub use args::{CniArgs, K8sArgs};
pub use config::{
    DelegateConf, NetConf, NetConfList, is_cni_identifier, json_kind, validate_network_name,
};
pub use duration::parse_duration;
pub use error::{CniError, Error, ErrorCode, ToCniError};
pub use multus_conf::{
    DEFAULT_BIN_DIR, DEFAULT_CNI_DIR, DEFAULT_CONF_DIR, DEFAULT_DEVICE_CHECKPOINT,
    DEFAULT_GLOBAL_NAMESPACE, DEFAULT_LOG_COMPRESS, DEFAULT_LOG_MAX_AGE, DEFAULT_LOG_MAX_BACKUPS,
    DEFAULT_LOG_MAX_SIZE, DEFAULT_MULTUS_NAMESPACE, DEFAULT_POD_LOOKUP_TIMEOUT,
    DEFAULT_POD_RESOURCES_SOCKET, DEFAULT_SYSTEM_NAMESPACES, LogOptions, MultusConf,
};
pub use result::CniResult;
pub use runtime::{Bandwidth, Capabilities, PortMapping, RuntimeConfig};
pub use version::{CniVersion, ResultFamily, compare_version_strings};
