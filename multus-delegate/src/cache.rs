//! libcni's result cache: `<dir>/results/<network>-<containerID>-<ifname>`.
//!
//! Same layout, file names and JSON as libcni, so attachments made by a Go
//! runtime can be checked and deleted by this crate and the other way round.

use std::fs;
use std::io::{self, Write};
use std::os::unix::fs::{DirBuilderExt, OpenOptionsExt};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};

use multus_types::{CniArgs, CniResult, CniVersion, casefold};
use serde_json::{Map, Value};

use crate::{Error, RuntimeConf, base64};

/// libcni's default cache directory.
pub const DEFAULT_CACHE_DIR: &str = "/var/lib/cni";

/// The `kind` of the cache files libcni writes today.
pub const CACHE_KIND_V1: &str = "cniCacheV1";

/// Go's field names, in the order libcni's struct declares (and writes) them.
const FIELDS: [&str; 9] = [
    "kind",
    "containerId",
    "config",
    "ifName",
    "networkName",
    "netns",
    "cniArgs",
    "capabilityArgs",
    "result",
];

/// One `cniCacheV1` file: an attachment, the config it was made with and the
/// final `ADD` result (libcni's `cachedInfo`, and its `NetworkAttachment`).
#[derive(Debug, Clone, PartialEq, Default)]
pub struct CacheEntry {
    /// `containerId`.
    pub container_id: String,
    /// `config`: the network configuration bytes as given to `ADD`
    /// (base64 in the file).
    pub config: Vec<u8>,
    /// `ifName`.
    pub ifname: String,
    /// `networkName`.
    pub network_name: String,
    /// `netns` (omitted when empty).
    pub netns: String,
    /// `cniArgs`: the `CNI_ARGS` pairs (omitted when empty).
    pub cni_args: CniArgs,
    /// `capabilityArgs` (omitted when empty).
    pub capability_args: Map<String, Value>,
    /// `result`: the final `ADD` result as JSON (omitted when absent).
    pub result: Option<Value>,
}

impl CacheEntry {
    /// The entry libcni writes after a successful `ADD`.
    ///
    /// # Errors
    /// [`Error::Types`] if the result does not serialize (it always does).
    pub fn new(
        network_name: &str,
        rt: &RuntimeConf,
        config: Vec<u8>,
        result: &CniResult,
    ) -> Result<Self, Error> {
        Ok(Self {
            container_id: rt.container_id.clone(),
            config,
            ifname: rt.ifname.clone(),
            network_name: network_name.to_owned(),
            netns: rt.netns.clone(),
            cni_args: rt.args.clone(),
            capability_args: rt.capability_args.clone(),
            result: Some(result.to_value()?),
        })
    }

    /// The file contents, as libcni writes them: the fields in Go's order,
    /// `config` in base64, empty optional fields left out, and the keys of
    /// `result` and `capabilityArgs` sorted (they are Go maps).
    pub fn to_json(&self) -> Vec<u8> {
        let mut map = Map::new();
        map.insert("kind".into(), Value::from(CACHE_KIND_V1));
        map.insert(
            "containerId".into(),
            Value::from(self.container_id.as_str()),
        );
        map.insert("config".into(), Value::from(base64::encode(&self.config)));
        map.insert("ifName".into(), Value::from(self.ifname.as_str()));
        map.insert(
            "networkName".into(),
            Value::from(self.network_name.as_str()),
        );
        if !self.netns.is_empty() {
            map.insert("netns".into(), Value::from(self.netns.as_str()));
        }
        if !self.cni_args.pairs().is_empty() {
            let pairs = self
                .cni_args
                .pairs()
                .iter()
                .map(|(k, v)| Value::Array(vec![Value::from(k.as_str()), Value::from(v.as_str())]))
                .collect();
            map.insert("cniArgs".into(), Value::Array(pairs));
        }
        if !self.capability_args.is_empty() {
            map.insert(
                "capabilityArgs".into(),
                sorted(Value::Object(self.capability_args.clone())),
            );
        }
        match &self.result {
            Some(Value::Object(m)) if m.is_empty() => {}
            Some(Value::Null) | None => {}
            Some(result) => {
                map.insert("result".into(), sorted(result.clone()));
            }
        }
        // Serializing a Value cannot fail.
        serde_json::to_vec(&Value::Object(map)).unwrap_or_default()
    }

    /// Reads a `cniCacheV1` file (keys matched case-insensitively, as Go does).
    ///
    /// # Errors
    /// The reason, when the bytes are not JSON of the cache layout or their
    /// `kind` is not [`CACHE_KIND_V1`] (a legacy file is a bare result).
    pub fn from_json(bytes: &[u8]) -> Result<Self, String> {
        match decode(bytes) {
            Decoded::V1(entry) => Ok(*entry),
            Decoded::OtherKind(kind) => Err(format!("wrong kind: {kind:?}")),
            Decoded::Invalid(reason) => Err(reason),
        }
    }

    /// The cached result, converted to `version` (the version of the
    /// network it is about to be sent to as `prevResult`); `None` when the
    /// entry has no result. A result without `cniVersion` is 0.1.0, as in libcni.
    ///
    /// # Errors
    /// [`Error::Types`] when the result does not parse or convert.
    pub fn result_as(&self, version: CniVersion) -> Result<Option<CniResult>, Error> {
        match &self.result {
            None | Some(Value::Null) => Ok(None),
            Some(value) => {
                let parsed = CniResult::from_value(value.clone(), CniVersion::V0_1_0)?;
                Ok(Some(parsed.convert_to(version)?))
            }
        }
    }

    /// The runtime arguments of this attachment (libcni uses them to `DEL`
    /// stale attachments on `GC`).
    pub fn runtime_conf(&self) -> RuntimeConf {
        RuntimeConf {
            container_id: self.container_id.clone(),
            netns: self.netns.clone(),
            ifname: self.ifname.clone(),
            args: self.cni_args.clone(),
            capability_args: self.capability_args.clone(),
        }
    }
}

enum Decoded {
    V1(Box<CacheEntry>),
    OtherKind(String),
    Invalid(String),
}

fn decode(bytes: &[u8]) -> Decoded {
    let map = match serde_json::from_slice::<Value>(bytes) {
        Ok(Value::Object(map)) => casefold::fold_keys(map, &FIELDS),
        Ok(_) => return Decoded::Invalid("not a JSON object".into()),
        Err(e) => return Decoded::Invalid(e.to_string()),
    };
    match decode_fields(&map) {
        Ok(entry) => entry,
        Err(reason) => Decoded::Invalid(reason),
    }
}

fn decode_fields(map: &Map<String, Value>) -> Result<Decoded, String> {
    let string = |key: &str| match map.get(key) {
        None | Some(Value::Null) => Ok(String::new()),
        Some(Value::String(s)) => Ok(s.clone()),
        Some(other) => Err(format!("{key}: expected a string, found {other}")),
    };
    let kind = string("kind")?;
    if kind != CACHE_KIND_V1 {
        return Ok(Decoded::OtherKind(kind));
    }
    let config = base64::decode(&string("config")?).map_err(|e| format!("config: {e}"))?;
    let cni_args = match map.get("cniArgs") {
        None | Some(Value::Null) => CniArgs::default(),
        Some(v) => serde_json::from_value::<Vec<[String; 2]>>(v.clone())
            .map_err(|e| format!("cniArgs: {e}"))?
            .into_iter()
            .map(|[k, v]| (k, v))
            .collect(),
    };
    let capability_args = match map.get("capabilityArgs") {
        None | Some(Value::Null) => Map::new(),
        Some(Value::Object(m)) => m.clone(),
        Some(other) => return Err(format!("capabilityArgs: expected an object, found {other}")),
    };
    let result = match map.get("result") {
        None | Some(Value::Null) => None,
        Some(v @ Value::Object(_)) => Some(v.clone()),
        Some(other) => return Err(format!("result: expected an object, found {other}")),
    };
    Ok(Decoded::V1(Box::new(CacheEntry {
        container_id: string("containerId")?,
        config,
        ifname: string("ifName")?,
        network_name: string("networkName")?,
        netns: string("netns")?,
        cni_args,
        capability_args,
        result,
    })))
}

/// Go marshals maps with sorted keys; mirror that for `result` and `capabilityArgs`.
pub(crate) fn sorted(value: Value) -> Value {
    match value {
        Value::Object(map) => {
            let mut entries: Vec<(String, Value)> = map.into_iter().collect();
            entries.sort_by(|a, b| a.0.cmp(&b.0));
            Value::Object(entries.into_iter().map(|(k, v)| (k, sorted(v))).collect())
        }
        Value::Array(items) => Value::Array(items.into_iter().map(sorted).collect()),
        other => other,
    }
}

/// A result cache directory (libcni's `cacheDir`; files go in its `results/`).
///
/// ```
/// use multus_delegate::ResultCache;
/// let cache = ResultCache::new("/var/lib/cni");
/// assert_eq!(
///     cache.path("blue", "c0ffee", "net1").unwrap(),
///     std::path::Path::new("/var/lib/cni/results/blue-c0ffee-net1")
/// );
/// ```
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ResultCache {
    dir: PathBuf,
}

impl Default for ResultCache {
    fn default() -> Self {
        Self::new(DEFAULT_CACHE_DIR)
    }
}

impl ResultCache {
    /// A cache in `dir` (e.g. `/var/lib/cni`, or Multus's `cniDir`).
    pub fn new(dir: impl Into<PathBuf>) -> Self {
        Self { dir: dir.into() }
    }

    /// The cache directory.
    pub fn dir(&self) -> &Path {
        &self.dir
    }

    /// `<dir>/results`.
    pub fn results_dir(&self) -> PathBuf {
        self.dir.join("results")
    }

    /// The file of one attachment: `<dir>/results/<network>-<containerID>-<ifname>`.
    ///
    /// # Errors
    /// [`Error::CacheKey`] when a part is empty, [`Error::CacheInvalid`] when
    /// one contains `/` or NUL.
    pub fn path(&self, network: &str, container_id: &str, ifname: &str) -> Result<PathBuf, Error> {
        if network.is_empty() || container_id.is_empty() || ifname.is_empty() {
            return Err(Error::CacheKey {
                network: network.to_owned(),
                container_id: container_id.to_owned(),
                ifname: ifname.to_owned(),
            });
        }
        let name = format!("{network}-{container_id}-{ifname}");
        if name.contains(['/', '\0']) {
            return Err(Error::CacheInvalid {
                path: self.results_dir(),
                reason: format!("refusing cache file name {name:?}: it contains a path separator"),
            });
        }
        Ok(self.results_dir().join(name))
    }

    /// Writes an entry (directory created with mode 0700, file 0600), replacing
    /// any previous one atomically. Returns the file's path.
    ///
    /// # Errors
    /// [`Error::CacheKey`] / [`Error::CacheIo`].
    pub fn write(&self, entry: &CacheEntry) -> Result<PathBuf, Error> {
        let path = self.path(&entry.network_name, &entry.container_id, &entry.ifname)?;
        write_private_file(&self.results_dir(), &path, &entry.to_json())
            .map_err(|(path, source)| Error::CacheIo { path, source })?;
        Ok(path)
    }

    /// The raw bytes of an attachment's file; `None` when there is none.
    ///
    /// # Errors
    /// [`Error::CacheKey`], or [`Error::CacheIo`] for a read error other than
    /// "not found".
    pub fn read_raw(
        &self,
        network: &str,
        container_id: &str,
        ifname: &str,
    ) -> Result<Option<Vec<u8>>, Error> {
        let path = self.path(network, container_id, ifname)?;
        match fs::read(&path) {
            Ok(bytes) => Ok(Some(bytes)),
            Err(e) if e.kind() == io::ErrorKind::NotFound => Ok(None),
            Err(source) => Err(Error::CacheIo { path, source }),
        }
    }

    /// An attachment's `cniCacheV1` entry (libcni's `GetNetworkListCachedConfig`
    /// reads it); `None` when there is no file.
    ///
    /// # Errors
    /// [`Error::CacheInvalid`] when the file is not a `cniCacheV1` entry
    /// (including legacy files), plus those of [`read_raw`](Self::read_raw).
    pub fn read_entry(
        &self,
        network: &str,
        container_id: &str,
        ifname: &str,
    ) -> Result<Option<CacheEntry>, Error> {
        let Some(bytes) = self.read_raw(network, container_id, ifname)? else {
            return Ok(None);
        };
        CacheEntry::from_json(&bytes)
            .map(Some)
            .map_err(|reason| Error::CacheInvalid {
                path: self
                    .results_dir()
                    .join(format!("{network}-{container_id}-{ifname}")),
                reason: format!("cached network {network:?} config: {reason}"),
            })
    }

    /// The cached result of an attachment converted to `version`, reading
    /// legacy files (a bare result) too; `None` when nothing is cached.
    ///
    /// # Errors
    /// [`Error::Context`] around [`Error::Types`] when the result does not
    /// parse or convert, plus those of [`read_raw`](Self::read_raw).
    pub fn read_result(
        &self,
        network: &str,
        container_id: &str,
        ifname: &str,
        version: CniVersion,
    ) -> Result<Option<CniResult>, Error> {
        let Some(bytes) = self.read_raw(network, container_id, ifname)? else {
            return Ok(None);
        };
        let converted = match decode(&bytes) {
            Decoded::V1(entry) => entry.result_as(version),
            // Not a cniCacheV1 file: a legacy cache holds the bare result.
            Decoded::OtherKind(_) | Decoded::Invalid(_) => {
                CniResult::parse(&bytes, CniVersion::V0_1_0)
                    .and_then(|r| r.convert_to(version))
                    .map(Some)
                    .map_err(Error::from)
            }
        };
        converted.map_err(|e| {
            e.context(format!(
                "cached result of network {network:?} ({container_id}, {ifname}) as version {version}"
            ))
        })
    }

    /// Edits the cached result of an attachment in place: reads its file,
    /// lets `edit` change the result JSON, and writes the file back through
    /// the same atomic writer as [`write`](Self::write) (temporary file of
    /// mode 0600, synced, renamed over the original). Multus uses it to
    /// keep the cache in line with the routes it changed in the pod
    /// (`multus_netns::rewrite_default_routes`).
    ///
    /// * A `cniCacheV1` file has its `result` edited and is written back in
    ///   libcni's layout (as [`CacheEntry::to_json`]); an entry without a
    ///   result is refused (upstream's `cannot get result from cache`).
    /// * Any other JSON object without a `kind` is a legacy bare result
    ///   (old libcni) and is edited as a whole; it is written back with its
    ///   keys sorted, as Go marshals it.
    /// * When `edit` leaves the result as it was, the file is not rewritten.
    ///
    /// `edit` sees the result as stored (in the version the plugin returned).
    /// When it fails, the file is left untouched.
    ///
    /// ```
    /// use multus_delegate::{CacheEntry, ResultCache};
    /// # fn main() -> Result<(), Box<dyn std::error::Error>> {
    /// # let dir = tempfile::tempdir()?;
    /// let cache = ResultCache::new(dir.path());
    /// cache.write(&CacheEntry {
    ///     container_id: "c0ffee".into(), ifname: "net1".into(), network_name: "blue".into(),
    ///     result: Some(serde_json::json!({"cniVersion": "1.0.0", "routes": []})),
    ///     ..CacheEntry::default()
    /// })?;
    /// cache.update_result("blue", "c0ffee", "net1", |result| {
    ///     result["routes"] = serde_json::json!([{"dst": "0.0.0.0/0", "gw": "192.0.2.1"}]);
    ///     Ok::<(), std::convert::Infallible>(())
    /// })?;
    /// let entry = cache.read_entry("blue", "c0ffee", "net1")?.unwrap();
    /// assert_eq!(entry.result.unwrap()["routes"][0]["gw"], "192.0.2.1");
    /// # Ok(()) }
    /// ```
    ///
    /// # Errors
    /// [`Error::CacheKey`]; [`Error::CacheIo`] when the file cannot be read
    /// (a missing file included: there is nothing to update) or written;
    /// [`Error::CacheInvalid`] when it is not a cache file of a known kind or
    /// has no result; [`Error::CacheUpdate`] carrying `edit`'s error.
    pub fn update_result<E>(
        &self,
        network: &str,
        container_id: &str,
        ifname: &str,
        edit: impl FnOnce(&mut Value) -> Result<(), E>,
    ) -> Result<(), Error>
    where
        E: Into<Box<dyn std::error::Error + Send + Sync + 'static>>,
    {
        let path = self.path(network, container_id, ifname)?;
        let bytes = fs::read(&path).map_err(|source| Error::CacheIo {
            path: path.clone(),
            source,
        })?;
        let invalid = |reason: String| Error::CacheInvalid {
            path: path.clone(),
            reason,
        };
        let failed = |e: E| Error::CacheUpdate {
            path: path.clone(),
            source: e.into(),
        };
        let out = match decode(&bytes) {
            Decoded::V1(mut entry) => {
                let Some(result) = entry.result.as_mut() else {
                    return Err(invalid("cannot get result from cache".into()));
                };
                let before = result.clone();
                edit(result).map_err(failed)?;
                if *result == before {
                    return Ok(());
                }
                entry.to_json()
            }
            // No `kind`: a legacy file holding the bare result.
            Decoded::OtherKind(kind) if kind.is_empty() => {
                let mut result: Value = serde_json::from_slice(&bytes)
                    .map_err(|e| invalid(format!("invalid JSON: {e}")))?;
                let before = result.clone();
                edit(&mut result).map_err(failed)?;
                if result == before {
                    return Ok(());
                }
                // Serializing a Value cannot fail.
                serde_json::to_vec(&sorted(result)).unwrap_or_default()
            }
            Decoded::OtherKind(kind) => {
                return Err(invalid(format!("wrong kind: {kind:?}")));
            }
            Decoded::Invalid(reason) => return Err(invalid(reason)),
        };
        write_private_file(&self.results_dir(), &path, &out)
            .map_err(|(path, source)| Error::CacheIo { path, source })
    }

    /// Removes an attachment's file; `Ok(false)` when there was none.
    ///
    /// # Errors
    /// [`Error::CacheKey`] / [`Error::CacheIo`].
    pub fn remove(&self, network: &str, container_id: &str, ifname: &str) -> Result<bool, Error> {
        let path = self.path(network, container_id, ifname)?;
        match fs::remove_file(&path) {
            Ok(()) => Ok(true),
            Err(e) if e.kind() == io::ErrorKind::NotFound => Ok(false),
            Err(source) => Err(Error::CacheIo { path, source }),
        }
    }

    /// Every cached attachment, in file-name order (libcni's
    /// `GetCachedAttachments`): only `cniCacheV1` files with an interface
    /// and network name; with `container_id`, only that container's. A
    /// missing `results` directory is an empty cache.
    ///
    /// # Errors
    /// [`Error::CacheIo`] when the directory cannot be listed.
    pub fn attachments(&self, container_id: Option<&str>) -> Result<Vec<CacheEntry>, Error> {
        let dir = self.results_dir();
        let entries = match fs::read_dir(&dir) {
            Ok(entries) => entries,
            Err(e) if e.kind() == io::ErrorKind::NotFound => return Ok(Vec::new()),
            Err(source) => return Err(Error::CacheIo { path: dir, source }),
        };
        let mut names: Vec<String> = entries
            .filter_map(Result::ok)
            .map(|e| e.file_name().to_string_lossy().into_owned())
            .filter(|n| !n.starts_with('.'))
            .collect();
        names.sort();
        let wanted = container_id.filter(|c| !c.is_empty());
        let mut out = Vec::new();
        for name in names {
            if let Some(cid) = wanted {
                let part = format!("-{cid}-");
                match name.find(&part) {
                    Some(pos) if pos > 0 && pos + part.len() < name.len() => {}
                    _ => continue,
                }
            }
            let Ok(bytes) = fs::read(dir.join(&name)) else {
                continue;
            };
            let Decoded::V1(entry) = decode(&bytes) else {
                continue;
            };
            if wanted.is_some_and(|cid| entry.container_id != cid)
                || entry.ifname.is_empty()
                || entry.network_name.is_empty()
            {
                continue;
            }
            out.push(*entry);
        }
        Ok(out)
    }
}

/// Writes `bytes` to `path` (inside `dir`, created with mode 0700 when
/// missing) through a temporary file renamed into place, so a reader never
/// sees a partial file and nobody else can read it: the temporary file is
/// created anew (`O_EXCL`, after removing a leftover of the same name) with
/// mode 0600 from the start, and synced before the rename. An error comes
/// with the path it concerns; the temporary file is removed again.
pub(crate) fn write_private_file(
    dir: &Path,
    path: &Path,
    bytes: &[u8],
) -> Result<(), (PathBuf, io::Error)> {
    /// Tells apart concurrent writers of one process (the daemon).
    static COUNTER: AtomicU64 = AtomicU64::new(0);
    fs::DirBuilder::new()
        .recursive(true)
        .mode(0o700)
        .create(dir)
        .map_err(|e| (dir.to_path_buf(), e))?;
    let file_name = path
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_default();
    let tmp = dir.join(format!(
        ".{file_name}.tmp{}.{}",
        std::process::id(),
        COUNTER.fetch_add(1, Ordering::Relaxed)
    ));
    write_through(&tmp, path, bytes).map_err(|e| (path.to_path_buf(), e))
}

/// Writes `bytes` to `tmp` (created anew with mode 0600), syncs it and
/// renames it to `path`; on error `tmp` is removed.
fn write_through(tmp: &Path, path: &Path, bytes: &[u8]) -> io::Result<()> {
    let written = (|| {
        // A leftover of a crashed writer (same pid) may have any mode and
        // owner: never reuse it.
        match fs::remove_file(tmp) {
            Ok(()) => {}
            Err(e) if e.kind() == io::ErrorKind::NotFound => {}
            Err(e) => return Err(e),
        }
        let mut file = fs::OpenOptions::new()
            .write(true)
            .create_new(true)
            .mode(0o600)
            .open(tmp)?;
        file.write_all(bytes)?;
        file.sync_all()?;
        drop(file);
        fs::rename(tmp, path)
    })();
    if written.is_err() {
        let _ = fs::remove_file(tmp);
    }
    written
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use std::os::unix::fs::PermissionsExt;

    use proptest::prelude::*;
    use serde_json::json;

    use super::*;

    proptest! {
        #[test]
        fn entries_round_trip(
            cid in "\\PC{0,12}", ifname in "\\PC{0,8}", net in "\\PC{0,8}", netns in "\\PC{0,16}",
            config in proptest::collection::vec(any::<u8>(), 0..64),
            args in proptest::collection::vec(("[a-zA-Z_]{1,6}", "\\PC{0,6}"), 0..4),
            mac in proptest::option::of("\\PC{0,17}"),
        ) {
            let e = CacheEntry {
                container_id: cid, ifname, network_name: net, netns, config,
                cni_args: args.into_iter().collect(),
                capability_args: mac.into_iter().map(|m| ("mac".to_owned(), Value::from(m))).collect(),
                result: Some(json!({"cniVersion": "1.0.0", "ips": [{"address": "10.0.0.1/8"}]})),
            };
            prop_assert_eq!(CacheEntry::from_json(&e.to_json()).unwrap(), e);
        }

        #[test]
        fn from_json_never_panics(bytes in proptest::collection::vec(any::<u8>(), 0..128)) {
            let _ = CacheEntry::from_json(&bytes);
        }
    }

    fn result_v1() -> CniResult {
        CniResult::parse(
            br#"{"cniVersion":"1.0.0","interfaces":[{"name":"eth0","sandbox":"/run/netns/x"}],
                 "ips":[{"address":"10.1.1.5/24","gateway":"10.1.1.1","interface":0}]}"#,
            CniVersion::V1_0_0,
        )
        .unwrap()
    }

    fn entry() -> CacheEntry {
        let rt = RuntimeConf::new("c0ffee", "/run/netns/x", "net1")
            .with_arg("IgnoreUnknown", "1")
            .with_arg("K8S_POD_NAME", "web-0")
            .with_capability("mac", json!("c2:11:22:33:44:55"));
        CacheEntry::new("blue", &rt, br#"{"name":"blue"}"#.to_vec(), &result_v1()).unwrap()
    }

    #[test]
    fn writes_libcni_layout() {
        let text = String::from_utf8(entry().to_json()).unwrap();
        assert_eq!(
            text,
            concat!(
                r#"{"kind":"cniCacheV1","containerId":"c0ffee","config":"eyJuYW1lIjoiYmx1ZSJ9","#,
                r#""ifName":"net1","networkName":"blue","netns":"/run/netns/x","#,
                r#""cniArgs":[["IgnoreUnknown","1"],["K8S_POD_NAME","web-0"]],"#,
                r#""capabilityArgs":{"mac":"c2:11:22:33:44:55"},"#,
                r#""result":{"cniVersion":"1.0.0","interfaces":[{"name":"eth0","sandbox":"/run/netns/x"}],"#,
                r#""ips":[{"address":"10.1.1.5/24","gateway":"10.1.1.1","interface":0}]}}"#
            )
        );
        assert_eq!(CacheEntry::from_json(text.as_bytes()).unwrap(), entry());
    }

    #[test]
    fn empty_optional_fields_are_left_out() {
        let e = CacheEntry {
            container_id: "c".into(),
            ifname: "i".into(),
            network_name: "n".into(),
            ..CacheEntry::default()
        };
        assert_eq!(
            String::from_utf8(e.to_json()).unwrap(),
            r#"{"kind":"cniCacheV1","containerId":"c","config":"","ifName":"i","networkName":"n"}"#
        );
    }

    #[test]
    fn reads_go_keys_case_insensitively_and_refuses_other_kinds() {
        let e = CacheEntry::from_json(
            br#"{"KIND":"cniCacheV1","containerID":"c","config":null,"ifname":"i","networkname":"n"}"#,
        )
        .unwrap();
        assert_eq!((e.container_id.as_str(), e.ifname.as_str()), ("c", "i"));
        assert_eq!(
            CacheEntry::from_json(br#"{"kind":"v2"}"#).unwrap_err(),
            r#"wrong kind: "v2""#
        );
        assert!(CacheEntry::from_json(b"[]").is_err());
        assert!(CacheEntry::from_json(br#"{"kind":"cniCacheV1","config":"!!"}"#).is_err());
    }

    #[test]
    fn write_read_remove_with_modes() {
        let tmp = tempfile::tempdir().unwrap();
        let cache = ResultCache::new(tmp.path().join("cache"));
        let path = cache.write(&entry()).unwrap();
        assert_eq!(path, tmp.path().join("cache/results/blue-c0ffee-net1"));
        let mode = |p: &Path| fs::metadata(p).unwrap().permissions().mode() & 0o777;
        assert_eq!(mode(&path), 0o600);
        assert_eq!(mode(&cache.results_dir()), 0o700);
        assert_eq!(
            cache.read_entry("blue", "c0ffee", "net1").unwrap(),
            Some(entry())
        );
        let r = cache
            .read_result("blue", "c0ffee", "net1", CniVersion::V0_4_0)
            .unwrap()
            .unwrap();
        assert_eq!(r.version(), CniVersion::V0_4_0);
        assert!(cache.remove("blue", "c0ffee", "net1").unwrap());
        assert!(!cache.remove("blue", "c0ffee", "net1").unwrap());
        assert_eq!(cache.read_entry("blue", "c0ffee", "net1").unwrap(), None);
        assert_eq!(
            cache
                .read_result("blue", "c0ffee", "net1", CniVersion::V1_0_0)
                .unwrap(),
            None
        );
    }

    #[test]
    fn read_result_is_the_entrys_result_as_the_version() {
        let tmp = tempfile::tempdir().unwrap();
        let cache = ResultCache::new(tmp.path());
        let mut e = entry();
        for version in [CniVersion::V0_2_0, CniVersion::V0_4_0, CniVersion::V1_1_0] {
            cache.write(&e).unwrap();
            let read = cache
                .read_result("blue", "c0ffee", "net1", version)
                .unwrap();
            assert_eq!(read, e.result_as(version).unwrap());
            assert_eq!(read.unwrap().version(), version);
        }
        // No result: nothing to send as prevResult.
        e.result = None;
        assert_eq!(e.result_as(CniVersion::V1_0_0).unwrap(), None);
        cache.write(&e).unwrap();
        assert_eq!(
            cache
                .read_result("blue", "c0ffee", "net1", CniVersion::V1_0_0)
                .unwrap(),
            None
        );
        // A result that does not parse: the same error, with the file named.
        e.result = Some(json!({"cniVersion": "1.0.0", "ips": "nope"}));
        cache.write(&e).unwrap();
        let plain = e.result_as(CniVersion::V1_0_0).unwrap_err().to_string();
        let read = cache
            .read_result("blue", "c0ffee", "net1", CniVersion::V1_0_0)
            .unwrap_err()
            .to_string();
        assert_eq!(
            read,
            format!(r#"cached result of network "blue" (c0ffee, net1) as version 1.0.0: {plain}"#)
        );
    }

    #[test]
    fn legacy_bare_result_files_are_read() {
        let tmp = tempfile::tempdir().unwrap();
        let cache = ResultCache::new(tmp.path());
        fs::create_dir_all(cache.results_dir()).unwrap();
        fs::write(
            cache.path("n", "c", "eth0").unwrap(),
            br#"{"cniVersion":"0.3.1","ips":[{"version":"4","address":"10.0.0.2/24"}]}"#,
        )
        .unwrap();
        let r = cache
            .read_result("n", "c", "eth0", CniVersion::V1_0_0)
            .unwrap()
            .unwrap();
        assert_eq!(
            r.to_value().unwrap(),
            json!({"cniVersion":"1.0.0","ips":[{"address":"10.0.0.2/24"}]})
        );
        // A legacy file is not a cniCacheV1 entry and is no attachment.
        assert!(cache.read_entry("n", "c", "eth0").is_err());
        assert!(cache.attachments(None).unwrap().is_empty());
        // Garbage is an error for the result.
        fs::write(cache.path("n", "c", "eth0").unwrap(), b"garbage").unwrap();
        assert!(
            cache
                .read_result("n", "c", "eth0", CniVersion::V1_0_0)
                .is_err()
        );
    }

    fn mode(p: &Path) -> u32 {
        fs::metadata(p).unwrap().permissions().mode() & 0o777
    }

    fn read_json(p: &Path) -> Value {
        serde_json::from_slice(&fs::read(p).unwrap()).unwrap()
    }

    /// The edit Multus makes after moving a default route, in small.
    fn replace_default(result: &mut Value) -> Result<(), String> {
        let routes = result
            .get_mut("routes")
            .and_then(Value::as_array_mut)
            .ok_or("no routes")?;
        routes.retain(|r| r["dst"] != "0.0.0.0/0");
        routes.push(json!({"dst": "0.0.0.0/0", "gw": "198.51.100.1"}));
        Ok(())
    }

    #[test]
    fn update_result_edits_a_cni_cache_v1_entry() {
        let tmp = tempfile::tempdir().unwrap();
        let cache = ResultCache::new(tmp.path());
        let mut e = entry();
        e.result = Some(json!({
            "cniVersion": "1.0.0",
            "routes": [{"dst": "0.0.0.0/0", "gw": "192.0.2.1"}, {"dst": "10.0.0.0/8"}]
        }));
        let path = cache.write(&e).unwrap();
        fs::set_permissions(&path, fs::Permissions::from_mode(0o644)).unwrap();
        cache
            .update_result("blue", "c0ffee", "net1", replace_default)
            .unwrap();
        let back = cache.read_entry("blue", "c0ffee", "net1").unwrap().unwrap();
        assert_eq!(
            back.result.as_ref().unwrap()["routes"],
            json!([{"dst": "10.0.0.0/8"}, {"dst": "0.0.0.0/0", "gw": "198.51.100.1"}])
        );
        // Everything else of the entry is kept, in libcni's layout.
        assert_eq!(
            back,
            CacheEntry {
                result: back.result.clone(),
                ..e
            }
        );
        let keys: Vec<String> = read_json(&path)
            .as_object()
            .unwrap()
            .keys()
            .cloned()
            .collect();
        assert_eq!(keys, FIELDS);
        assert_eq!(mode(&path), 0o600);
        // No temporary file left behind.
        assert_eq!(fs::read_dir(cache.results_dir()).unwrap().count(), 1);
    }

    #[test]
    fn update_result_edits_a_legacy_bare_result() {
        let tmp = tempfile::tempdir().unwrap();
        let cache = ResultCache::new(tmp.path());
        fs::create_dir_all(cache.results_dir()).unwrap();
        let path = cache.path("net", "abc", "eth0").unwrap();
        fs::write(
            &path,
            br#"{"routes":[{"dst":"0.0.0.0/0","gw":"192.0.2.1"}],"cniVersion":"0.3.1"}"#,
        )
        .unwrap();
        cache
            .update_result("net", "abc", "eth0", replace_default)
            .unwrap();
        // Still a bare result, keys sorted as Go writes them.
        assert_eq!(
            String::from_utf8(fs::read(&path).unwrap()).unwrap(),
            r#"{"cniVersion":"0.3.1","routes":[{"dst":"0.0.0.0/0","gw":"198.51.100.1"}]}"#
        );
        assert_eq!(mode(&path), 0o600);
    }

    #[test]
    fn update_result_without_change_does_not_rewrite() {
        let tmp = tempfile::tempdir().unwrap();
        let cache = ResultCache::new(tmp.path());
        let path = cache.write(&entry()).unwrap();
        fs::set_permissions(&path, fs::Permissions::from_mode(0o640)).unwrap();
        let before = fs::read(&path).unwrap();
        cache
            .update_result("blue", "c0ffee", "net1", |_| Ok::<(), String>(()))
            .unwrap();
        assert_eq!(fs::read(&path).unwrap(), before);
        assert_eq!(mode(&path), 0o640, "not rewritten");
    }

    #[test]
    fn update_result_errors_leave_the_file_alone() {
        let tmp = tempfile::tempdir().unwrap();
        let cache = ResultCache::new(tmp.path());
        let path = cache.write(&entry()).unwrap();
        let before = fs::read(&path).unwrap();

        // The edit's error, with the file named.
        let e = cache
            .update_result("blue", "c0ffee", "net1", |_| {
                Err("not supported version: 0.5.0")
            })
            .unwrap_err();
        assert!(matches!(e, Error::CacheUpdate { .. }), "{e}");
        assert_eq!(
            e.to_string(),
            format!(
                "result cache {}: not supported version: 0.5.0",
                path.display()
            )
        );
        assert_eq!(
            multus_types::ToCniError::cni_code(&e),
            multus_types::ErrorCode::DecodingFailure
        );
        assert_eq!(fs::read(&path).unwrap(), before);

        // An edit that fails after changing its copy writes nothing either.
        let e = cache.update_result("blue", "c0ffee", "net1", |r| {
            r["routes"] = json!([]);
            Err("late failure")
        });
        assert!(e.is_err());
        assert_eq!(fs::read(&path).unwrap(), before);

        let unused = |_: &mut Value| -> Result<(), String> { panic!("edit must not run") };
        // A cniCacheV1 entry without a result.
        fs::write(&path, br#"{"kind":"cniCacheV1","containerId":"c0ffee"}"#).unwrap();
        let e = cache
            .update_result("blue", "c0ffee", "net1", unused)
            .unwrap_err();
        assert!(matches!(e, Error::CacheInvalid { .. }), "{e}");
        assert!(
            e.to_string().ends_with("cannot get result from cache"),
            "{e}"
        );
        // Not JSON; a kind this crate does not know; not an object.
        for bad in [&b"{"[..], br#"{"kind":"cniCacheV2","result":{}}"#, b"[]"] {
            fs::write(&path, bad).unwrap();
            let e = cache
                .update_result("blue", "c0ffee", "net1", unused)
                .unwrap_err();
            assert!(matches!(e, Error::CacheInvalid { .. }), "{e}");
            assert_eq!(fs::read(&path).unwrap(), bad);
        }
        // No file: nothing to update is an error naming the file.
        let e = cache
            .update_result("blue", "c0ffee", "nope", unused)
            .unwrap_err();
        match &e {
            Error::CacheIo { path, source } => {
                assert_eq!(source.kind(), io::ErrorKind::NotFound);
                assert!(path.ends_with("blue-c0ffee-nope"));
            }
            other => panic!("{other}"),
        }
        // Keys are checked first.
        assert!(matches!(
            cache.update_result("", "c0ffee", "net1", unused),
            Err(Error::CacheKey { .. })
        ));
    }

    #[test]
    fn private_writer_never_reuses_a_leftover_temporary_file() {
        let tmp = tempfile::tempdir().unwrap();
        let stale = tmp.path().join(".f.tmp1");
        let target = tmp.path().join("f");
        fs::write(&stale, b"stale, readable by everyone").unwrap();
        fs::set_permissions(&stale, fs::Permissions::from_mode(0o666)).unwrap();
        write_through(&stale, &target, b"fresh").unwrap();
        assert_eq!(fs::read(&target).unwrap(), b"fresh");
        assert_eq!(mode(&target), 0o600);
        assert!(!stale.exists());
        // A failing rename (the target is a non-empty directory) removes the
        // temporary file again.
        let dir_target = tmp.path().join("d");
        fs::create_dir_all(dir_target.join("x")).unwrap();
        assert!(write_through(&stale, &dir_target, b"x").is_err());
        assert!(!stale.exists());
        // Through write_private_file: directory created 0700, file 0600.
        let sub = tmp.path().join("sub");
        write_private_file(&sub, &sub.join("g"), b"g").unwrap();
        assert_eq!(mode(&sub), 0o700);
        assert_eq!(mode(&sub.join("g")), 0o600);
        assert_eq!(fs::read_dir(&sub).unwrap().count(), 1);
    }

    #[test]
    fn keys_must_be_complete_and_flat() {
        let cache = ResultCache::default();
        assert_eq!(
            cache.path("", "c", "i").unwrap_err().to_string(),
            r#"cache file path requires network name (""), container ID ("c"), and interface name ("i")"#
        );
        assert!(cache.path("n", "c", "../x").is_err());
    }

    #[test]
    fn attachments_filter_like_libcni() {
        let tmp = tempfile::tempdir().unwrap();
        let cache = ResultCache::new(tmp.path());
        let mut a = entry();
        cache.write(&a).unwrap();
        a.container_id = "other".into();
        cache.write(&a).unwrap();
        a.network_name = "green".into();
        a.ifname = "net2".into();
        cache.write(&a).unwrap();
        // Files that are not attachments are skipped.
        fs::write(cache.results_dir().join("junk"), b"{}").unwrap();
        fs::write(
            cache.results_dir().join("blue-c0ffee-x"),
            br#"{"cniVersion":"1.0.0"}"#,
        )
        .unwrap();
        let all = cache.attachments(None).unwrap();
        let keys: Vec<_> = all
            .iter()
            .map(|e| format!("{}/{}/{}", e.network_name, e.container_id, e.ifname))
            .collect();
        assert_eq!(
            keys,
            ["blue/c0ffee/net1", "blue/other/net1", "green/other/net2"]
        );
        let mine = cache.attachments(Some("other")).unwrap();
        assert_eq!(mine.len(), 2);
        assert_eq!(
            mine[0].runtime_conf().args.get("K8S_POD_NAME"),
            Some("web-0")
        );
        let none = ResultCache::new(tmp.path().join("missing"));
        assert!(none.attachments(None).unwrap().is_empty());
    }
}
