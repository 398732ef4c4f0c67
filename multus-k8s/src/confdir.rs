//! Network configs on disk: the search by CNI network name in `confDir`
//! (NADs without `spec.config`, clusterNetwork/defaultNetworks by name),
//! and loading a clusterNetwork/defaultNetworks value that is a path.
//!
//! The search by name (upstream NAD client `GetCNIConfigFromFile`):
//! * candidates are the files of the directory (not sub-directories) ending
//!   in `.conf`, `.json` or `.conflist`, in byte-wise file name order — no
//!   preference for one extension;
//! * each candidate is loaded in turn and **any load error aborts the
//!   search** (`Error loading CNI config file <f>: ...`), even for a file
//!   that has nothing to do with the name looked for; a `.conf`/`.json`
//!   must have `type`, a `.conflist` must end up with at least one plugin
//!   (its own plus `<dir>/<list name>/*.conf`);
//! * the first file whose network name matches wins and its **own** content
//!   is returned (plugins from the sub-directory are not added);
//! * no candidates (or no readable directory):
//!   `No networks found in <dir>`; no match:
//!   `no network available in the name <n> in cni dir <dir>`.
//!
//! The name looked for is only ever compared with the `name` inside files;
//! it never becomes part of a path, so a search cannot leave the directory.
//! The one path built from file content, `<dir>/<list name>/`, is used only
//! for list names that are valid CNI network names (no `/`, no leading `.`).

use std::path::{Path, PathBuf};

use multus_types::{NetConf, NetConfList, is_cni_identifier};
use serde_json::{Map, Value};

use crate::Error;

/// File name extensions a search by name considers.
pub const SEARCH_EXTENSIONS: [&str; 3] = ["conf", "json", "conflist"];

/// A config found on disk.
#[derive(Debug, Clone, PartialEq)]
pub struct FoundConfig {
    /// The file it came from.
    pub path: PathBuf,
    /// The config object.
    pub config: Map<String, Value>,
}

/// Searches `dir` for the config whose CNI network name is `name` (see the
/// module docs for the rules).
///
/// ```
/// # fn main() -> Result<(), Box<dyn std::error::Error>> {
/// let dir = tempfile::tempdir()?;
/// std::fs::write(dir.path().join("10-a.conf"), r#"{"cniVersion":"0.3.1","name":"a","type":"bridge"}"#)?;
/// std::fs::write(dir.path().join("20-b.conflist"), r#"{"cniVersion":"0.3.1","name":"b","plugins":[{"type":"ptp"}]}"#)?;
/// let found = multus_k8s::confdir::find_by_name(dir.path(), "b")?;
/// assert_eq!(found.path.file_name().unwrap(), "20-b.conflist");
/// assert!(multus_k8s::confdir::find_by_name(dir.path(), "c").is_err());
/// # Ok(()) }
/// ```
pub fn find_by_name(dir: &Path, name: &str) -> Result<FoundConfig, Error> {
    search(dir, Some(name))
}

/// The first candidate of `dir` whatever its name (upstream's directory
/// form of clusterNetwork), with the same loading rules.
pub fn first_in_dir(dir: &Path) -> Result<FoundConfig, Error> {
    search(dir, None)
}

fn search(dir: &Path, name: Option<&str>) -> Result<FoundConfig, Error> {
    let candidates = candidate_files(dir, &SEARCH_EXTENSIONS);
    if candidates.is_empty() {
        return Err(Error::NoNetworksInDir {
            dir: dir.to_owned(),
        });
    }
    for path in candidates {
        let loaded = load_candidate(&path)?;
        if name.is_none_or(|n| loaded.name == n) {
            return Ok(FoundConfig {
                path,
                config: loaded.original,
            });
        }
    }
    Err(Error::NoNetworkNamed {
        name: name.unwrap_or_default().to_owned(),
        dir: dir.to_owned(),
    })
}

/// Files (not directories) of `dir` whose extension is one of `extensions`,
/// sorted byte-wise by file name. An unreadable directory has none.
pub fn candidate_files(dir: &Path, extensions: &[&str]) -> Vec<PathBuf> {
    let Ok(entries) = std::fs::read_dir(dir) else {
        return Vec::new();
    };
    let mut files: Vec<PathBuf> = entries
        .filter_map(Result::ok)
        .map(|e| e.path())
        .filter(|p| {
            p.extension()
                .and_then(|e| e.to_str())
                .is_some_and(|e| extensions.contains(&e))
                && !p.is_dir()
        })
        .collect();
    files.sort_by(|a, b| {
        let key = |p: &PathBuf| p.file_name().map(|n| n.as_encoded_bytes().to_vec());
        key(a).cmp(&key(b))
    });
    files
}

struct Candidate {
    name: String,
    original: Map<String, Value>,
}

fn load_candidate(path: &Path) -> Result<Candidate, Error> {
    let file_error = |reason: String| Error::ConfigFile {
        path: path.to_owned(),
        reason,
    };
    let original = read_object(path)?;
    let is_list = path.extension().is_some_and(|e| e == "conflist");
    let name = if is_list {
        let list = load_list(path, original.clone())?;
        list.name().to_owned()
    } else {
        check_single(&original).map_err(file_error)?;
        original
            .get("name")
            .and_then(Value::as_str)
            .unwrap_or_default()
            .to_owned()
    };
    Ok(Candidate { name, original })
}

/// Reads a file holding one JSON object.
fn read_object(path: &Path) -> Result<Map<String, Value>, Error> {
    let file_error = |reason: String| Error::ConfigFile {
        path: path.to_owned(),
        reason,
    };
    let bytes = std::fs::read(path).map_err(|e| file_error(e.to_string()))?;
    match serde_json::from_slice(&bytes) {
        Ok(Value::Object(map)) => Ok(map),
        Ok(_) => Err(file_error("not a JSON object".into())),
        Err(e) => Err(file_error(e.to_string())),
    }
}

/// libcni's typed decode of a single plugin config plus the NAD client's
/// `type` check.
fn check_single(map: &Map<String, Value>) -> Result<(), String> {
    for key in ["name", "cniVersion", "type"] {
        match map.get(key) {
            None | Some(Value::Null | Value::String(_)) => {}
            Some(other) => return Err(format!("{key} must be a string, not {other}")),
        }
    }
    match map.get("type").and_then(Value::as_str) {
        Some(t) if !t.is_empty() => Ok(()),
        _ => Err("no 'type'; perhaps this is a .conflist?".into()),
    }
}

/// Loads a `.conflist` file: its plugins plus, unless
/// `loadOnlyInlinedPlugins`, the `*.conf` files of `<dir>/<list name>/`.
/// Returns the list with every plugin in `plugins`.
fn load_list(path: &Path, mut map: Map<String, Value>) -> Result<NetConfList, Error> {
    let file_error = |reason: String| Error::ConfigFile {
        path: path.to_owned(),
        reason,
    };
    let name = map
        .get("name")
        .and_then(Value::as_str)
        .unwrap_or_default()
        .to_owned();
    let only_inlined = match map.get("loadOnlyInlinedPlugins") {
        Some(Value::Bool(b)) => *b,
        Some(Value::String(s)) => s.eq_ignore_ascii_case("true"),
        _ => false,
    };
    if !only_inlined && is_cni_identifier(&name) {
        let extra = subdirectory_plugins(&path.parent().unwrap_or(Path::new(".")).join(&name))?;
        if !extra.is_empty() {
            let plugins = map
                .entry("plugins")
                .or_insert_with(|| Value::Array(Vec::new()));
            match plugins {
                Value::Array(items) => items.extend(extra.into_iter().map(Value::Object)),
                Value::Null => {
                    *plugins = Value::Array(extra.into_iter().map(Value::Object).collect())
                }
                _ => return Err(file_error("'plugins' must be a list".into())),
            }
        }
    }
    NetConfList::from_map(map).map_err(|e| file_error(e.to_string()))
}

/// The `*.conf` files of `dir` (sorted), each a plugin with `type`. A
/// missing directory has none.
fn subdirectory_plugins(dir: &Path) -> Result<Vec<Map<String, Value>>, Error> {
    candidate_files(dir, &["conf"])
        .into_iter()
        .map(|path| {
            let map = read_object(&path)?;
            NetConf::from_map(map)
                .map(NetConf::into_map)
                .map_err(|e| Error::ConfigFile {
                    path: path.clone(),
                    reason: e.to_string(),
                })
        })
        .collect()
}

/// A clusterNetwork/defaultNetworks value that contains `/`, as upstream
/// `getNetDelegate` reads it:
/// * a directory holding at least one `.conf` or `.conflist` → its first
///   `.conf`/`.json`/`.conflist` file, whatever its name ([`first_in_dir`]);
/// * a file ending in `.conflist` → that list plus the `*.conf` plugins of
///   `<dir>/<list name>/` (unless `loadOnlyInlinedPlugins`);
/// * any other file → a single plugin config, which must have `type`.
///
/// `Ok(None)` when the path does not exist or is a directory without
/// configs (the caller reports "cannot find network").
pub fn load_path(path: &Path) -> Result<Option<FoundConfig>, Error> {
    let Ok(meta) = std::fs::metadata(path) else {
        return Ok(None);
    };
    if meta.is_dir() {
        if candidate_files(path, &["conf", "conflist"]).is_empty() {
            return Ok(None);
        }
        return first_in_dir(path).map(Some);
    }
    let map = read_object(path)?;
    let config = if path.extension().is_some_and(|e| e == "conflist") {
        load_list(path, map)?.as_map().clone()
    } else {
        check_single(&map).map_err(|reason| Error::ConfigFile {
            path: path.to_owned(),
            reason,
        })?;
        map
    };
    Ok(Some(FoundConfig {
        path: path.to_owned(),
        config,
    }))
}

/// The auxiliary CNI chain (upstream `multus.go` / `k8sclient.go`): a list
/// named `name` with version `cni_version`, first plugin `passthru`, then
/// the sorted `*.conf` plugins of `<dir of cluster_network>/<name>/`.
/// `Ok(None)` when no plugin was found there (upstream then adds nothing);
/// `Err` with the reason when the name is invalid or a plugin does not load
/// (upstream logs it and skips the chain).
pub fn auxiliary_chain(
    cluster_network: &Path,
    name: &str,
    cni_version: &str,
) -> Result<Option<Map<String, Value>>, Error> {
    let mut list = Map::new();
    list.insert("cniVersion".into(), Value::String(cni_version.to_owned()));
    list.insert("name".into(), Value::String(name.to_owned()));
    let passthru = serde_json::json!({"type": "passthru", "name": "passthru-cni"});
    let dir = cluster_network
        .parent()
        .unwrap_or(Path::new("."))
        .join(name);
    if !is_cni_identifier(name) {
        return Err(Error::ConfigFile {
            path: dir,
            reason: format!("invalid auxiliary chain name {name:?}"),
        });
    }
    let extra = subdirectory_plugins(&dir)?;
    if extra.is_empty() {
        return Ok(None);
    }
    let mut plugins = vec![passthru];
    plugins.extend(extra.into_iter().map(Value::Object));
    list.insert("plugins".into(), Value::Array(plugins));
    Ok(Some(list))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn write(dir: &Path, name: &str, text: &str) {
        if let Some(parent) = dir.join(name).parent() {
            std::fs::create_dir_all(parent).unwrap();
        }
        std::fs::write(dir.join(name), text).unwrap();
    }

    #[test]
    fn byte_wise_order_without_extension_preference() {
        let d = tempfile::tempdir().unwrap();
        write(
            d.path(),
            "b.conflist",
            r#"{"name":"n","plugins":[{"type":"list"}]}"#,
        );
        write(d.path(), "a.json", r#"{"name":"n","type":"json"}"#);
        write(d.path(), "B.conf", r#"{"name":"n","type":"upper"}"#);
        write(d.path(), "ignored.txt", r#"{"name":"n","type":"txt"}"#);
        let found = find_by_name(d.path(), "n").unwrap();
        assert_eq!(found.path.file_name().unwrap(), "B.conf");
        assert_eq!(found.config["type"], "upper");
    }

    #[test]
    fn any_load_error_aborts() {
        let d = tempfile::tempdir().unwrap();
        write(d.path(), "00-broken.conf", "{nope");
        write(d.path(), "10-good.conf", r#"{"name":"n","type":"x"}"#);
        let e = find_by_name(d.path(), "n").unwrap_err().to_string();
        assert!(e.starts_with("Error loading CNI config file "), "{e}");
        assert!(e.contains("00-broken.conf"), "{e}");

        let d = tempfile::tempdir().unwrap();
        write(
            d.path(),
            "00-list.conf",
            r#"{"name":"n","plugins":[{"type":"x"}]}"#,
        );
        let e = find_by_name(d.path(), "n").unwrap_err().to_string();
        assert!(
            e.ends_with("no 'type'; perhaps this is a .conflist?"),
            "{e}"
        );
    }

    #[test]
    fn empty_and_missing_dirs() {
        let d = tempfile::tempdir().unwrap();
        let e = find_by_name(d.path(), "n").unwrap_err().to_string();
        assert_eq!(e, format!("No networks found in {}", d.path().display()));
        let e = find_by_name(&d.path().join("missing"), "n")
            .unwrap_err()
            .to_string();
        assert!(e.starts_with("No networks found in "), "{e}");
        write(d.path(), "a.conf", r#"{"name":"a","type":"x"}"#);
        let e = find_by_name(d.path(), "n").unwrap_err().to_string();
        assert_eq!(
            e,
            format!(
                "no network available in the name n in cni dir {}",
                d.path().display()
            )
        );
    }

    #[test]
    fn names_never_become_paths() {
        let d = tempfile::tempdir().unwrap();
        let inner = d.path().join("conf");
        write(&inner, "a.conf", r#"{"name":"a","type":"x"}"#);
        write(
            d.path(),
            "secret.conf",
            r#"{"name":"../secret","type":"x"}"#,
        );
        assert!(find_by_name(&inner, "../secret").is_err());
        assert!(find_by_name(&inner, "../secret.conf").is_err());
    }

    #[test]
    fn conflist_subdirectory_plugins() {
        let d = tempfile::tempdir().unwrap();
        write(
            d.path(),
            "10-chain.conflist",
            r#"{"cniVersion":"1.0.0","name":"chain","plugins":[{"type":"bridge"}]}"#,
        );
        write(d.path(), "chain/20-tuning.conf", r#"{"type":"tuning"}"#);
        write(d.path(), "chain/10-portmap.conf", r#"{"type":"portmap"}"#);
        // A search returns the file's own content...
        let found = find_by_name(d.path(), "chain").unwrap();
        assert_eq!(found.config["plugins"].as_array().unwrap().len(), 1);
        // ... loading the path adds the sub-directory's plugins, sorted.
        let loaded = load_path(&d.path().join("10-chain.conflist"))
            .unwrap()
            .unwrap();
        let types: Vec<&str> = loaded.config["plugins"]
            .as_array()
            .unwrap()
            .iter()
            .map(|p| p["type"].as_str().unwrap())
            .collect();
        assert_eq!(types, ["bridge", "portmap", "tuning"]);
        // A list whose plugins all come from the sub-directory.
        write(
            d.path(),
            "x/only.conflist",
            r#"{"name":"sub","plugins":[]}"#,
        );
        write(d.path(), "x/sub/a.conf", r#"{"type":"a"}"#);
        let loaded = load_path(&d.path().join("x/only.conflist"))
            .unwrap()
            .unwrap();
        assert_eq!(loaded.config["plugins"][0]["type"], "a");
        // loadOnlyInlinedPlugins
        write(
            d.path(),
            "y/inl.conflist",
            r#"{"name":"inl","loadOnlyInlinedPlugins":true,"plugins":[{"type":"b"}]}"#,
        );
        write(d.path(), "y/inl/a.conf", r#"{"type":"a"}"#);
        let loaded = load_path(&d.path().join("y/inl.conflist"))
            .unwrap()
            .unwrap();
        assert_eq!(loaded.config["plugins"].as_array().unwrap().len(), 1);
        // A broken sub-directory plugin fails the list.
        write(d.path(), "chain/30-bad.conf", r#"{"name":"no-type"}"#);
        assert!(find_by_name(d.path(), "chain").is_err());
    }

    #[test]
    fn path_forms() {
        let d = tempfile::tempdir().unwrap();
        assert_eq!(load_path(&d.path().join("missing")).unwrap(), None);
        // A directory without .conf/.conflist (only .json) counts as empty.
        write(d.path(), "dir/a.json", r#"{"name":"a","type":"x"}"#);
        assert_eq!(load_path(&d.path().join("dir")).unwrap(), None);
        write(d.path(), "dir/b.conf", r#"{"name":"b","type":"y"}"#);
        let found = load_path(&d.path().join("dir")).unwrap().unwrap();
        assert_eq!(found.config["name"], "a");
        write(d.path(), "single.conf", r#"{"name":"s"}"#);
        assert!(load_path(&d.path().join("single.conf")).is_err());
    }

    #[test]
    fn aux_chain() {
        let d = tempfile::tempdir().unwrap();
        write(d.path(), "10-flannel.conflist", "{}");
        let cn = d.path().join("10-flannel.conflist");
        assert_eq!(auxiliary_chain(&cn, "aux", "1.0.0").unwrap(), None);
        write(d.path(), "aux/10-tuning.conf", r#"{"type":"tuning"}"#);
        let list = auxiliary_chain(&cn, "aux", "1.0.0").unwrap().unwrap();
        assert_eq!(
            Value::Object(list).to_string(),
            r#"{"cniVersion":"1.0.0","name":"aux","plugins":[{"type":"passthru","name":"passthru-cni"},{"type":"tuning"}]}"#
        );
        assert!(auxiliary_chain(&cn, "../aux", "1.0.0").is_err());
    }
}
