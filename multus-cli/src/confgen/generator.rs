//! The generator: the daemon config's generator keys in, the text of
//! `00-multus.conf` out, byte for byte as upstream's `json.Marshal` of its
//! `MultusConf` struct.

use std::collections::BTreeMap;
use std::path::Path;

use multus_types::LogOptions;
use multus_types::casefold::null_as_default;
use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};

use super::Error;
use super::gojson;
use super::primary::{PrimaryConfig, check_version_compatibility};

/// Name of the generated file in `cniConfigDir`.
pub const GENERATED_FILE_NAME: &str = "00-multus.conf";
/// Network name of the generated config unless `overrideNetworkName`.
pub const DEFAULT_NETWORK_NAME: &str = "multus-cni-network";
/// Plugin type written when the daemon config names none.
pub const DEFAULT_PLUGIN_TYPE: &str = "multus-shim";
/// `cniConfigDir` when the daemon config names none.
pub const DEFAULT_CNI_CONFIG_DIR: &str = "/etc/cni/net.d";
/// `multusConfigFile` when the daemon config names none.
pub const DEFAULT_MULTUS_CONFIG_FILE: &str = "auto";

/// The generator keys of the daemon config (`daemon-config.json`).
///
/// Keys match case-insensitively, unknown keys are ignored and `null` leaves
/// a key at its default, as Go's `encoding/json` does with upstream's struct;
/// a value of the wrong type is an error naming the key.
///
/// ```
/// use multus_cli::confgen::GeneratorConfig;
///
/// let c = GeneratorConfig::from_slice(br#"{"cniVersion": "0.3.1",
///     "multusautoconfigdir": "/host/etc/cni/net.d", "socketDir": "/run/multus/"}"#).unwrap();
/// assert_eq!(c.multus_autoconfig_dir, "/host/etc/cni/net.d");
/// assert_eq!(c.cni_config_dir(), "/etc/cni/net.d");
/// assert_eq!(c.plugin_type(), "multus-shim");
/// ```
#[derive(Debug, Clone, Default, PartialEq, Deserialize, Serialize)]
#[serde(remote = "Self")]
pub struct GeneratorConfig {
    /// `cniVersion` of the generated config; must be a semantic version.
    #[serde(rename = "cniVersion", default, deserialize_with = "null_as_default")]
    pub cni_version: String,
    /// `cniConfigDir`: where `00-multus.conf` is written; `None` = [`DEFAULT_CNI_CONFIG_DIR`].
    #[serde(rename = "cniConfigDir", default)]
    pub cni_config_dir: Option<String>,
    /// `multusAutoconfigDir`: where the primary config is looked for.
    #[serde(
        rename = "multusAutoconfigDir",
        default,
        deserialize_with = "null_as_default"
    )]
    pub multus_autoconfig_dir: String,
    /// `multusMasterCNI`: the primary's file name in the autoconfig dir; empty = discover.
    #[serde(
        rename = "multusMasterCNI",
        default,
        deserialize_with = "null_as_default"
    )]
    pub multus_master_cni: String,
    /// `multusConfigFile`: `auto` runs the manager; `None` = [`DEFAULT_MULTUS_CONFIG_FILE`].
    #[serde(rename = "multusConfigFile", default)]
    pub multus_config_file: Option<String>,
    /// `forceCNIVersion`: rewrite the primary file's `cniVersion` to ours at start.
    #[serde(
        rename = "forceCNIVersion",
        default,
        deserialize_with = "null_as_default"
    )]
    pub force_cni_version: bool,
    /// `overrideNetworkName`: take the primary's `name` instead of `multus-cni-network`.
    #[serde(
        rename = "overrideNetworkName",
        default,
        deserialize_with = "null_as_default"
    )]
    pub override_network_name: bool,
    /// `daemonSocketDir`, passed on to the shim.
    #[serde(
        rename = "daemonSocketDir",
        default,
        deserialize_with = "null_as_default"
    )]
    pub daemon_socket_dir: String,
    /// `binDir`, passed on.
    #[serde(rename = "binDir", default, deserialize_with = "null_as_default")]
    pub bin_dir: String,
    /// `capabilities` to start from (values kept as written, `false` too);
    /// the primary's enabled ones are added.
    #[serde(rename = "capabilities", default, deserialize_with = "null_as_default")]
    pub capabilities: BTreeMap<String, bool>,
    /// `cniDir`, passed on.
    #[serde(rename = "cniDir", default, deserialize_with = "null_as_default")]
    pub cni_dir: String,
    /// `clusterNetwork`: read (and type-checked) but always replaced by the
    /// primary file's path, as upstream.
    #[serde(
        rename = "clusterNetwork",
        default,
        deserialize_with = "null_as_default"
    )]
    pub cluster_network: String,
    /// `namespaceIsolation`, passed on.
    #[serde(
        rename = "namespaceIsolation",
        default,
        deserialize_with = "null_as_default"
    )]
    pub namespace_isolation: bool,
    /// `globalNamespaces`, passed on.
    #[serde(
        rename = "globalNamespaces",
        default,
        deserialize_with = "null_as_default"
    )]
    pub global_namespaces: String,
    /// `readinessindicatorfile`: watched by the manager (its removal stops
    /// the daemon); never written into the generated config.
    #[serde(
        rename = "readinessindicatorfile",
        default,
        deserialize_with = "null_as_default"
    )]
    pub readiness_indicator_file: String,
    /// `auxiliaryCNIChainName`, passed on.
    #[serde(
        rename = "auxiliaryCNIChainName",
        default,
        deserialize_with = "null_as_default"
    )]
    pub auxiliary_cni_chain_name: String,
    /// `type` of the generated config; `None` = [`DEFAULT_PLUGIN_TYPE`].
    #[serde(rename = "type", default)]
    pub plugin_type: Option<String>,
    /// `logFile`, passed on.
    #[serde(rename = "logFile", default, deserialize_with = "null_as_default")]
    pub log_file: String,
    /// `logLevel`, passed on.
    #[serde(rename = "logLevel", default, deserialize_with = "null_as_default")]
    pub log_level: String,
    /// `logToStderr`, passed on.
    #[serde(rename = "logToStderr", default, deserialize_with = "null_as_default")]
    pub log_to_stderr: bool,
    /// `logOptions`, passed on.
    #[serde(rename = "logOptions", default)]
    pub log_options: Option<LogOptions>,
}
multus_types::case_insensitive_serde!(GeneratorConfig);

impl GeneratorConfig {
    /// Decodes the daemon config file's bytes.
    ///
    /// # Errors
    /// [`Error::DaemonConfig`] when the text is not a JSON object or a key
    /// has the wrong type.
    pub fn from_slice(bytes: &[u8]) -> Result<Self, Error> {
        serde_json::from_slice(bytes).map_err(|e| Error::DaemonConfig(e.to_string()))
    }

    /// Reads and decodes the daemon config file.
    ///
    /// # Errors
    /// [`Error::Io`] when it cannot be read, else as [`Self::from_slice`].
    pub fn from_file(path: &Path) -> Result<Self, Error> {
        let bytes = std::fs::read(path).map_err(|source| Error::Io {
            context: format!("failed to read the daemon config {}", path.display()),
            source,
        })?;
        Self::from_slice(&bytes)
            .map_err(|e| Error::DaemonConfig(format!("{}: {e}", path.display())))
    }

    /// `cniConfigDir` or its default.
    pub fn cni_config_dir(&self) -> &str {
        self.cni_config_dir
            .as_deref()
            .unwrap_or(DEFAULT_CNI_CONFIG_DIR)
    }

    /// `multusConfigFile` or its default.
    pub fn multus_config_file(&self) -> &str {
        self.multus_config_file
            .as_deref()
            .unwrap_or(DEFAULT_MULTUS_CONFIG_FILE)
    }

    /// Whether the config is generated (`multusConfigFile` is `auto`).
    pub fn is_auto(&self) -> bool {
        self.multus_config_file() == "auto"
    }

    /// `type` or its default.
    pub fn plugin_type(&self) -> &str {
        self.plugin_type.as_deref().unwrap_or(DEFAULT_PLUGIN_TYPE)
    }

    /// Where the generated file goes: `<cniConfigDir>/00-multus.conf` as Go's
    /// `filepath.Join` spells it.
    pub fn generated_path(&self) -> String {
        gojson::join_path(self.cni_config_dir(), GENERATED_FILE_NAME)
    }
}

/// The generator's state: the daemon config plus what was learnt from the
/// primary config (its path, its name, the capabilities seen so far).
///
/// Capabilities only accumulate: one the primary enabled once stays in the
/// generated config while the process runs, as upstream.
#[derive(Debug, Clone)]
pub struct Generator {
    config: GeneratorConfig,
    name: String,
    cluster_network: String,
    capabilities: BTreeMap<String, bool>,
}

impl Generator {
    /// A generator for `config`, the network named `multus-cni-network`.
    pub fn new(config: GeneratorConfig) -> Self {
        let capabilities = config.capabilities.clone();
        Self {
            config,
            name: DEFAULT_NETWORK_NAME.to_owned(),
            cluster_network: String::new(),
            capabilities,
        }
    }

    /// The daemon config it was made from.
    pub fn config(&self) -> &GeneratorConfig {
        &self.config
    }

    /// The capabilities gathered so far (daemon config plus every primary loaded).
    pub fn capabilities(&self) -> &BTreeMap<String, bool> {
        &self.capabilities
    }

    /// Takes in a primary config: checks its version against ours, sets
    /// `clusterNetwork` to its path and adds its enabled capabilities.
    ///
    /// # Errors
    /// [`Error::Version`] when our `cniVersion` is not a semantic version or
    /// the primary's is older than 0.4.0 while ours is not;
    /// [`Error::Primary`] for a malformed `plugins` or `capabilities`.
    pub fn load(&mut self, primary: &PrimaryConfig) -> Result<(), Error> {
        check_version_compatibility(&self.config.cni_version, primary)?;
        let enabled = primary.enabled_capabilities()?;
        self.cluster_network = primary.path.clone();
        for name in enabled {
            self.capabilities.insert(name, true);
        }
        Ok(())
    }

    /// Names the network after the primary's `name` (`overrideNetworkName`).
    ///
    /// # Errors
    /// [`Error::Primary`] when the primary has no non-empty string `name`.
    pub fn override_name(&mut self, primary: &PrimaryConfig) -> Result<(), Error> {
        match primary.data.get("name") {
            Some(Value::String(name)) if !name.is_empty() => {
                self.name = name.clone();
                Ok(())
            }
            _ => Err(Error::Primary(format!(
                "the primary CNI configuration {} does not feature the network name",
                primary.path
            ))),
        }
    }

    /// The text of `00-multus.conf`: Go's compact `json.Marshal` of
    /// upstream's struct, keys in its field order, empty and false values
    /// left out (`cniVersion`, `name` and `type` always written), no final
    /// newline.
    ///
    /// Keys: `binDir`, `capabilities`, `cniVersion`, `logFile`, `logLevel`,
    /// `logToStderr`, `logOptions`, `name`, `clusterNetwork`,
    /// `namespaceIsolation`, `globalNamespaces`, `type`, `cniDir`,
    /// `auxiliaryCNIChainName`, `daemonSocketDir`. The manager-only keys
    /// (`cniConfigDir`, `multusConfigFile`, `multusMasterCNI`,
    /// `multusAutoconfigDir`, `forceCNIVersion`, `overrideNetworkName`) and
    /// `readinessindicatorfile` are never written: the daemon, not the shim,
    /// watches the readiness file.
    pub fn render(&self) -> String {
        let c = &self.config;
        let mut fields: Vec<(&str, String)> = Vec::new();
        let text = |fields: &mut Vec<(&str, String)>, key, value: &str| {
            if !value.is_empty() {
                fields.push((key, gojson::string(value)));
            }
        };
        text(&mut fields, "binDir", &c.bin_dir);
        if !self.capabilities.is_empty() {
            let caps: Map<String, Value> = self
                .capabilities
                .iter()
                .map(|(k, v)| (k.clone(), Value::Bool(*v)))
                .collect();
            fields.push(("capabilities", gojson::to_string(&Value::Object(caps))));
        }
        fields.push(("cniVersion", gojson::string(&c.cni_version)));
        text(&mut fields, "logFile", &c.log_file);
        text(&mut fields, "logLevel", &c.log_level);
        if c.log_to_stderr {
            fields.push(("logToStderr", "true".to_owned()));
        }
        if let Some(options) = &c.log_options {
            fields.push(("logOptions", render_log_options(options)));
        }
        fields.push(("name", gojson::string(&self.name)));
        text(&mut fields, "clusterNetwork", &self.cluster_network);
        if c.namespace_isolation {
            fields.push(("namespaceIsolation", "true".to_owned()));
        }
        text(&mut fields, "globalNamespaces", &c.global_namespaces);
        fields.push(("type", gojson::string(c.plugin_type())));
        text(&mut fields, "cniDir", &c.cni_dir);
        text(
            &mut fields,
            "auxiliaryCNIChainName",
            &c.auxiliary_cni_chain_name,
        );
        text(&mut fields, "daemonSocketDir", &c.daemon_socket_dir);
        let mut out = String::new();
        gojson::write_struct(&mut out, &fields);
        out
    }
}

/// `logOptions` as Go writes its struct of pointers: set fields only, in the
/// order maxAge, maxSize, maxBackups, compress (`{}` when none is set).
fn render_log_options(o: &LogOptions) -> String {
    let mut fields = Vec::new();
    if let Some(v) = o.max_age {
        fields.push(("maxAge", v.to_string()));
    }
    if let Some(v) = o.max_size {
        fields.push(("maxSize", v.to_string()));
    }
    if let Some(v) = o.max_backups {
        fields.push(("maxBackups", v.to_string()));
    }
    if let Some(v) = o.compress {
        fields.push(("compress", v.to_string()));
    }
    let mut out = String::new();
    gojson::write_struct(&mut out, &fields);
    out
}
