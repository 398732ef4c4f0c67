//! The edits multus makes to a delegate's config before running it: the
//! NAD name injected into a nameless `spec.config`, and the `cni-args`
//! request merged into `args.cni`. (Device IDs: [`crate::devices`].)
//!
//! Configs stay JSON objects with their key order and unknown keys.

use multus_types::json_kind;
use serde_json::{Map, Value};

use crate::Error;

/// Parses a NetworkAttachmentDefinition's `spec.config` and, when it has no
/// `name` (absent, `null` or `""`), sets it to the NAD's name (upstream
/// `GetCNIConfigFromSpec`; the NPWG spec asks for it so minimal configs like
/// `{"cniVersion":"0.3.1","type":"awesome"}` work).
///
/// ```
/// let config = multus_k8s::config_edits::spec_config(r#"{"cniVersion":"0.3.1","type":"macvlan"}"#, "macvlan-conf-1")?;
/// assert_eq!(config["name"], "macvlan-conf-1");
/// let config = multus_k8s::config_edits::spec_config(r#"{"name":"own","type":"macvlan"}"#, "nad")?;
/// assert_eq!(config["name"], "own");
/// assert!(multus_k8s::config_edits::spec_config("[1]", "nad").is_err());
/// # Ok::<(), multus_k8s::Error>(())
/// ```
pub fn spec_config(config: &str, nad_name: &str) -> Result<Map<String, Value>, Error> {
    let value: Value = serde_json::from_str(config).map_err(|e| Error::SpecConfig {
        reason: e.to_string(),
    })?;
    let Value::Object(mut map) = value else {
        return Err(Error::SpecConfig {
            reason: format!("expected a JSON object, got {}", json_kind(&value)),
        });
    };
    let nameless = match map.get("name") {
        None | Some(Value::Null) => true,
        Some(Value::String(s)) => s.is_empty(),
        Some(_) => false,
    };
    if nameless {
        map.insert("name".into(), Value::String(nad_name.to_owned()));
    }
    Ok(map)
}

/// Merges `cni_args` into `args.cni` of the config: of the config itself
/// for a single plugin, of every plugin for a list. Keys already there are
/// overwritten; `args` and `args.cni` are created when missing.
///
/// ```
/// let mut config = serde_json::json!({"name":"l","plugins":[{"type":"a","args":{"cni":{"x":1,"y":1}}},{"type":"b"}]});
/// let args = serde_json::json!({"y":2});
/// multus_k8s::config_edits::merge_cni_args(config.as_object_mut().unwrap(), args.as_object().unwrap())?;
/// assert_eq!(config["plugins"][0]["args"]["cni"], serde_json::json!({"x":1,"y":2}));
/// assert_eq!(config["plugins"][1]["args"]["cni"], serde_json::json!({"y":2}));
/// # Ok::<(), multus_k8s::Error>(())
/// ```
pub fn merge_cni_args(
    config: &mut Map<String, Value>,
    cni_args: &Map<String, Value>,
) -> Result<(), Error> {
    if config.contains_key("type") {
        return merge_into(config, cni_args, "");
    }
    match config.get_mut("plugins") {
        Some(Value::Array(plugins)) => {
            for (i, plugin) in plugins.iter_mut().enumerate() {
                let Value::Object(plugin) = plugin else {
                    return Err(Error::CniArgs {
                        reason: format!("plugins[{i}] is not an object"),
                    });
                };
                merge_into(plugin, cni_args, &format!("plugins[{i}]."))?;
            }
            Ok(())
        }
        _ => Err(Error::CniArgs {
            reason: "the config has neither 'type' nor a 'plugins' list".into(),
        }),
    }
}

fn merge_into(
    plugin: &mut Map<String, Value>,
    cni_args: &Map<String, Value>,
    at: &str,
) -> Result<(), Error> {
    let args = object_entry(plugin, "args", &format!("{at}args"))?;
    let cni = object_entry(args, "cni", &format!("{at}args.cni"))?;
    for (k, v) in cni_args {
        cni.insert(k.clone(), v.clone());
    }
    Ok(())
}

/// `map[key]` as an object, created when absent or null.
fn object_entry<'m>(
    map: &'m mut Map<String, Value>,
    key: &str,
    path: &str,
) -> Result<&'m mut Map<String, Value>, Error> {
    let slot = map.entry(key).or_insert_with(|| Value::Object(Map::new()));
    if slot.is_null() {
        *slot = Value::Object(Map::new());
    }
    match slot {
        Value::Object(obj) => Ok(obj),
        other => Err(Error::CniArgs {
            reason: format!("{path} is {}, not an object", json_kind(other)),
        }),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn name_injection() {
        let c = spec_config(r#"{"type":"x","name":""}"#, "nad").unwrap();
        assert_eq!(Value::Object(c).to_string(), r#"{"type":"x","name":"nad"}"#);
        let c = spec_config(r#"{"type":"x","name":null}"#, "nad").unwrap();
        assert_eq!(c["name"], "nad");
        let c = spec_config(r#"{"plugins":[{"type":"x"}]}"#, "nad").unwrap();
        assert_eq!(c["name"], "nad");
        let e = spec_config("{", "nad").unwrap_err().to_string();
        assert!(e.starts_with("failed to unmarshal Spec.Config: "), "{e}");
        let e = spec_config("\"x\"", "nad").unwrap_err().to_string();
        assert!(e.ends_with("expected a JSON object, got a string"), "{e}");
    }

    #[test]
    fn cni_args_single_and_errors() {
        let mut c = json!({"type":"x","args":{"other":{"k":1}}});
        merge_cni_args(
            c.as_object_mut().unwrap(),
            json!({"a":"b"}).as_object().unwrap(),
        )
        .unwrap();
        assert_eq!(
            c.to_string(),
            r#"{"type":"x","args":{"other":{"k":1},"cni":{"a":"b"}}}"#
        );
        let mut c = json!({"type":"x","args":"nope"});
        let e = merge_cni_args(c.as_object_mut().unwrap(), &Map::new()).unwrap_err();
        assert_eq!(
            e.to_string(),
            "cannot merge cni-args into the network config: args is a string, not an object"
        );
        let mut c = json!({"name":"l","plugins":[{"type":"a","args":{"cni":[]}}]});
        let e = merge_cni_args(c.as_object_mut().unwrap(), &Map::new()).unwrap_err();
        assert!(
            e.to_string().contains("plugins[0].args.cni is a list"),
            "{e}"
        );
    }
}
