//! The `VERSION` reply and version negotiation between a config list and its plugins.

use multus_types::{CniVersion, NetConfList};
use serde::{Deserialize, Serialize};
use serde_json::Value;

use crate::Error;

/// A plugin's answer to `VERSION`.
///
/// ```
/// use multus_delegate::PluginInfo;
/// let info = PluginInfo::decode(br#"{"cniVersion":"1.0.0","supportedVersions":["0.4.0","1.0.0"]}"#).unwrap();
/// assert!(info.supports("1.0.0"));
/// assert!(!info.supports("1.1.0"));
/// // A 0.2.0 plugin may omit the list.
/// let old = PluginInfo::decode(br#"{"cniVersion":"0.2.0"}"#).unwrap();
/// assert_eq!(old.supported_versions, ["0.1.0", "0.2.0"]);
/// ```
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct PluginInfo {
    /// The version the reply is written in.
    #[serde(rename = "cniVersion", default)]
    pub cni_version: String,
    /// Every spec version the plugin supports.
    #[serde(rename = "supportedVersions", default)]
    pub supported_versions: Vec<String>,
}

impl PluginInfo {
    /// A reply listing `supported`.
    pub fn new<S: Into<String>>(
        cni_version: impl Into<String>,
        supported: impl IntoIterator<Item = S>,
    ) -> Self {
        Self {
            cni_version: cni_version.into(),
            supported_versions: supported.into_iter().map(Into::into).collect(),
        }
    }

    /// Decodes a `VERSION` reply with libcni's rules: `cniVersion` is
    /// required; `supportedVersions` may be missing only in a 0.2.0 reply,
    /// meaning 0.1.0 and 0.2.0.
    ///
    /// # Errors
    /// The reason the reply is refused.
    pub fn decode(bytes: &[u8]) -> Result<Self, String> {
        let mut info: PluginInfo = serde_json::from_slice(bytes).map_err(|e| e.to_string())?;
        if info.cni_version.is_empty() {
            return Err("missing field cniVersion".into());
        }
        if info.supported_versions.is_empty() {
            if info.cni_version == "0.2.0" {
                info.supported_versions = vec!["0.1.0".into(), "0.2.0".into()];
            } else {
                return Err("missing field supportedVersions".into());
            }
        }
        Ok(info)
    }

    /// Whether `version` is listed exactly (as the plugin skeleton checks it).
    pub fn supports(&self, version: &str) -> bool {
        self.supported_versions.iter().any(|v| v == version)
    }
}

/// The versions a list offers, highest first: `cniVersions` ∪ `cniVersion`,
/// keeping only versions this crate knows. A list that names none offers
/// the version it would run with ([`NetConfList::cni_version`]).
pub fn offered_versions(list: &NetConfList) -> Vec<CniVersion> {
    let map = list.as_map();
    let mut out: Vec<CniVersion> = map
        .get("cniVersions")
        .and_then(Value::as_array)
        .into_iter()
        .flatten()
        .filter_map(Value::as_str)
        .chain(map.get("cniVersion").and_then(Value::as_str))
        .filter_map(|s| s.parse().ok())
        .collect();
    if out.is_empty() {
        out.extend(list.cni_version().ok());
    }
    out.sort_unstable_by(|a, b| b.cmp(a));
    out.dedup();
    out
}

/// The highest version offered by `list` that every plugin supports, given
/// the plugins' `VERSION` replies; `None` when there is none.
///
/// ```
/// use multus_delegate::{negotiate, PluginInfo};
/// use multus_types::{CniVersion, NetConfList};
/// let list = NetConfList::from_bytes(br#"{"name":"n","cniVersion":"1.1.0",
///     "cniVersions":["0.4.0","1.0.0","1.1.0"],"plugins":[{"type":"bridge"}]}"#).unwrap();
/// let bridge = PluginInfo::new("1.0.0", ["0.3.1", "0.4.0", "1.0.0"]);
/// assert_eq!(negotiate(&list, &[bridge]), Some(CniVersion::V1_0_0));
/// ```
pub fn negotiate(list: &NetConfList, plugins: &[PluginInfo]) -> Option<CniVersion> {
    offered_versions(list)
        .into_iter()
        .find(|v| plugins.iter().all(|p| p.supports(v.as_str())))
}

/// A copy of `list` that runs at `version`: `cniVersion` set, `cniVersions`
/// removed, every other key kept.
///
/// # Errors
/// [`Error::Types`] if the list no longer validates (it always does when
/// `list` did).
pub fn list_with_version(list: &NetConfList, version: CniVersion) -> Result<NetConfList, Error> {
    let mut map = list.as_map().clone();
    map.insert("cniVersion".into(), Value::from(version.as_str()));
    map.shift_remove("cniVersions");
    Ok(NetConfList::from_map(map)?)
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use serde_json::json;

    use super::*;

    fn list(v: Value) -> NetConfList {
        NetConfList::from_value(v).unwrap()
    }

    #[test]
    fn decode_rules() {
        assert_eq!(
            PluginInfo::decode(br#"{"supportedVersions":["1.0.0"]}"#).unwrap_err(),
            "missing field cniVersion"
        );
        assert_eq!(
            PluginInfo::decode(br#"{"cniVersion":"0.3.0"}"#).unwrap_err(),
            "missing field supportedVersions"
        );
        assert!(PluginInfo::decode(b"nope").is_err());
    }

    #[test]
    fn offered_versions_are_known_and_sorted() {
        let l = list(json!({"name": "n", "cniVersion": "0.4.0",
            "cniVersions": ["1.0.0", "9.0.0", "0.3.1"], "plugins": [{"type": "x"}]}));
        assert_eq!(
            offered_versions(&l),
            [CniVersion::V1_0_0, CniVersion::V0_4_0, CniVersion::V0_3_1]
        );
        let l = list(json!({"name": "n", "plugins": [{"type": "x"}]}));
        assert_eq!(offered_versions(&l), [CniVersion::V0_1_0]);
    }

    #[test]
    fn negotiation_picks_the_highest_common() {
        let l = list(json!({"name": "n", "cniVersion": "1.1.0",
            "cniVersions": ["0.3.1", "0.4.0", "1.0.0"], "plugins": [{"type": "a"}, {"type": "b"}]}));
        let a = PluginInfo::new("1.1.0", ["0.3.1", "0.4.0", "1.0.0", "1.1.0"]);
        let b = PluginInfo::new("0.4.0", ["0.3.1", "0.4.0"]);
        assert_eq!(
            negotiate(&l, &[a.clone(), b.clone()]),
            Some(CniVersion::V0_4_0)
        );
        assert_eq!(negotiate(&l, &[a]), Some(CniVersion::V1_1_0));
        let c = PluginInfo::new("0.2.0", ["0.1.0", "0.2.0"]);
        assert_eq!(negotiate(&l, &[b, c]), None);
    }

    #[test]
    fn with_version_drops_cni_versions() {
        let l = list(
            json!({"name": "n", "cniVersion": "0.4.0", "cniVersions": ["1.1.0"],
            "x": 1, "plugins": [{"type": "a"}]}),
        );
        assert_eq!(l.cni_version_str(), "1.1.0");
        let l = list_with_version(&l, CniVersion::V1_0_0).unwrap();
        assert_eq!(l.cni_version_str(), "1.0.0");
        assert!(l.as_map().get("cniVersions").is_none());
        assert_eq!(l.as_map()["x"], json!(1));
    }
}
