//! The daemon config file (`-config`, default
//! `/etc/cni/net.d/multus.d/daemon-config.json`): the daemon's own keys, the
//! config generator's keys (kept as data for the config manager), and the
//! whole top-level object, which is overlaid onto every request's multus
//! config. Keys match ignoring case, as everywhere in multus's config
//! parsing (Go's `encoding/json`); types are strict; unknown keys are kept in
//! the overlay and otherwise ignored.

use std::path::{Path, PathBuf};

use multus_types::{LogOptions, MultusConf};
use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};

use super::DaemonError;

/// Where the daemon reads its config by default.
pub const DEFAULT_CONFIG_PATH: &str = "/etc/cni/net.d/multus.d/daemon-config.json";
/// Default `socketDir` (and the shim's `daemonSocketDir`).
pub const DEFAULT_SOCKET_DIR: &str = "/run/multus/";
/// Default `cniConfigDir`: where the multus config file is written.
pub const DEFAULT_CNI_CONFIG_DIR: &str = "/etc/cni/net.d";
/// `multusConfigFile` value asking for a generated config.
pub const AUTO: &str = "auto";
/// The socket's file name inside `socketDir`.
pub const SOCKET_NAME: &str = "multus.sock";
/// The multus config key the daemon strips from requests when it generates
/// the config itself (the config manager waits for the file instead).
pub const READINESS_KEY: &str = "readinessindicatorfile";

/// `perNodeCertificate`: a per-node client certificate for the API server.
#[derive(Debug, Clone, Default, PartialEq, Eq, Deserialize, Serialize)]
#[serde(remote = "Self")]
pub struct PerNodeCertificate {
    /// Use it.
    #[serde(default)]
    pub enabled: bool,
    /// Kubeconfig used to request the certificate.
    #[serde(rename = "bootstrapKubeconfig", default)]
    pub bootstrap_kubeconfig: String,
    /// Where the certificate is kept.
    #[serde(rename = "certDir", default)]
    pub cert_dir: String,
    /// Requested validity, a Go duration (default `10m`).
    #[serde(rename = "certDuration", default)]
    pub cert_duration: String,
}
multus_types::case_insensitive_serde!(PerNodeCertificate);

/// The config generator's keys (`multusConfigFile: auto`), as data for the
/// config manager. Defaults are upstream's.
#[derive(Debug, Clone, PartialEq, Deserialize, Serialize)]
#[serde(remote = "Self")]
pub struct GeneratorConfig {
    /// `cniVersion` of the generated config.
    #[serde(rename = "cniVersion", default)]
    pub cni_version: String,
    /// Where the multus config file is written (default `/etc/cni/net.d`).
    #[serde(rename = "cniConfigDir", default = "default_cni_config_dir")]
    pub cni_config_dir: String,
    /// Where the primary CNI config is looked for.
    #[serde(rename = "multusAutoconfigDir", default)]
    pub multus_autoconfig_dir: String,
    /// The primary CNI config's file name, instead of the first one found.
    #[serde(rename = "multusMasterCNI", default)]
    pub multus_master_cni: String,
    /// `auto` (generate) or the path of a multus config file to install.
    #[serde(rename = "multusConfigFile", default = "default_multus_config_file")]
    pub multus_config_file: String,
    /// Rewrite the primary config's `cniVersion` to ours.
    #[serde(rename = "forceCNIVersion", default)]
    pub force_cni_version: bool,
    /// Name the generated config after the primary network.
    #[serde(rename = "overrideNetworkName", default)]
    pub override_network_name: bool,
    /// The shim's socket directory, written into the generated config.
    #[serde(rename = "daemonSocketDir", default)]
    pub daemon_socket_dir: String,
    /// `binDir` of the generated config.
    #[serde(rename = "binDir", default)]
    pub bin_dir: String,
    /// `capabilities` of the generated config.
    #[serde(default)]
    pub capabilities: Option<Value>,
    /// `cniDir` of the generated config.
    #[serde(rename = "cniDir", default)]
    pub cni_dir: String,
    /// `clusterNetwork` of the generated config.
    #[serde(rename = "clusterNetwork", default)]
    pub cluster_network: String,
    /// `namespaceIsolation` of the generated config.
    #[serde(rename = "namespaceIsolation", default)]
    pub namespace_isolation: bool,
    /// `globalNamespaces` of the generated config.
    #[serde(rename = "globalNamespaces", default)]
    pub global_namespaces: String,
    /// The readiness indicator file the manager watches.
    #[serde(rename = "readinessindicatorfile", default)]
    pub readiness_indicator_file: String,
    /// `auxiliaryCNIChainName` of the generated config.
    #[serde(rename = "auxiliaryCNIChainName", default)]
    pub auxiliary_cni_chain_name: String,
    /// `logFile` of the generated config.
    #[serde(rename = "logFile", default)]
    pub log_file: String,
    /// `logLevel` of the generated config.
    #[serde(rename = "logLevel", default)]
    pub log_level: String,
    /// `logToStderr` of the generated config.
    #[serde(rename = "logToStderr", default)]
    pub log_to_stderr: bool,
    /// `logOptions` of the generated config.
    #[serde(rename = "logOptions", default)]
    pub log_options: Option<LogOptions>,
}
multus_types::case_insensitive_serde!(GeneratorConfig);

fn default_cni_config_dir() -> String {
    DEFAULT_CNI_CONFIG_DIR.to_owned()
}

fn default_multus_config_file() -> String {
    AUTO.to_owned()
}

/// The daemon's own keys as decoded.
#[derive(Deserialize, Serialize)]
#[serde(remote = "Self")]
struct Raw {
    #[serde(rename = "chrootDir", default)]
    chroot_dir: String,
    #[serde(rename = "socketDir", default)]
    socket_dir: Option<String>,
    #[serde(rename = "logFile", default)]
    log_file: String,
    #[serde(rename = "logLevel", default)]
    log_level: String,
    #[serde(rename = "logToStderr", default)]
    log_to_stderr: bool,
    #[serde(rename = "logOptions", default)]
    log_options: Option<LogOptions>,
    #[serde(rename = "metricsPort", default)]
    metrics_port: Option<i64>,
    #[serde(rename = "enablePprof", default)]
    enable_pprof: bool,
    #[serde(rename = "connectionLimit", default)]
    connection_limit: Option<i64>,
    #[serde(rename = "perNodeCertificate", default)]
    per_node_certificate: Option<PerNodeCertificate>,
}
multus_types::case_insensitive_serde!(Raw);

/// The daemon config.
#[derive(Debug, Clone, PartialEq)]
#[non_exhaustive]
pub struct DaemonConfig {
    /// Run delegates with `chroot(chrootDir)` (empty: no chroot).
    pub chroot_dir: String,
    /// Directory of the socket (default `/run/multus/`).
    pub socket_dir: PathBuf,
    /// The daemon's log file (empty: none).
    pub log_file: String,
    /// The daemon's log level (empty: `panic`, upstream's default).
    pub log_level: String,
    /// Echo logs to stderr (default **false** in the daemon, as upstream).
    pub log_to_stderr: bool,
    /// Rotation of the daemon's log file.
    pub log_options: Option<LogOptions>,
    /// Serve Prometheus metrics on this TCP port.
    pub metrics_port: Option<u16>,
    /// `enablePprof` (Go's profiler; accepted and ignored here).
    pub enable_pprof: bool,
    /// At most this many connections served at once.
    pub connection_limit: Option<usize>,
    /// `perNodeCertificate`.
    pub per_node_certificate: Option<PerNodeCertificate>,
    /// The generator's keys.
    pub generator: GeneratorConfig,
    /// The file's top-level object: overlaid onto every request's config.
    pub overlay: Map<String, Value>,
    /// The node this daemon serves (not a file key: the binary reads
    /// `MULTUS_NODE_NAME`, set from `spec.nodeName` in the DaemonSet). When
    /// set, the pod cache holds only this node's pods.
    pub node_name: Option<String>,
}

impl DaemonConfig {
    /// Reads and validates the config file at `path`.
    ///
    /// # Errors
    /// [`DaemonError::Config`] naming the file and what is wrong with it.
    pub fn load(path: &Path) -> Result<Self, DaemonError> {
        let bytes = std::fs::read(path).map_err(|e| DaemonError::Config {
            path: path.to_owned(),
            reason: format!("cannot read it: {e}"),
        })?;
        Self::from_bytes(&bytes).map_err(|reason| DaemonError::Config {
            path: path.to_owned(),
            reason,
        })
    }

    /// Parses and validates a config; the error says what is wrong.
    ///
    /// # Errors
    /// A message naming the bad key.
    pub fn from_bytes(bytes: &[u8]) -> Result<Self, String> {
        let value: Value =
            serde_json::from_slice(bytes).map_err(|e| format!("not valid JSON: {e}"))?;
        let Value::Object(overlay) = value else {
            return Err("the top level is not a JSON object".into());
        };
        let raw: Raw = serde_json::from_value(Value::Object(overlay.clone()))
            .map_err(|e| format!("failed to unmarshall the daemon configuration: {e}"))?;
        let generator: GeneratorConfig = serde_json::from_value(Value::Object(overlay.clone()))
            .map_err(|e| format!("failed to unmarshall the generator configuration: {e}"))?;
        let metrics_port = raw
            .metrics_port
            .map(|p| {
                u16::try_from(p).map_err(|_| format!("metricsPort {p} is not a TCP port (0-65535)"))
            })
            .transpose()?;
        let connection_limit = raw
            .connection_limit
            .map(|n| match usize::try_from(n) {
                Ok(n) if n > 0 => Ok(n),
                _ => Err(format!("connectionLimit must be greater than 0, got {n}")),
            })
            .transpose()?;
        if let Some(cert) = raw.per_node_certificate.as_ref().filter(|c| c.enabled)
            && (cert.bootstrap_kubeconfig.is_empty() || cert.cert_dir.is_empty())
        {
            return Err(format!(
                "failed to configure PerNodeCertificate: enabled: true, BootstrapKubeconfig: {:?}, CertDir: {:?}",
                cert.bootstrap_kubeconfig, cert.cert_dir
            ));
        }
        let config = Self {
            chroot_dir: raw.chroot_dir,
            socket_dir: PathBuf::from(raw.socket_dir.unwrap_or_else(|| DEFAULT_SOCKET_DIR.into())),
            log_file: raw.log_file,
            log_level: raw.log_level,
            log_to_stderr: raw.log_to_stderr,
            log_options: raw.log_options,
            metrics_port,
            enable_pprof: raw.enable_pprof,
            connection_limit,
            per_node_certificate: raw.per_node_certificate,
            generator,
            overlay,
            node_name: None,
        };
        // The multus keys must load as for a request (`/delegate` uses them).
        config.delegate_settings()?;
        Ok(config)
    }

    /// The multus settings of `/delegate` requests: upstream's defaults
    /// under the daemon config's keys (a daemon config names no networks,
    /// so a placeholder `clusterNetwork` satisfies the loader, which then
    /// reads `binDir`, `cniDir`, `kubeconfig`, ... as for any multus config).
    ///
    /// # Errors
    /// A message when a multus key of the file is invalid.
    pub fn delegate_settings(&self) -> Result<MultusConf, String> {
        let mut map = self.overlay.clone();
        let names_networks = map.keys().any(|k| {
            k.eq_ignore_ascii_case("clusterNetwork") || k.eq_ignore_ascii_case("delegates")
        });
        if !names_networks {
            map.insert("clusterNetwork".into(), Value::from("multus-daemon"));
        }
        let bytes = serde_json::to_vec(&Value::Object(map)).map_err(|e| e.to_string())?;
        MultusConf::from_bytes(&bytes).map_err(|e| e.to_string())
    }

    /// `multusConfigFile: auto`: the config manager generates the multus config.
    pub fn is_auto(&self) -> bool {
        self.generator.multus_config_file == AUTO
    }

    /// `<socketDir>/multus.sock`.
    pub fn socket_path(&self) -> PathBuf {
        self.socket_dir.join(SOCKET_NAME)
    }

    /// The readiness indicator file the daemon waits for at start-up.
    pub fn readiness_indicator_file(&self) -> &str {
        &self.generator.readiness_indicator_file
    }

    /// A request's multus config with this file's keys laid over it: each
    /// top-level key of the daemon config replaces the request's key of the
    /// same name, ignoring case (so the daemon always wins, whichever way
    /// either side spells it). With `auto` the readiness indicator key is
    /// removed from both (the config manager owns it).
    ///
    /// # Errors
    /// A message when `request` is not a JSON object.
    pub fn overlay_onto(&self, request: &[u8]) -> Result<Vec<u8>, String> {
        let value: Value = serde_json::from_slice(request)
            .map_err(|e| format!("failed to unmarshall CNI config: {e}"))?;
        let Value::Object(mut merged) = value else {
            return Err("failed to unmarshall CNI config: not a JSON object".into());
        };
        let strip_readiness = self.is_auto();
        if strip_readiness {
            merged.retain(|k, _| !k.eq_ignore_ascii_case(READINESS_KEY));
        }
        for (key, value) in &self.overlay {
            if strip_readiness && key.eq_ignore_ascii_case(READINESS_KEY) {
                continue;
            }
            merged.retain(|k, _| !k.eq_ignore_ascii_case(key));
            merged.insert(key.clone(), value.clone());
        }
        serde_json::to_vec(&Value::Object(merged))
            .map_err(|e| format!("failed to marshal the merged CNI config: {e}"))
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;
    use serde_json::json;

    fn parse(v: Value) -> Result<DaemonConfig, String> {
        DaemonConfig::from_bytes(v.to_string().as_bytes())
    }

    #[test]
    fn defaults() {
        let c = parse(json!({})).unwrap();
        assert_eq!(c.socket_dir, PathBuf::from("/run/multus/"));
        assert_eq!(c.socket_path(), PathBuf::from("/run/multus/multus.sock"));
        assert!(c.is_auto());
        assert_eq!(c.generator.cni_config_dir, "/etc/cni/net.d");
        assert!(!c.log_to_stderr);
        assert_eq!((c.metrics_port, c.connection_limit), (None, None));
        assert_eq!(c.chroot_dir, "");
        let settings = c.delegate_settings().unwrap();
        assert_eq!(
            (settings.bin_dir.as_str(), settings.cni_dir.as_str()),
            ("/opt/cni/bin", "/var/lib/cni/multus")
        );
    }

    #[test]
    fn keys_ignore_case_and_types_are_strict() {
        let c = parse(json!({
            "SOCKETDIR": "/tmp/s", "chrootdir": "/hostroot", "MetricsPort": 9091,
            "connectionlimit": 4, "MULTUSCONFIGFILE": "/tmp/m.conf", "LogToStderr": true,
            "ReadinessIndicatorFile": "/r"
        }))
        .unwrap();
        assert_eq!(c.socket_dir, PathBuf::from("/tmp/s"));
        assert_eq!(c.chroot_dir, "/hostroot");
        assert_eq!((c.metrics_port, c.connection_limit), (Some(9091), Some(4)));
        assert!(!c.is_auto());
        assert!(c.log_to_stderr);
        assert_eq!(c.readiness_indicator_file(), "/r");
        let e = parse(json!({"metricsPort": "9091"})).unwrap_err();
        assert!(
            e.contains("metricsPort") || e.contains("invalid type"),
            "{e}"
        );
    }

    #[test]
    fn validation() {
        let e = parse(json!({"connectionLimit": 0})).unwrap_err();
        assert_eq!(e, "connectionLimit must be greater than 0, got 0");
        assert!(parse(json!({"connectionLimit": -2})).is_err());
        let e = parse(json!({"metricsPort": 70000})).unwrap_err();
        assert!(e.contains("70000"), "{e}");
        let e = parse(json!({"perNodeCertificate": {"enabled": true}})).unwrap_err();
        assert!(
            e.starts_with("failed to configure PerNodeCertificate"),
            "{e}"
        );
        assert!(DaemonConfig::from_bytes(b"[]").is_err());
        let e = parse(json!({"retryDeleteOnError": "yes"})).unwrap_err();
        assert!(e.contains("failed to load netconf"), "{e}");
        assert!(DaemonConfig::from_bytes(b"{").is_err());
    }

    #[test]
    fn overlay_daemon_wins_ignoring_case() {
        let c =
            parse(json!({"cniVersion": "0.3.1", "LogLevel": "debug", "socketDir": "/s"})).unwrap();
        let merged = c
            .overlay_onto(br#"{"cniversion":"1.0.0","logLevel":"error","name":"multus-cni-network","readinessindicatorfile":"/r"}"#)
            .unwrap();
        let merged: Value = serde_json::from_slice(&merged).unwrap();
        assert_eq!(
            merged,
            json!({"name":"multus-cni-network","cniVersion":"0.3.1","LogLevel":"debug","socketDir":"/s"})
        );
        assert!(c.overlay_onto(b"[1]").is_err());
    }

    #[test]
    fn overlay_keeps_readiness_without_auto() {
        let c =
            parse(json!({"multusConfigFile": "/m.conf", "readinessindicatorfile": "/d"})).unwrap();
        let merged: Value = serde_json::from_slice(
            &c.overlay_onto(br#"{"ReadinessIndicatorFile":"/r"}"#)
                .unwrap(),
        )
        .unwrap();
        assert_eq!(
            merged,
            json!({"multusConfigFile": "/m.conf", "readinessindicatorfile": "/d"})
        );
    }
}
