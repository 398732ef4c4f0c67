//! The per-invocation arguments and the config a plugin receives on stdin.

use multus_types::{Capabilities, CniArgs, NetConf};
use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};

/// The runtime's arguments to one attachment, apart from the network config
/// (libcni's `RuntimeConf`).
///
/// ```
/// use multus_delegate::RuntimeConf;
/// use serde_json::json;
/// let rt = RuntimeConf::new("c0ffee", "/run/netns/pod-1", "net1")
///     .with_arg("IgnoreUnknown", "1")
///     .with_capability("mac", json!("c2:11:22:33:44:55"));
/// assert_eq!(rt.args.to_string(), "IgnoreUnknown=1");
/// ```
#[derive(Debug, Clone, Default, PartialEq)]
pub struct RuntimeConf {
    /// `CNI_CONTAINERID`.
    pub container_id: String,
    /// `CNI_NETNS`: the network namespace path (may be empty for `DEL`).
    pub netns: String,
    /// `CNI_IFNAME`: the interface to create inside the namespace.
    pub ifname: String,
    /// `CNI_ARGS`, in order.
    pub args: CniArgs,
    /// Capability arguments (`portMappings`, `mac`, `ips`, ...): each plugin
    /// gets, in `runtimeConfig`, the ones its `capabilities` enable.
    pub capability_args: Map<String, Value>,
}

impl RuntimeConf {
    /// The arguments for attaching `ifname` in `netns` to container `container_id`.
    pub fn new(
        container_id: impl Into<String>,
        netns: impl Into<String>,
        ifname: impl Into<String>,
    ) -> Self {
        Self {
            container_id: container_id.into(),
            netns: netns.into(),
            ifname: ifname.into(),
            ..Self::default()
        }
    }

    /// Appends a `CNI_ARGS` pair.
    #[must_use]
    pub fn with_arg(mut self, key: impl Into<String>, value: impl Into<String>) -> Self {
        self.args.push(key, value);
        self
    }

    /// Replaces the `CNI_ARGS` pairs.
    #[must_use]
    pub fn with_args(mut self, args: CniArgs) -> Self {
        self.args = args;
        self
    }

    /// Sets one capability argument.
    #[must_use]
    pub fn with_capability(mut self, key: impl Into<String>, value: Value) -> Self {
        self.capability_args.insert(key.into(), value);
        self
    }

    /// Replaces the capability arguments.
    #[must_use]
    pub fn with_capability_args(mut self, args: Map<String, Value>) -> Self {
        self.capability_args = args;
        self
    }
}

/// One attachment that is still valid, as sent to plugins on `GC`.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
pub struct GcAttachment {
    /// The container id.
    #[serde(rename = "containerID")]
    pub container_id: String,
    /// The interface name.
    #[serde(rename = "ifname")]
    pub ifname: String,
}

impl GcAttachment {
    /// The attachment `(container_id, ifname)`.
    pub fn new(container_id: impl Into<String>, ifname: impl Into<String>) -> Self {
        Self {
            container_id: container_id.into(),
            ifname: ifname.into(),
        }
    }
}

/// The `GC` key for valid attachments (spec 1.1.0 as published later).
pub const VALID_ATTACHMENTS_KEY: &str = "cni.dev/valid-attachments";
/// The older name of [`VALID_ATTACHMENTS_KEY`] (spec-v1.1.0 tag), also sent.
pub const ATTACHMENTS_KEY_OLD: &str = "cni.dev/attachments";

/// The `runtimeConfig` a plugin gets: every capability argument whose key the
/// plugin enables in `capabilities`.
///
/// ```
/// use multus_delegate::runtime_config;
/// use multus_types::Capabilities;
/// use serde_json::{json, Map, Value};
/// let caps: Capabilities = [("mac".to_owned(), true), ("ips".to_owned(), false)].into();
/// let Value::Object(args) = json!({"mac": "c2:11:22:33:44:55", "ips": ["10.1.1.1/24"]}) else { unreachable!() };
/// assert_eq!(Value::Object(runtime_config(&caps, &args)), json!({"mac": "c2:11:22:33:44:55"}));
/// ```
pub fn runtime_config(
    capabilities: &Capabilities,
    capability_args: &Map<String, Value>,
) -> Map<String, Value> {
    capabilities
        .iter()
        .filter(|(_, enabled)| **enabled)
        .filter_map(|(cap, _)| {
            capability_args
                .get(cap)
                .map(|value| (cap.clone(), value.clone()))
        })
        .collect()
}

/// The config sent to a plugin for `ADD`, `CHECK` or `DEL`, built as libcni does:
/// the plugin object with `name` and `cniVersion` of the network, `prevResult`
/// when given, and `runtimeConfig` (replacing any the object had) when at
/// least one enabled capability has an argument. Every other key passes
/// through unchanged, `capabilities` included.
///
/// ```
/// use multus_delegate::{plugin_request, RuntimeConf};
/// use multus_types::NetConf;
/// use serde_json::json;
/// let plugin = NetConf::from_value(json!({"type": "tuning", "capabilities": {"mac": true}})).unwrap();
/// let rt = RuntimeConf::new("c1", "/run/netns/x", "eth0").with_capability("mac", json!("c2:11:22:33:44:55"));
/// let req = plugin_request(&plugin, "blue", "1.0.0", Some(json!({"cniVersion": "1.0.0"})), &rt);
/// assert_eq!(req, json!({
///     "type": "tuning", "capabilities": {"mac": true}, "name": "blue", "cniVersion": "1.0.0",
///     "prevResult": {"cniVersion": "1.0.0"}, "runtimeConfig": {"mac": "c2:11:22:33:44:55"}
/// }));
/// ```
pub fn plugin_request(
    plugin: &NetConf,
    network: &str,
    version: &str,
    prev_result: Option<Value>,
    rt: &RuntimeConf,
) -> Value {
    let mut map = base(plugin, network, version);
    if let Some(prev) = prev_result {
        map.insert("prevResult".into(), prev);
    }
    let rc = runtime_config(&plugin.capabilities(), &rt.capability_args);
    if !rc.is_empty() {
        map.insert("runtimeConfig".into(), Value::Object(rc));
    }
    Value::Object(map)
}

/// The config sent to a plugin for `STATUS`: the plugin object with the
/// network's `name` and `cniVersion`.
pub fn status_request(plugin: &NetConf, network: &str, version: &str) -> Value {
    Value::Object(base(plugin, network, version))
}

/// The config sent to a plugin for `GC`: the plugin object with the network's
/// `name` and `cniVersion`, and the valid attachments under both
/// [`VALID_ATTACHMENTS_KEY`] and [`ATTACHMENTS_KEY_OLD`] (omitted when `None`).
pub fn gc_request(
    plugin: &NetConf,
    network: &str,
    version: &str,
    valid: Option<&[GcAttachment]>,
) -> Value {
    let mut map = base(plugin, network, version);
    if let Some(valid) = valid {
        let list = Value::Array(
            valid
                .iter()
                .map(|a| {
                    let mut m = Map::new();
                    m.insert("containerID".into(), Value::from(a.container_id.as_str()));
                    m.insert("ifname".into(), Value::from(a.ifname.as_str()));
                    Value::Object(m)
                })
                .collect(),
        );
        map.insert(VALID_ATTACHMENTS_KEY.into(), list.clone());
        map.insert(ATTACHMENTS_KEY_OLD.into(), list);
    }
    Value::Object(map)
}

fn base(plugin: &NetConf, network: &str, version: &str) -> Map<String, Value> {
    let mut map = plugin.as_map().clone();
    map.insert("name".into(), Value::from(network));
    map.insert("cniVersion".into(), Value::from(version));
    map
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use serde_json::json;

    use super::*;

    fn conf(v: Value) -> NetConf {
        NetConf::from_value(v).unwrap()
    }

    #[test]
    fn name_and_version_are_overwritten() {
        let p =
            conf(json!({"cniVersion": "0.3.1", "name": "own", "type": "bridge", "x": {"y": 1}}));
        let req = plugin_request(&p, "blue", "1.0.0", None, &RuntimeConf::default());
        assert_eq!(
            req,
            json!({"cniVersion": "1.0.0", "name": "blue", "type": "bridge", "x": {"y": 1}})
        );
    }

    #[test]
    fn runtime_config_only_when_non_empty_and_replaces_existing() {
        let p = conf(
            json!({"type": "p", "capabilities": {"mac": false, "ips": true},
                            "runtimeConfig": {"stale": 1}}),
        );
        // Only a disabled capability supplied: the existing key stays untouched.
        let rt = RuntimeConf::default().with_capability("mac", json!("x"));
        let req = plugin_request(&p, "n", "1.0.0", None, &rt);
        assert_eq!(req["runtimeConfig"], json!({"stale": 1}));
        let rt = rt.with_capability("ips", json!(["10.0.0.1/24"]));
        let req = plugin_request(&p, "n", "1.0.0", None, &rt);
        assert_eq!(req["runtimeConfig"], json!({"ips": ["10.0.0.1/24"]}));
        assert_eq!(req["capabilities"], json!({"mac": false, "ips": true}));
    }

    #[test]
    fn gc_sends_both_key_names() {
        let p = conf(json!({"type": "p", "capabilities": {"mac": true}}));
        let valid = [GcAttachment::new("c1", "eth0")];
        let req = gc_request(&p, "n", "1.1.0", Some(&valid));
        assert_eq!(
            req[VALID_ATTACHMENTS_KEY],
            json!([{"containerID": "c1", "ifname": "eth0"}])
        );
        assert_eq!(req[ATTACHMENTS_KEY_OLD], req[VALID_ATTACHMENTS_KEY]);
        assert!(req.get("runtimeConfig").is_none());
        let req = gc_request(&p, "n", "1.1.0", None);
        assert!(req.get(VALID_ATTACHMENTS_KEY).is_none());
    }

    #[test]
    fn status_has_only_name_and_version_added() {
        let p = conf(json!({"type": "p"}));
        assert_eq!(
            status_request(&p, "n", "1.1.0"),
            json!({"type": "p", "name": "n", "cniVersion": "1.1.0"})
        );
    }

    #[test]
    fn gc_attachment_json() {
        let a: GcAttachment = serde_json::from_str(r#"{"containerID":"c","ifname":"i"}"#).unwrap();
        assert_eq!(a, GcAttachment::new("c", "i"));
    }
}
