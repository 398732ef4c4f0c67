//! The delegate cache: `<cniDir>/<containerID>`, the file upstream Multus
//! writes before it runs a pod's delegates and reads back on `DEL`, so a pod
//! can be torn down when the API server (or the pod) is gone.
//!
//! # Format
//!
//! A JSON array, one object per delegate in execution order: Go's
//! `json.Marshal` of upstream's `[]*types.DelegateNetConf`. Fields, in Go's
//! declaration order, with the `omitempty` decisions their struct tags make:
//!
//! | key | written | content |
//! |---|---|---|
//! | `Conf` | always | CNI `PluginConf` decoded from the delegate config: `capabilities` (true/false entries, omitted when none), `cniVersion`, `dns` (only when non-empty), `ipam` (`{"type":...}`, `{}` without a type: a struct is never omitted), `name`, `prevResult`, `type`, the empty ones left out; keys sorted at every depth (upstream's `MarshalJSON` round-trips through a Go map) |
//! | `ConfList` | always | `{}` for a single plugin; for a list `cniVersion`, `name`, `disableCheck`, `disableGC` (each only when set) and `plugins` (each a `PluginConf` as above) |
//! | `Name` | always | status name (`<namespace>/<nad>` or the CNI name) |
//! | `ifnameRequest` | when non-empty | see below |
//! | `macRequest`, `infinibandGUIDRequest` | when non-empty | the annotation's requests |
//! | `ipRequest` | when non-empty | Go's `omitempty` drops an empty list too |
//! | `default-route` | when requested | a pointer to a list in Go: `[]` is kept, absent is omitted; IPv4-mapped IPv6 written as IPv4, as `net.IP` does |
//! | `IsFilterV4Gateway`, `IsFilterV6Gateway` | always | booleans |
//! | `deviceID`, `resourceName` | when non-empty | |
//! | `Bytes` | always | base64 of the delegate config JSON, exactly what the delegate is run with |
//!
//! Not stored, as upstream: the master flag (index 0 is the master), the
//! list flag (a delegate is a list when `ConfList.plugins` is non-empty),
//! `portMappings`, `bandwidth`. The JSON is compact and `<`, `>`, `&`,
//! U+2028 and U+2029 are escaped as Go's encoder does.
//!
//! Assumptions worth knowing:
//! * `Conf` of a list is decoded from the list object like upstream's
//!   `LoadDelegateNetConf` does (the path of NAD configs and of `delegates`),
//!   so it carries the list's `cniVersion` and `name`. (Upstream lists loaded
//!   from files by libcni have a zero `Conf`, `{"ipam":{}}`.) Nobody reads
//!   `Conf` back: upstream and this reader only use `Bytes`, `ConfList.plugins`
//!   and the request fields.
//! * `ifnameRequest`: the [`Attachment`] keeps only the final interface
//!   name, so it is written when that name differs from what the positional
//!   rule gives (`CNI_IFNAME` for index 0, `net<index>` otherwise). Reading
//!   applies the same rule, so the names survive the round trip, also through
//!   upstream's reader.
//!
//! # Reading
//!
//! Lenient like Go's decoder: keys match case-insensitively (the exact
//! spelling wins, the last duplicate wins), unknown keys are ignored, a
//! missing or `null` field takes its zero value. Types are strict as in Go:
//! a wrong type anywhere makes the whole file unusable
//! ([`Error::DelegateCacheUnusable`]; upstream's `DEL` then deletes nothing
//! and succeeds). Caches of upstream versions that also wrote
//! `CNINetworkConfigList` are rebuilt the way upstream rebuilds them (list
//! keys from its `Bytes`, plugins from each plugin's `Bytes`, then `deviceID`,
//! `pciBusID` and `args.cni` merged in from the delegate's `Bytes`).

use std::fs;
use std::io;
use std::net::IpAddr;
use std::path::{Path, PathBuf};

use multus_types::json_kind;
use multus_types::{DEFAULT_CNI_DIR, DelegateConf, NetConf, NetConfList, RuntimeConfig, casefold};
use serde_json::{Map, Value};

use crate::cache::{sorted, write_private_file};
use crate::multus::plan::{
    Attachment, RuntimeRequests, delegate_runtime_config, positional_ifname,
};
use crate::{Error, base64, validate_container_id};

/// Fields of upstream's `DelegateNetConf` (plus the legacy `CNINetworkConfigList`).
const ENTRY_FIELDS: [&str; 14] = [
    "Conf",
    "ConfList",
    "CNINetworkConfigList",
    "Name",
    "ifnameRequest",
    "macRequest",
    "infinibandGUIDRequest",
    "ipRequest",
    "default-route",
    "IsFilterV4Gateway",
    "IsFilterV6Gateway",
    "deviceID",
    "resourceName",
    "Bytes",
];
/// Fields of CNI's `PluginConf` as JSON.
const PLUGIN_CONF_FIELDS: [&str; 8] = [
    "cniVersion",
    "name",
    "type",
    "capabilities",
    "ipam",
    "dns",
    "prevResult",
    "cni.dev/valid-attachments",
];
const DNS_FIELDS: [&str; 4] = ["nameservers", "domain", "search", "options"];
const CONF_LIST_FIELDS: [&str; 5] = ["cniVersion", "name", "disableCheck", "disableGC", "plugins"];
/// libcni's `NetworkConfigList` (no JSON tags: Go field names).
const LEGACY_LIST_FIELDS: [&str; 7] = [
    "Name",
    "CNIVersion",
    "DisableCheck",
    "DisableGC",
    "LoadOnlyInlinedPlugins",
    "Plugins",
    "Bytes",
];
const LEGACY_PLUGIN_FIELDS: [&str; 2] = ["Network", "Bytes"];

/// The delegate cache directory: upstream's `cniDir` (default
/// `/var/lib/cni/multus`), one file per container.
///
/// ```no_run
/// use multus_delegate::multus::{Attachment, DelegateCache};
/// use multus_types::{DelegateConf, RuntimeConfig};
///
/// # fn demo() -> Result<(), Box<dyn std::error::Error>> {
/// let cache = DelegateCache::new("/var/lib/cni/multus");
/// let conf = DelegateConf::from_bytes(br#"{"cniVersion":"1.0.0","name":"pod-net","type":"ptp"}"#)?;
/// let mut master = Attachment::new(conf, "eth0", "pod-net");
/// master.master = true;
/// cache.write("c0ffee", "eth0", &[master])?;
///
/// // On DEL, maybe from another process, maybe after an upgrade from Go Multus:
/// if let Some(plan) = cache.read("c0ffee", "eth0", &RuntimeConfig::default())? {
///     assert_eq!(plan.attachments().next().map(|a| a.ifname.as_str()), Some("eth0"));
/// }
/// cache.remove("c0ffee")?;
/// # Ok(()) }
/// ```
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DelegateCache {
    dir: PathBuf,
}

impl Default for DelegateCache {
    fn default() -> Self {
        Self::new(DEFAULT_CNI_DIR)
    }
}

/// A delegate cache read back: one entry per delegate in execution order.
#[derive(Debug)]
pub struct CachedPlan {
    /// Each delegate of the file, in order: the attachment to `DEL`, or why
    /// this entry cannot be run (its `Bytes` are not a plugin config or list;
    /// upstream's `DEL` would fail on it and go on with the others).
    pub entries: Vec<Result<Attachment, Error>>,
}

impl CachedPlan {
    /// The usable attachments, in execution order.
    pub fn attachments(&self) -> impl Iterator<Item = &Attachment> {
        self.entries.iter().filter_map(|e| e.as_ref().ok())
    }

    /// Whether the file held no delegate at all.
    pub fn is_empty(&self) -> bool {
        self.entries.is_empty()
    }
}

impl DelegateCache {
    /// A cache in `dir` (Multus's `cniDir`).
    pub fn new(dir: impl Into<PathBuf>) -> Self {
        Self { dir: dir.into() }
    }

    /// The directory.
    pub fn dir(&self) -> &Path {
        &self.dir
    }

    /// `<dir>/<container_id>`, for a container id libcni accepts (so it is
    /// one plain file name and cannot leave the directory).
    ///
    /// # Errors
    /// [`Error::InvalidArgument`] for an empty id or one with characters
    /// outside `[a-zA-Z0-9_.-]` (or not starting with a letter or digit).
    pub fn path(&self, container_id: &str) -> Result<PathBuf, Error> {
        validate_container_id(container_id)?;
        Ok(self.dir.join(container_id))
    }

    /// Writes the plan of a container, replacing any previous file
    /// atomically (a temporary file renamed over it): directory mode 0700
    /// (when created), file mode 0600. `runtime_ifname` is the runtime's
    /// `CNI_IFNAME` (see the module docs on `ifnameRequest`). Returns the path.
    ///
    /// # Errors
    /// See [`path`](Self::path); [`Error::DelegateCacheIo`] when the
    /// directory or file cannot be written.
    pub fn write(
        &self,
        container_id: &str,
        runtime_ifname: &str,
        plan: &[Attachment],
    ) -> Result<PathBuf, Error> {
        let path = self.path(container_id)?;
        write_private_file(&self.dir, &path, &Self::to_json(runtime_ifname, plan))
            .map_err(|(path, source)| Error::DelegateCacheIo { path, source })?;
        Ok(path)
    }

    /// Reads a container's plan back for `DEL`: `None` when there is no file.
    /// `runtime_ifname` (the `DEL`'s `CNI_IFNAME`) names the master's
    /// interface unless the file says otherwise (interface names by
    /// [`positional_ifname`](crate::multus::positional_ifname)); `base` is the
    /// runtime's own `runtimeConfig` (from the multus config of the `DEL`),
    /// turned into each delegate's by
    /// [`delegate_runtime_config`](crate::multus::delegate_runtime_config) —
    /// the function the plan for `ADD` is built with — with the cached
    /// `ipRequest`, `macRequest`, `infinibandGUIDRequest` and `deviceID` as
    /// requests.
    ///
    /// # Errors
    /// See [`path`](Self::path); [`Error::DelegateCacheUnusable`] when the
    /// file cannot be read or is not a delegate cache. Upstream's `DEL` then
    /// succeeds without deleting anything and leaves the file alone.
    pub fn read(
        &self,
        container_id: &str,
        runtime_ifname: &str,
        base: &RuntimeConfig,
    ) -> Result<Option<CachedPlan>, Error> {
        let path = self.path(container_id)?;
        let bytes = match fs::read(&path) {
            Ok(bytes) => bytes,
            Err(e) if e.kind() == io::ErrorKind::NotFound => return Ok(None),
            Err(e) => {
                return Err(Error::DelegateCacheUnusable {
                    path,
                    reason: e.to_string(),
                });
            }
        };
        Self::from_json(&bytes, container_id, runtime_ifname, base)
            .map(Some)
            .map_err(|reason| Error::DelegateCacheUnusable { path, reason })
    }

    /// Removes a container's file; `Ok(false)` when there was none.
    ///
    /// # Errors
    /// See [`path`](Self::path); [`Error::DelegateCacheIo`].
    pub fn remove(&self, container_id: &str) -> Result<bool, Error> {
        let path = self.path(container_id)?;
        match fs::remove_file(&path) {
            Ok(()) => Ok(true),
            Err(e) if e.kind() == io::ErrorKind::NotFound => Ok(false),
            Err(source) => Err(Error::DelegateCacheIo { path, source }),
        }
    }

    /// The file contents for a plan, in upstream's layout (see the module docs).
    pub fn to_json(runtime_ifname: &str, plan: &[Attachment]) -> Vec<u8> {
        let entries = plan
            .iter()
            .enumerate()
            .map(|(index, a)| entry_json(index, a, runtime_ifname))
            .collect();
        go_escape(&Value::Array(entries).to_string()).into_bytes()
    }

    /// Parses file contents (see [`read`](Self::read) for the arguments).
    ///
    /// # Errors
    /// Why the bytes are not a delegate cache; entries whose config does
    /// not parse are returned as errors inside the plan instead.
    pub fn from_json(
        bytes: &[u8],
        container_id: &str,
        runtime_ifname: &str,
        base: &RuntimeConfig,
    ) -> Result<CachedPlan, String> {
        let entries = decode_entries(bytes)?;
        Ok(CachedPlan {
            entries: entries
                .into_iter()
                .enumerate()
                .map(|(index, entry)| {
                    entry.into_attachment(index, container_id, runtime_ifname, base)
                })
                .collect(),
        })
    }
}

// ---------------------------------------------------------------- writing

fn entry_json(index: usize, a: &Attachment, runtime_ifname: &str) -> Value {
    let mut m = Map::new();
    m.insert("Conf".into(), plugin_conf_json(a.conf.as_map()));
    let conf_list = match &a.conf {
        DelegateConf::Single(_) => Value::Object(Map::new()),
        DelegateConf::List(l) => conf_list_json(l),
    };
    m.insert("ConfList".into(), conf_list);
    m.insert("Name".into(), Value::from(a.status_name.as_str()));
    if !a.ifname.is_empty() && a.ifname != positional_ifname(index, runtime_ifname) {
        m.insert("ifnameRequest".into(), Value::from(a.ifname.as_str()));
    }
    if !a.mac_request.is_empty() {
        m.insert("macRequest".into(), Value::from(a.mac_request.as_str()));
    }
    if !a.infiniband_guid_request.is_empty() {
        m.insert(
            "infinibandGUIDRequest".into(),
            Value::from(a.infiniband_guid_request.as_str()),
        );
    }
    if let Some(ips) = a.ip_request.as_ref().filter(|ips| !ips.is_empty()) {
        m.insert("ipRequest".into(), Value::from(ips.clone()));
    }
    if let Some(gws) = &a.default_route {
        let gws = gws.iter().map(|ip| Value::from(go_ip(*ip))).collect();
        m.insert("default-route".into(), Value::Array(gws));
    }
    m.insert("IsFilterV4Gateway".into(), Value::Bool(a.filter_v4_gateway));
    m.insert("IsFilterV6Gateway".into(), Value::Bool(a.filter_v6_gateway));
    if !a.device_id.is_empty() {
        m.insert("deviceID".into(), Value::from(a.device_id.as_str()));
    }
    if !a.resource_name.is_empty() {
        m.insert("resourceName".into(), Value::from(a.resource_name.as_str()));
    }
    let bytes = Value::Object(a.conf.as_map().clone()).to_string();
    m.insert(
        "Bytes".into(),
        Value::from(base64::encode(bytes.as_bytes())),
    );
    Value::Object(m)
}

/// CNI's `PluginConf` decoded from a config object and marshalled again.
fn plugin_conf_json(config: &Map<String, Value>) -> Value {
    let map = casefold::fold_keys(config.clone(), &PLUGIN_CONF_FIELDS);
    let mut out = Map::new();
    if let Some(Value::Object(caps)) = map.get("capabilities") {
        let caps: Map<String, Value> = caps
            .iter()
            .filter(|(_, v)| v.is_boolean())
            .map(|(k, v)| (k.clone(), v.clone()))
            .collect();
        if !caps.is_empty() {
            out.insert("capabilities".into(), Value::Object(caps));
        }
    }
    for key in ["cniVersion", "name", "type"] {
        if let Some(Value::String(s)) = map.get(key).filter(|v| v.as_str() != Some("")) {
            out.insert(key.into(), Value::from(s.as_str()));
        }
    }
    if let Some(Value::Object(dns)) = map.get("dns") {
        let dns = dns_json(dns);
        if !dns.is_empty() {
            out.insert("dns".into(), Value::Object(dns));
        }
    }
    let mut ipam = Map::new();
    if let Some(Value::Object(i)) = map.get("ipam") {
        let i = casefold::fold_keys(i.clone(), &["type"]);
        if let Some(Value::String(t)) = i.get("type").filter(|v| v.as_str() != Some("")) {
            ipam.insert("type".into(), Value::from(t.as_str()));
        }
    }
    out.insert("ipam".into(), Value::Object(ipam));
    if let Some(Value::Object(prev)) = map.get("prevResult")
        && !prev.is_empty()
    {
        out.insert("prevResult".into(), Value::Object(prev.clone()));
    }
    if let Some(Value::Array(valid)) = map.get("cni.dev/valid-attachments") {
        let valid: Vec<Value> = valid
            .iter()
            .filter_map(Value::as_object)
            .map(|a| {
                let a = casefold::fold_keys(a.clone(), &["containerID", "ifname"]);
                let mut m = Map::new();
                for key in ["containerID", "ifname"] {
                    let v = a.get(key).and_then(Value::as_str).unwrap_or("");
                    m.insert(key.into(), Value::from(v));
                }
                Value::Object(m)
            })
            .collect();
        if !valid.is_empty() {
            out.insert("cni.dev/valid-attachments".into(), Value::Array(valid));
        }
    }
    sorted(Value::Object(out))
}

fn dns_json(dns: &Map<String, Value>) -> Map<String, Value> {
    let dns = casefold::fold_keys(dns.clone(), &DNS_FIELDS);
    let mut out = Map::new();
    for key in ["nameservers", "search", "options"] {
        if let Some(Value::Array(items)) = dns.get(key) {
            let items: Vec<Value> = items.iter().filter(|v| v.is_string()).cloned().collect();
            if !items.is_empty() {
                out.insert(key.into(), Value::Array(items));
            }
        }
    }
    if let Some(Value::String(d)) = dns.get("domain").filter(|v| v.as_str() != Some("")) {
        out.insert("domain".into(), Value::from(d.as_str()));
    }
    out
}

/// CNI's `NetConfList` decoded from a list object and marshalled again.
fn conf_list_json(list: &NetConfList) -> Value {
    let map = casefold::fold_keys(list.as_map().clone(), &CONF_LIST_FIELDS);
    let mut out = Map::new();
    for key in ["cniVersion", "name"] {
        if let Some(Value::String(s)) = map.get(key).filter(|v| v.as_str() != Some("")) {
            out.insert(key.into(), Value::from(s.as_str()));
        }
    }
    if list.disable_check() {
        out.insert("disableCheck".into(), Value::Bool(true));
    }
    if list.disable_gc() {
        out.insert("disableGC".into(), Value::Bool(true));
    }
    let plugins: Vec<Value> = list
        .plugins()
        .iter()
        .map(|p| plugin_conf_json(p.as_map()))
        .collect();
    if !plugins.is_empty() {
        out.insert("plugins".into(), Value::Array(plugins));
    }
    Value::Object(out)
}

/// `net.IP.String()`: an IPv4-mapped IPv6 address prints as IPv4.
fn go_ip(ip: IpAddr) -> String {
    match ip {
        IpAddr::V6(v6) => v6
            .to_ipv4_mapped()
            .map_or_else(|| v6.to_string(), |v4| v4.to_string()),
        IpAddr::V4(v4) => v4.to_string(),
    }
}

/// Go's `json.Marshal` escapes HTML characters and the two JSON-valid but
/// JavaScript-invalid line separators. They can only occur inside strings,
/// so replacing them in the serialized text is safe.
fn go_escape(json: &str) -> String {
    if !json.contains(['<', '>', '&', '\u{2028}', '\u{2029}']) {
        return json.to_owned();
    }
    let mut out = String::with_capacity(json.len() + 16);
    for c in json.chars() {
        match c {
            '<' => out.push_str("\\u003c"),
            '>' => out.push_str("\\u003e"),
            '&' => out.push_str("\\u0026"),
            '\u{2028}' => out.push_str("\\u2028"),
            '\u{2029}' => out.push_str("\\u2029"),
            c => out.push(c),
        }
    }
    out
}

// ---------------------------------------------------------------- reading

/// One delegate of the file, as upstream's decoder sees it.
#[derive(Debug, Default)]
struct Entry {
    name: String,
    ifname_request: String,
    mac_request: String,
    infiniband_guid_request: String,
    ip_request: Option<Vec<String>>,
    default_route: Option<Vec<IpAddr>>,
    filter_v4_gateway: bool,
    filter_v6_gateway: bool,
    device_id: String,
    resource_name: String,
    bytes: Vec<u8>,
    is_list: bool,
}

impl Entry {
    fn into_attachment(
        self,
        index: usize,
        container_id: &str,
        runtime_ifname: &str,
        base: &RuntimeConfig,
    ) -> Result<Attachment, Error> {
        let conf = if self.is_list {
            NetConfList::from_bytes(&self.bytes).map(DelegateConf::List)
        } else {
            NetConf::from_bytes(&self.bytes).map(DelegateConf::Single)
        }
        .map_err(|source| Error::CachedDelegateInvalid {
            index,
            name: self.name.clone(),
            source,
        })?;
        let master = index == 0;
        let ifname = if self.ifname_request.is_empty() {
            positional_ifname(index, runtime_ifname)
        } else {
            self.ifname_request.clone()
        };
        let runtime_config = self.runtime_config(master, base, container_id, &ifname);
        Ok(Attachment {
            conf,
            ifname,
            status_name: self.name,
            master,
            runtime_config,
            mac_request: self.mac_request,
            ip_request: self.ip_request,
            infiniband_guid_request: self.infiniband_guid_request,
            default_route: self.default_route,
            filter_v4_gateway: self.filter_v4_gateway,
            filter_v6_gateway: self.filter_v6_gateway,
            device_id: self.device_id,
            resource_name: self.resource_name,
        })
    }

    /// Upstream's `delegateRuntimeConfig` for a cached delegate: the same
    /// function as on `ADD`, with the requests the cache holds.
    fn runtime_config(
        &self,
        master: bool,
        base: &RuntimeConfig,
        container_id: &str,
        ifname: &str,
    ) -> RuntimeConfig {
        let requests = RuntimeRequests {
            port_mappings: None,
            bandwidth: None,
            ips: self.ip_request.as_deref(),
            mac: &self.mac_request,
            infiniband_guid: &self.infiniband_guid_request,
            device_id: &self.device_id,
        };
        delegate_runtime_config(base, &requests, master, &self.name, container_id, ifname)
    }
}

fn decode_entries(bytes: &[u8]) -> Result<Vec<Entry>, String> {
    let value: Value = serde_json::from_slice(bytes).map_err(|e| format!("not valid JSON: {e}"))?;
    let Value::Array(items) = value else {
        return Err(format!(
            "expected a JSON array of delegates, found {}",
            json_kind(&value)
        ));
    };
    items
        .into_iter()
        .enumerate()
        .map(|(i, item)| decode_entry(item).map_err(|e| format!("delegate {i}: {e}")))
        .collect()
}

fn decode_entry(item: Value) -> Result<Entry, String> {
    let Value::Object(map) = item else {
        return Err(format!("expected an object, found {}", json_kind(&item)));
    };
    let map = casefold::fold_keys(map, &ENTRY_FIELDS);
    let string = |key: &str| string_field(&map, key);
    let flag = |key: &str| match map.get(key) {
        None | Some(Value::Null) => Ok(false),
        Some(Value::Bool(b)) => Ok(*b),
        Some(other) => Err(format!(
            "{key}: expected a boolean, found {}",
            json_kind(other)
        )),
    };
    match map.get("Conf") {
        None | Some(Value::Null | Value::Object(_)) => {}
        Some(other) => {
            return Err(format!(
                "Conf: expected an object, found {}",
                json_kind(other)
            ));
        }
    }
    let is_list = match map.get("ConfList") {
        None | Some(Value::Null) => false,
        Some(Value::Object(list)) => {
            let list = casefold::fold_keys(list.clone(), &CONF_LIST_FIELDS);
            match list.get("plugins") {
                None | Some(Value::Null) => false,
                Some(Value::Array(plugins)) => !plugins.is_empty(),
                Some(other) => {
                    return Err(format!(
                        "ConfList.plugins: expected a list, found {}",
                        json_kind(other)
                    ));
                }
            }
        }
        Some(other) => {
            return Err(format!(
                "ConfList: expected an object, found {}",
                json_kind(other)
            ));
        }
    };
    let mut bytes = bytes_field(&map, "Bytes")?;
    if let Some(legacy) = map.get("CNINetworkConfigList")
        && let Some(lossless) = legacy_list(legacy)?
    {
        bytes = merge_conf_list_bytes(lossless, &bytes)?;
    }
    let default_route = match string_list(&map, "default-route")? {
        None => None,
        Some(items) => Some(
            items
                .iter()
                // Go's net.IP decodes "" as a nil IP; there is nothing to keep.
                .filter(|s| !s.is_empty())
                .map(|s| {
                    s.parse::<IpAddr>()
                        .map_err(|_| format!("default-route: invalid IP address {s:?}"))
                })
                .collect::<Result<Vec<_>, _>>()?,
        ),
    };
    Ok(Entry {
        name: string("Name")?,
        ifname_request: string("ifnameRequest")?,
        mac_request: string("macRequest")?,
        infiniband_guid_request: string("infinibandGUIDRequest")?,
        ip_request: string_list(&map, "ipRequest")?,
        default_route,
        filter_v4_gateway: flag("IsFilterV4Gateway")?,
        filter_v6_gateway: flag("IsFilterV6Gateway")?,
        device_id: string("deviceID")?,
        resource_name: string("resourceName")?,
        bytes,
        is_list,
    })
}

/// Upstream's `rawConfListBytes` of a legacy `CNINetworkConfigList`; `None`
/// when it is absent or empty (single-plugin delegates carried an empty one).
fn legacy_list(value: &Value) -> Result<Option<Value>, String> {
    let map = match value {
        Value::Null => return Ok(None),
        Value::Object(m) => casefold::fold_keys(m.clone(), &LEGACY_LIST_FIELDS),
        other => {
            return Err(format!(
                "CNINetworkConfigList: expected an object, found {}",
                json_kind(other)
            ));
        }
    };
    let list_bytes = bytes_field(&map, "Bytes").map_err(|e| format!("CNINetworkConfigList.{e}"))?;
    let plugins = match map.get("Plugins") {
        None | Some(Value::Null) => Vec::new(),
        Some(Value::Array(p)) => p.clone(),
        Some(other) => {
            return Err(format!(
                "CNINetworkConfigList.Plugins: expected a list, found {}",
                json_kind(other)
            ));
        }
    };
    if list_bytes.is_empty() && plugins.is_empty() {
        return Ok(None);
    }
    let mut raw =
        json_object(&list_bytes).map_err(|e| format!("CNINetworkConfigList: list bytes: {e}"))?;
    let mut rebuilt = Vec::with_capacity(plugins.len());
    for (idx, plugin) in plugins.into_iter().enumerate() {
        let Value::Object(plugin) = plugin else {
            return Err(format!(
                "CNINetworkConfigList: plugin #{idx}: expected an object"
            ));
        };
        let plugin = casefold::fold_keys(plugin, &LEGACY_PLUGIN_FIELDS);
        let bytes = bytes_field(&plugin, "Bytes")
            .map_err(|e| format!("CNINetworkConfigList: plugin #{idx}: {e}"))?;
        let plugin =
            json_object(&bytes).map_err(|e| format!("CNINetworkConfigList: plugin #{idx}: {e}"))?;
        rebuilt.push(Value::Object(plugin));
    }
    raw.insert("plugins".into(), Value::Array(rebuilt));
    Ok(Some(Value::Object(raw)))
}

/// Upstream's `mergeConfListBytes`: the lossless list, with `deviceID`,
/// `pciBusID` and `args.cni` of each plugin taken from the delegate's own
/// `Bytes` (where multus injected them).
fn merge_conf_list_bytes(lossless: Value, housekeeping: &[u8]) -> Result<Vec<u8>, String> {
    if housekeeping.is_empty() {
        return Ok(lossless.to_string().into_bytes());
    }
    let Value::Object(mut lossless) = lossless else {
        return Err("legacy list is not an object".into());
    };
    let housekeeping = json_object(housekeeping)
        .map_err(|e| format!("Bytes (to merge with CNINetworkConfigList): {e}"))?;
    let Some(Value::Array(hk_plugins)) = housekeeping.get("plugins") else {
        return Err("Bytes (to merge with CNINetworkConfigList): no plugin list".into());
    };
    let Some(Value::Array(plugins)) = lossless.get_mut("plugins") else {
        return Err("CNINetworkConfigList: no plugin list".into());
    };
    if plugins.len() != hk_plugins.len() {
        return Err(format!(
            "plugin count differs between CNINetworkConfigList and Bytes: {} != {}",
            plugins.len(),
            hk_plugins.len()
        ));
    }
    for (idx, (plugin, hk)) in plugins.iter_mut().zip(hk_plugins).enumerate() {
        let (Value::Object(plugin), Value::Object(hk)) = (plugin, hk) else {
            return Err(format!("plugin #{idx}: expected objects to merge"));
        };
        for key in ["deviceID", "pciBusID"] {
            if let Some(v) = hk.get(key) {
                plugin.insert(key.into(), v.clone());
            }
        }
        if let Some(hk_args) = hk.get("args") {
            let merged = merge_cni_args(plugin.get("args"), hk_args)
                .map_err(|e| format!("plugin #{idx}: args: {e}"))?;
            plugin.insert("args".into(), merged);
        }
    }
    Ok(Value::Object(lossless).to_string().into_bytes())
}

/// Upstream's `mergeCNIArgs`: `args.cni` of the housekeeping bytes over the lossless ones.
fn merge_cni_args(lossless: Option<&Value>, housekeeping: &Value) -> Result<Value, String> {
    let mut args = object_or_empty(lossless)?;
    let hk = object_or_empty(Some(housekeeping))?;
    let Some(hk_cni) = hk.get("cni") else {
        return Ok(Value::Object(args));
    };
    let mut cni = object_or_empty(args.get("cni"))?;
    for (k, v) in object_or_empty(Some(hk_cni))? {
        cni.insert(k, v);
    }
    args.insert("cni".into(), Value::Object(cni));
    Ok(Value::Object(args))
}

fn object_or_empty(value: Option<&Value>) -> Result<Map<String, Value>, String> {
    match value {
        None | Some(Value::Null) => Ok(Map::new()),
        Some(Value::Object(m)) => Ok(m.clone()),
        Some(other) => Err(format!("expected an object, found {}", json_kind(other))),
    }
}

fn json_object(bytes: &[u8]) -> Result<Map<String, Value>, String> {
    match serde_json::from_slice(bytes) {
        Ok(Value::Object(m)) => Ok(m),
        Ok(other) => Err(format!(
            "expected a JSON object, found {}",
            json_kind(&other)
        )),
        Err(e) => Err(format!("not valid JSON: {e}")),
    }
}

fn string_field(map: &Map<String, Value>, key: &str) -> Result<String, String> {
    match map.get(key) {
        None | Some(Value::Null) => Ok(String::new()),
        Some(Value::String(s)) => Ok(s.clone()),
        Some(other) => Err(format!(
            "{key}: expected a string, found {}",
            json_kind(other)
        )),
    }
}

/// A `[]byte` field: base64 in a string.
fn bytes_field(map: &Map<String, Value>, key: &str) -> Result<Vec<u8>, String> {
    base64::decode(&string_field(map, key)?).map_err(|e| format!("{key}: {e}"))
}

/// A `[]string` field: `None` when absent or `null`.
fn string_list(map: &Map<String, Value>, key: &str) -> Result<Option<Vec<String>>, String> {
    match map.get(key) {
        None | Some(Value::Null) => Ok(None),
        Some(Value::Array(items)) => items
            .iter()
            .map(|v| match v {
                Value::String(s) => Ok(s.clone()),
                Value::Null => Ok(String::new()),
                other => Err(format!(
                    "{key}: expected a list of strings, found {}",
                    json_kind(other)
                )),
            })
            .collect::<Result<Vec<_>, _>>()
            .map(Some),
        Some(other) => Err(format!(
            "{key}: expected a list, found {}",
            json_kind(other)
        )),
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use std::os::unix::fs::PermissionsExt;

    use proptest::prelude::*;
    use serde_json::json;

    use super::*;

    fn conf(v: Value) -> DelegateConf {
        DelegateConf::from_value(v).unwrap()
    }

    fn plan() -> Vec<Attachment> {
        let mut master = Attachment::new(
            conf(json!({
                "cniVersion": "0.3.1", "name": "k8s-pod-network",
                "plugins": [
                    {"type": "bridge", "bridge": "cni0", "capabilities": {"portMappings": false, "mac": true},
                     "ipam": {"type": "host-local", "subnet": "10.1.0.0/16"},
                     "dns": {"nameservers": ["10.96.0.10"], "search": []}},
                    {"type": "portmap", "capabilities": {"portMappings": true}, "snat": true}
                ]
            })),
            "eth0",
            "k8s-pod-network",
        );
        master.master = true;
        master.filter_v4_gateway = true;
        let mut nad = Attachment::new(
            conf(
                json!({"cniVersion": "1.0.0", "name": "macvlan-conf", "type": "macvlan",
                        "master": "eth1", "ipam": {"type": "static"}, "args": {"cni": {"k": "<&>"}}}),
            ),
            "net1",
            "default/macvlan-conf",
        );
        nad.mac_request = "c2:11:22:33:44:55".into();
        nad.ip_request = Some(vec!["10.10.0.5/24".into()]);
        nad.default_route = Some(vec![
            "10.10.0.1".parse().unwrap(),
            "::ffff:10.1.2.3".parse().unwrap(),
        ]);
        nad.device_id = "0000:03:00.1".into();
        nad.resource_name = "intel.com/sriov".into();
        nad.infiniband_guid_request = "c2:11:22:33:44:55:66:77".into();
        let mut explicit = Attachment::new(
            conf(json!({"cniVersion": "0.4.0", "name": "ptp", "type": "ptp"})),
            "ptp0",
            "ns2/ptp",
        );
        explicit.ip_request = Some(Vec::new());
        explicit.default_route = Some(Vec::new());
        vec![master, nad, explicit]
    }

    #[test]
    fn writes_upstreams_layout() {
        let text = String::from_utf8(DelegateCache::to_json("eth0", &plan())).unwrap();
        // The exact bytes (compact, Go's key order and escaping, base64 Bytes).
        insta::assert_snapshot!("delegate_cache_raw", text);
        let v: Value = serde_json::from_str(&text).unwrap();
        let keys =
            |i: usize| -> Vec<String> { v[i].as_object().unwrap().keys().cloned().collect() };
        assert_eq!(
            keys(1),
            [
                "Conf",
                "ConfList",
                "Name",
                "macRequest",
                "infinibandGUIDRequest",
                "ipRequest",
                "default-route",
                "IsFilterV4Gateway",
                "IsFilterV6Gateway",
                "deviceID",
                "resourceName",
                "Bytes"
            ]
        );
        // Positional names (CNI_IFNAME for the master, net1) are not requests.
        assert_eq!(
            keys(0),
            [
                "Conf",
                "ConfList",
                "Name",
                "IsFilterV4Gateway",
                "IsFilterV6Gateway",
                "Bytes"
            ]
        );
        // Empty ipRequest is omitted (Go omitempty), an empty default-route is kept (pointer).
        assert_eq!(
            keys(2),
            [
                "Conf",
                "ConfList",
                "Name",
                "ifnameRequest",
                "default-route",
                "IsFilterV4Gateway",
                "IsFilterV6Gateway",
                "Bytes"
            ]
        );
        assert_eq!(v[2]["ifnameRequest"], "ptp0");
        assert_eq!(v[2]["default-route"], json!([]));
        assert_eq!(v[1]["default-route"], json!(["10.10.0.1", "10.1.2.3"]));
        // Conf of a list: decoded from the list object (name, version), ipam always there.
        assert_eq!(
            v[0]["Conf"],
            json!({"cniVersion": "0.3.1", "ipam": {}, "name": "k8s-pod-network"})
        );
        assert_eq!(
            serde_json::to_string(&v[0]["ConfList"]).unwrap(),
            concat!(
                r#"{"cniVersion":"0.3.1","name":"k8s-pod-network","plugins":["#,
                r#"{"capabilities":{"mac":true,"portMappings":false},"dns":{"nameservers":["10.96.0.10"]},"ipam":{"type":"host-local"},"type":"bridge"},"#,
                r#"{"capabilities":{"portMappings":true},"ipam":{},"type":"portmap"}]}"#
            )
        );
        assert_eq!(
            serde_json::to_string(&v[1]["Conf"]).unwrap(),
            r#"{"cniVersion":"1.0.0","ipam":{"type":"static"},"name":"macvlan-conf","type":"macvlan"}"#
        );
        assert_eq!(v[1]["ConfList"], json!({}));
        // Bytes: the config as delegates get it.
        let bytes = base64::decode(v[1]["Bytes"].as_str().unwrap()).unwrap();
        assert_eq!(
            bytes,
            Value::Object(plan()[1].conf.as_map().clone())
                .to_string()
                .into_bytes()
        );
        // Go's HTML escaping (only inside strings, here inside Bytes there is none: base64).
        assert!(!text.contains('<'));
    }

    #[test]
    fn go_escapes_html_and_line_separators() {
        let mut a = Attachment::new(
            conf(json!({"name": "n", "type": "t"})),
            "eth0",
            "a<b>&c\u{2028}",
        );
        a.master = true;
        let text = String::from_utf8(DelegateCache::to_json("eth0", &[a])).unwrap();
        assert!(
            text.contains(r#""Name":"a\u003cb\u003e\u0026c\u2028""#),
            "{text}"
        );
        let back =
            DelegateCache::from_json(text.as_bytes(), "c", "eth0", &RuntimeConfig::default())
                .unwrap();
        assert_eq!(
            back.attachments().next().unwrap().status_name,
            "a<b>&c\u{2028}"
        );
    }

    #[test]
    fn round_trip_rebuilds_the_plan() {
        let written = plan();
        let bytes = DelegateCache::to_json("eth0", &written);
        let back =
            DelegateCache::from_json(&bytes, "c0ffee", "eth0", &RuntimeConfig::default()).unwrap();
        let back: Vec<Attachment> = back.entries.into_iter().map(Result::unwrap).collect();
        assert_eq!(back.len(), 3);
        for (w, b) in written.iter().zip(&back) {
            assert_eq!(w.conf, b.conf);
            assert_eq!(w.ifname, b.ifname);
            assert_eq!(w.status_name, b.status_name);
            assert_eq!(w.master, b.master);
            assert_eq!(w.mac_request, b.mac_request);
            assert_eq!(w.infiniband_guid_request, b.infiniband_guid_request);
            assert_eq!(w.filter_v4_gateway, b.filter_v4_gateway);
            assert_eq!(w.filter_v6_gateway, b.filter_v6_gateway);
            assert_eq!(w.device_id, b.device_id);
            assert_eq!(w.resource_name, b.resource_name);
        }
        // Go drops an empty ipRequest; IPv4-mapped gateways come back as IPv4.
        assert_eq!(back[2].ip_request, None);
        assert_eq!(back[2].default_route, Some(Vec::new()));
        assert_eq!(
            back[1].default_route,
            Some(vec![
                "10.10.0.1".parse().unwrap(),
                "10.1.2.3".parse().unwrap()
            ])
        );
        // The non-master's cached requests become its capability arguments.
        let rc = &back[1].runtime_config;
        assert_eq!(rc.mac, "c2:11:22:33:44:55");
        assert_eq!(rc.ips, ["10.10.0.5/24"]);
        assert_eq!(rc.infiniband_guid, "c2:11:22:33:44:55:66:77");
        assert_eq!(rc.device_id, "0000:03:00.1");
        assert_eq!(
            rc.cni_device_info_file,
            "/var/run/k8s.cni.cncf.io/devinfo/cni/default-macvlan-conf-c0ffee_net1"
        );
        assert!(back[0].runtime_config.is_empty());
        // Written again, the same bytes.
        assert_eq!(DelegateCache::to_json("eth0", &back), bytes);
    }

    #[test]
    fn the_master_keeps_the_runtime_config_and_ignores_its_requests() {
        let base = RuntimeConfig {
            mac: "c2:00:00:00:00:01".into(),
            ips: vec!["10.0.0.9/24".into()],
            ..RuntimeConfig::default()
        };
        let fixture = json!([
            {"Name": "master", "macRequest": "c2:00:00:00:00:02", "Bytes": base64::encode(br#"{"name":"m","type":"ptp"}"#)},
            {"Name": "other", "ipRequest": [], "Bytes": base64::encode(br#"{"name":"o","type":"ptp"}"#)}
        ]);
        let plan =
            DelegateCache::from_json(fixture.to_string().as_bytes(), "c", "eth7", &base).unwrap();
        let a: Vec<&Attachment> = plan.attachments().collect();
        assert_eq!(a[0].runtime_config, base);
        assert_eq!(a[0].ifname, "eth7");
        assert!(a[0].master && !a[1].master);
        assert_eq!(a[1].runtime_config.mac, "c2:00:00:00:00:01");
        // A present (even empty) ipRequest replaces the runtime's ips.
        assert!(a[1].runtime_config.ips.is_empty());
        assert_eq!(a[1].ip_request, Some(Vec::new()));
        assert_eq!(a[1].ifname, "net1");
    }

    /// What Go Multus writes for a thin-plugin pod with one NAD (hand-made
    /// in upstream's exact shape), read back leniently.
    #[test]
    fn reads_upstream_files() {
        let master_bytes = br#"{"cniVersion":"0.3.1","name":"k8s-pod-network","plugins":[{"type":"bridge","bridge":"cni0","ipam":{"type":"host-local","subnet":"10.1.0.0/16"}}]}"#;
        let nad_bytes = br#"{ "cniVersion": "0.3.1", "type": "macvlan", "master": "eth1", "mode": "bridge", "ipam": {"type": "host-local", "subnet": "10.10.0.0/16"}, "name": "macvlan-conf" }"#;
        let text = format!(
            concat!(
                r#"[{{"Conf":{{"cniVersion":"0.3.1","ipam":{{}},"name":"k8s-pod-network"}},"#,
                r#""ConfList":{{"cniVersion":"0.3.1","name":"k8s-pod-network","plugins":[{{"ipam":{{"type":"host-local"}},"type":"bridge"}}]}},"#,
                r#""Name":"k8s-pod-network","IsFilterV4Gateway":false,"IsFilterV6Gateway":false,"Bytes":"{}"}},"#,
                r#"{{"conf":{{"cniVersion":"0.3.1","ipam":{{"type":"host-local"}},"name":"macvlan-conf","type":"macvlan"}},"#,
                r#""confList":{{}},"name":"default/macvlan-conf","IFNAMEREQUEST":"","macrequest":"c2:11:22:33:44:55","#,
                r#""Unknown":[1,2],"isfilterv4gateway":true,"IsFilterV6Gateway":null,"bytes":"{}"}}]"#
            ),
            base64::encode(master_bytes),
            base64::encode(nad_bytes)
        );
        let plan =
            DelegateCache::from_json(text.as_bytes(), "cid", "eth0", &RuntimeConfig::default())
                .unwrap();
        let a: Vec<&Attachment> = plan.attachments().collect();
        assert_eq!(a.len(), 2);
        assert!(a[0].is_list() && !a[1].is_list());
        assert_eq!(a[0].network_name(), "k8s-pod-network");
        assert_eq!(a[1].network_name(), "macvlan-conf");
        assert_eq!(a[1].status_name, "default/macvlan-conf");
        assert_eq!(
            (a[0].ifname.as_str(), a[1].ifname.as_str()),
            ("eth0", "net1")
        );
        assert_eq!(a[1].mac_request, "c2:11:22:33:44:55");
        assert!(a[1].filter_v4_gateway && !a[1].filter_v6_gateway);
        assert_eq!(a[1].conf.as_map()["mode"], "bridge");
    }

    #[test]
    fn list_flag_comes_from_conf_list_plugins() {
        // Bytes of a list but no ConfList.plugins: run as a single plugin
        // (which it is not), as upstream would; the entry is unusable.
        let list = br#"{"cniVersion":"1.0.0","name":"l","plugins":[{"type":"bridge"}]}"#;
        let fixture = json!([{"Name": "l", "Bytes": base64::encode(list)}]);
        let plan = DelegateCache::from_json(
            fixture.to_string().as_bytes(),
            "c",
            "eth0",
            &RuntimeConfig::default(),
        )
        .unwrap();
        let err = plan.entries[0].as_ref().unwrap_err();
        assert!(
            matches!(err, Error::CachedDelegateInvalid { index: 0, .. }),
            "{err}"
        );
        assert!(
            err.to_string().starts_with(r#"cached delegate 0 ("l"): "#),
            "{err}"
        );
    }

    #[test]
    fn legacy_cni_network_config_list_is_rebuilt() {
        // Upstream versions with CNINetworkConfigList stored a lossy Bytes
        // for file-loaded lists; the lossless list is rebuilt from the
        // legacy field, with deviceID/pciBusID/args.cni merged from Bytes.
        let lossy = br#"{"cniVersion":"1.0.0","name":"sriov","plugins":[{"type":"sriov","deviceID":"0000:03:00.1","pciBusID":"0000:03:00.1","args":{"cni":{"b":2}}},{"type":"tuning"}]}"#;
        let list_bytes =
            br#"{"cniVersion":"1.0.0","name":"sriov","plugins":[{"type":"sriov","vlan":100}]}"#;
        let p0 = br#"{"type":"sriov","vlan":100,"args":{"cni":{"a":1,"b":1}}}"#;
        let p1 = br#"{"type":"tuning","sysctl":{"net.ipv4.conf.IFNAME.arp_notify":"1"}}"#;
        let fixture = json!([{
            "Conf": {"ipam": {}},
            "ConfList": {"cniVersion": "1.0.0", "name": "sriov", "plugins": [{"ipam": {}, "type": "sriov"}, {"ipam": {}, "type": "tuning"}]},
            "CNINetworkConfigList": {
                "Name": "sriov", "CNIVersion": "1.0.0", "DisableCheck": false,
                "Plugins": [
                    {"Network": {"type": "sriov"}, "Bytes": base64::encode(p0)},
                    {"Network": {"type": "tuning"}, "Bytes": base64::encode(p1)}
                ],
                "Bytes": base64::encode(list_bytes)
            },
            "Name": "default/sriov", "IsFilterV4Gateway": false, "IsFilterV6Gateway": false,
            "deviceID": "0000:03:00.1", "resourceName": "intel.com/sriov",
            "Bytes": base64::encode(lossy)
        }, {
            "Conf": {"ipam": {}, "name": "single", "type": "ptp"}, "ConfList": {},
            "CNINetworkConfigList": {"Name": "", "CNIVersion": "", "DisableCheck": false, "Plugins": null, "Bytes": null},
            "Name": "single", "Bytes": base64::encode(br#"{"name":"single","type":"ptp"}"#)
        }]);
        let plan = DelegateCache::from_json(
            fixture.to_string().as_bytes(),
            "c",
            "eth0",
            &RuntimeConfig::default(),
        )
        .unwrap();
        let a: Vec<&Attachment> = plan.attachments().collect();
        assert_eq!(
            Value::Object(a[0].conf.as_map().clone()),
            json!({"cniVersion": "1.0.0", "name": "sriov", "plugins": [
                {"type": "sriov", "vlan": 100, "args": {"cni": {"a": 1, "b": 2}},
                 "deviceID": "0000:03:00.1", "pciBusID": "0000:03:00.1"},
                {"type": "tuning", "sysctl": {"net.ipv4.conf.IFNAME.arp_notify": "1"}}
            ]})
        );
        assert_eq!(a[1].conf.as_map()["type"], "ptp");

        // Plugin counts that differ: the whole file is refused, as upstream's decoder does.
        let mut bad = fixture.clone();
        bad[0]["Bytes"] = Value::from(base64::encode(list_bytes));
        let e = DelegateCache::from_json(
            bad.to_string().as_bytes(),
            "c",
            "eth0",
            &RuntimeConfig::default(),
        )
        .unwrap_err();
        assert!(e.contains("plugin count differs"), "{e}");
    }

    #[test]
    fn invalid_files_are_refused_with_a_reason() {
        let base = RuntimeConfig::default();
        for (text, why) in [
            ("", "not valid JSON"),
            ("{}", "expected a JSON array"),
            ("null", "expected a JSON array"),
            ("[null]", "delegate 0: expected an object"),
            (r#"[{"Name": 1}]"#, "delegate 0: Name: expected a string"),
            (
                r#"[{"IsFilterV4Gateway": "true"}]"#,
                "IsFilterV4Gateway: expected a boolean",
            ),
            (r#"[{"Bytes": "%%%"}]"#, "Bytes: illegal base64"),
            (
                r#"[{"ipRequest": "10.1.1.1"}]"#,
                "ipRequest: expected a list",
            ),
            (
                r#"[{"default-route": ["10.1.1"]}]"#,
                "default-route: invalid IP address",
            ),
            (
                r#"[{"ConfList": {"plugins": {}}}]"#,
                "ConfList.plugins: expected a list",
            ),
            (r#"[{"Conf": []}]"#, "Conf: expected an object"),
        ] {
            let e = DelegateCache::from_json(text.as_bytes(), "c", "eth0", &base).unwrap_err();
            assert!(e.contains(why), "{text}: {e}");
        }
        // An empty array is a valid, empty plan (upstream would crash on it).
        assert!(
            DelegateCache::from_json(b"[]", "c", "eth0", &base)
                .unwrap()
                .is_empty()
        );
    }

    #[test]
    fn files_modes_atomic_write_and_escapes_refused() {
        let tmp = tempfile::tempdir().unwrap();
        let cache = DelegateCache::new(tmp.path().join("multus"));
        let path = cache.write("c0ffee", "eth0", &plan()).unwrap();
        assert_eq!(path, tmp.path().join("multus").join("c0ffee"));
        let mode = |p: &Path| fs::metadata(p).unwrap().permissions().mode() & 0o777;
        assert_eq!(mode(&path), 0o600);
        assert_eq!(mode(cache.dir()), 0o700);
        // Overwritten in place, no temporary file left behind.
        cache.write("c0ffee", "eth0", &plan()[..1]).unwrap();
        let names: Vec<_> = fs::read_dir(cache.dir())
            .unwrap()
            .map(|e| e.unwrap().file_name())
            .collect();
        assert_eq!(names, ["c0ffee"]);
        let read = cache
            .read("c0ffee", "eth0", &RuntimeConfig::default())
            .unwrap()
            .unwrap();
        assert_eq!(read.entries.len(), 1);
        assert!(
            cache
                .read("other", "eth0", &RuntimeConfig::default())
                .unwrap()
                .is_none()
        );
        assert!(cache.remove("c0ffee").unwrap());
        assert!(!cache.remove("c0ffee").unwrap());

        for bad in ["../x", "..", "a/b", "", "/etc/passwd", ".hidden", "x\0y"] {
            assert!(
                matches!(
                    cache.write(bad, "eth0", &plan()),
                    Err(Error::InvalidArgument(_))
                ),
                "{bad:?}"
            );
            assert!(
                cache.read(bad, "eth0", &RuntimeConfig::default()).is_err(),
                "{bad:?}"
            );
            assert!(cache.remove(bad).is_err(), "{bad:?}");
        }
        assert!(!tmp.path().join("x").exists());

        // Unreadable / garbage: unusable, and says so.
        fs::write(cache.dir().join("garbage"), b"{not json").unwrap();
        let e = cache
            .read("garbage", "eth0", &RuntimeConfig::default())
            .unwrap_err();
        assert!(e.is_delegate_cache_unusable(), "{e}");
        assert!(e.to_string().contains("garbage: not valid JSON"), "{e}");
        fs::create_dir(cache.dir().join("adir")).unwrap();
        let e = cache
            .read("adir", "eth0", &RuntimeConfig::default())
            .unwrap_err();
        assert!(e.is_delegate_cache_unusable(), "{e}");

        // A directory that cannot be created: an IO error naming the path.
        let blocker = tmp.path().join("file");
        fs::write(&blocker, b"").unwrap();
        let e = DelegateCache::new(blocker.join("sub"))
            .write("c", "eth0", &plan())
            .unwrap_err();
        assert!(matches!(e, Error::DelegateCacheIo { .. }), "{e}");
        assert!(
            e.to_string().starts_with("error saving the delegates to "),
            "{e}"
        );
    }

    proptest! {
        #[test]
        fn from_json_never_panics(bytes in proptest::collection::vec(any::<u8>(), 0..200)) {
            let _ = DelegateCache::from_json(&bytes, "c", "eth0", &RuntimeConfig::default());
        }

        #[test]
        fn json_shaped_input_never_panics(text in r#"\[(\{("[A-Za-z-]{1,12}":("[a-zA-Z0-9+/=]{0,8}"|true|null|\[\]|\{\}|1),?){0,4}\},?){0,3}\]"#) {
            let _ = DelegateCache::from_json(text.as_bytes(), "c", "eth0", &RuntimeConfig::default());
        }

        #[test]
        fn requests_round_trip(
            name in "\\PC{0,16}", mac in "\\PC{0,17}", guid in "\\PC{0,8}",
            ips in proptest::option::of(proptest::collection::vec("\\PC{0,10}", 1..3)),
            gws in proptest::option::of(proptest::collection::vec(any::<std::net::Ipv4Addr>(), 0..2)),
            v4 in any::<bool>(), v6 in any::<bool>(), ifname in "[a-z0-9]{1,15}", index in 0usize..4,
        ) {
            let mut plan: Vec<Attachment> = (0..=index)
                .map(|i| Attachment::new(conf(json!({"name": format!("n{i}"), "type": "ptp"})), format!("net{i}"), "x"))
                .collect();
            let a = &mut plan[index];
            a.status_name = name;
            a.mac_request = mac;
            a.infiniband_guid_request = guid;
            a.ip_request = ips;
            a.default_route = gws.map(|g| g.into_iter().map(IpAddr::V4).collect());
            a.filter_v4_gateway = v4;
            a.filter_v6_gateway = v6;
            a.ifname = ifname;
            let bytes = DelegateCache::to_json("eth0", &plan);
            let back = DelegateCache::from_json(&bytes, "c", "eth0", &RuntimeConfig::default()).unwrap();
            let b = back.entries[index].as_ref().unwrap();
            let a = &plan[index];
            prop_assert_eq!(&a.status_name, &b.status_name);
            prop_assert_eq!(&a.mac_request, &b.mac_request);
            prop_assert_eq!(&a.infiniband_guid_request, &b.infiniband_guid_request);
            prop_assert_eq!(&a.ip_request, &b.ip_request);
            prop_assert_eq!(&a.default_route, &b.default_route);
            prop_assert_eq!(&a.ifname, &b.ifname);
            prop_assert_eq!((a.filter_v4_gateway, a.filter_v6_gateway), (b.filter_v4_gateway, b.filter_v6_gateway));
        }
    }
}
