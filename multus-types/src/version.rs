//! CNI specification versions.

use std::fmt;
use std::str::FromStr;

use serde::{Deserialize, Deserializer, Serialize, Serializer};

use crate::Error;

/// A CNI specification version that this workspace understands.
///
/// Versions order by their numeric value, and the empty string (a config or
/// result without `cniVersion`) means 0.1.0, as libcni decodes it.
///
/// ```
/// use multus_types::CniVersion;
/// let v: CniVersion = "0.3.1".parse().unwrap();
/// assert!(v < CniVersion::V1_0_0);
/// assert_eq!(CniVersion::parse_or_default("").unwrap(), CniVersion::V0_1_0);
/// assert_eq!(v.to_string(), "0.3.1");
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Default)]
pub enum CniVersion {
    /// 0.1.0: the original `ip4`/`ip6` result; also what a missing version means.
    #[default]
    V0_1_0,
    /// 0.2.0: adds the `VERSION` command.
    V0_2_0,
    /// 0.3.0: interfaces, `ips`, conflists and chaining.
    V0_3_0,
    /// 0.3.1: fixes the `ip`/`ips` typo of 0.3.0.
    V0_3_1,
    /// 0.4.0: `CHECK`, `disableCheck`.
    V0_4_0,
    /// 1.0.0: `version` dropped from `ips[]`.
    V1_0_0,
    /// 1.1.0: `STATUS`, `GC`, `cniVersions`, interface and route extras.
    V1_1_0,
}

impl CniVersion {
    /// Every supported version, oldest first (libcni's "all" list).
    pub const ALL: [CniVersion; 7] = [
        Self::V0_1_0,
        Self::V0_2_0,
        Self::V0_3_0,
        Self::V0_3_1,
        Self::V0_4_0,
        Self::V1_0_0,
        Self::V1_1_0,
    ];

    /// The newest version, the one libcni calls "current".
    pub const CURRENT: CniVersion = Self::V1_1_0;

    /// The version as written in JSON.
    pub const fn as_str(self) -> &'static str {
        match self {
            Self::V0_1_0 => "0.1.0",
            Self::V0_2_0 => "0.2.0",
            Self::V0_3_0 => "0.3.0",
            Self::V0_3_1 => "0.3.1",
            Self::V0_4_0 => "0.4.0",
            Self::V1_0_0 => "1.0.0",
            Self::V1_1_0 => "1.1.0",
        }
    }

    /// Parses a version, treating the empty string as 0.1.0 (a missing `cniVersion`).
    pub fn parse_or_default(s: &str) -> Result<Self, Error> {
        if s.is_empty() {
            Ok(Self::V0_1_0)
        } else {
            s.parse()
        }
    }

    /// The result family this version belongs to.
    pub const fn family(self) -> ResultFamily {
        match self {
            Self::V0_1_0 | Self::V0_2_0 => ResultFamily::V02,
            Self::V0_3_0 | Self::V0_3_1 | Self::V0_4_0 => ResultFamily::V04,
            Self::V1_0_0 | Self::V1_1_0 => ResultFamily::V1,
        }
    }

    /// Whether the `CHECK` command exists in this version.
    pub fn supports_check(self) -> bool {
        self >= Self::V0_4_0
    }

    /// Whether `STATUS` and `GC` exist in this version.
    pub fn supports_status_gc(self) -> bool {
        self >= Self::V1_1_0
    }
}

/// Groups of versions that share one result layout.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum ResultFamily {
    /// 0.1.0 and 0.2.0: `ip4`/`ip6`.
    V02,
    /// 0.3.0, 0.3.1 and 0.4.0: `interfaces`/`ips` with `version`.
    V04,
    /// 1.0.0 and 1.1.0.
    V1,
}

/// Compares two dotted version strings numerically as libcni does
/// (`major.minor.patch`, missing parts are 0, more than three parts is an error).
///
/// This accepts versions this crate has no variant for (e.g. "0.5.0"), which
/// is what a runtime needs when negotiating with a plugin from the future.
pub fn compare_version_strings(a: &str, b: &str) -> Result<std::cmp::Ordering, Error> {
    Ok(numeric_parts(a)?.cmp(&numeric_parts(b)?))
}

fn numeric_parts(s: &str) -> Result<[u64; 3], Error> {
    let bad = || Error::InvalidVersion(s.to_owned());
    let mut out = [0u64; 3];
    let mut parts = s.split('.');
    for slot in &mut out {
        match parts.next() {
            Some(p) => *slot = p.parse().map_err(|_| bad())?,
            None => break,
        }
    }
    if parts.next().is_some() {
        return Err(bad());
    }
    Ok(out)
}

impl FromStr for CniVersion {
    type Err = Error;

    fn from_str(s: &str) -> Result<Self, Error> {
        Self::ALL
            .into_iter()
            .find(|v| v.as_str() == s)
            .ok_or_else(|| Error::UnsupportedVersion(s.to_owned()))
    }
}

impl fmt::Display for CniVersion {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl Serialize for CniVersion {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(self.as_str())
    }
}

impl<'de> Deserialize<'de> for CniVersion {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let s = String::deserialize(d)?;
        Self::parse_or_default(&s).map_err(serde::de::Error::custom)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::cmp::Ordering;

    #[test]
    fn ordering_follows_release_order() {
        let mut shuffled = CniVersion::ALL;
        shuffled.reverse();
        shuffled.sort();
        assert_eq!(shuffled, CniVersion::ALL);
    }

    #[test]
    fn parse_and_display_round_trip() {
        for v in CniVersion::ALL {
            assert_eq!(v.as_str().parse::<CniVersion>().unwrap(), v);
            assert_eq!(serde_json::to_string(&v).unwrap(), format!("\"{v}\""));
        }
    }

    #[test]
    fn missing_means_0_1_0() {
        assert_eq!(
            CniVersion::parse_or_default("").unwrap(),
            CniVersion::V0_1_0
        );
        let v: CniVersion = serde_json::from_str("\"\"").unwrap();
        assert_eq!(v, CniVersion::V0_1_0);
    }

    #[test]
    fn unknown_version_is_named_in_the_error() {
        let err = "0.5.0".parse::<CniVersion>().unwrap_err();
        assert_eq!(err.to_string(), "unsupported CNI version \"0.5.0\"");
    }

    #[test]
    fn families() {
        assert_eq!(CniVersion::V0_2_0.family(), ResultFamily::V02);
        assert_eq!(CniVersion::V0_3_1.family(), ResultFamily::V04);
        assert_eq!(CniVersion::V1_1_0.family(), ResultFamily::V1);
        assert!(!CniVersion::V0_3_1.supports_check());
        assert!(CniVersion::V0_4_0.supports_check());
        assert!(CniVersion::V1_1_0.supports_status_gc());
    }

    #[test]
    fn numeric_comparison_like_libcni() {
        assert_eq!(
            compare_version_strings("0.10.0", "0.4.0").unwrap(),
            Ordering::Greater
        );
        assert_eq!(
            compare_version_strings("1", "1.0.0").unwrap(),
            Ordering::Equal
        );
        assert!(compare_version_strings("1.0.0.0", "1.0.0").is_err());
        assert!(compare_version_strings("a.b", "1.0.0").is_err());
    }
}
