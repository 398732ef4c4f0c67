//! Device IDs for attachments whose NetworkAttachmentDefinition names a
//! device resource (`k8s.v1.cni.cncf.io/resourceName`).
//!
//! Where the devices come from (kubelet pod-resources, the device-plugin
//! checkpoint, DRA) is outside this crate: the caller passes a
//! [`ResourceMap`], resource name → device IDs allocated to the pod. Each
//! attachment of a resource takes the next unused ID of that resource, in
//! attachment order, IDs sorted lexicographically. This is upstream's
//! intended rule; upstream itself can hand the same device to two
//! defaultNetworks (its per-network map is shadowed), which is not
//! reproduced. Running out of IDs is not an error: the attachment simply
//! gets no device.

use std::collections::BTreeMap;

use serde_json::{Map, Value};

/// Resource name → device IDs allocated to the pod (order irrelevant).
pub type ResourceMap = BTreeMap<String, Vec<String>>;

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
    let set = |plugin: &mut Map<String, Value>| {
        plugin.insert("deviceID".into(), Value::String(device_id.to_owned()));
        plugin.insert("pciBusID".into(), Value::String(device_id.to_owned()));
    };
    if config.contains_key("type") {
        set(config);
    } else if let Some(Value::Array(plugins)) = config.get_mut("plugins") {
        plugins
            .iter_mut()
            .filter_map(Value::as_object_mut)
            .for_each(set);
    }
}

/// Where a delegate with a device writes its device-info file (the
/// `CNIDeviceInfoFile` capability argument); the runner's own definition.
pub use multus_delegate::multus::cni_device_info_path;

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

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
}
