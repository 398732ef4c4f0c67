//! CNI results of every version, and libcni's conversions between them.
//!
//! Three layouts cover the seven versions:
//!
//! | module | versions | shape |
//! |---|---|---|
//! | [`v02`] | 0.1.0, 0.2.0 | `ip4`/`ip6`, routes inside each |
//! | [`v04`] | 0.3.0, 0.3.1, 0.4.0 | `interfaces`, `ips` with `version`, `routes` |
//! | [`v1`] | 1.0.0, 1.1.0 | as 0.4.0 without `ips[].version`, plus 1.1.0 extras |
//!
//! [`CniResult`] holds any of them, picks the layout from the result's own
//! `cniVersion` when parsing, and converts between versions with the same
//! rules (and the same losses) as libcni's `GetAsVersion`.
//!
//! ```
//! use multus_types::{CniResult, CniVersion};
//!
//! let out = br#"{"cniVersion":"0.2.0","ip4":{"ip":"10.1.1.5/24","gateway":"10.1.1.1"}}"#;
//! let result = CniResult::parse(out, CniVersion::V1_0_0)?;
//! assert_eq!(result.version(), CniVersion::V0_2_0);
//!
//! let v1 = result.to_v1()?;
//! assert_eq!(v1.cni_version, CniVersion::V1_1_0);
//! assert_eq!(v1.ips[0].address.to_string(), "10.1.1.5/24");
//!
//! let v040 = result.convert_to(CniVersion::V0_4_0)?;
//! assert_eq!(
//!     serde_json::to_string(&v040).unwrap(),
//!     r#"{"cniVersion":"0.4.0","ips":[{"version":"4","address":"10.1.1.5/24","gateway":"10.1.1.1"}],"dns":{}}"#
//! );
//! # Ok::<(), multus_types::Error>(())
//! ```

mod convert;
pub mod v02;
pub mod v04;
pub mod v1;

use serde::de::{DeserializeOwned, Error as _};
use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};

use crate::{CniVersion, Error, ResultFamily};

/// What a decoding error says it was decoding.
const WHAT: &str = "CNI result";

/// A CNI result of any version, in the layout of its version.
///
/// Serializes as the version-specific JSON (no tag of its own).
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(untagged)]
pub enum CniResult {
    /// A 0.1.0 or 0.2.0 result.
    V02(v02::Result),
    /// A 0.3.0, 0.3.1 or 0.4.0 result.
    V04(v04::Result),
    /// A 1.0.0 or 1.1.0 result.
    V1(v1::Result),
}

impl CniResult {
    /// Parses a plugin's result.
    ///
    /// The result's own `cniVersion` picks the layout. A result without one
    /// (or with `""`, or `null`) is read as `default_version` — pass the
    /// version of the config the plugin was given, as libcni does for
    /// `prevResult`. Keys whose value is `null` count as absent, as in Go.
    ///
    /// # Errors
    /// [`Error::Json`] for JSON that is not a result object of its layout,
    /// [`Error::Result`] (`unsupported CNI result version "X"`) for a
    /// version this crate does not know.
    ///
    /// ```
    /// use multus_types::{CniResult, CniVersion};
    /// let r = CniResult::parse(br#"{"ips":[{"address":"10.0.0.2/8"}]}"#, CniVersion::V1_0_0)?;
    /// assert_eq!(r.version(), CniVersion::V1_0_0);
    ///
    /// let err = CniResult::parse(br#"{"cniVersion":"0.5.0"}"#, CniVersion::V1_0_0).unwrap_err();
    /// assert_eq!(err.to_string(), r#"unsupported CNI result version "0.5.0""#);
    /// # Ok::<(), multus_types::Error>(())
    /// ```
    pub fn parse(json: &[u8], default_version: CniVersion) -> Result<Self, Error> {
        let value: Value = serde_json::from_slice(json).map_err(|e| Error::json(WHAT, e))?;
        Self::from_value(value, default_version)
    }

    /// Like [`parse`](Self::parse), from an already decoded JSON value
    /// (e.g. a `prevResult` inside a network config).
    ///
    /// # Errors
    /// As [`parse`](Self::parse).
    pub fn from_value(mut value: Value, default_version: CniVersion) -> Result<Self, Error> {
        strip_nulls(&mut value);
        let mut map: Map<String, Value> =
            serde_json::from_value(value).map_err(|e| Error::json(WHAT, e))?;
        let version = match map.get("cniVersion") {
            None => default_version,
            Some(Value::String(s)) if s.is_empty() => default_version,
            Some(Value::String(s)) => s
                .parse::<CniVersion>()
                .map_err(|_| Error::Result(format!("unsupported CNI result version {s:?}")))?,
            Some(other) => {
                let detail = match serde_json::from_value::<String>(other.clone()) {
                    Err(e) => e.to_string(),
                    Ok(_) => "expected a string".to_owned(),
                };
                return Err(Error::json(
                    WHAT,
                    serde_json::Error::custom(format_args!("cniVersion: {detail}")),
                ));
            }
        };
        // The typed layouts read the version from the object, so write the
        // resolved one back (this is also how libcni injects the config's
        // version into a `prevResult` without one).
        map.insert("cniVersion".to_owned(), Value::from(version.as_str()));
        let value = Value::Object(map);
        Ok(match version.family() {
            ResultFamily::V02 => Self::V02(decode(value)?),
            ResultFamily::V04 => Self::V04(decode(value)?),
            ResultFamily::V1 => Self::V1(decode(value)?),
        })
    }

    /// The version this result is labelled with.
    pub fn version(&self) -> CniVersion {
        match self {
            Self::V02(r) => r.cni_version,
            Self::V04(r) => r.cni_version,
            Self::V1(r) => r.cni_version,
        }
    }

    /// This result written in version `to`, following libcni's `GetAsVersion`:
    ///
    /// * same version: an identical copy; same layout: relabelled only;
    /// * 0.2 → 0.3/0.4: `ip4` then `ip6` become `ips` (no interface index),
    ///   their routes become top-level `routes`;
    /// * 0.3/0.4 → 0.2: only the first `"4"` and first `"6"` address, a route
    ///   only when its destination family has an address, no interfaces;
    ///   no address at all is an error;
    /// * 0.3/0.4 → 1.x: `ips[].version` dropped;
    /// * 1.x → 0.3/0.4: `ips[].version` recomputed, interfaces lose
    ///   `mtu`/`socketPath`/`pciID`, routes keep every field;
    /// * 0.2 ↔ 1.x: through 0.4.0.
    ///
    /// # Errors
    /// [`Error::Result`] `cannot convert: no valid IP addresses` when a
    /// 0.3+ result without any `"4"`/`"6"` address is asked for as 0.1/0.2.
    ///
    /// ```
    /// use multus_types::{CniResult, CniVersion};
    /// let r = CniResult::parse(br#"{"cniVersion":"1.0.0","interfaces":[{"name":"eth0"}]}"#,
    ///                          CniVersion::V1_0_0)?;
    /// let err = r.convert_to(CniVersion::V0_2_0).unwrap_err();
    /// assert_eq!(err.to_string(), "cannot convert: no valid IP addresses");
    /// # Ok::<(), multus_types::Error>(())
    /// ```
    pub fn convert_to(&self, to: CniVersion) -> Result<Self, Error> {
        use convert::{v1_to_v04, v02_to_v04, v04_to_v1, v04_to_v02};
        if self.version() == to {
            return Ok(self.clone());
        }
        Ok(match (self, to.family()) {
            (Self::V02(r), ResultFamily::V02) => Self::V02(v02::Result {
                cni_version: to,
                ..r.clone()
            }),
            (Self::V02(r), ResultFamily::V04) => Self::V04(v02_to_v04(r, to)),
            (Self::V02(r), ResultFamily::V1) => {
                Self::V1(v04_to_v1(&v02_to_v04(r, CniVersion::V0_4_0), to))
            }
            (Self::V04(r), ResultFamily::V02) => Self::V02(v04_to_v02(r, to)?),
            (Self::V04(r), ResultFamily::V04) => Self::V04(v04::Result {
                cni_version: to,
                ..r.clone()
            }),
            (Self::V04(r), ResultFamily::V1) => Self::V1(v04_to_v1(r, to)),
            (Self::V1(r), ResultFamily::V02) => {
                Self::V02(v04_to_v02(&v1_to_v04(r, CniVersion::V0_4_0), to)?)
            }
            (Self::V1(r), ResultFamily::V04) => Self::V04(v1_to_v04(r, to)),
            (Self::V1(r), ResultFamily::V1) => Self::V1(v1::Result {
                cni_version: to,
                ..r.clone()
            }),
        })
    }

    /// This result as a 1.x result labelled 1.1.0 (the newest layout, which
    /// loses nothing from older ones): what network-status and other
    /// consumers that read "any version" want.
    ///
    /// # Errors
    /// None today (every layout converts up without loss); the `Result`
    /// leaves room for future versions.
    pub fn to_v1(&self) -> Result<v1::Result, Error> {
        let to = CniVersion::V1_1_0;
        Ok(match self {
            Self::V02(r) => convert::v04_to_v1(&convert::v02_to_v04(r, CniVersion::V0_4_0), to),
            Self::V04(r) => convert::v04_to_v1(r, to),
            Self::V1(r) => v1::Result {
                cni_version: to,
                ..r.clone()
            },
        })
    }

    /// [`v1::Result::has_interfaces_or_ips`] of this result converted to 1.x
    /// (without converting it): a 0.1/0.2 `ip4` or `ip6` section counts as
    /// an address.
    ///
    /// ```
    /// use multus_types::{CniResult, CniVersion};
    /// let r = CniResult::parse(br#"{"cniVersion":"0.2.0","ip4":{"ip":"192.0.2.5/24"}}"#,
    ///                          CniVersion::V1_0_0)?;
    /// assert!(r.has_interfaces_or_ips());
    /// # Ok::<(), multus_types::Error>(())
    /// ```
    pub fn has_interfaces_or_ips(&self) -> bool {
        match self {
            Self::V02(r) => r.ip4.is_some() || r.ip6.is_some(),
            Self::V04(r) => !r.interfaces.is_empty() || !r.ips.is_empty(),
            Self::V1(r) => r.has_interfaces_or_ips(),
        }
    }

    /// The version-specific JSON of this result as a value.
    ///
    /// # Errors
    /// [`Error::Json`] if serialization fails (it does not for these types).
    pub fn to_value(&self) -> Result<Value, Error> {
        serde_json::to_value(self).map_err(|e| Error::json(WHAT, e))
    }

    /// The version-specific JSON indented with four spaces and without a
    /// trailing newline, as Go plugins print results (`PrintTo`).
    ///
    /// # Errors
    /// [`Error::Json`] if serialization fails (it does not for these types).
    pub fn to_json_string(&self) -> Result<String, Error> {
        let mut buf = Vec::with_capacity(256);
        let formatter = serde_json::ser::PrettyFormatter::with_indent(b"    ");
        let mut ser = serde_json::Serializer::with_formatter(&mut buf, formatter);
        self.serialize(&mut ser).map_err(|e| Error::json(WHAT, e))?;
        // serde_json writes UTF-8 only; lossy conversion just avoids a panic path.
        Ok(String::from_utf8_lossy(&buf).into_owned())
    }
}

impl From<v02::Result> for CniResult {
    fn from(r: v02::Result) -> Self {
        Self::V02(r)
    }
}

impl From<v04::Result> for CniResult {
    fn from(r: v04::Result) -> Self {
        Self::V04(r)
    }
}

impl From<v1::Result> for CniResult {
    fn from(r: v1::Result) -> Self {
        Self::V1(r)
    }
}

/// Decodes one layout, naming the key path in errors (`ips[0].address: ...`).
fn decode<T: DeserializeOwned>(value: Value) -> Result<T, Error> {
    crate::casefold::decode_tracked(value, |de| T::deserialize(de))
        .map_err(|msg| Error::json(WHAT, serde_json::Error::custom(msg)))
}

/// Drops every object member whose value is `null`, at any depth.
///
/// Go's decoder leaves a field untouched on `null`, which for a fresh result
/// is the same as the key being absent; serde would instead reject `null`
/// for a list or string. Iterative so that no input depth can overflow the stack.
fn strip_nulls(root: &mut Value) {
    let mut stack = vec![root];
    while let Some(value) = stack.pop() {
        match value {
            Value::Object(map) => {
                map.retain(|_, v| !v.is_null());
                stack.extend(map.values_mut());
            }
            Value::Array(items) => stack.extend(items.iter_mut()),
            _ => {}
        }
    }
}

/// Reads a layout's `cniVersion` and refuses versions of other layouts, like
/// the check in each of libcni's `NewResult` functions. `""` means 0.1.0.
fn version_of_family<'de, D: serde::Deserializer<'de>>(
    d: D,
    family: ResultFamily,
) -> Result<CniVersion, D::Error> {
    let s = String::deserialize(d)?;
    let bad = || {
        let supported: Vec<&str> = CniVersion::ALL
            .iter()
            .filter(|v| v.family() == family)
            .map(|v| v.as_str())
            .collect();
        D::Error::custom(format_args!(
            "result type supports [{}] but unmarshalled CNIVersion is {s:?}",
            supported.join(" ")
        ))
    };
    match CniVersion::parse_or_default(&s) {
        Ok(v) if v.family() == family => Ok(v),
        _ => Err(bad()),
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::expect_used)]
mod tests {
    use super::*;

    #[test]
    fn strip_nulls_removes_members_at_any_depth_but_not_array_items() {
        let mut v: Value =
            serde_json::from_str(r#"{"a":null,"b":{"c":null,"d":[null,{"e":null}]}}"#).unwrap();
        strip_nulls(&mut v);
        assert_eq!(v.to_string(), r#"{"b":{"d":[null,{}]}}"#);
    }

    #[test]
    fn wrong_family_version_is_named() {
        let err = serde_json::from_str::<v04::Result>(r#"{"cniVersion":""}"#).unwrap_err();
        assert_eq!(
            err.to_string(),
            r#"result type supports [0.3.0 0.3.1 0.4.0] but unmarshalled CNIVersion is "" at line 1 column 17"#
        );
    }

    /// Moved from multus-netns (`result_has_interfaces_or_ips`, which read
    /// the JSON): the same results, typed.
    #[test]
    fn has_interfaces_or_ips() {
        let check = |json: &str| {
            let r = CniResult::parse(json.as_bytes(), CniVersion::V1_0_0).unwrap();
            let v1 = r.to_v1().unwrap().has_interfaces_or_ips();
            assert_eq!(r.has_interfaces_or_ips(), v1, "{json}");
            v1
        };
        assert!(!check(r#"{"cniVersion": "1.0.0"}"#));
        assert!(!check(
            r#"{"cniVersion": "1.0.0", "interfaces": [], "ips": []}"#
        ));
        assert!(check(r#"{"interfaces": [{"name": "net1"}]}"#));
        assert!(check(r#"{"ips": [{"address": "192.0.2.5/24"}]}"#));
        assert!(check(
            r#"{"cniVersion": "0.2.0", "ip4": {"ip": "192.0.2.5/24"}}"#
        ));
        // Also the other layouts.
        assert!(check(
            r#"{"cniVersion": "0.2.0", "ip6": {"ip": "2001:db8::5/64"}}"#
        ));
        assert!(!check(r#"{"cniVersion": "0.2.0"}"#));
        assert!(check(
            r#"{"cniVersion": "0.4.0", "interfaces": [{"name": "net1"}]}"#
        ));
        assert!(!check(r#"{"cniVersion": "0.4.0"}"#));
        // Not a result at all (the JSON function answered false).
        assert!(CniResult::parse(br#""nope""#, CniVersion::V1_0_0).is_err());
    }

    #[test]
    fn non_string_version_is_a_json_error() {
        let err = CniResult::parse(br#"{"cniVersion":1}"#, CniVersion::V1_0_0).unwrap_err();
        assert!(matches!(err, Error::Json { .. }));
        assert_eq!(
            err.to_string(),
            "CNI result: cniVersion: invalid type: integer `1`, expected a string"
        );
    }

    #[test]
    fn errors_name_the_key_path() {
        let err = CniResult::parse(
            br#"{"cniVersion":"1.0.0","ips":[{"address":"nope"}]}"#,
            CniVersion::V1_0_0,
        )
        .unwrap_err();
        assert!(
            err.to_string().starts_with("CNI result: ips[0].address: "),
            "{err}"
        );
    }
}
