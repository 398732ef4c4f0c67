//! The primary (master) CNI config: finding it, reading it, and the checks
//! the generator makes on it. The thin entrypoint's master lookup uses
//! [`conf_files`] too.

use std::ffi::OsString;
use std::fs;
use std::io;
use std::os::unix::ffi::OsStrExt;
use std::os::unix::fs::PermissionsExt;
use std::path::Path;
use std::time::Duration;

use serde_json::{Map, Value};

use super::{Error, gojson};

/// Prefix of the files the thick manager never takes as the primary.
pub const GENERATED_PREFIX: &str = "00-multus";
/// How many times the manager looks for a primary config before giving up.
pub const DEFAULT_FIND_ATTEMPTS: u32 = 120;
/// The pause between two looks.
pub const DEFAULT_FIND_INTERVAL: Duration = Duration::from_secs(1);

/// Whether a file name has a CNI config extension, judged as Go's
/// `filepath.Ext` does (the text from the last dot, so `.conf` counts).
pub fn has_conf_extension(name: &[u8]) -> bool {
    match name.iter().rposition(|b| *b == b'.') {
        Some(dot) => matches!(&name[dot..], b".conf" | b".conflist"),
        None => false,
    }
}

/// The `.conf`/`.conflist` files of `dir` whose names do not start with
/// `skip_prefix`, sorted byte-wise by name. Directories are skipped.
///
/// # Errors
/// The I/O error of listing `dir`.
pub fn conf_files(dir: &Path, skip_prefix: &str) -> io::Result<Vec<OsString>> {
    let mut names = Vec::new();
    for entry in fs::read_dir(dir)? {
        let entry = entry?;
        if entry.file_type().is_ok_and(|t| t.is_dir()) {
            continue;
        }
        let name = entry.file_name();
        let bytes = name.as_bytes();
        if has_conf_extension(bytes) && !bytes.starts_with(skip_prefix.as_bytes()) {
            names.push(name);
        }
    }
    names.sort_by(|a, b| a.as_bytes().cmp(b.as_bytes()));
    Ok(names)
}

/// The primary's file name: the first of [`conf_files`] in `dir` not
/// starting with `00-multus`, looked for `attempts` times `interval` apart
/// (upstream: 120 times, 1 s).
///
/// # Errors
/// [`Error::Io`] when `dir` cannot be listed (not retried);
/// [`Error::NoPrimary`] when no config showed up in time.
pub async fn find_primary(dir: &str, attempts: u32, interval: Duration) -> Result<String, Error> {
    for attempt in 0..attempts {
        let names = conf_files(Path::new(dir), GENERATED_PREFIX).map_err(|source| Error::Io {
            context: format!("error when listing the CNI plugin configurations in {dir:?}"),
            source,
        })?;
        if let Some(first) = names.into_iter().next() {
            return Ok(first.to_string_lossy().into_owned());
        }
        if attempt + 1 < attempts {
            tokio::time::sleep(interval).await;
        }
    }
    Err(Error::NoPrimary(dir.to_owned()))
}

/// A primary config as read from disk.
#[derive(Debug, Clone, PartialEq)]
pub struct PrimaryConfig {
    /// Its path (as Go's `filepath.Join` spells it), written as `clusterNetwork`.
    pub path: String,
    /// The file's bytes.
    pub bytes: Vec<u8>,
    /// The decoded object.
    pub data: Map<String, Value>,
}

impl PrimaryConfig {
    /// Reads and decodes the primary config at `path`.
    ///
    /// # Errors
    /// [`Error::Io`] when it cannot be read, [`Error::Primary`] when it is
    /// not a JSON object (a half-written file, say).
    pub fn read(path: &str) -> Result<Self, Error> {
        let bytes = fs::read(path).map_err(|source| Error::Io {
            context: format!("failed to read the cluster primary CNI config {path}"),
            source,
        })?;
        Self::parse(path, bytes)
    }

    /// Decodes `bytes`, the content of `path`.
    ///
    /// # Errors
    /// [`Error::Primary`] when they are not a JSON object.
    pub fn parse(path: &str, bytes: Vec<u8>) -> Result<Self, Error> {
        let data = match serde_json::from_slice(&bytes) {
            Ok(Value::Object(map)) => map,
            Ok(_) => {
                return Err(Error::Primary(format!(
                    "failed to unmarshall primary CNI config {path}: not a JSON object"
                )));
            }
            Err(e) => {
                return Err(Error::Primary(format!(
                    "failed to unmarshall primary CNI config {path}: {e}"
                )));
            }
        };
        Ok(Self {
            path: path.to_owned(),
            bytes,
            data,
        })
    }

    /// The capabilities set to `true`: from every plugin of a non-empty
    /// `plugins` list, else from the top level. A holder whose
    /// `capabilities` is not an object contributes nothing, as upstream.
    ///
    /// # Errors
    /// [`Error::Primary`] when `plugins` is not a list or a capability is
    /// not a boolean (upstream panics on both).
    pub fn enabled_capabilities(&self) -> Result<Vec<String>, Error> {
        let mut enabled = Vec::new();
        let plugins = match self.data.get("plugins") {
            None => None,
            Some(Value::Array(list)) => Some(list),
            Some(_) => {
                return Err(Error::Primary(format!(
                    "'plugins' in the primary CNI config {} is not a list",
                    self.path
                )));
            }
        };
        match plugins {
            Some(list) if !list.is_empty() => {
                for plugin in list {
                    if let Value::Object(plugin) = plugin {
                        self.collect_enabled(plugin, &mut enabled)?;
                    }
                }
            }
            _ => self.collect_enabled(&self.data, &mut enabled)?,
        }
        Ok(enabled)
    }

    fn collect_enabled(
        &self,
        holder: &Map<String, Value>,
        into: &mut Vec<String>,
    ) -> Result<(), Error> {
        let Some(Value::Object(caps)) = holder.get("capabilities") else {
            return Ok(());
        };
        for (name, value) in caps {
            match value {
                Value::Bool(true) => into.push(name.clone()),
                Value::Bool(false) => {}
                _ => {
                    return Err(Error::Primary(format!(
                        "capability {name:?} in the primary CNI config {} is not a boolean",
                        self.path
                    )));
                }
            }
        }
        Ok(())
    }
}

/// A strict semantic version (`MAJOR.MINOR.PATCH[-PRE][+BUILD]`, no leading
/// zeros), reduced to what ordering against 0.4.0 needs.
fn parse_semver(text: &str) -> Option<(u64, u64, u64, bool)> {
    let no_build = text.split_once('+').map_or(text, |(v, _)| v);
    let (core, pre) = match no_build.split_once('-') {
        Some((core, pre)) if !pre.is_empty() => (core, true),
        Some(_) => return None,
        None => (no_build, false),
    };
    let mut parts = core.split('.');
    let mut number = || {
        let p = parts.next()?;
        let ok = !p.is_empty()
            && p.bytes().all(|b| b.is_ascii_digit())
            && (p == "0" || !p.starts_with('0'));
        if ok { p.parse::<u64>().ok() } else { None }
    };
    let version = (number()?, number()?, number()?, pre);
    if parts.next().is_some() {
        return None;
    }
    Some(version)
}

fn older_than_0_4_0(v: (u64, u64, u64, bool)) -> bool {
    let (major, minor, patch, pre) = v;
    (major, minor, patch) < (0, 4, 0) || ((major, minor, patch) == (0, 4, 0) && pre)
}

/// Upstream's rule: from CNI 0.4.0 on (CHECK was added) the primary's
/// `cniVersion` must be 0.4.0 or later too.
///
/// # Errors
/// [`Error::Version`] when `multus_version` is not a semantic version, or it
/// is 0.4.0 or later and the primary's version is missing, not a semantic
/// version, or older.
pub fn check_version_compatibility(
    multus_version: &str,
    primary: &PrimaryConfig,
) -> Result<(), Error> {
    let ours = parse_semver(multus_version)
        .ok_or_else(|| Error::Version("couldn't get top level cni version".to_owned()))?;
    if older_than_0_4_0(ours) {
        return Ok(());
    }
    let Some(Value::String(theirs)) = primary.data.get("cniVersion") else {
        return Err(Error::Version(
            "couldn't get cni version of delegate".to_owned(),
        ));
    };
    let parsed = parse_semver(theirs).ok_or_else(|| {
        Error::Version(format!(
            "delegate cni version {theirs:?} is not a semantic version"
        ))
    })?;
    if older_than_0_4_0(parsed) {
        return Err(Error::Version(format!(
            "delegate cni version is {theirs} while top level cni version is {multus_version}"
        )));
    }
    Ok(())
}

/// `forceCNIVersion`: rewrites the primary file with its `cniVersion`
/// replaced by `version`, as Go's `json.Marshal` writes it (compact, sorted
/// keys), keeping the file's mode. Written through `<path>.new` and renamed,
/// so the runtime never reads half a file.
///
/// # Errors
/// [`Error::Io`] on I/O, [`Error::Primary`] when the file is not a JSON object.
pub fn force_cni_version(path: &str, version: &str) -> Result<(), Error> {
    let mut primary = PrimaryConfig::read(path)?;
    primary
        .data
        .insert("cniVersion".to_owned(), Value::String(version.to_owned()));
    let mode = fs::metadata(path)
        .map(|m| m.permissions().mode() & 0o7777)
        .unwrap_or(0o644);
    let text = gojson::to_string(&Value::Object(primary.data));
    let temp = format!("{path}.new");
    super::write_atomic(Path::new(path), Path::new(&temp), text.as_bytes(), mode)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn semver_strict() {
        assert_eq!(parse_semver("0.4.0"), Some((0, 4, 0, false)));
        assert_eq!(parse_semver("1.1.0-rc1+b"), Some((1, 1, 0, true)));
        assert_eq!(parse_semver("1.0"), None);
        assert_eq!(parse_semver("01.0.0"), None);
        assert_eq!(parse_semver("v1.0.0"), None);
        assert_eq!(parse_semver(""), None);
        assert_eq!(parse_semver("1.0.0.0"), None);
        assert!(older_than_0_4_0((0, 3, 1, false)));
        assert!(older_than_0_4_0((0, 4, 0, true)));
        assert!(!older_than_0_4_0((0, 4, 0, false)));
    }

    #[test]
    fn extensions_as_go() {
        assert!(has_conf_extension(b"10-a.conf"));
        assert!(has_conf_extension(b"10-a.conflist"));
        assert!(has_conf_extension(b".conf"));
        assert!(!has_conf_extension(b"10-a.json"));
        assert!(!has_conf_extension(b"10-a.conf.old"));
        assert!(!has_conf_extension(b"conf"));
    }
}
