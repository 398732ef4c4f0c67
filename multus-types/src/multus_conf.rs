//! The Multus configuration: what the runtime passes on `multus`'s stdin.
//!
//! Decoding follows upstream's Go `LoadNetConf`: keys match case-insensitively,
//! unknown keys are ignored, types are strict, `null` keeps a scalar's default
//! but empties a list, and an explicit empty string overrides a default.

use std::time::Duration;

use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};

use crate::casefold::null_as_default;
use crate::result::CniResult;
use crate::{Capabilities, CniVersion, DelegateConf, Error, RuntimeConfig};

/// Default `confDir`: where NADs without a config and named networks are looked up.
pub const DEFAULT_CONF_DIR: &str = "/etc/cni/multus/net.d";
/// Default `cniDir`: delegate cache and result cache.
pub const DEFAULT_CNI_DIR: &str = "/var/lib/cni/multus";
/// Default `binDir`: searched first for delegate plugins.
pub const DEFAULT_BIN_DIR: &str = "/opt/cni/bin";
/// Default `multusNamespace`.
pub const DEFAULT_MULTUS_NAMESPACE: &str = "kube-system";
/// Default `systemNamespaces`.
pub const DEFAULT_SYSTEM_NAMESPACES: &[&str] = &["kube-system"];
/// Default `podLookupTimeout`: the budget of the pod read (2.75 s, what
/// upstream's 2.5 s of polling and its last 250 ms GET add up to).
pub const DEFAULT_POD_LOOKUP_TIMEOUT: Duration = Duration::from_millis(2750);
/// Default `podResourcesSocket`: kubelet's pod-resources API.
pub const DEFAULT_POD_RESOURCES_SOCKET: &str = "/var/lib/kubelet/pod-resources/kubelet.sock";
/// Default `deviceCheckpoint`: kubelet's device-plugin checkpoint.
pub const DEFAULT_DEVICE_CHECKPOINT: &str =
    "/var/lib/kubelet/device-plugins/kubelet_internal_checkpoint";
/// The namespace that is global when `globalNamespaces` is empty.
pub const DEFAULT_GLOBAL_NAMESPACE: &str = "default";

/// The effective Multus configuration, defaults applied and delegates loaded.
///
/// ```
/// use multus_types::MultusConf;
/// let conf = MultusConf::from_bytes(br#"{
///     "name": "multus-cni-network", "type": "multus",
///     "ReadinessIndicatorFile": "/run/flannel/subnet.env",
///     "delegates": [{"type": "flannel", "name": "flannel.1"}]
/// }"#).unwrap();
/// assert_eq!(conf.readiness_indicator_file, "/run/flannel/subnet.env");
/// assert_eq!(conf.cni_dir, "/var/lib/cni/multus");
/// assert!(conf.log_to_stderr);
/// assert_eq!(conf.effective_global_namespaces(), ["default"]);
/// ```
#[derive(Debug, Clone, PartialEq)]
pub struct MultusConf {
    /// `cniVersion` as written (skel checks it; `""` means 0.1.0).
    pub cni_version: String,
    /// `name`.
    pub name: String,
    /// `type`.
    pub plugin_type: String,
    /// `capabilities`.
    pub capabilities: Capabilities,
    /// `runtimeConfig` from the runtime, reduced to the keys Multus forwards.
    pub runtime_config: Option<RuntimeConfig>,
    /// `prevResult`, as given.
    pub prev_result: Option<Value>,
    /// `kubeconfig` path.
    pub kubeconfig: String,
    /// `delegates`, loaded; empty in clusterNetwork mode.
    pub delegates: Vec<DelegateConf>,
    /// `clusterNetwork`.
    pub cluster_network: String,
    /// `defaultNetworks`.
    pub default_networks: Vec<String>,
    /// `confDir`.
    pub conf_dir: String,
    /// `cniDir`.
    pub cni_dir: String,
    /// `binDir`.
    pub bin_dir: String,
    /// `logFile`.
    pub log_file: String,
    /// `logLevel` as written (validated by the logger, never a load error).
    pub log_level: String,
    /// `logToStderr` (default true).
    pub log_to_stderr: bool,
    /// `logOptions`.
    pub log_options: Option<LogOptions>,
    /// `readinessindicatorfile`.
    pub readiness_indicator_file: String,
    /// `namespaceIsolation`.
    pub namespace_isolation: bool,
    /// `globalNamespaces` as written (comma list); see [`MultusConf::effective_global_namespaces`].
    pub global_namespaces: String,
    /// `systemNamespaces`.
    pub system_namespaces: Vec<String>,
    /// `multusNamespace`.
    pub multus_namespace: String,
    /// `retryDeleteOnError`.
    pub retry_delete_on_error: bool,
    /// `auxiliaryCNIChainName`.
    pub auxiliary_cni_chain_name: String,
    /// `podLookupTimeout` (multus-rs only): how long ADD and DEL may spend
    /// reading the pod from the API server, retries included.
    pub pod_lookup_timeout: Duration,
    /// `podResourcesSocket` (multus-rs only): kubelet's pod-resources
    /// socket, asked for the pod's devices when it exists.
    pub pod_resources_socket: String,
    /// `deviceCheckpoint` (multus-rs only): the device-plugin checkpoint,
    /// read for the pod's devices when the socket does not exist.
    pub device_checkpoint: String,
}

/// `logOptions`: rotation settings of the log file. Absent keys take the
/// logger's defaults (see the `DEFAULT_LOG_*` constants).
#[derive(Debug, Clone, PartialEq, Eq, Default, Deserialize, Serialize)]
#[serde(remote = "Self")]
pub struct LogOptions {
    /// `maxAge` in days.
    #[serde(rename = "maxAge", default, skip_serializing_if = "Option::is_none")]
    pub max_age: Option<i64>,
    /// `maxSize` in megabytes.
    #[serde(rename = "maxSize", default, skip_serializing_if = "Option::is_none")]
    pub max_size: Option<i64>,
    /// `maxBackups`.
    #[serde(
        rename = "maxBackups",
        default,
        skip_serializing_if = "Option::is_none"
    )]
    pub max_backups: Option<i64>,
    /// `compress`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub compress: Option<bool>,
}
crate::case_insensitive_serde!(LogOptions);

/// Default `logOptions.maxAge` (days).
pub const DEFAULT_LOG_MAX_AGE: i64 = 5;
/// Default `logOptions.maxSize` (MB).
pub const DEFAULT_LOG_MAX_SIZE: i64 = 100;
/// Default `logOptions.maxBackups`.
pub const DEFAULT_LOG_MAX_BACKUPS: i64 = 5;
/// Default `logOptions.compress`.
pub const DEFAULT_LOG_COMPRESS: bool = true;

/// The file as decoded, before defaults: `None` = absent or `null`.
#[derive(Deserialize, Serialize, Default)]
#[serde(remote = "Self")]
struct Raw {
    #[serde(rename = "cniVersion", default)]
    cni_version: Option<String>,
    #[serde(default)]
    name: Option<String>,
    #[serde(rename = "type", default)]
    plugin_type: Option<String>,
    #[serde(default, deserialize_with = "null_as_default")]
    capabilities: Capabilities,
    #[serde(rename = "runtimeConfig", default)]
    runtime_config: Option<RuntimeConfig>,
    #[serde(rename = "prevResult", default)]
    prev_result: Option<Value>,
    #[serde(default)]
    kubeconfig: Option<String>,
    #[serde(default, deserialize_with = "null_as_default")]
    delegates: Vec<Map<String, Value>>,
    #[serde(rename = "clusterNetwork", default)]
    cluster_network: Option<String>,
    #[serde(
        rename = "defaultNetworks",
        default,
        deserialize_with = "null_as_default"
    )]
    default_networks: Vec<String>,
    #[serde(rename = "confDir", default)]
    conf_dir: Option<String>,
    #[serde(rename = "cniDir", default)]
    cni_dir: Option<String>,
    #[serde(rename = "binDir", default)]
    bin_dir: Option<String>,
    #[serde(rename = "logFile", default)]
    log_file: Option<String>,
    #[serde(rename = "logLevel", default)]
    log_level: Option<String>,
    #[serde(rename = "logToStderr", default)]
    log_to_stderr: Option<bool>,
    #[serde(rename = "logOptions", default)]
    log_options: Option<LogOptions>,
    #[serde(rename = "readinessindicatorfile", default)]
    readiness_indicator_file: Option<String>,
    #[serde(rename = "namespaceIsolation", default)]
    namespace_isolation: Option<bool>,
    #[serde(rename = "globalNamespaces", default)]
    global_namespaces: Option<String>,
    // Absent keeps the default list, `null` empties it: hence the double Option.
    #[serde(rename = "systemNamespaces", default, deserialize_with = "present")]
    system_namespaces: Option<Option<Vec<String>>>,
    #[serde(rename = "multusNamespace", default)]
    multus_namespace: Option<String>,
    #[serde(rename = "retryDeleteOnError", default)]
    retry_delete_on_error: Option<bool>,
    #[serde(rename = "auxiliaryCNIChainName", default)]
    auxiliary_cni_chain_name: Option<String>,
    #[serde(rename = "podLookupTimeout", default)]
    pod_lookup_timeout: Option<Value>,
    #[serde(rename = "podResourcesSocket", default)]
    pod_resources_socket: Option<String>,
    #[serde(rename = "deviceCheckpoint", default)]
    device_checkpoint: Option<String>,
}
crate::case_insensitive_serde!(Raw);

/// Upstream parses `prevResult` as a result of the config's version family
/// (`version.NewResult(conf.CNIVersion, ...)`), and each family's parser only
/// takes results labelled with one of its own versions: 0.3.x/0.4.0 and 1.x
/// results must carry their `cniVersion`, and only the legacy 0.1.0/0.2.0
/// parser (also used when the config has no `cniVersion`) takes one without.
fn check_prev_result(config_version: &str, prev: &Value) -> Result<(), Error> {
    let version = CniVersion::parse_or_default(config_version).unwrap_or(CniVersion::CURRENT);
    let own = match prev.get("cniVersion") {
        None | Some(Value::Null) => "",
        Some(Value::String(s)) => s.as_str(),
        Some(other) => {
            return Err(Error::Result(format!(
                "cniVersion must be a string, not {other}"
            )));
        }
    };
    let family = version.family();
    let own_family = match own {
        "" => Some(crate::ResultFamily::V02),
        s => s.parse::<CniVersion>().ok().map(CniVersion::family),
    };
    if own_family != Some(family) {
        let supported: Vec<&str> = CniVersion::ALL
            .iter()
            .filter(|v| v.family() == family)
            .map(|v| v.as_str())
            .collect();
        return Err(Error::Result(format!(
            "result type supports [{}] but unmarshalled CNIVersion is {own:?}",
            supported.join(" ")
        )));
    }
    CniResult::from_value(prev.clone(), version).and_then(|r| r.to_v1())?;
    Ok(())
}

fn present<'de, D: serde::Deserializer<'de>, T: Deserialize<'de>>(
    d: D,
) -> Result<Option<Option<T>>, D::Error> {
    Option::<T>::deserialize(d).map(Some)
}

impl MultusConf {
    /// Loads and validates a Multus config, as upstream's `LoadNetConf`.
    pub fn from_bytes(bytes: &[u8]) -> Result<Self, Error> {
        let raw: Raw = serde_json::from_slice(bytes)
            .map_err(|e| Error::MultusConf(format!("failed to load netconf: {e}")))?;
        Self::from_raw(raw)
    }

    fn from_raw(raw: Raw) -> Result<Self, Error> {
        let cluster_network = raw.cluster_network.unwrap_or_default();
        if raw.delegates.is_empty() && cluster_network.is_empty() {
            return Err(Error::MultusConf(
                "at least one delegate/clusterNetwork must be specified".into(),
            ));
        }
        // clusterNetwork wins over delegates (silently, as upstream): they are not even loaded.
        let delegates = if cluster_network.is_empty() {
            raw.delegates
                .into_iter()
                .enumerate()
                .map(|(i, d)| {
                    DelegateConf::from_value(Value::Object(d)).map_err(|e| {
                        let msg = match e {
                            Error::InvalidConfig(m) => m,
                            other => other.to_string(),
                        };
                        Error::MultusConf(format!("failed to load delegate {i} config: {msg}"))
                    })
                })
                .collect::<Result<_, _>>()?
        } else {
            Vec::new()
        };
        if let Some(prev) = &raw.prev_result {
            check_prev_result(raw.cni_version.as_deref().unwrap_or_default(), prev)
                .map_err(|e| Error::MultusConf(format!("could not parse prevResult: {e}")))?;
        }
        let pod_lookup_timeout = match &raw.pod_lookup_timeout {
            None | Some(Value::Null) => DEFAULT_POD_LOOKUP_TIMEOUT,
            Some(v) => match crate::parse_duration(v) {
                Ok(d) if !d.is_zero() => d,
                Ok(_) => {
                    return Err(Error::MultusConf(
                        "podLookupTimeout must be longer than zero".into(),
                    ));
                }
                Err(e) => return Err(Error::MultusConf(format!("podLookupTimeout: {e}"))),
            },
        };
        let or = |v: Option<String>, d: &str| v.unwrap_or_else(|| d.to_owned());
        Ok(Self {
            cni_version: raw.cni_version.unwrap_or_default(),
            name: raw.name.unwrap_or_default(),
            plugin_type: raw.plugin_type.unwrap_or_default(),
            capabilities: raw.capabilities,
            runtime_config: raw.runtime_config,
            prev_result: raw.prev_result,
            kubeconfig: raw.kubeconfig.unwrap_or_default(),
            delegates,
            cluster_network,
            default_networks: raw.default_networks,
            conf_dir: or(raw.conf_dir, DEFAULT_CONF_DIR),
            cni_dir: or(raw.cni_dir, DEFAULT_CNI_DIR),
            bin_dir: or(raw.bin_dir, DEFAULT_BIN_DIR),
            log_file: raw.log_file.unwrap_or_default(),
            log_level: raw.log_level.unwrap_or_default(),
            log_to_stderr: raw.log_to_stderr.unwrap_or(true),
            log_options: raw.log_options,
            readiness_indicator_file: raw.readiness_indicator_file.unwrap_or_default(),
            namespace_isolation: raw.namespace_isolation.unwrap_or(false),
            global_namespaces: raw.global_namespaces.unwrap_or_default(),
            system_namespaces: match raw.system_namespaces {
                None => DEFAULT_SYSTEM_NAMESPACES
                    .iter()
                    .map(|s| (*s).to_owned())
                    .collect(),
                Some(list) => list.unwrap_or_default(),
            },
            multus_namespace: or(raw.multus_namespace, DEFAULT_MULTUS_NAMESPACE),
            retry_delete_on_error: raw.retry_delete_on_error.unwrap_or(false),
            auxiliary_cni_chain_name: raw.auxiliary_cni_chain_name.unwrap_or_default(),
            pod_lookup_timeout,
            pod_resources_socket: or(raw.pod_resources_socket, DEFAULT_POD_RESOURCES_SOCKET),
            device_checkpoint: or(raw.device_checkpoint, DEFAULT_DEVICE_CHECKPOINT),
        })
    }

    /// Namespaces that pods may reference across namespaces under isolation:
    /// `globalNamespaces` split on `,` with items trimmed, or `["default"]` when empty.
    /// As upstream, a whitespace-only value yields `[""]` (nothing is global).
    pub fn effective_global_namespaces(&self) -> Vec<String> {
        if self.global_namespaces.is_empty() {
            return vec![DEFAULT_GLOBAL_NAMESPACE.to_owned()];
        }
        self.global_namespaces
            .split(',')
            .map(|s| s.trim().to_owned())
            .collect()
    }

    /// Whether the networks come from `clusterNetwork` rather than `delegates`.
    pub fn is_cluster_network_mode(&self) -> bool {
        !self.cluster_network.is_empty()
    }

    /// Every key with its effective value, under upstream's key names, plus
    /// `effectiveGlobalNamespaces`; what `parse-config` prints.
    pub fn effective_json(&self) -> Value {
        let log_options = self.log_options.clone().unwrap_or_default();
        serde_json::json!({
            "cniVersion": self.cni_version,
            "name": self.name,
            "type": self.plugin_type,
            "capabilities": self.capabilities,
            "runtimeConfig": self.runtime_config,
            "prevResult": self.prev_result,
            "kubeconfig": self.kubeconfig,
            "delegates": self.delegates.iter().map(|d| Value::Object(d.as_map().clone())).collect::<Vec<_>>(),
            "clusterNetwork": self.cluster_network,
            "defaultNetworks": self.default_networks,
            "confDir": self.conf_dir,
            "cniDir": self.cni_dir,
            "binDir": self.bin_dir,
            "logFile": self.log_file,
            "logLevel": self.log_level,
            "logToStderr": self.log_to_stderr,
            "logOptions": {
                "maxAge": log_options.max_age.unwrap_or(DEFAULT_LOG_MAX_AGE),
                "maxSize": log_options.max_size.unwrap_or(DEFAULT_LOG_MAX_SIZE),
                "maxBackups": log_options.max_backups.unwrap_or(DEFAULT_LOG_MAX_BACKUPS),
                "compress": log_options.compress.unwrap_or(DEFAULT_LOG_COMPRESS),
            },
            "readinessindicatorfile": self.readiness_indicator_file,
            "namespaceIsolation": self.namespace_isolation,
            "globalNamespaces": self.global_namespaces,
            "systemNamespaces": self.system_namespaces,
            "multusNamespace": self.multus_namespace,
            "retryDeleteOnError": self.retry_delete_on_error,
            "auxiliaryCNIChainName": self.auxiliary_cni_chain_name,
            "podLookupTimeout": format!("{}ms", self.pod_lookup_timeout.as_millis()),
            "podResourcesSocket": self.pod_resources_socket,
            "deviceCheckpoint": self.device_checkpoint,
            "effectiveGlobalNamespaces": self.effective_global_namespaces(),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn load(s: &str) -> Result<MultusConf, Error> {
        MultusConf::from_bytes(s.as_bytes())
    }

    const MIN: &str = r#""delegates":[{"type":"bridge","name":"b"}]"#;

    #[test]
    fn defaults() {
        let c = load(&format!("{{{MIN}}}")).unwrap();
        assert_eq!(c.conf_dir, DEFAULT_CONF_DIR);
        assert_eq!(c.cni_dir, DEFAULT_CNI_DIR);
        assert_eq!(c.bin_dir, DEFAULT_BIN_DIR);
        assert_eq!(c.pod_resources_socket, DEFAULT_POD_RESOURCES_SOCKET);
        assert_eq!(c.device_checkpoint, DEFAULT_DEVICE_CHECKPOINT);
        assert_eq!(c.multus_namespace, "kube-system");
        assert_eq!(c.system_namespaces, ["kube-system"]);
        assert!(c.log_to_stderr && !c.namespace_isolation && !c.retry_delete_on_error);
        assert_eq!(c.delegates.len(), 1);
    }

    #[test]
    fn explicit_empty_string_overrides_default_but_null_does_not() {
        let c = load(&format!(r#"{{"binDir":"","cniDir":null,{MIN}}}"#)).unwrap();
        assert_eq!(c.bin_dir, "");
        assert_eq!(c.cni_dir, DEFAULT_CNI_DIR);
    }

    #[test]
    fn null_list_empties_system_namespaces() {
        let c = load(&format!(r#"{{"systemNamespaces":null,{MIN}}}"#)).unwrap();
        assert!(c.system_namespaces.is_empty());
        let c = load(&format!(r#"{{"systemNamespaces":["a","b"],{MIN}}}"#)).unwrap();
        assert_eq!(c.system_namespaces, ["a", "b"]);
    }

    #[test]
    fn keys_are_case_insensitive() {
        let c = load(&format!(
            r#"{{"readinessIndicatorFile":"/r","BINDIR":"/b","LogToStderr":false,"NamespaceIsolation":true,{MIN}}}"#
        ))
        .unwrap();
        assert_eq!(
            (c.readiness_indicator_file.as_str(), c.bin_dir.as_str()),
            ("/r", "/b")
        );
        assert!(!c.log_to_stderr && c.namespace_isolation);
    }

    #[test]
    fn strict_types_name_the_key() {
        let e = load(&format!(r#"{{"logToStderr":"false",{MIN}}}"#))
            .unwrap_err()
            .to_string();
        assert!(
            e.starts_with("LoadNetConf: failed to load netconf: logToStderr: invalid type"),
            "{e}"
        );
        let e = load(&format!(r#"{{"logOptions":{{"maxAge":"5"}},{MIN}}}"#))
            .unwrap_err()
            .to_string();
        assert!(e.contains("logOptions") && e.contains("maxAge"), "{e}");
        assert!(load("[]").is_err());
        assert!(load(r#"{"delegates":["x"]}"#).is_err());
    }

    #[test]
    fn needs_delegates_or_cluster_network() {
        let e = load(r#"{"kubeconfig":"/k"}"#).unwrap_err().to_string();
        assert_eq!(
            e,
            "LoadNetConf: at least one delegate/clusterNetwork must be specified"
        );
        assert!(load(r#"{"delegates":[]}"#).is_err());
        let c = load(r#"{"clusterNetwork":"flannel","delegates":[{"bogus":1}]}"#).unwrap();
        assert!(c.is_cluster_network_mode() && c.delegates.is_empty());
    }

    #[test]
    fn delegate_errors_are_indexed() {
        let e = load(r#"{"delegates":[{"type":"a"},{"name":"x"}]}"#)
            .unwrap_err()
            .to_string();
        assert_eq!(
            e,
            "LoadNetConf: failed to load delegate 1 config: delegate must have the 'type' or 'plugin' field"
        );
        let e = load(r#"{"delegates":[{"name":"x","plugins":[{"name":"p"}]}]}"#)
            .unwrap_err()
            .to_string();
        assert_eq!(
            e,
            "LoadNetConf: failed to load delegate 0 config: a plugin delegate must have the 'type' field"
        );
        // Upstream panics on an empty plugin list; here it is a clear error.
        let e = load(r#"{"delegates":[{"name":"x","plugins":[]}]}"#)
            .unwrap_err()
            .to_string();
        assert!(e.contains("delegate 0") && e.contains("no plugins"), "{e}");
    }

    #[test]
    fn global_namespaces_splitting() {
        let with = |g: &str| {
            let mut c = load(&format!("{{{MIN}}}")).unwrap();
            c.global_namespaces = g.into();
            c.effective_global_namespaces()
        };
        assert_eq!(with(""), ["default"]);
        assert_eq!(with("kube-system, foo ,bar"), ["kube-system", "foo", "bar"]);
        assert_eq!(with("a,,b"), ["a", "", "b"]);
        assert_eq!(with("  "), [""]);
    }

    #[test]
    fn prev_result_must_parse() {
        let ok = r#"{"cniVersion":"0.4.0","prevResult":{"cniVersion":"0.4.0","ips":[{"version":"4","address":"10.1.1.2/24"}]},"delegates":[{"type":"b"}]}"#;
        assert!(load(ok).unwrap().prev_result.is_some());
        let bad = r#"{"cniVersion":"0.4.0","prevResult":{"ips":[{"address":"nope"}]},"delegates":[{"type":"b"}]}"#;
        let e = load(bad).unwrap_err().to_string();
        assert!(
            e.starts_with("LoadNetConf: could not parse prevResult: "),
            "{e}"
        );
    }

    /// A result's version must belong to the config version's family; only
    /// the legacy parser takes one without `cniVersion`.
    #[test]
    fn prev_result_version_family() {
        let conf = |version: &str, prev: &str| {
            let version = if version.is_empty() {
                String::new()
            } else {
                format!(r#""cniVersion":"{version}","#)
            };
            load(&format!(
                r#"{{{version}"prevResult":{prev},"delegates":[{{"type":"b"}}]}}"#
            ))
        };
        let bare_v04 = r#"{"ips":[{"version":"4","address":"10.1.1.2/24"}]}"#;
        let bare_v02 = r#"{"ip4":{"ip":"10.1.1.2/24"}}"#;
        for version in ["0.3.0", "0.3.1", "0.4.0", "1.0.0", "1.1.0"] {
            let e = conf(version, bare_v04).unwrap_err().to_string();
            assert!(
                e.starts_with("LoadNetConf: could not parse prevResult: result type supports [")
                    && e.ends_with(r#"] but unmarshalled CNIVersion is """#),
                "{version}: {e}"
            );
        }
        for version in ["", "0.1.0", "0.2.0"] {
            assert!(conf(version, bare_v02).is_ok(), "{version:?}");
        }
        // Labelled, but of another family than the config.
        let e = conf("1.0.0", r#"{"cniVersion":"0.4.0","ips":[]}"#)
            .unwrap_err()
            .to_string();
        assert!(
            e.ends_with(
                r#"result type supports [1.0.0 1.1.0] but unmarshalled CNIVersion is "0.4.0""#
            ),
            "{e}"
        );
        assert!(conf("0.3.1", r#"{"cniVersion":"0.4.0","ips":[]}"#).is_ok());
        assert!(conf("1.1.0", r#"{"cniVersion":"1.0.0","ips":[]}"#).is_ok());
    }

    #[test]
    fn runtime_config_drops_unknown_keys() {
        let c = load(&format!(
            r#"{{"runtimeConfig":{{"mac":"c2:11:22:33:44:55","aliases":["x"]}},{MIN}}}"#
        ))
        .unwrap();
        let rc = c.runtime_config.unwrap();
        assert_eq!(rc.mac, "c2:11:22:33:44:55");
        assert_eq!(
            serde_json::to_string(&rc).unwrap(),
            r#"{"mac":"c2:11:22:33:44:55"}"#
        );
    }
}
