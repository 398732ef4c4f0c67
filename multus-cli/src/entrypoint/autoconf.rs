//! Auto configuration (`--multus-conf-file=auto`): wrap the node's default
//! network config (the "master") into a multus config that the runtime picks
//! first, `<cni-conf-dir>/00-multus.conf` or `00-multus.conflist`.
//!
//! The file is byte for byte what upstream's text template writes: `cniVersion`,
//! `name`, `type`, then when set `capabilities`, `namespaceIsolation`,
//! `globalNamespaces`, `logToStderr`, `logLevel`, `logFile`, `binDir`,
//! `cniConf`, `readinessindicatorfile`, and always `kubeconfig` and
//! `delegates`, one key a line indented by 8 spaces; the master config sits
//! inside `delegates` as Go's `json.Marshal` writes it (compact, sorted keys,
//! `<>&` escaped, numbers as Go float64s). For a master of CNI version
//! exactly 1.0.0 the same keys, less `cniVersion` and `name`, form the one
//! plugin of a conflist (`"plugins": [ {` ... `}]`).
//!
//! `cniConf` is written for drop-in fidelity only: the plugin reads its config
//! directory from `confDir`, so this key (upstream's) has no effect.

use std::collections::BTreeMap;
use std::fs;
use std::io;
use std::path::{Path, PathBuf};

use serde_json::{Map, Value};
use sha2::{Digest, Sha256};

use super::install::write_atomic;
use super::{Error, Options};
use crate::confgen::gojson;
use crate::confgen::primary::conf_files;

/// Name prefix of generated files; such files are never taken as the master.
pub const MULTUS_CONF_PREFIX: &str = "00-multus.conf";
/// The generated config for every CNI version but 1.0.0.
pub const CONF_FILE_NAME: &str = "00-multus.conf";
/// The generated config list, for CNI version 1.0.0 exactly (as upstream).
pub const CONFLIST_FILE_NAME: &str = "00-multus.conflist";
/// Temporary name used while either is written.
pub const TEMP_FILE_NAME: &str = "00-multus.conf.new";
/// Network name of the generated config unless `--override-network-name`.
pub const DEFAULT_NETWORK_NAME: &str = "multus-cni-network";
/// Log levels `--multus-log-level` accepts (any case).
pub const LOG_LEVELS: [&str; 4] = ["debug", "error", "panic", "verbose"];

/// A rendered multus config.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct GeneratedConfig {
    /// [`CONF_FILE_NAME`] or [`CONFLIST_FILE_NAME`].
    pub file_name: &'static str,
    /// The file's text.
    pub text: String,
    /// Its `cniVersion`.
    pub cni_version: String,
}

/// What [`ensure_multus_config`] found and did.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AutoconfUpdate {
    /// The master config file.
    pub master: PathBuf,
    /// SHA-256 of the master file's bytes, for the next call.
    pub master_hash: [u8; 32],
    /// The config written, `None` when the master had not changed.
    pub written: Option<PathBuf>,
    /// Where the master went with `--rename-conf-file`.
    pub renamed_master: Option<PathBuf>,
}

fn config_err(msg: String) -> Error {
    Error::Config(msg)
}

/// Picks the master config: `file_name` inside `autoconfig_dir` when given,
/// otherwise the first (sorted by name) `.conf`/`.conflist` file there whose
/// name does not start with `00-multus.conf`. Directories are skipped.
pub fn find_master(autoconfig_dir: &Path, file_name: &str) -> Result<PathBuf, Error> {
    if !file_name.is_empty() {
        return Ok(autoconfig_dir.join(file_name));
    }
    let none = || {
        config_err(format!(
            "cannot find valid master CNI config in {:?}",
            autoconfig_dir.display().to_string()
        ))
    };
    match conf_files(autoconfig_dir, MULTUS_CONF_PREFIX) {
        Ok(names) => names
            .into_iter()
            .next()
            .map(|n| autoconfig_dir.join(n))
            .ok_or_else(none),
        Err(e) if e.kind() == io::ErrorKind::NotFound => Err(none()),
        Err(source) => Err(Error::Io {
            context: format!("cannot read {}", autoconfig_dir.display()),
            source,
        }),
    }
}

fn capabilities_of(
    into: &mut BTreeMap<String, bool>,
    holder: &Map<String, Value>,
    path: &Path,
) -> Result<(), Error> {
    match holder.get("capabilities") {
        None => Ok(()),
        Some(Value::Object(caps)) => {
            for (k, v) in caps {
                let Value::Bool(b) = v else {
                    return Err(config_err(format!(
                        "capability {k:?} in master CNI config file {:?} is not a boolean",
                        path.display().to_string()
                    )));
                };
                into.insert(k.clone(), *b);
            }
            Ok(())
        }
        Some(_) => Err(config_err(format!(
            "'capabilities' in master CNI config file {:?} is not an object",
            path.display().to_string()
        ))),
    }
}

/// Whether a config of this version is written as a conflist: upstream
/// compares the version with `"1.0.0"` for equality (its comment says "or
/// above", its code does not), so 1.1.0 masters get a `.conf`, as there.
fn wants_conflist(version: &str) -> bool {
    version == "1.0.0"
}

/// A string as the template's `%q` writes it: JSON escaping (Go's `%q`
/// differs only for control characters other than `\n`, `\r`, `\t`, where
/// it would write `\x01`-style escapes that no JSON parser accepts).
fn quoted(s: &str) -> String {
    // Serialising a string cannot fail.
    serde_json::to_string(s).unwrap_or_default()
}

/// One optional line of the template: `\n        "key": value,`.
fn option_line(out: &mut String, key: &str, rendered: &str) {
    out.push_str("\n        \"");
    out.push_str(key);
    out.push_str("\": ");
    out.push_str(rendered);
    out.push(',');
}

/// Renders the multus config for a master config (`master`, the bytes of
/// `master_path`). Checks, as upstream: the master is a JSON object with a
/// string `cniVersion` equal to `--cni-version` when that is set (or replaced
/// by it with `--force-cni-version`), a string `name` with
/// `--override-network-name`, and a known `--multus-log-level`.
pub fn render_multus_config(
    options: &Options,
    master_path: &Path,
    master: &[u8],
) -> Result<GeneratedConfig, Error> {
    let shown = || format!("{:?}", master_path.display().to_string());
    let mut master: Map<String, Value> = match serde_json::from_slice(master) {
        Ok(Value::Object(m)) => m,
        Ok(_) => {
            return Err(config_err(format!(
                "cannot read master CNI config json {}: not a JSON object",
                shown()
            )));
        }
        Err(e) => {
            return Err(config_err(format!(
                "cannot read master CNI config json {}: {e}",
                shown()
            )));
        }
    };

    let Some(found_version) = master.get("cniVersion") else {
        return Err(config_err(format!(
            "cannot get cniVersion in master CNI config file {}",
            shown()
        )));
    };
    let version = if options.force_cni_version {
        if options.cni_version.is_empty() {
            return Err(config_err(
                "--force-cni-version needs --cni-version".to_owned(),
            ));
        }
        println!("force CNI version to {:?}", options.cni_version);
        master.insert(
            "cniVersion".to_owned(),
            Value::String(options.cni_version.clone()),
        );
        options.cni_version.clone()
    } else {
        let Value::String(found) = found_version else {
            return Err(config_err(format!(
                "cniVersion in master CNI config file {} is not a string",
                shown()
            )));
        };
        if !options.cni_version.is_empty() && *found != options.cni_version {
            return Err(config_err(format!(
                "Multus cni version is {:?} while master plugin cni version is {found:?}",
                options.cni_version
            )));
        }
        found.clone()
    };

    let name = if options.override_network_name {
        let Some(Value::String(name)) = master.get("name") else {
            return Err(config_err(format!(
                "cannot get name in master CNI config file {}",
                shown()
            )));
        };
        println!("master plugin name is overridden to {name:?}");
        name.clone()
    } else {
        DEFAULT_NETWORK_NAME.to_owned()
    };

    let mut capabilities = BTreeMap::new();
    match master.get("plugins") {
        Some(Value::Array(plugins)) => {
            for plugin in plugins {
                let Value::Object(plugin) = plugin else {
                    return Err(config_err(format!(
                        "a plugin in master CNI config file {} is not an object",
                        shown()
                    )));
                };
                capabilities_of(&mut capabilities, plugin, master_path)?;
            }
        }
        Some(_) => {
            return Err(config_err(format!(
                "'plugins' in master CNI config file {} is not a list",
                shown()
            )));
        }
        None => capabilities_of(&mut capabilities, &master, master_path)?,
    }

    let log_level = options.multus_log_level.to_lowercase();
    if !log_level.is_empty() && !LOG_LEVELS.contains(&log_level.as_str()) {
        return Err(config_err(format!(
            "Log levels should be one of: debug/verbose/error/panic, did not understand: {:?}",
            options.multus_log_level
        )));
    }

    let conflist = wants_conflist(&version);
    let delegate = gojson::to_string(&Value::Object(master));

    let mut options_text = String::new();
    if !capabilities.is_empty() {
        let caps: Map<String, Value> = capabilities
            .into_iter()
            .map(|(k, v)| (k, Value::Bool(v)))
            .collect();
        option_line(
            &mut options_text,
            "capabilities",
            &gojson::to_string(&Value::Object(caps)),
        );
    }
    if options.namespace_isolation {
        option_line(&mut options_text, "namespaceIsolation", "true");
    }
    if !options.global_namespaces.is_empty() {
        option_line(
            &mut options_text,
            "globalNamespaces",
            &quoted(&options.global_namespaces),
        );
    }
    if !options.multus_log_to_stderr {
        option_line(&mut options_text, "logToStderr", "false");
    }
    if !log_level.is_empty() {
        option_line(&mut options_text, "logLevel", &quoted(&log_level));
    }
    if !options.multus_log_file.is_empty() {
        option_line(
            &mut options_text,
            "logFile",
            &quoted(&options.multus_log_file),
        );
    }
    if !options.additional_bin_dir.is_empty() {
        option_line(
            &mut options_text,
            "binDir",
            &quoted(&options.additional_bin_dir),
        );
    }
    let cni_conf = options.multus_cni_conf_dir.to_string_lossy();
    if !cni_conf.is_empty() {
        option_line(&mut options_text, "cniConf", &quoted(&cni_conf));
    }
    if !options.readiness_indicator_file.is_empty() {
        option_line(
            &mut options_text,
            "readinessindicatorfile",
            &quoted(&options.readiness_indicator_file),
        );
    }
    // Upstream pastes cniVersion, name and kubeconfig into quotes unescaped;
    // escaping them gives the same bytes for every value that makes valid JSON.
    let version_q = quoted(&version);
    let name_q = quoted(&name);
    let kubeconfig_q = quoted(&options.multus_kubeconfig_file_host);
    let (file_name, text) = if conflist {
        (
            CONFLIST_FILE_NAME,
            format!(
                "{{\n    \"cniVersion\": {version_q},\n    \"name\": {name_q},\n    \"plugins\": [ {{\n        \
                 \"type\": \"multus\",{options_text}\n        \"kubeconfig\": {kubeconfig_q},\n        \
                 \"delegates\": [\n            {delegate}\n        ]\n    }}]\n}}\n"
            ),
        )
    } else {
        (
            CONF_FILE_NAME,
            format!(
                "{{\n        \"cniVersion\": {version_q},\n        \"name\": {name_q},\n        \
                 \"type\": \"multus\",{options_text}\n        \"kubeconfig\": {kubeconfig_q},\n        \
                 \"delegates\": [\n                {delegate}\n        ]\n}}\n"
            ),
        )
    };
    Ok(GeneratedConfig {
        file_name,
        text,
        cni_version: version,
    })
}

/// Selects the master, and unless its bytes hash to `previous_hash`, writes
/// the multus config into `--cni-conf-dir` (through [`TEMP_FILE_NAME`], mode
/// 0600, renamed into place), then with `--rename-conf-file` renames the
/// master to `<master>.old`.
pub fn ensure_multus_config(
    options: &Options,
    previous_hash: Option<&[u8; 32]>,
) -> Result<AutoconfUpdate, Error> {
    let master = find_master(
        &options.multus_autoconfig_dir,
        &options.multus_master_cni_file_name,
    )?;
    let bytes = fs::read(&master).map_err(|source| Error::Io {
        context: format!("cannot read master CNI config file {}", master.display()),
        source,
    })?;
    let master_hash: [u8; 32] = Sha256::digest(&bytes).into();
    if previous_hash == Some(&master_hash) {
        return Ok(AutoconfUpdate {
            master,
            master_hash,
            written: None,
            renamed_master: None,
        });
    }
    if previous_hash.is_some() {
        println!("master config changed: regenerating the multus config");
    }
    let generated = render_multus_config(options, &master, &bytes)?;
    let path = options.cni_conf_dir.join(generated.file_name);
    let temp = options.cni_conf_dir.join(TEMP_FILE_NAME);
    write_atomic(&path, &temp, generated.text.as_bytes(), 0o600)?;
    println!("multus config file {} is created.", path.display());

    let renamed_master = if options.rename_conf_file {
        let mut old = master.clone().into_os_string();
        old.push(".old");
        let old = PathBuf::from(old);
        fs::rename(&master, &old).map_err(|source| Error::Io {
            context: format!("cannot move the master config to {}", old.display()),
            source,
        })?;
        println!(
            "Original master file moved to {:?}",
            old.display().to_string()
        );
        Some(old)
    } else {
        None
    };
    Ok(AutoconfUpdate {
        master,
        master_hash,
        written: Some(path),
        renamed_master,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn conflist_only_for_one_zero_zero() {
        assert!(!wants_conflist(""));
        assert!(!wants_conflist("0.4.0"));
        assert!(wants_conflist("1.0.0"));
        assert!(!wants_conflist("1.1.0"));
    }
}
