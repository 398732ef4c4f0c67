//! Devices from Dynamic Resource Allocation (`resource.k8s.io/v1`), merged
//! into the pod's [`ResourceMap`] as upstream Multus does.
//!
//! For every `pod.status.resourceClaimStatuses` entry that names a claim,
//! the ResourceClaim is read; it must be allocated (else `claim <n> has no
//! device allocation`). Each allocated device is looked up in the
//! ResourceSlices of the pod's node and the device's driver (one LIST per
//! node + driver, field selectors `spec.nodeName` and `spec.driver`), and
//! its string attributes [`DEVICE_ID_ATTRIBUTE`] and
//! [`RESOURCE_NAME_ATTRIBUTE`] say which device ID goes to which resource
//! name. Devices without either attribute are skipped with a warning (a
//! claim may hold a GPU next to a NIC).
//!
//! Extended-resource claims (`pod.status.extendedResourceClaimStatus`, a
//! claim the scheduler made for a container's `resources` entry) are
//! stricter: every request mapping must have devices in the claim, and each
//! of them must carry both attributes with the resourceName the mapping
//! names; anything else fails.
//!
//! The whole walk has [`DRA_TIMEOUT`] (upstream's 20 s).

use std::collections::BTreeMap;
use std::time::Duration;

use k8s_openapi::api::core::v1::Pod;
use k8s_openapi::api::resource::v1::{
    AllocationResult, Device, DeviceRequestAllocationResult, ResourceClaim, ResourceSlice,
};
use kube::Api;
use kube::api::ListParams;

use crate::Error;
use crate::devices::ResourceMap;
use crate::error::describe_kube_error;
use crate::names::path_segment;

/// The device attribute holding the ID handed to the delegate (`deviceID`).
pub const DEVICE_ID_ATTRIBUTE: &str = "k8s.cni.cncf.io/deviceID";
/// The device attribute naming the resource a NAD's
/// `k8s.v1.cni.cncf.io/resourceName` must match.
pub const RESOURCE_NAME_ATTRIBUTE: &str = "k8s.cni.cncf.io/resourceName";
/// How long reading a pod's claims and slices may take altogether (upstream's value).
pub const DRA_TIMEOUT: Duration = Duration::from_secs(20);

/// What the DRA walk found.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct DraDevices {
    /// Resource name → device IDs, in claim and allocation order (not sorted).
    pub resources: ResourceMap,
    /// Devices skipped, and why.
    pub warnings: Vec<String>,
}

/// Whether the pod has anything for DRA to read (no API call otherwise).
pub fn has_claims(pod: &Pod) -> bool {
    pod.status.as_ref().is_some_and(|s| {
        s.resource_claim_statuses
            .iter()
            .flatten()
            .any(|c| c.resource_claim_name.is_some())
            || s.extended_resource_claim_status.is_some()
    })
}

/// The devices DRA allocated to `pod`, per resource name; see the module docs.
///
/// # Errors
/// [`Error::ClaimGet`], [`Error::ClaimNotAllocated`], [`Error::SliceList`],
/// [`Error::ExtendedResource`], or [`Error::DraTimeout`] after `timeout`.
pub async fn dra_devices(
    client: &kube::Client,
    pod: &Pod,
    timeout: Duration,
) -> Result<DraDevices, Error> {
    if !has_claims(pod) {
        return Ok(DraDevices::default());
    }
    let mut walk = Walk {
        client,
        namespace: pod.metadata.namespace.as_deref().unwrap_or_default(),
        node: pod
            .spec
            .as_ref()
            .and_then(|s| s.node_name.as_deref())
            .unwrap_or_default(),
        claims: BTreeMap::new(),
        slices: BTreeMap::new(),
        found: DraDevices::default(),
    };
    tokio::time::timeout(timeout, walk.run(pod))
        .await
        .map_err(|_| Error::DraTimeout { after: timeout })??;
    Ok(walk.found)
}

struct Walk<'a> {
    client: &'a kube::Client,
    namespace: &'a str,
    node: &'a str,
    /// Claims read so far, by name.
    claims: BTreeMap<String, ResourceClaim>,
    /// Slices listed so far, by driver (the node is always the pod's).
    slices: BTreeMap<String, Vec<ResourceSlice>>,
    found: DraDevices,
}

impl Walk<'_> {
    async fn run(&mut self, pod: &Pod) -> Result<(), Error> {
        let Some(status) = &pod.status else {
            return Ok(());
        };
        for entry in status.resource_claim_statuses.iter().flatten() {
            let Some(claim_name) = &entry.resource_claim_name else {
                continue;
            };
            for result in self.allocated(claim_name).await? {
                let Some(device) = self.device(&result).await? else {
                    self.found.warnings.push(format!(
                        "claim {claim_name}: device {}/{} of driver {} is in no ResourceSlice of \
                         node {:?}: skipped",
                        result.pool, result.device, result.driver, self.node
                    ));
                    continue;
                };
                match (
                    attribute(&device, DEVICE_ID_ATTRIBUTE),
                    attribute(&device, RESOURCE_NAME_ATTRIBUTE),
                ) {
                    (Some(id), Some(resource)) => self
                        .found
                        .resources
                        .entry(resource.to_owned())
                        .or_default()
                        .push(id.to_owned()),
                    _ => self.found.warnings.push(format!(
                        "claim {claim_name}: device {}/{} of driver {} lacks the string \
                         attribute {DEVICE_ID_ATTRIBUTE} or {RESOURCE_NAME_ATTRIBUTE}: skipped",
                        result.pool, result.device, result.driver
                    )),
                }
            }
        }
        if let Some(extended) = &status.extended_resource_claim_status {
            let claim = &extended.resource_claim_name;
            let results = self.allocated(claim).await?;
            for mapping in &extended.request_mappings {
                let mine: Vec<&DeviceRequestAllocationResult> = results
                    .iter()
                    .filter(|r| request_matches(&r.request, &mapping.request_name))
                    .collect();
                if mine.is_empty() {
                    return Err(Error::ExtendedResource {
                        claim: claim.clone(),
                        reason: format!(
                            "no device allocated for request {} (extended resource {} of \
                             container {})",
                            mapping.request_name, mapping.resource_name, mapping.container_name
                        ),
                    });
                }
                for result in mine {
                    let mismatch = |what: String| Error::ExtendedResource {
                        claim: claim.clone(),
                        reason: format!(
                            "device {}/{} of driver {} (request {}): {what}",
                            result.pool, result.device, result.driver, mapping.request_name
                        ),
                    };
                    let device = self.device(result).await?.ok_or_else(|| {
                        mismatch(format!("in no ResourceSlice of node {:?}", self.node))
                    })?;
                    let resource =
                        attribute(&device, RESOURCE_NAME_ATTRIBUTE).ok_or_else(|| {
                            mismatch(format!("no string attribute {RESOURCE_NAME_ATTRIBUTE}"))
                        })?;
                    if resource != mapping.resource_name {
                        return Err(mismatch(format!(
                            "attribute {RESOURCE_NAME_ATTRIBUTE} is {resource:?}, the request \
                             mapping expects {:?}",
                            mapping.resource_name
                        )));
                    }
                    let id = attribute(&device, DEVICE_ID_ATTRIBUTE).ok_or_else(|| {
                        mismatch(format!("no string attribute {DEVICE_ID_ATTRIBUTE}"))
                    })?;
                    self.found
                        .resources
                        .entry(mapping.resource_name.clone())
                        .or_default()
                        .push(id.to_owned());
                }
            }
        }
        Ok(())
    }

    /// The allocated devices of claim `name` (read once per walk).
    async fn allocated(&mut self, name: &str) -> Result<Vec<DeviceRequestAllocationResult>, Error> {
        if !self.claims.contains_key(name) {
            let claim = self.get_claim(name).await?;
            self.claims.insert(name.to_owned(), claim);
        }
        let allocation: Option<&AllocationResult> = self
            .claims
            .get(name)
            .and_then(|c| c.status.as_ref())
            .and_then(|s| s.allocation.as_ref());
        let Some(allocation) = allocation else {
            return Err(Error::ClaimNotAllocated {
                claim: name.to_owned(),
            });
        };
        Ok(allocation
            .devices
            .as_ref()
            .and_then(|d| d.results.clone())
            .unwrap_or_default())
    }

    async fn get_claim(&self, name: &str) -> Result<ResourceClaim, Error> {
        let failed = |reason: String| Error::ClaimGet {
            namespace: self.namespace.to_owned(),
            name: name.to_owned(),
            reason,
        };
        let ns = path_segment("namespace", self.namespace).map_err(|e| failed(e.to_string()))?;
        let segment = path_segment("name", name).map_err(|e| failed(e.to_string()))?;
        Api::<ResourceClaim>::namespaced(self.client.clone(), &ns)
            .get(&segment)
            .await
            .map_err(|e| failed(describe_kube_error(&e)))
    }

    /// The slice entry of an allocated device, from the slices of the pod's
    /// node and the device's driver (listed once per driver).
    async fn device(
        &mut self,
        result: &DeviceRequestAllocationResult,
    ) -> Result<Option<Device>, Error> {
        if !self.slices.contains_key(&result.driver) {
            let slices = self.list_slices(&result.driver).await?;
            self.slices.insert(result.driver.clone(), slices);
        }
        Ok(self
            .slices
            .get(&result.driver)
            .into_iter()
            .flatten()
            .filter(|s| s.spec.pool.name == result.pool)
            .flat_map(|s| s.spec.devices.iter().flatten())
            .find(|d| d.name == result.device)
            .cloned())
    }

    async fn list_slices(&self, driver: &str) -> Result<Vec<ResourceSlice>, Error> {
        let fields = format!(
            "spec.nodeName={},spec.driver={}",
            selector_value(self.node),
            selector_value(driver)
        );
        Api::<ResourceSlice>::all(self.client.clone())
            .list(&ListParams::default().fields(&fields))
            .await
            .map(|list| list.items)
            .map_err(|e| Error::SliceList {
                node: self.node.to_owned(),
                driver: driver.to_owned(),
                reason: describe_kube_error(&e),
            })
    }
}

/// A string attribute of a device.
fn attribute<'d>(device: &'d Device, name: &str) -> Option<&'d str> {
    device.attributes.as_ref()?.get(name)?.string.as_deref()
}

/// Whether an allocation result answers `request` (directly, or through one
/// of its subrequests, `request/subrequest`).
fn request_matches(result_request: &str, request: &str) -> bool {
    result_request == request
        || result_request
            .strip_prefix(request)
            .is_some_and(|rest| rest.starts_with('/'))
}

/// A field-selector value with `\`, `,` and `=` escaped, as the API server reads them.
fn selector_value(value: &str) -> String {
    let mut out = String::with_capacity(value.len());
    for c in value.chars() {
        if matches!(c, '\\' | ',' | '=') {
            out.push('\\');
        }
        out.push(c);
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn selector_values_are_escaped() {
        assert_eq!(selector_value("node-1"), "node-1");
        assert_eq!(selector_value("a,b=c\\d"), "a\\,b\\=c\\\\d");
    }

    #[test]
    fn subrequests_answer_their_request() {
        assert!(request_matches("nic", "nic"));
        assert!(request_matches("nic/vf", "nic"));
        assert!(!request_matches("nic2", "nic"));
        assert!(!request_matches("gpu", "nic"));
    }

    #[test]
    fn claims_are_detected_without_a_call() {
        let pod: Pod = serde_json::from_value(serde_json::json!({
            "metadata": {"name": "p"},
            "status": {"resourceClaimStatuses": [{"name": "r"}]}
        }))
        .unwrap();
        // An entry without a claim name (no claim needed) reads nothing.
        assert!(!has_claims(&pod));
        let pod: Pod = serde_json::from_value(serde_json::json!({
            "metadata": {"name": "p"},
            "status": {"resourceClaimStatuses": [{"name": "r", "resourceClaimName": "p-r-x"}]}
        }))
        .unwrap();
        assert!(has_claims(&pod));
    }
}
