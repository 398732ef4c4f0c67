//! Turning a pod and the multus config into the attachment plan: every
//! delegate the pod gets, in execution order, with interface names,
//! runtimeConfig, requests and device IDs — before anything runs.
//!
//! Order of the plan (upstream `multus.go` ADD and `k8sclient.go`):
//! 1. **delegates mode** (`delegates`, no `clusterNetwork`): the config's
//!    delegates, the first being the master. **clusterNetwork mode**: the
//!    clusterNetwork (master), then each of `defaultNetworks` unless the pod's
//!    namespace is one of `systemNamespaces` (and only when the pod is
//!    known).
//! 2. With a client and a pod: the `v1.multus-cni.io/default-network`
//!    annotation, if present, must name exactly one network; that NAD
//!    (namespace defaults to `multusNamespace`, no namespace isolation)
//!    **replaces** the master, and its `interface`, if any, overrides
//!    `CNI_IFNAME`; with a `resourceName` it gives the master a device (see
//!    below), the replaced master takes none.
//! 3. Then every element of `k8s.v1.cni.cncf.io/networks`, in order.
//! 4. The auxiliary chain (`auxiliaryCNIChainName`), last.
//!
//! Without a client (or NAD source, see [`resolve_with`]) only the config's
//! delegates are planned (annotations are not read); clusterNetwork mode
//! without one is an error.
//!
//! Everything is read and checked before the plan is returned: both
//! annotations are parsed and namespace isolation is checked for **every**
//! element before the first API read, and any failure (a missing NAD, a
//! broken config, an ECMP default-route request) fails the whole plan. The
//! only write is the best-effort `Warning NoNetworkFound` event.
//!
//! Device IDs: when some attachment's NAD names a resource
//! (`k8s.v1.cni.cncf.io/resourceName`), the request's
//! [`DeviceSource`] is asked once for the pod's devices (never otherwise),
//! and each such attachment, the master included, takes the next unused
//! device of its resource in plan order ([`crate::devices`]).
//!
//! Interface names and `runtimeConfig` follow the rules a `DEL` from the
//! delegate cache applies too — the same functions,
//! [`positional_ifname`] and [`delegate_runtime_config`] — so `ADD` and `DEL`
//! of an attachment agree: the `interface` request, else `CNI_IFNAME` for
//! the master, else `net<position>`; the runtime's `runtimeConfig` for every
//! delegate (its `CNIDeviceInfoFile` included, as upstream), a non-master's
//! requests on top, and the generated `CNIDeviceInfoFile` when there is a
//! `deviceID`.
//!
//! For a DEL without a delegate cache, upstream rebuilds the plan and, when
//! the pod's annotations cannot be resolved, still deletes the master and
//! the config's delegates: set
//! [`ResolveRequest::tolerate_annotation_errors`] for that.

use std::path::Path;

use k8s_openapi::api::core::v1::Pod;
use multus_annotations::{
    DEFAULT_NETWORK_ANNOTATION, NETWORKS_ANNOTATION, NetworkSelectionElement, default_route,
    parse_default_network, parse_networks,
};
use multus_delegate::multus::{
    Attachment, RuntimeRequests, delegate_runtime_config, positional_ifname,
};
use multus_types::{DelegateConf, K8sArgs, MultusConf, RuntimeConfig};
use serde_json::{Map, Value};

use crate::config_edits::{merge_cni_args, spec_config};
use crate::devices::{DeviceAllocator, DeviceSource, ResourceMap, write_delegate_device_id};
use crate::nad_source::NadSource;
use crate::{Error, confdir, events};

/// Everything the resolver needs to know about one CNI call.
#[derive(Clone)]
pub struct ResolveRequest<'a> {
    /// The multus config.
    pub conf: &'a MultusConf,
    /// `K8S_POD_NAMESPACE`.
    pub pod_namespace: &'a str,
    /// `K8S_POD_NAME`.
    pub pod_name: &'a str,
    /// The pod as read from the API (`None`: unknown, e.g. no client, or DEL
    /// of a pod that is gone: then only the master and the config's
    /// delegates are planned).
    pub pod: Option<&'a Pod>,
    /// `CNI_CONTAINERID` (for device-info file paths).
    pub container_id: &'a str,
    /// `CNI_IFNAME`: the master's interface name.
    pub ifname: &'a str,
    /// The runtime's `runtimeConfig` (normally the multus config's own).
    pub runtime_config: Option<&'a RuntimeConfig>,
    /// Where the devices allocated to the pod come from: asked at most once,
    /// and only when an attachment's NAD names a resource
    /// (`k8s.v1.cni.cncf.io/resourceName`). Default: no devices. `Sync`, so
    /// that resolving is `Send` and can run on a multi-thread runtime.
    pub devices: &'a (dyn DeviceSource + Sync),
    /// DEL without a delegate cache (upstream): when the pod's annotations
    /// cannot be resolved (parse error, isolation, missing NAD, ECMP), plan
    /// the master, the config's delegates and defaultNetworks anyway and
    /// report the problem in [`Plan::warnings`]. Default `false` (ADD: fail).
    pub tolerate_annotation_errors: bool,
}

static NO_RESOURCES: ResourceMap = ResourceMap::new();

impl std::fmt::Debug for ResolveRequest<'_> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ResolveRequest")
            .field("conf", &self.conf)
            .field("pod_namespace", &self.pod_namespace)
            .field("pod_name", &self.pod_name)
            .field("pod", &self.pod)
            .field("container_id", &self.container_id)
            .field("ifname", &self.ifname)
            .field("runtime_config", &self.runtime_config)
            .field("devices", &format_args!("dyn DeviceSource"))
            .field(
                "tolerate_annotation_errors",
                &self.tolerate_annotation_errors,
            )
            .finish()
    }
}

impl<'a> ResolveRequest<'a> {
    /// A request for the pod named in `k8s`, with the config's own
    /// `runtimeConfig`, no pod object and no devices.
    pub fn new(
        conf: &'a MultusConf,
        k8s: &'a K8sArgs,
        container_id: &'a str,
        ifname: &'a str,
    ) -> Self {
        Self {
            conf,
            pod_namespace: &k8s.pod_namespace,
            pod_name: &k8s.pod_name,
            pod: None,
            container_id,
            ifname,
            runtime_config: conf.runtime_config.as_ref(),
            devices: &NO_RESOURCES,
            tolerate_annotation_errors: false,
        }
    }

    /// With the pod read from the API.
    pub fn with_pod(mut self, pod: Option<&'a Pod>) -> Self {
        self.pod = pod;
        self
    }

    /// With [`ResolveRequest::tolerate_annotation_errors`] set (for DEL).
    pub fn tolerating_annotation_errors(mut self) -> Self {
        self.tolerate_annotation_errors = true;
        self
    }

    /// With the devices allocated to the pod, already known.
    pub fn with_resources(self, resources: &'a ResourceMap) -> Self {
        self.with_device_source(resources)
    }

    /// With the devices allocated to the pod read from `devices` only when
    /// needed (see [`ResolveRequest::devices`]).
    pub fn with_device_source(mut self, devices: &'a (dyn DeviceSource + Sync)) -> Self {
        self.devices = devices;
        self
    }

    fn pod_id(&self) -> String {
        format!("{}/{}", self.pod_namespace, self.pod_name)
    }
}

/// The resolved plan.
#[derive(Debug, Clone, PartialEq)]
pub struct Plan {
    /// The attachments in execution order; the first is the master.
    pub attachments: Vec<Attachment>,
    /// Things worth logging that did not stop the plan (a fallback taken, a
    /// device resource exhausted, the auxiliary chain skipped, an event that
    /// could not be recorded).
    pub warnings: Vec<String>,
}

/// Resolves the plan for one pod; see the module docs.
///
/// ```no_run
/// # async fn demo(client: kube::Client, pod: k8s_openapi::api::core::v1::Pod) -> Result<(), Box<dyn std::error::Error>> {
/// use multus_k8s::resolve::{resolve, ResolveRequest};
/// let conf = multus_types::MultusConf::from_bytes(br#"{"name":"multus","type":"multus",
///     "delegates":[{"cniVersion":"0.3.1","name":"flannel.1","type":"flannel"}]}"#)?;
/// let args = multus_types::CniArgs::parse("K8S_POD_NAMESPACE=default;K8S_POD_NAME=pod-case-01")?.k8s()?;
/// let request = ResolveRequest::new(&conf, &args, "3f1a...", "eth0").with_pod(Some(&pod));
/// let plan = resolve(Some(&client), &request).await?;
/// for a in &plan.attachments {
///     println!("{} {} master={}", a.ifname, a.status_name, a.master);
/// }
/// # Ok(()) }
/// ```
pub async fn resolve(
    client: Option<&kube::Client>,
    request: &ResolveRequest<'_>,
) -> Result<Plan, Error> {
    resolve_with(client, client, request).await
}

/// [`resolve`] with NADs read from `nads` (an informer cache, NADs in
/// memory, or the client itself; see [`NadSource`]); `events` records
/// `NoNetworkFound` when a NAD cannot be read (`None`: no event).
///
/// `nads` plays the part `client` plays in [`resolve`]: without it only
/// the config's delegates are planned.
///
/// ```
/// # async fn demo(pod: k8s_openapi::api::core::v1::Pod) -> Result<(), Box<dyn std::error::Error>> {
/// use multus_k8s::nad::NetworkAttachmentDefinition;
/// use multus_k8s::resolve::{resolve_with, ResolveRequest};
/// let conf = multus_types::MultusConf::from_bytes(br#"{"name":"multus","type":"multus",
///     "delegates":[{"cniVersion":"0.3.1","name":"flannel.1","type":"flannel"}]}"#)?;
/// let args = multus_types::CniArgs::parse("K8S_POD_NAMESPACE=default;K8S_POD_NAME=p")?.k8s()?;
/// let nads: Vec<NetworkAttachmentDefinition> = Vec::new();
/// let request = ResolveRequest::new(&conf, &args, "3f1a", "eth0").with_pod(Some(&pod));
/// let plan = resolve_with(Some(&nads), None, &request).await?;
/// # Ok(()) }
/// ```
pub async fn resolve_with<S: NadSource + Sync + ?Sized>(
    nads: Option<&S>,
    events: Option<&kube::Client>,
    request: &ResolveRequest<'_>,
) -> Result<Plan, Error> {
    let mut resolver = Resolver {
        nads,
        events,
        request,
        pod_id: request.pod_id(),
        warnings: Vec::new(),
    };
    let pending = resolver.pending().await?;
    let attachments = resolver.finish(pending).await?;
    Ok(Plan {
        attachments,
        warnings: resolver.warnings,
    })
}

/// A delegate before interface names, runtimeConfig and devices: loaded
/// once, with the `cni-args` request merged in; the device ID is written
/// into it by [`Resolver::finish`].
struct Pending {
    conf: DelegateConf,
    status_name: String,
    element: Option<NetworkSelectionElement>,
    resource_name: Option<String>,
}

struct Resolver<'a, S: ?Sized> {
    nads: Option<&'a S>,
    events: Option<&'a kube::Client>,
    request: &'a ResolveRequest<'a>,
    pod_id: String,
    warnings: Vec<String>,
}

/// The annotations of a pod, parsed and checked.
struct PodRequests {
    default_network: Option<NetworkSelectionElement>,
    networks: Vec<NetworkSelectionElement>,
}

impl<S: NadSource + Sync + ?Sized> Resolver<'_, S> {
    async fn pending(&mut self) -> Result<Vec<Pending>, Error> {
        let conf = self.request.conf;
        let requests = match (self.nads, self.request.pod) {
            (Some(_), Some(pod)) => self.tolerate(self.pod_requests(pod))?,
            _ => None,
        };

        let mut list = if conf.is_cluster_network_mode() {
            let Some(nads) = self.nads else {
                return Err(Error::NoKubernetesNorDelegates.in_pod(&self.pod_id, None));
            };
            self.cluster_networks(nads).await?
        } else {
            if conf.delegates.is_empty() {
                return Err(Error::NoKubernetesNorDelegates.in_pod(&self.pod_id, None));
            }
            conf.delegates
                .iter()
                .map(|d| Pending {
                    conf: d.clone(),
                    status_name: d.name().to_owned(),
                    element: None,
                    resource_name: None,
                })
                .collect()
        };

        if let (Some(nads), Some(requests)) = (self.nads, requests) {
            let resolved = self.annotation_delegates(nads, requests).await;
            if let Some((master, networks)) = self.tolerate(resolved)? {
                if let Some(master) = master {
                    match list.first_mut() {
                        Some(first) => *first = master,
                        None => list.push(master),
                    }
                }
                list.extend(networks);
            }
        }

        if !conf.auxiliary_cni_chain_name.is_empty()
            && let Some(aux) = self.auxiliary_chain()?
        {
            list.push(aux);
        }
        Ok(list)
    }

    /// The default-network NAD (the new master) and the networks NADs.
    async fn annotation_delegates(
        &mut self,
        nads: &S,
        requests: PodRequests,
    ) -> Result<(Option<Pending>, Vec<Pending>), Error> {
        let master = match requests.default_network {
            Some(element) => Some(self.kubernetes_delegate(nads, element).await?),
            None => None,
        };
        let mut networks = Vec::with_capacity(requests.networks.len());
        for element in requests.networks {
            networks.push(self.kubernetes_delegate(nads, element).await?);
        }
        Ok((master, networks))
    }

    /// `Ok(None)` with a warning instead of an error, when annotation errors
    /// are tolerated.
    fn tolerate<T>(&mut self, result: Result<T, Error>) -> Result<Option<T>, Error> {
        match result {
            Ok(v) => Ok(Some(v)),
            Err(e) if self.request.tolerate_annotation_errors => {
                self.warnings.push(format!("pod networks ignored: {e}"));
                Ok(None)
            }
            Err(e) => Err(e),
        }
    }

    /// Parses both annotations and checks namespace isolation, before any
    /// API read.
    fn pod_requests(&self, pod: &Pod) -> Result<PodRequests, Error> {
        let conf = self.request.conf;
        let annotations = pod.metadata.annotations.as_ref();
        let annotation = |key: &str| annotations.and_then(|a| a.get(key));
        let in_pod = |e: Error| e.in_pod(&self.pod_id, None);

        let default_network = annotation(DEFAULT_NETWORK_ANNOTATION)
            .map(|value| {
                parse_default_network(value, &conf.multus_namespace).map_err(|source| {
                    in_pod(Error::Annotation {
                        annotation: DEFAULT_NETWORK_ANNOTATION,
                        source,
                    })
                })
            })
            .transpose()?;
        let networks = match annotation(NETWORKS_ANNOTATION) {
            Some(value) => parse_networks(value, self.request.pod_namespace).map_err(|source| {
                in_pod(Error::Annotation {
                    annotation: NETWORKS_ANNOTATION,
                    source,
                })
            })?,
            None => Vec::new(),
        };
        if conf.namespace_isolation {
            let allowed = conf.effective_global_namespaces();
            for element in &networks {
                if element.namespace != self.request.pod_namespace
                    && !allowed.contains(&element.namespace)
                {
                    return Err(Error::NamespaceIsolation {
                        pod_namespace: self.request.pod_namespace.to_owned(),
                        target_namespace: element.namespace.clone(),
                        allowed,
                    }
                    .in_pod(&self.pod_id, Some(&network_label(element))));
                }
            }
        }
        Ok(PodRequests {
            default_network,
            networks,
        })
    }

    /// clusterNetwork, then defaultNetworks (not for system namespaces, and
    /// not without a pod).
    async fn cluster_networks(&mut self, nads: &S) -> Result<Vec<Pending>, Error> {
        let conf = self.request.conf;
        let master = self
            .net_delegate(nads, &conf.cluster_network)
            .await
            .map_err(|source| {
                Error::ClusterNetwork {
                    value: conf.cluster_network.clone(),
                    namespace: conf.multus_namespace.clone(),
                    source: Box::new(source),
                }
                .in_pod(&self.pod_id, Some(&conf.cluster_network))
            })?;
        let mut list = vec![master];
        let system = conf
            .system_namespaces
            .iter()
            .any(|ns| ns == self.request.pod_namespace);
        if self.request.pod.is_some() && !system {
            for value in &conf.default_networks {
                let delegate = self
                    .net_delegate(nads, value)
                    .await
                    .map_err(|e| e.in_pod(&self.pod_id, Some(value)))?;
                list.push(delegate);
            }
        }
        Ok(list)
    }

    /// A clusterNetwork/defaultNetworks value (upstream `getNetDelegate`):
    /// without `/`: the NAD `<multusNamespace>/<value>`, else a config named
    /// `<value>` in confDir; with `/`: a path (directory or file).
    async fn net_delegate(&mut self, nads: &S, value: &str) -> Result<Pending, Error> {
        let conf = self.request.conf;
        if value.contains('/') {
            return match confdir::load_path(Path::new(value))? {
                Some(found) => file_delegate(found.config),
                None => Err(Error::NetworkNotFound {
                    value: value.to_owned(),
                    tried: vec![
                        "no such file, or a directory without .conf/.conflist files".into(),
                    ],
                }),
            };
        }
        let element = NetworkSelectionElement::new(conf.multus_namespace.clone(), value);
        let nad_error = match self.nad_delegate(nads, element).await {
            Ok(pending) => return Ok(pending),
            Err(e) => e,
        };
        match confdir::find_by_name(Path::new(&conf.conf_dir), value) {
            Ok(found) => {
                self.warnings.push(format!(
                    "network {value}: {nad_error}; using {} instead",
                    found.path.display()
                ));
                file_delegate(found.config)
            }
            Err(file_error) => {
                if let Error::NadGet { .. } = nad_error {
                    self.record_no_network_found(&nad_error).await;
                }
                Err(Error::NetworkNotFound {
                    value: value.to_owned(),
                    tried: vec![nad_error.to_string(), file_error.to_string()],
                })
            }
        }
    }

    /// A NAD from an annotation: read it (recording `NoNetworkFound` when it
    /// cannot be read) and load its config.
    async fn kubernetes_delegate(
        &mut self,
        nads: &S,
        element: NetworkSelectionElement,
    ) -> Result<Pending, Error> {
        let label = network_label(&element);
        match self.nad_delegate(nads, element).await {
            Ok(pending) => Ok(pending),
            Err(e) => {
                if let Error::NadGet { .. } = e {
                    self.record_no_network_found(&e).await;
                }
                Err(e.in_pod(&self.pod_id, Some(&label)))
            }
        }
    }

    /// Upstream `getKubernetesDelegate` without the event.
    async fn nad_delegate(
        &mut self,
        nads: &S,
        element: NetworkSelectionElement,
    ) -> Result<Pending, Error> {
        let nad = nads.nad(&element.namespace, &element.name).await?;
        let config = if nad.config().is_empty() {
            confdir::find_by_name(Path::new(&self.request.conf.conf_dir), &element.name)?.config
        } else {
            spec_config(nad.config(), &element.name)?
        };
        Ok(Pending {
            conf: load_delegate(config, element.cni_args.as_ref())?,
            status_name: format!("{}/{}", element.namespace, element.name),
            resource_name: nad.resource_name().map(str::to_owned),
            element: Some(element),
        })
    }

    async fn record_no_network_found(&mut self, error: &Error) {
        let (Some(client), Some(pod)) = (self.events, self.request.pod) else {
            return;
        };
        let Error::NadGet {
            namespace,
            name,
            reason,
            ..
        } = error
        else {
            return;
        };
        let message = format!(
            "cannot find a network-attachment-definition ({name}) in namespace ({namespace}): {reason}"
        );
        if let Err(e) = events::no_network_found(client, pod, &message).await {
            self.warnings.push(e.to_string());
        }
    }

    /// The auxiliary chain; load problems only skip it, as upstream.
    fn auxiliary_chain(&mut self) -> Result<Option<Pending>, Error> {
        let conf = self.request.conf;
        let name = &conf.auxiliary_cni_chain_name;
        if !conf.cluster_network.contains('/') {
            return Err(Error::AuxiliaryChainNotPath {
                value: conf.cluster_network.clone(),
            }
            .in_pod(&self.pod_id, Some(name)));
        }
        match confdir::auxiliary_chain(Path::new(&conf.cluster_network), name, &conf.cni_version) {
            Ok(Some(config)) => Ok(Some(Pending {
                conf: load_delegate(config, None)
                    .map_err(|e| e.in_pod(&self.pod_id, Some(name)))?,
                status_name: name.clone(),
                element: None,
                resource_name: None,
            })),
            Ok(None) => {
                self.warnings.push(format!(
                    "auxiliary CNI chain {name}: no plugins found, not added"
                ));
                Ok(None)
            }
            Err(e) => {
                self.warnings
                    .push(format!("auxiliary CNI chain {name} skipped: {e}"));
                Ok(None)
            }
        }
    }

    /// Interface names, runtimeConfig, devices and default-route flags.
    async fn finish(&mut self, list: Vec<Pending>) -> Result<Vec<Attachment>, Error> {
        let request = self.request;
        let filters = default_route::gateway_filters(list.iter().map(|p| {
            p.element
                .as_ref()
                .and_then(NetworkSelectionElement::gateway_request)
        }))
        .map_err(|e| Error::Ecmp(e).in_pod(&self.pod_id, None));
        let filters = self.tolerate(filters)?.flatten();
        let mut devices = self.device_allocator(&list).await?;
        let base = request.runtime_config.cloned().unwrap_or_default();

        let mut attachments = Vec::with_capacity(list.len());
        for (index, pending) in list.into_iter().enumerate() {
            let Pending {
                mut conf,
                status_name,
                element,
                resource_name,
            } = pending;
            let master = index == 0;
            let element = element.unwrap_or_default();
            let ifname = if element.interface.is_empty() {
                positional_ifname(index, request.ifname)
            } else {
                element.interface.clone()
            };

            let mut device_id = String::new();
            let mut device_resource = String::new();
            if let Some(resource) = resource_name {
                match devices.next(&resource) {
                    Some(id) => {
                        write_delegate_device_id(&mut conf, &id).map_err(|source| {
                            Error::DelegateLoad { source }.in_pod(&self.pod_id, Some(&status_name))
                        })?;
                        device_id = id;
                        device_resource = resource;
                    }
                    None => self.warnings.push(format!(
                        "network {status_name}: no unused device of resource {resource} is \
                         allocated to pod {}",
                        self.pod_id
                    )),
                }
            }
            if !element.device_id.is_empty() {
                if device_id.is_empty() {
                    device_id.clone_from(&element.device_id);
                } else {
                    self.warnings.push(format!(
                        "network {status_name}: deviceID {} of the annotation ignored, device \
                         {device_id} of resource {device_resource} used",
                        element.device_id
                    ));
                }
            }

            let requests = RuntimeRequests {
                port_mappings: element.port_mappings.as_deref(),
                bandwidth: element.bandwidth.as_ref(),
                ips: element.ips.as_deref(),
                mac: &element.mac,
                infiniband_guid: &element.infiniband_guid,
                device_id: &device_id,
            };
            let runtime_config = delegate_runtime_config(
                &base,
                &requests,
                master,
                &status_name,
                request.container_id,
                &ifname,
            );

            let filter = filters.as_ref().and_then(|f| f.get(index)).copied();
            attachments.push(Attachment {
                conf,
                ifname,
                status_name,
                master,
                runtime_config,
                mac_request: element.mac,
                ip_request: element.ips,
                infiniband_guid_request: element.infiniband_guid,
                default_route: element.default_route,
                filter_v4_gateway: filter.is_some_and(|f| f.filter_v4),
                filter_v6_gateway: filter.is_some_and(|f| f.filter_v6),
                device_id,
                resource_name: device_resource,
            });
        }
        Ok(attachments)
    }

    /// The pod's devices, asked of the request's [`DeviceSource`] only when
    /// some attachment names a resource (upstream builds its resource map
    /// only then).
    async fn device_allocator(&mut self, list: &[Pending]) -> Result<DeviceAllocator, Error> {
        let Some(first) = list.iter().find(|p| p.resource_name.is_some()) else {
            return Ok(DeviceAllocator::default());
        };
        let map = self
            .request
            .devices
            .resource_map()
            .await
            .map_err(|e| e.in_pod(&self.pod_id, Some(&first.status_name)))?;
        self.warnings.extend(self.request.devices.take_warnings());
        Ok(DeviceAllocator::new(&map))
    }
}

/// A delegate from a config file: its status name is its CNI name.
fn file_delegate(config: Map<String, Value>) -> Result<Pending, Error> {
    let conf = load_delegate(config, None)?;
    let status_name = conf.name().to_owned();
    Ok(Pending {
        conf,
        status_name,
        element: None,
        resource_name: None,
    })
}

/// Loads the config as a delegate (single plugin with `type`, else a list),
/// the one time it is parsed, with the `cni-args` request merged into it
/// first. A config that is no delegate is reported as such even when the
/// merge failed too (the merge only touches `args.cni`, which loading does
/// not look at).
fn load_delegate(
    mut config: Map<String, Value>,
    cni_args: Option<&Map<String, Value>>,
) -> Result<DelegateConf, Error> {
    let merged = cni_args.map_or(Ok(()), |args| merge_cni_args(&mut config, args));
    let conf = DelegateConf::from_value(Value::Object(config))
        .map_err(|source| Error::DelegateLoad { source })?;
    merged.map(|()| conf)
}

/// `namespace/name` of an element, for error context.
fn network_label(element: &NetworkSelectionElement) -> String {
    format!("{}/{}", element.namespace, element.name)
}
