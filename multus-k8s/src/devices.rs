//! Device IDs for attachments whose NetworkAttachmentDefinition names a
//! device resource (`k8s.v1.cni.cncf.io/resourceName`).
//!
//! The resolver asks a [`DeviceSource`] for a [`ResourceMap`], resource
//! name → device IDs allocated to the pod — at most once per plan, and only
//! when some attachment names a resource, as upstream builds its map only
//! then (a pod without device networks never pays for the read, nor fails
//! on it). Each attachment of a resource takes the next unused ID of that
//! resource, in attachment order, IDs sorted lexicographically. This is
//! upstream's intended rule; upstream itself can hand the same device to
//! two attachments (defaultNetworks share a shadowed per-network map, and
//! the default-network annotation builds a map of its own), which is not
//! reproduced. Running out of IDs is not an error: the attachment simply
//! gets no device.
//!
//! [`node_devices`] is the source the plugin uses, upstream's order:
//! kubelet's pod-resources API when its socket exists, else the
//! device-plugin checkpoint ([`checkpoint_resource_map`]); then the devices
//! of the pod's DRA claims ([`crate::dra`]) merged in; then every
//! resource's IDs sorted.

use std::collections::BTreeMap;
use std::future::Future;
use std::path::{Path, PathBuf};
use std::pin::Pin;
use std::sync::Mutex;
use std::time::Duration;

use k8s_openapi::api::core::v1::Pod;
use multus_types::{DelegateConf, MultusConf, NetConfList};
use serde_json::{Map, Value};

/// Resource name → device IDs allocated to the pod (order irrelevant).
pub type ResourceMap = BTreeMap<String, Vec<String>>;

/// What [`DeviceSource::resource_map`] returns: a future that reads the map.
pub type DeviceFuture<'a> =
    Pin<Box<dyn Future<Output = Result<ResourceMap, crate::Error>> + Send + 'a>>;

/// Where the devices allocated to a pod come from, read only when needed:
/// the resolver calls [`DeviceSource::resource_map`] at most once per
/// [`crate::resolve()`], and only when an attachment of the plan names a
/// resource. An error then fails the plan.
///
/// A ready [`ResourceMap`] is a source, and so is any
/// `Fn() -> Result<ResourceMap, Error> + Sync` (run when the map is needed);
/// [`NodeDevices`] reads the node's sources. Sources are `Sync` and their
/// futures `Send`, so a resolve can run on a multi-threaded runtime (the
/// thick daemon).
///
/// ```
/// use std::path::Path;
/// use multus_k8s::devices::{checkpoint_resource_map, DeviceSource, ResourceMap, DEVICE_CHECKPOINT};
/// # async fn demo() -> Result<(), multus_k8s::Error> {
/// let ready = ResourceMap::from([("intel.com/sriov".to_owned(), vec!["0000:03:02.0".to_owned()])]);
/// assert_eq!(ready.resource_map().await?.len(), 1);
/// let lazy = || checkpoint_resource_map(Path::new(DEVICE_CHECKPOINT), "6f3b...");
/// let source: &dyn DeviceSource = &lazy; // nothing read yet
/// # let _ = source;
/// # Ok(()) }
/// ```
pub trait DeviceSource: Sync {
    /// The devices allocated to the pod, per resource name.
    ///
    /// # Errors
    /// Whatever stopped the source from reading them (e.g.
    /// [`crate::Error::DeviceCheckpoint`], [`crate::Error::PodResources`]).
    fn resource_map(&self) -> DeviceFuture<'_>;

    /// Things worth logging that the last read met without failing (a DRA
    /// device without the attributes, skipped); taken once.
    fn take_warnings(&self) -> Vec<String> {
        Vec::new()
    }
}

impl DeviceSource for ResourceMap {
    fn resource_map(&self) -> DeviceFuture<'_> {
        Box::pin(std::future::ready(Ok(self.clone())))
    }
}

impl<F> DeviceSource for F
where
    F: Fn() -> Result<ResourceMap, crate::Error> + Sync,
{
    fn resource_map(&self) -> DeviceFuture<'_> {
        Box::pin(std::future::ready(self()))
    }
}

/// Where a node keeps what [`node_devices`] reads, and how long DRA may take.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DeviceOptions {
    /// Kubelet's pod-resources socket (asked when the file exists).
    pub pod_resources_socket: PathBuf,
    /// The device-plugin checkpoint (read when the socket does not exist).
    pub checkpoint: PathBuf,
    /// The budget of the DRA reads.
    pub dra_timeout: Duration,
}

impl Default for DeviceOptions {
    /// Upstream's paths and timeout.
    fn default() -> Self {
        Self {
            pod_resources_socket: multus_podresources::DEFAULT_SOCKET.into(),
            checkpoint: DEVICE_CHECKPOINT.into(),
            dra_timeout: crate::dra::DRA_TIMEOUT,
        }
    }
}

impl DeviceOptions {
    /// The paths of the multus config (`podResourcesSocket`,
    /// `deviceCheckpoint`, both multus-rs only, upstream's paths by default).
    pub fn from_conf(conf: &MultusConf) -> Self {
        Self {
            pod_resources_socket: conf.pod_resources_socket.clone().into(),
            checkpoint: conf.device_checkpoint.clone().into(),
            ..Self::default()
        }
    }
}

/// The devices of `pod` on this node, read lazily: what the plugin hands
/// [`crate::ResolveRequest::with_device_source`]. Nothing is read until the
/// resolver asks (an attachment names a resource); then, as upstream:
///
/// 1. kubelet's pod-resources API ([`multus_podresources`]) when
///    `options.pod_resources_socket` exists — every container of the pod,
///    matched by name and namespace; a socket that does not answer fails
///    ([`crate::Error::PodResources`]) — else the device-plugin checkpoint
///    (matched by pod UID);
/// 2. with a client, the devices of the pod's DRA claims ([`crate::dra`])
///    appended per resource name;
/// 3. every resource's IDs sorted.
///
/// Without a pod (no client, no pod name) the map is empty.
///
/// ```no_run
/// # async fn demo(client: kube::Client, pod: k8s_openapi::api::core::v1::Pod,
/// #               conf: multus_types::MultusConf, k8s: multus_types::K8sArgs) -> Result<(), multus_k8s::Error> {
/// use multus_k8s::devices::{node_devices, DeviceOptions};
/// let options = DeviceOptions::from_conf(&conf);
/// let devices = node_devices(Some(&client), Some(&pod), &options);
/// let request = multus_k8s::ResolveRequest::new(&conf, &k8s, "3f1a...", "eth0")
///     .with_pod(Some(&pod))
///     .with_device_source(&devices);
/// let plan = multus_k8s::resolve(Some(&client), &request).await?;
/// # let _ = plan; Ok(()) }
/// ```
pub fn node_devices<'a>(
    client: Option<&'a kube::Client>,
    pod: Option<&'a Pod>,
    options: &'a DeviceOptions,
) -> NodeDevices<'a> {
    NodeDevices {
        client,
        pod,
        options,
        warnings: Mutex::new(Vec::new()),
    }
}

/// The [`DeviceSource`] of [`node_devices`].
pub struct NodeDevices<'a> {
    client: Option<&'a kube::Client>,
    pod: Option<&'a Pod>,
    options: &'a DeviceOptions,
    warnings: Mutex<Vec<String>>,
}

impl std::fmt::Debug for NodeDevices<'_> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("NodeDevices")
            .field("client", &self.client.map(|_| "kube::Client"))
            .field("pod", &self.pod.and_then(|p| p.metadata.name.as_deref()))
            .field("options", &self.options)
            .finish_non_exhaustive()
    }
}

impl NodeDevices<'_> {
    /// Reads the map now (see [`node_devices`]), with the warnings met.
    ///
    /// # Errors
    /// [`crate::Error::PodResources`], [`crate::Error::DeviceCheckpoint`],
    /// or a DRA error ([`crate::dra::dra_devices`]).
    pub async fn read(&self) -> Result<(ResourceMap, Vec<String>), crate::Error> {
        let Some(pod) = self.pod else {
            return Ok((ResourceMap::new(), Vec::new()));
        };
        let namespace = pod.metadata.namespace.as_deref().unwrap_or_default();
        let name = pod.metadata.name.as_deref().unwrap_or_default();
        let socket = &self.options.pod_resources_socket;
        let mut map = if multus_podresources::socket_present(socket) {
            multus_podresources::PodResourcesClient::new(socket.clone())
                .pod_devices(namespace, name)
                .await
                .map_err(|source| crate::Error::PodResources { source })?
        } else {
            match pod.metadata.uid.as_deref() {
                Some(uid) => checkpoint_resource_map(&self.options.checkpoint, uid)?,
                None => ResourceMap::new(),
            }
        };
        let mut warnings = Vec::new();
        if let Some(client) = self.client {
            let dra = crate::dra::dra_devices(client, pod, self.options.dra_timeout).await?;
            for (resource, ids) in dra.resources {
                map.entry(resource).or_default().extend(ids);
            }
            warnings = dra.warnings;
        }
        for ids in map.values_mut() {
            ids.sort();
        }
        Ok((map, warnings))
    }
}

impl DeviceSource for NodeDevices<'_> {
    fn resource_map(&self) -> DeviceFuture<'_> {
        Box::pin(async move {
            let (map, warnings) = self.read().await?;
            if let Ok(mut kept) = self.warnings.lock() {
                kept.extend(warnings);
            }
            Ok(map)
        })
    }

    fn take_warnings(&self) -> Vec<String> {
        self.warnings
            .lock()
            .map(|mut w| std::mem::take(&mut *w))
            .unwrap_or_default()
    }
}

/// Where kubelet's device manager keeps its checkpoint.
pub const DEVICE_CHECKPOINT: &str = "/var/lib/kubelet/device-plugins/kubelet_internal_checkpoint";

/// The devices kubelet's device manager allocated to the pod with `pod_uid`,
/// from its checkpoint file: every entry of that pod, all NUMA nodes, per
/// resource name. A missing file is an empty map (no device plugins on the node).
///
/// The file is `{"Data":{"PodDeviceEntries":[{"PodUID","ContainerName",
/// "ResourceName","DeviceIDs":{"<numa node>":[ids]}}, ...]}, "Checksum": n}`;
/// kubelets before 1.20 wrote `DeviceIDs` as a plain list, which is read too.
///
/// # Errors
/// [`crate::Error::DeviceCheckpoint`] when the file exists but cannot be read or parsed.
pub fn checkpoint_resource_map(path: &Path, pod_uid: &str) -> Result<ResourceMap, crate::Error> {
    let failed = |reason: String| crate::Error::DeviceCheckpoint {
        path: path.to_owned(),
        reason,
    };
    let bytes = match std::fs::read(path) {
        Ok(b) => b,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(ResourceMap::new()),
        Err(e) => return Err(failed(e.to_string())),
    };
    let doc: Value = serde_json::from_slice(&bytes).map_err(|e| failed(e.to_string()))?;
    let entries = match doc.pointer("/Data/PodDeviceEntries") {
        None | Some(Value::Null) => return Ok(ResourceMap::new()),
        Some(Value::Array(entries)) => entries,
        Some(other) => {
            return Err(failed(format!(
                "PodDeviceEntries is {}",
                multus_types::json_kind(other)
            )));
        }
    };
    let mut map = ResourceMap::new();
    for entry in entries
        .iter()
        .filter(|e| e.get("PodUID").and_then(Value::as_str) == Some(pod_uid))
    {
        let Some(resource) = entry.get("ResourceName").and_then(Value::as_str) else {
            continue;
        };
        let ids: Vec<&Value> = match entry.get("DeviceIDs") {
            Some(Value::Object(per_numa)) => per_numa
                .values()
                .flat_map(|v| v.as_array().into_iter().flatten())
                .collect(),
            Some(Value::Array(ids)) => ids.iter().collect(),
            _ => Vec::new(),
        };
        let devices = map.entry(resource.to_owned()).or_default();
        devices.extend(ids.into_iter().filter_map(Value::as_str).map(str::to_owned));
    }
    for ids in map.values_mut() {
        ids.sort();
    }
    Ok(map)
}

/// Hands out each resource's device IDs once, in sorted order.
///
/// ```
/// use multus_k8s::devices::{DeviceAllocator, ResourceMap};
/// let map = ResourceMap::from([("intel.com/sriov".to_owned(), vec!["0000:03:02.1".to_owned(), "0000:03:02.0".to_owned()])]);
/// let mut devices = DeviceAllocator::new(&map);
/// assert_eq!(devices.next("intel.com/sriov").as_deref(), Some("0000:03:02.0"));
/// assert_eq!(devices.next("intel.com/sriov").as_deref(), Some("0000:03:02.1"));
/// assert_eq!(devices.next("intel.com/sriov"), None);
/// assert_eq!(devices.next("other"), None);
/// ```
#[derive(Debug, Clone, Default)]
pub struct DeviceAllocator {
    free: BTreeMap<String, std::vec::IntoIter<String>>,
}

impl DeviceAllocator {
    /// An allocator over `map`'s devices.
    pub fn new(map: &ResourceMap) -> Self {
        let free = map
            .iter()
            .map(|(resource, ids)| {
                let mut ids = ids.clone();
                ids.sort();
                (resource.clone(), ids.into_iter())
            })
            .collect();
        Self { free }
    }

    /// The next unused device ID of `resource`.
    pub fn next(&mut self, resource: &str) -> Option<String> {
        self.free.get_mut(resource).and_then(Iterator::next)
    }
}

/// Writes `deviceID` and `pciBusID` = `device_id` into a config: at the top
/// of a single plugin config, into every plugin of a list (upstream
/// `delegateAddDeviceID` / `addDeviceIDInConfList`).
pub fn write_device_id(config: &mut Map<String, Value>, device_id: &str) {
    if config.contains_key("type") {
        set_device_id(config, device_id);
    } else if let Some(Value::Array(plugins)) = config.get_mut("plugins") {
        plugins
            .iter_mut()
            .filter_map(Value::as_object_mut)
            .for_each(|plugin| set_device_id(plugin, device_id));
    }
}

/// [`write_device_id`] on a loaded delegate: a single plugin is edited in
/// place; a list (whose plugins it keeps parsed) is rebuilt from the edited
/// object.
///
/// ```
/// use multus_types::DelegateConf;
/// let mut conf = DelegateConf::from_value(serde_json::json!({"name":"l","plugins":[{"type":"sriov"}]}))?;
/// multus_k8s::devices::write_delegate_device_id(&mut conf, "0000:03:02.0")?;
/// assert_eq!(conf.as_map()["plugins"][0]["pciBusID"], "0000:03:02.0");
/// # Ok::<(), multus_types::Error>(())
/// ```
///
/// # Errors
/// Only if the edited list no longer loads, which these two keys cannot cause.
pub fn write_delegate_device_id(
    conf: &mut DelegateConf,
    device_id: &str,
) -> Result<(), multus_types::Error> {
    match conf {
        DelegateConf::Single(plugin) => set_device_id(plugin.map_mut(), device_id),
        DelegateConf::List(list) => {
            let mut map = list.as_map().clone();
            write_device_id(&mut map, device_id);
            *list = NetConfList::from_map(map)?;
        }
    }
    Ok(())
}

fn set_device_id(plugin: &mut Map<String, Value>, device_id: &str) {
    plugin.insert("deviceID".into(), Value::String(device_id.to_owned()));
    plugin.insert("pciBusID".into(), Value::String(device_id.to_owned()));
}

/// Where a delegate with a device writes its device-info file (the
/// `CNIDeviceInfoFile` capability argument); the runner's own definition.
pub use multus_delegate::multus::cni_device_info_path;

#[cfg(test)]
mod checkpoint_tests {
    use super::*;

    fn write(text: &str) -> tempfile::NamedTempFile {
        let f = tempfile::NamedTempFile::new().unwrap();
        std::fs::write(f.path(), text).unwrap();
        f
    }

    #[test]
    fn reads_the_pods_devices_across_numa_nodes_and_formats() {
        let f = write(
            r#"{"Data":{"PodDeviceEntries":[
                {"PodUID":"u1","ContainerName":"c1","ResourceName":"intel.com/sriov","DeviceIDs":{"1":["0000:03:02.3"],"0":["0000:03:02.1"]},"AllocResp":"x"},
                {"PodUID":"u1","ContainerName":"c2","ResourceName":"intel.com/sriov","DeviceIDs":{"0":["0000:03:02.0"]}},
                {"PodUID":"u1","ContainerName":"c2","ResourceName":"mellanox.com/rdma","DeviceIDs":["mlx-1"]},
                {"PodUID":"u2","ContainerName":"c","ResourceName":"intel.com/sriov","DeviceIDs":{"0":["0000:03:02.7"]}}
            ],"RegisteredDevices":{}},"Checksum":42}"#,
        );
        let map = checkpoint_resource_map(f.path(), "u1").unwrap();
        assert_eq!(
            map["intel.com/sriov"],
            ["0000:03:02.0", "0000:03:02.1", "0000:03:02.3"]
        );
        assert_eq!(map["mellanox.com/rdma"], ["mlx-1"]);
        assert!(checkpoint_resource_map(f.path(), "u9").unwrap().is_empty());
    }

    #[test]
    fn missing_file_is_empty_and_garbage_is_an_error() {
        assert!(
            checkpoint_resource_map(Path::new("/nonexistent/checkpoint"), "u")
                .unwrap()
                .is_empty()
        );
        let f = write("{not json");
        let e = checkpoint_resource_map(f.path(), "u")
            .unwrap_err()
            .to_string();
        assert!(
            e.starts_with("failed to read the device-plugin checkpoint"),
            "{e}"
        );
        let f = write(r#"{"Data":{"PodDeviceEntries":7}}"#);
        assert!(checkpoint_resource_map(f.path(), "u").is_err());
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn block_on<T>(f: impl Future<Output = T>) -> T {
        tokio::runtime::Builder::new_current_thread()
            .build()
            .unwrap()
            .block_on(f)
    }

    #[test]
    fn default_paths_are_upstreams() {
        let options = DeviceOptions::default();
        assert_eq!(
            options.pod_resources_socket,
            Path::new("/var/lib/kubelet/pod-resources/kubelet.sock")
        );
        assert_eq!(
            options.pod_resources_socket,
            Path::new(multus_types::DEFAULT_POD_RESOURCES_SOCKET)
        );
        assert_eq!(
            options.checkpoint,
            Path::new(multus_types::DEFAULT_DEVICE_CHECKPOINT)
        );
        assert_eq!(options.dra_timeout, Duration::from_secs(20));
    }

    #[test]
    fn device_id_goes_into_every_plugin() {
        let mut single = json!({"type":"sriov","name":"n"});
        write_device_id(single.as_object_mut().unwrap(), "0000:03:02.0");
        assert_eq!(
            single.to_string(),
            r#"{"type":"sriov","name":"n","deviceID":"0000:03:02.0","pciBusID":"0000:03:02.0"}"#
        );
        let mut list = json!({"name":"l","plugins":[{"type":"sriov"},{"type":"tuning"}]});
        write_device_id(list.as_object_mut().unwrap(), "x");
        assert_eq!(list["plugins"][1]["deviceID"], "x");
        assert_eq!(list["plugins"][0]["pciBusID"], "x");
        assert!(list.get("deviceID").is_none());
    }

    #[test]
    fn device_id_goes_into_a_loaded_delegate() {
        let mut single = DelegateConf::from_value(json!({"type":"sriov","name":"n"})).unwrap();
        write_delegate_device_id(&mut single, "0000:03:02.0").unwrap();
        assert_eq!(
            Value::Object(single.as_map().clone()).to_string(),
            r#"{"type":"sriov","name":"n","deviceID":"0000:03:02.0","pciBusID":"0000:03:02.0"}"#
        );
        let mut list = DelegateConf::from_value(
            json!({"cniVersion":"0.4.0","name":"l","plugins":[{"type":"sriov"},{"type":"tuning"}]}),
        )
        .unwrap();
        write_delegate_device_id(&mut list, "x").unwrap();
        let DelegateConf::List(l) = &list else {
            panic!("{list:?}")
        };
        // The parsed plugins follow the object.
        assert_eq!(l.plugins()[1].as_map()["deviceID"], "x");
        assert_eq!(l.as_map()["plugins"][0]["pciBusID"], "x");
        assert!(l.as_map().get("deviceID").is_none());
        assert_eq!(l.cni_version_str(), "0.4.0");
    }

    #[test]
    fn sources() {
        let map = ResourceMap::from([("r".to_owned(), vec!["1".to_owned()])]);
        assert_eq!(block_on(map.resource_map()).unwrap(), map);
        let calls = std::sync::atomic::AtomicUsize::new(0);
        let count = || calls.load(std::sync::atomic::Ordering::Relaxed);
        let lazy = || {
            calls.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
            Ok(ResourceMap::new())
        };
        let source: &dyn DeviceSource = &lazy;
        assert_eq!(count(), 0);
        let read = source.resource_map();
        assert_eq!(count(), 1);
        assert!(block_on(read).unwrap().is_empty());
        assert!(source.take_warnings().is_empty());
    }
}
