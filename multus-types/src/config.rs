//! Network configurations: single plugin objects and configuration lists.
//!
//! Configs are kept as the JSON object they were read from (key order and
//! unknown keys preserved), so a delegate receives exactly what its author
//! wrote; accessors read the few keys a runtime needs.

use serde_json::{Map, Value};

use crate::{Capabilities, CniVersion, Error};

/// One plugin configuration object (a `.conf` file, or an element of `plugins`).
///
/// ```
/// use multus_types::NetConf;
/// let c = NetConf::from_bytes(br#"{"cniVersion":"0.3.1","name":"n","type":"bridge","x":{"keep":1}}"#).unwrap();
/// assert_eq!(c.plugin_type(), "bridge");
/// assert_eq!(c.to_string(), r#"{"cniVersion":"0.3.1","name":"n","type":"bridge","x":{"keep":1}}"#);
/// ```
#[derive(Debug, Clone, PartialEq)]
pub struct NetConf {
    map: Map<String, Value>,
}

impl NetConf {
    /// Reads a plugin config; it must be an object with a non-empty string `type`.
    pub fn from_bytes(bytes: &[u8]) -> Result<Self, Error> {
        Self::from_value(
            serde_json::from_slice(bytes).map_err(|e| Error::json("network config", e))?,
        )
    }

    /// Like [`NetConf::from_bytes`], from a parsed value.
    pub fn from_value(value: Value) -> Result<Self, Error> {
        let Value::Object(map) = value else {
            return Err(Error::InvalidConfig(
                "plugin config must be a JSON object".into(),
            ));
        };
        Self::from_map(map)
    }

    /// Like [`NetConf::from_bytes`], from an object.
    pub fn from_map(map: Map<String, Value>) -> Result<Self, Error> {
        match map.get("type") {
            Some(Value::String(t)) if !t.is_empty() => Ok(Self { map }),
            Some(Value::String(_)) | None => Err(Error::InvalidConfig(
                "plugin config is missing the 'type' field".into(),
            )),
            Some(other) => Err(Error::InvalidConfig(format!(
                "plugin 'type' must be a string, not {other}"
            ))),
        }
    }

    /// The plugin binary name.
    pub fn plugin_type(&self) -> &str {
        str_field(&self.map, "type")
    }

    /// The network name (`""` when absent).
    pub fn name(&self) -> &str {
        str_field(&self.map, "name")
    }

    /// The `cniVersion` as written (`""` when absent).
    pub fn cni_version_str(&self) -> &str {
        str_field(&self.map, "cniVersion")
    }

    /// The `cniVersion`, absent meaning 0.1.0.
    pub fn cni_version(&self) -> Result<CniVersion, Error> {
        CniVersion::parse_or_default(self.cni_version_str())
    }

    /// The capabilities this plugin asks for (non-boolean entries are ignored).
    pub fn capabilities(&self) -> Capabilities {
        match self.map.get("capabilities") {
            Some(Value::Object(caps)) => caps
                .iter()
                .filter_map(|(k, v)| v.as_bool().map(|b| (k.clone(), b)))
                .collect(),
            _ => Capabilities::new(),
        }
    }

    /// The JSON object.
    pub fn as_map(&self) -> &Map<String, Value> {
        &self.map
    }

    /// The JSON object, for edits (a runtime injects `name`, `cniVersion`, `runtimeConfig`, ...).
    pub fn map_mut(&mut self) -> &mut Map<String, Value> {
        &mut self.map
    }

    /// The JSON object, owned.
    pub fn into_map(self) -> Map<String, Value> {
        self.map
    }
}

impl std::fmt::Display for NetConf {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&Value::Object(self.map.clone()).to_string())
    }
}

/// A network configuration list (`.conflist`): a name, a version and chained plugins.
///
/// ```
/// use multus_types::{CniVersion, NetConfList};
/// let l = NetConfList::from_bytes(br#"{
///     "cniVersion": "1.0.0", "cniVersions": ["0.4.0", "1.0.0", "1.1.0", "2.0.0"], "name": "blue",
///     "plugins": [{"type": "bridge"}, {"type": "tuning", "capabilities": {"mac": true}}]
/// }"#).unwrap();
/// assert_eq!(l.cni_version().unwrap(), CniVersion::V1_1_0); // highest supported of cniVersions
/// assert_eq!(l.plugins().len(), 2);
/// ```
#[derive(Debug, Clone, PartialEq)]
pub struct NetConfList {
    map: Map<String, Value>,
    version: String,
    plugins: Vec<NetConf>,
}

impl NetConfList {
    /// Reads and validates a configuration list.
    pub fn from_bytes(bytes: &[u8]) -> Result<Self, Error> {
        Self::from_value(
            serde_json::from_slice(bytes).map_err(|e| Error::json("network config list", e))?,
        )
    }

    /// Like [`NetConfList::from_bytes`], from a parsed value.
    pub fn from_value(value: Value) -> Result<Self, Error> {
        let Value::Object(map) = value else {
            return Err(Error::InvalidConfig(
                "network config list must be a JSON object".into(),
            ));
        };
        Self::from_map(map)
    }

    /// Like [`NetConfList::from_bytes`], from an object. Checks the spec's rules:
    /// a valid `name`, a non-empty `plugins` list of objects that each have a
    /// `type`, booleans where booleans belong, and `cniVersions` if present.
    pub fn from_map(map: Map<String, Value>) -> Result<Self, Error> {
        let name = str_field(&map, "name");
        validate_network_name(name)?;
        let plugins = match map.get("plugins") {
            Some(Value::Array(items)) if items.is_empty() => {
                return Err(Error::InvalidConfig(format!(
                    "network {name:?}: no plugins in list"
                )));
            }
            Some(Value::Array(items)) => items
                .iter()
                .enumerate()
                .map(|(i, p)| {
                    NetConf::from_value(p.clone()).map_err(|e| {
                        Error::InvalidConfig(format!(
                            "network {name:?}: plugin {i}: {}",
                            inner_msg(e)
                        ))
                    })
                })
                .collect::<Result<Vec<_>, _>>()?,
            Some(_) => {
                return Err(Error::InvalidConfig(format!(
                    "network {name:?}: 'plugins' must be a list"
                )));
            }
            None => {
                return Err(Error::InvalidConfig(format!(
                    "network {name:?}: no 'plugins' key"
                )));
            }
        };
        for key in ["disableCheck", "disableGC", "loadOnlyInlinedPlugins"] {
            flag(&map, key)?;
        }
        let version = select_version(&map)?;
        Ok(Self {
            map,
            version,
            plugins,
        })
    }

    /// Wraps a single plugin config as a one-element list, taking the list's
    /// `name` and `cniVersion` from the plugin (libcni's up-conversion of `.conf` files).
    pub fn from_conf(conf: NetConf) -> Result<Self, Error> {
        let mut map = Map::new();
        map.insert(
            "cniVersion".into(),
            Value::String(conf.cni_version_str().to_owned()),
        );
        map.insert("name".into(), Value::String(conf.name().to_owned()));
        map.insert(
            "plugins".into(),
            Value::Array(vec![Value::Object(conf.into_map())]),
        );
        Self::from_map(map)
    }

    /// The list name.
    pub fn name(&self) -> &str {
        str_field(&self.map, "name")
    }

    /// The version the runtime uses for this list: the highest supported entry of
    /// `cniVersions` ∪ `cniVersion` when `cniVersions` is present, else `cniVersion` verbatim.
    pub fn cni_version_str(&self) -> &str {
        &self.version
    }

    /// [`NetConfList::cni_version_str`] as a known version.
    pub fn cni_version(&self) -> Result<CniVersion, Error> {
        CniVersion::parse_or_default(&self.version)
    }

    /// `disableCheck`: the runtime must not run CHECK.
    pub fn disable_check(&self) -> bool {
        flag(&self.map, "disableCheck").unwrap_or(false)
    }

    /// `disableGC`: the runtime must not run GC.
    pub fn disable_gc(&self) -> bool {
        flag(&self.map, "disableGC").unwrap_or(false)
    }

    /// `loadOnlyInlinedPlugins`: do not append plugins found beside the file.
    pub fn load_only_inlined_plugins(&self) -> bool {
        flag(&self.map, "loadOnlyInlinedPlugins").unwrap_or(false)
    }

    /// The plugins, in ADD order.
    pub fn plugins(&self) -> &[NetConf] {
        &self.plugins
    }

    /// Appends a plugin (e.g. one loaded from `<dir>/<name>/*.conf`).
    pub fn push_plugin(&mut self, plugin: NetConf) {
        if let Some(Value::Array(items)) = self.map.get_mut("plugins") {
            items.push(Value::Object(plugin.as_map().clone()));
        }
        self.plugins.push(plugin);
    }

    /// The JSON object as read (plus appended plugins).
    pub fn as_map(&self) -> &Map<String, Value> {
        &self.map
    }
}

impl std::fmt::Display for NetConfList {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&Value::Object(self.map.clone()).to_string())
    }
}

/// A network name must match `^[a-zA-Z0-9][a-zA-Z0-9_.\-]*$` (it becomes part of file names).
pub fn validate_network_name(name: &str) -> Result<(), Error> {
    if name.is_empty() {
        return Err(Error::InvalidConfig("missing network name".into()));
    }
    if !is_cni_identifier(name) {
        return Err(Error::InvalidConfig(format!(
            "invalid characters found in network name {name:?}"
        )));
    }
    Ok(())
}

/// Whether `s` matches `^[a-zA-Z0-9][a-zA-Z0-9_.\-]*$`, the rule for network
/// names and container ids.
pub fn is_cni_identifier(s: &str) -> bool {
    let mut chars = s.chars();
    chars.next().is_some_and(|c| c.is_ascii_alphanumeric())
        && chars.all(|c| c.is_ascii_alphanumeric() || matches!(c, '_' | '.' | '-'))
}

/// How a JSON value is described in error messages ("a string", "a list", ...).
pub fn json_kind(v: &Value) -> &'static str {
    match v {
        Value::Null => "null",
        Value::Bool(_) => "a boolean",
        Value::Number(_) => "a number",
        Value::String(_) => "a string",
        Value::Array(_) => "a list",
        Value::Object(_) => "an object",
    }
}

fn str_field<'a>(map: &'a Map<String, Value>, key: &str) -> &'a str {
    map.get(key).and_then(Value::as_str).unwrap_or("")
}

fn inner_msg(e: Error) -> String {
    match e {
        Error::InvalidConfig(m) => m,
        other => other.to_string(),
    }
}

/// A boolean flag that libcni also accepts as a case-insensitive string.
fn flag(map: &Map<String, Value>, key: &str) -> Result<bool, Error> {
    match map.get(key) {
        None | Some(Value::Null) => Ok(false),
        Some(Value::Bool(b)) => Ok(*b),
        Some(Value::String(s)) if s.eq_ignore_ascii_case("true") => Ok(true),
        Some(Value::String(s)) if s.eq_ignore_ascii_case("false") => Ok(false),
        Some(other) => Err(Error::InvalidConfig(format!(
            "{key} must be a boolean, not {other}"
        ))),
    }
}

fn select_version(map: &Map<String, Value>) -> Result<String, Error> {
    let declared = str_field(map, "cniVersion").to_owned();
    let Some(list) = map.get("cniVersions") else {
        return Ok(declared);
    };
    let Value::Array(items) = list else {
        return Err(Error::InvalidConfig(
            "cniVersions must be a list of strings".into(),
        ));
    };
    let mut best: Option<CniVersion> = None;
    let candidates = items
        .iter()
        .map(|v| v.as_str())
        .chain((!declared.is_empty()).then_some(Some(declared.as_str())));
    for candidate in candidates {
        let Some(s) = candidate else {
            return Err(Error::InvalidConfig(
                "cniVersions must be a list of strings".into(),
            ));
        };
        // Versions newer than we know are skipped; malformed ones are errors.
        crate::compare_version_strings(s, CniVersion::CURRENT.as_str())
            .map_err(|_| Error::InvalidConfig(format!("invalid cniVersions entry {s:?}")))?;
        if let Ok(v) = s.parse::<CniVersion>() {
            best = best.max(Some(v));
        }
    }
    Ok(best.map(|v| v.as_str().to_owned()).unwrap_or(declared))
}

/// A delegate as Multus accepts it: a single plugin config (has `type`) or a list.
#[derive(Debug, Clone, PartialEq)]
pub enum DelegateConf {
    /// A single plugin.
    Single(NetConf),
    /// A configuration list.
    List(NetConfList),
}

impl DelegateConf {
    /// Classifies a delegate like upstream: with `type` it is a single plugin,
    /// otherwise it must be a list whose plugins have `type`.
    pub fn from_value(value: Value) -> Result<Self, Error> {
        let Value::Object(map) = value else {
            return Err(Error::InvalidConfig(
                "delegate must be a JSON object".into(),
            ));
        };
        if map.contains_key("type") {
            return NetConf::from_map(map).map(Self::Single);
        }
        match map.get("plugins") {
            None | Some(Value::Null) => Err(Error::InvalidConfig(
                "delegate must have the 'type' or 'plugin' field".into(),
            )),
            Some(Value::Array(items)) if !items.iter().all(|p| p.get("type").is_some()) => Err(
                Error::InvalidConfig("a plugin delegate must have the 'type' field".into()),
            ),
            Some(_) => NetConfList::from_map(map).map(Self::List),
        }
    }

    /// Like [`DelegateConf::from_value`], from bytes.
    pub fn from_bytes(bytes: &[u8]) -> Result<Self, Error> {
        Self::from_value(
            serde_json::from_slice(bytes).map_err(|e| Error::json("delegate config", e))?,
        )
    }

    /// The network name (list name for lists).
    pub fn name(&self) -> &str {
        match self {
            Self::Single(c) => c.name(),
            Self::List(l) => l.name(),
        }
    }

    /// The `cniVersion` as the runtime will use it.
    pub fn cni_version_str(&self) -> &str {
        match self {
            Self::Single(c) => c.cni_version_str(),
            Self::List(l) => l.cni_version_str(),
        }
    }

    /// The JSON object.
    pub fn as_map(&self) -> &Map<String, Value> {
        match self {
            Self::Single(c) => c.as_map(),
            Self::List(l) => l.as_map(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn list(v: Value) -> Result<NetConfList, Error> {
        NetConfList::from_value(v)
    }

    #[test]
    fn keeps_unknown_keys_in_order() {
        let text = r#"{"zeta":1,"type":"macvlan","alpha":{"b":2,"a":1},"name":"m"}"#;
        let c = NetConf::from_bytes(text.as_bytes()).unwrap();
        assert_eq!(c.to_string(), text);
    }

    #[test]
    fn plugin_without_type_is_refused() {
        let e = NetConf::from_value(json!({"name":"x"})).unwrap_err();
        assert_eq!(
            e.to_string(),
            "invalid network config: plugin config is missing the 'type' field"
        );
        assert!(NetConf::from_value(json!({"type":""})).is_err());
        assert!(NetConf::from_value(json!({"type":7})).is_err());
        assert!(NetConf::from_value(json!([])).is_err());
    }

    #[test]
    fn list_rules() {
        assert!(list(json!({"name":"a","plugins":[{"type":"x"}]})).is_ok());
        let e = list(json!({"name":"a","plugins":[]}))
            .unwrap_err()
            .to_string();
        assert!(e.contains("no plugins in list"), "{e}");
        let e = list(json!({"name":"a","plugins":[{"type":"x"},{"ipam":{}}]}))
            .unwrap_err()
            .to_string();
        assert!(e.contains("plugin 1"), "{e}");
        let e = list(json!({"name":"bad/name","plugins":[{"type":"x"}]}))
            .unwrap_err()
            .to_string();
        assert!(e.contains("invalid characters"), "{e}");
        let e = list(json!({"plugins":[{"type":"x"}]}))
            .unwrap_err()
            .to_string();
        assert!(e.contains("missing network name"), "{e}");
    }

    #[test]
    fn disable_flags_accept_bools_and_strings() {
        let l = list(
            json!({"name":"a","disableCheck":"TRUE","disableGC":true,"plugins":[{"type":"x"}]}),
        )
        .unwrap();
        assert!(l.disable_check() && l.disable_gc() && !l.load_only_inlined_plugins());
        assert!(list(json!({"name":"a","disableCheck":"yes","plugins":[{"type":"x"}]})).is_err());
    }

    #[test]
    fn cni_versions_pick_the_highest_known() {
        let l = list(json!({"name":"a","cniVersion":"0.4.0","cniVersions":["1.0.0","9.9.9"],"plugins":[{"type":"x"}]})).unwrap();
        assert_eq!(l.cni_version_str(), "1.0.0");
        let l = list(json!({"name":"a","cniVersion":"0.3.1","plugins":[{"type":"x"}]})).unwrap();
        assert_eq!(l.cni_version_str(), "0.3.1");
        assert!(list(json!({"name":"a","cniVersions":["x.y"],"plugins":[{"type":"x"}]})).is_err());
    }

    #[test]
    fn single_conf_up_converts() {
        let c =
            NetConf::from_value(json!({"cniVersion":"0.3.0","name":"m","type":"macvlan"})).unwrap();
        let l = NetConfList::from_conf(c).unwrap();
        assert_eq!(
            (l.name(), l.cni_version_str(), l.plugins().len()),
            ("m", "0.3.0", 1)
        );
    }

    #[test]
    fn delegate_classification_matches_upstream_messages() {
        assert!(matches!(
            DelegateConf::from_value(json!({"type":"bridge","name":"b"})),
            Ok(DelegateConf::Single(_))
        ));
        assert!(matches!(
            DelegateConf::from_value(json!({"name":"l","plugins":[{"type":"bridge"}]})),
            Ok(DelegateConf::List(_))
        ));
        let e = DelegateConf::from_value(json!({"name":"x"}))
            .unwrap_err()
            .to_string();
        assert!(
            e.ends_with("delegate must have the 'type' or 'plugin' field"),
            "{e}"
        );
        let e = DelegateConf::from_value(json!({"name":"x","plugins":[{"ipam":{}}]}))
            .unwrap_err()
            .to_string();
        assert!(
            e.ends_with("a plugin delegate must have the 'type' field"),
            "{e}"
        );
        let e = DelegateConf::from_value(json!({"name":"x","plugins":[]}))
            .unwrap_err()
            .to_string();
        assert!(e.contains("no plugins in list"), "{e}");
    }

    #[test]
    fn identifiers() {
        assert!(is_cni_identifier("a1_b.c-d"));
        assert!(!is_cni_identifier("-a"));
        assert!(!is_cni_identifier(""));
        assert!(!is_cni_identifier("a/b"));
    }
}
