//! The CNI error object, its well-known codes, and this crate's error type.

use std::fmt;

use serde::{Deserialize, Serialize};

/// Well-known CNI error codes (spec section "Error"); 100 and above are plugin-specific.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum ErrorCode {
    /// 0: unknown / library error.
    Unknown,
    /// 1: incompatible CNI version.
    IncompatibleCniVersion,
    /// 2: unsupported field in network configuration.
    UnsupportedField,
    /// 3: container unknown or does not exist.
    UnknownContainer,
    /// 4: invalid or missing environment variables.
    InvalidEnvironmentVariables,
    /// 5: I/O failure.
    IoFailure,
    /// 6: failed to decode content.
    DecodingFailure,
    /// 7: invalid network config.
    InvalidNetworkConfig,
    /// 8: invalid network namespace (libcni/skel).
    InvalidNetNs,
    /// 11: try again later.
    TryAgainLater,
    /// 50: the plugin is not available (STATUS).
    PluginNotAvailable,
    /// 51: not available, existing containers may be affected (STATUS).
    PluginNotAvailableLimitedConnectivity,
    /// 999: internal error (the skel convention for untyped errors).
    Internal,
    /// Any other code, as received.
    Other(u32),
}

impl ErrorCode {
    /// The numeric code.
    pub const fn code(self) -> u32 {
        match self {
            Self::Unknown => 0,
            Self::IncompatibleCniVersion => 1,
            Self::UnsupportedField => 2,
            Self::UnknownContainer => 3,
            Self::InvalidEnvironmentVariables => 4,
            Self::IoFailure => 5,
            Self::DecodingFailure => 6,
            Self::InvalidNetworkConfig => 7,
            Self::InvalidNetNs => 8,
            Self::TryAgainLater => 11,
            Self::PluginNotAvailable => 50,
            Self::PluginNotAvailableLimitedConnectivity => 51,
            Self::Internal => 999,
            Self::Other(c) => c,
        }
    }

    /// The code for a number.
    pub const fn from_code(code: u32) -> Self {
        match code {
            0 => Self::Unknown,
            1 => Self::IncompatibleCniVersion,
            2 => Self::UnsupportedField,
            3 => Self::UnknownContainer,
            4 => Self::InvalidEnvironmentVariables,
            5 => Self::IoFailure,
            6 => Self::DecodingFailure,
            7 => Self::InvalidNetworkConfig,
            8 => Self::InvalidNetNs,
            11 => Self::TryAgainLater,
            50 => Self::PluginNotAvailable,
            51 => Self::PluginNotAvailableLimitedConnectivity,
            999 => Self::Internal,
            c => Self::Other(c),
        }
    }
}

impl Serialize for ErrorCode {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_u32(self.code())
    }
}

impl<'de> Deserialize<'de> for ErrorCode {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        u32::deserialize(d).map(Self::from_code)
    }
}

/// The CNI error object a plugin prints on stdout when it fails.
///
/// ```
/// use multus_types::{CniError, ErrorCode};
/// let e = CniError::new(ErrorCode::InvalidNetworkConfig, "invalid network config")
///     .with_details("subnet too small");
/// assert_eq!(
///     serde_json::to_string(&e).unwrap(),
///     r#"{"code":7,"msg":"invalid network config","details":"subnet too small"}"#
/// );
/// ```
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct CniError {
    /// The version of the request, when the plugin reports it.
    #[serde(
        rename = "cniVersion",
        default,
        skip_serializing_if = "Option::is_none"
    )]
    pub cni_version: Option<String>,
    /// The error code.
    pub code: ErrorCode,
    /// A short message.
    #[serde(default)]
    pub msg: String,
    /// Longer details.
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub details: String,
}

impl CniError {
    /// A new error with a code and message.
    pub fn new(code: ErrorCode, msg: impl Into<String>) -> Self {
        Self {
            cni_version: None,
            code,
            msg: msg.into(),
            details: String::new(),
        }
    }

    /// Adds details.
    pub fn with_details(mut self, details: impl Into<String>) -> Self {
        self.details = details.into();
        self
    }
}

impl fmt::Display for CniError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        // Same shape as libcni's Error(): "msg; details" when both are present.
        match (self.msg.is_empty(), self.details.is_empty()) {
            (_, true) => f.write_str(&self.msg),
            (true, false) => f.write_str(&self.details),
            (false, false) => write!(f, "{}; {}", self.msg, self.details),
        }
    }
}

impl std::error::Error for CniError {}

/// Implemented by every error type of the workspace so the plugin binary can
/// print a CNI error object with a meaningful code.
pub trait ToCniError: std::error::Error {
    /// The CNI code this error maps to.
    fn cni_code(&self) -> ErrorCode;

    /// The CNI error object: code, this error's text as `msg`.
    fn to_cni_error(&self) -> CniError {
        CniError::new(self.cni_code(), self.to_string())
    }
}

impl ToCniError for CniError {
    fn cni_code(&self) -> ErrorCode {
        self.code
    }

    fn to_cni_error(&self) -> CniError {
        self.clone()
    }
}

/// Errors of `multus-types`.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// A version string that is not one of the seven known versions.
    #[error("unsupported CNI version \"{0}\"")]
    UnsupportedVersion(String),
    /// A version string that is not `major.minor.patch`.
    #[error("invalid version \"{0}\": expected major.minor.patch")]
    InvalidVersion(String),
    /// JSON that did not decode, with what was being decoded.
    #[error("{what}: {source}")]
    Json {
        /// What was being decoded, e.g. "network config".
        what: &'static str,
        /// The decoder's error.
        source: serde_json::Error,
    },
    /// A network configuration that breaks a rule of the spec.
    #[error("invalid network config: {0}")]
    InvalidConfig(String),
    /// A result that does not fit its declared version or cannot be converted.
    #[error("{0}")]
    Result(String),
    /// A malformed `CNI_ARGS` string.
    #[error("invalid CNI_ARGS: {0}")]
    InvalidArgs(String),
    /// A multus configuration that fails load-time validation.
    #[error("LoadNetConf: {0}")]
    MultusConf(String),
}

impl Error {
    pub(crate) fn json(what: &'static str, source: serde_json::Error) -> Self {
        Self::Json { what, source }
    }
}

impl ToCniError for Error {
    fn cni_code(&self) -> ErrorCode {
        match self {
            Self::UnsupportedVersion(_) | Self::InvalidVersion(_) => {
                ErrorCode::IncompatibleCniVersion
            }
            Self::Json { .. } => ErrorCode::DecodingFailure,
            Self::InvalidConfig(_) | Self::MultusConf(_) => ErrorCode::InvalidNetworkConfig,
            Self::InvalidArgs(_) => ErrorCode::InvalidEnvironmentVariables,
            Self::Result(_) => ErrorCode::DecodingFailure,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn codes_round_trip() {
        for c in [0, 1, 2, 3, 4, 5, 6, 7, 8, 11, 50, 51, 999, 123] {
            assert_eq!(ErrorCode::from_code(c).code(), c);
        }
    }

    #[test]
    fn parses_plugin_error_with_version() {
        let e: CniError =
            serde_json::from_str(r#"{"cniVersion":"0.4.0","code":11,"msg":"busy"}"#).unwrap();
        assert_eq!(e.code, ErrorCode::TryAgainLater);
        assert_eq!(e.cni_version.as_deref(), Some("0.4.0"));
        assert_eq!(e.to_string(), "busy");
    }

    #[test]
    fn display_joins_msg_and_details() {
        let e = CniError::new(ErrorCode::IoFailure, "read").with_details("stdin closed");
        assert_eq!(e.to_string(), "read; stdin closed");
    }

    #[test]
    fn crate_errors_map_to_codes() {
        let e = Error::UnsupportedVersion("9".into());
        assert_eq!(e.to_cni_error().code, ErrorCode::IncompatibleCniVersion);
        assert_eq!(Error::InvalidArgs("x".into()).cni_code().code(), 4);
    }
}
