//! The crate's one error type.

use std::path::PathBuf;

use multus_types::{ErrorCode, ToCniError};

/// Everything that can go wrong talking to Kubernetes or resolving a pod's
/// networks.
///
/// Where upstream Multus has a message for the same fault, the text starts
/// with upstream's wording (`getKubernetesDelegate: cannot find a
/// network-attachment-definition (x) in namespace (y): ...`), so log searches
/// and alerts keep working. Errors met while resolving one network of one pod
/// are wrapped in [`Error::InPod`], which appends `(pod <ns>/<name>, network
/// <which>)`.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// Context: the pod (and network) an inner error belongs to.
    #[error("{source} (pod {pod}{})", network.as_ref().map(|n| format!(", network {n}")).unwrap_or_default())]
    InPod {
        /// `<namespace>/<name>` of the pod.
        pod: String,
        /// The network being resolved, as the user named it, when there is one.
        network: Option<String>,
        /// What went wrong.
        source: Box<Error>,
    },

    /// The kubeconfig file could not be read or used.
    #[error("failed to load kubeconfig {}: {reason}", path.display())]
    Kubeconfig {
        /// The `kubeconfig` path of the multus config.
        path: PathBuf,
        /// The loader's message.
        reason: String,
    },

    /// The in-cluster configuration (service account) could not be used.
    #[error("failed to build the in-cluster Kubernetes config: {reason}")]
    InCluster {
        /// What is missing or wrong.
        reason: String,
    },

    /// The Kubernetes client could not be built from a valid config.
    #[error("failed to create the Kubernetes client for {server}: {reason}")]
    Client {
        /// The API server URL.
        server: String,
        /// The client library's message.
        reason: String,
    },

    /// A namespace or object name that cannot be used in an API path.
    #[error("invalid {what} {value:?}: {reason}")]
    InvalidName {
        /// `"namespace"` or `"name"` (of a pod or NetworkAttachmentDefinition).
        what: &'static str,
        /// The offending value.
        value: String,
        /// Why it is refused.
        reason: &'static str,
    },

    /// The pod could not be read (API unavailable, timeout, forbidden, ...).
    #[error("error waiting for pod: {reason}")]
    GetPod {
        /// The last error seen.
        reason: String,
    },

    /// The pod read from the API is not the pod the runtime asked about
    /// (deleted and re-created under the same name).
    #[error("expected pod UID {expected:?} but got {actual:?} from Kube API")]
    PodUidMismatch {
        /// `K8S_POD_UID` from the runtime.
        expected: String,
        /// The UID the API returned.
        actual: String,
    },

    /// A pod annotation that does not parse.
    #[error("{source} (annotation {annotation})")]
    Annotation {
        /// The annotation's name.
        annotation: &'static str,
        /// The parser's error.
        source: multus_annotations::Error,
    },

    /// A networks-annotation element refers to a namespace that namespace
    /// isolation forbids.
    #[error(
        "GetNetworkDelegates: namespace isolation enabled, annotation violates permission, \
         pod is in namespace {pod_namespace} but refers to target namespace {target_namespace} \
         (namespaces open to every pod: {})",
        format_list(allowed)
    )]
    NamespaceIsolation {
        /// The pod's namespace.
        pod_namespace: String,
        /// The namespace the element refers to.
        target_namespace: String,
        /// The effective `globalNamespaces`.
        allowed: Vec<String>,
    },

    /// The NetworkAttachmentDefinition could not be read.
    #[error(
        "getKubernetesDelegate: cannot find a network-attachment-definition ({name}) in namespace \
         ({namespace}): {reason}"
    )]
    NadGet {
        /// Namespace looked in.
        namespace: String,
        /// NetworkAttachmentDefinition name.
        name: String,
        /// The API's answer (`... not found`, connection refused, ...).
        reason: String,
        /// Whether the API said 404 Not Found.
        not_found: bool,
    },

    /// `spec.config` of a NetworkAttachmentDefinition is not a JSON object.
    #[error("failed to unmarshal Spec.Config: {reason}")]
    SpecConfig {
        /// The decoder's message.
        reason: String,
    },

    /// A network config (from a NetworkAttachmentDefinition or a file) that
    /// is not a valid delegate.
    #[error("failed to load the network config: {source}")]
    DelegateLoad {
        /// Why it is not valid.
        source: multus_types::Error,
    },

    /// The `cni-args` request cannot be merged into the config.
    #[error("cannot merge cni-args into the network config: {reason}")]
    CniArgs {
        /// What is in the way.
        reason: String,
    },

    /// A directory searched by network name holds no candidate files.
    #[error("No networks found in {}", dir.display())]
    NoNetworksInDir {
        /// The directory.
        dir: PathBuf,
    },

    /// No candidate file in a directory has the network name looked for.
    #[error("no network available in the name {name} in cni dir {}", dir.display())]
    NoNetworkNamed {
        /// The CNI network name looked for.
        name: String,
        /// The directory.
        dir: PathBuf,
    },

    /// A config file that does not load (this aborts a search by name, as upstream).
    #[error("Error loading CNI config file {}: {reason}", path.display())]
    ConfigFile {
        /// The file.
        path: PathBuf,
        /// Why it does not load.
        reason: String,
    },

    /// The clusterNetwork could not be resolved.
    #[error(
        "GetDefaultNetworks: failed to get clusterNetwork {value} in namespace {namespace}: {source}"
    )]
    ClusterNetwork {
        /// The `clusterNetwork` value.
        value: String,
        /// The `multusNamespace`.
        namespace: String,
        /// Why (every lookup that was tried).
        source: Box<Error>,
    },

    /// A clusterNetwork or defaultNetworks value found nowhere.
    #[error("getNetDelegate: cannot find network: {value}{}", format_tries(tried))]
    NetworkNotFound {
        /// The value.
        value: String,
        /// What each lookup answered, in the order tried.
        tried: Vec<String>,
    },

    /// clusterNetwork mode without a Kubernetes client.
    #[error("GetDefaultNetworks: must have either Kubernetes config or delegates")]
    NoKubernetesNorDelegates,

    /// The device-plugin checkpoint could not be read.
    #[error("failed to read the device-plugin checkpoint {}: {reason}", path.display())]
    DeviceCheckpoint {
        /// The checkpoint file.
        path: PathBuf,
        /// What was wrong.
        reason: String,
    },

    /// Kubelet's pod-resources socket is there but could not be asked (the
    /// checkpoint is read only when the socket is absent, as upstream).
    #[error("failed to get a ResourceClient instance: {source}")]
    PodResources {
        /// The gRPC client's error (socket, refusal, status, timeout).
        source: multus_podresources::Error,
    },

    /// A ResourceClaim of the pod could not be read.
    #[error("failed to get ResourceClaim {namespace}/{name}: {reason}")]
    ClaimGet {
        /// The pod's namespace.
        namespace: String,
        /// The claim's name.
        name: String,
        /// The API's answer.
        reason: String,
    },

    /// A ResourceClaim of the pod is not allocated (yet).
    #[error("claim {claim} has no device allocation")]
    ClaimNotAllocated {
        /// The claim's name.
        claim: String,
    },

    /// The ResourceSlices of a node and driver could not be listed.
    #[error("failed to list ResourceSlices of node {node:?} and driver {driver}: {reason}")]
    SliceList {
        /// `spec.nodeName` selected.
        node: String,
        /// `spec.driver` selected.
        driver: String,
        /// The API's answer.
        reason: String,
    },

    /// A device of an extended-resource claim does not carry the resource
    /// its request mapping names (or the claim has no device for the request).
    #[error("claim {claim}: {reason}")]
    ExtendedResource {
        /// The claim's name.
        claim: String,
        /// What does not match.
        reason: String,
    },

    /// Reading the pod's DRA devices took longer than allowed.
    #[error(
        "timed out after {after:?} reading the pod's DRA devices (ResourceClaims and ResourceSlices)"
    )]
    DraTimeout {
        /// The overall budget.
        after: std::time::Duration,
    },

    /// More than one default-route gateway of a family across the pod's networks.
    #[error("{0}")]
    Ecmp(multus_annotations::Error),

    /// `auxiliaryCNIChainName` needs `clusterNetwork` to be a path.
    #[error(
        "auxiliary chain used but ClusterNetwork must be a path, and it is not a path: {value}"
    )]
    AuxiliaryChainNotPath {
        /// The `clusterNetwork` value.
        value: String,
    },

    /// The network-status annotation could not be written.
    #[error("SetNetworkStatus: failed to update the pod {pod} in out of cluster comm: {reason}")]
    StatusWrite {
        /// `<namespace>/<name>`.
        pod: String,
        /// The last error.
        reason: String,
    },

    /// The pod to write network-status to is not the pod that was set up.
    #[error(
        "SetNetworkStatus: expected pod {pod} UID {expected:?} but got {actual:?} from Kube API"
    )]
    StatusUidMismatch {
        /// `<namespace>/<name>`.
        pod: String,
        /// `K8S_POD_UID` from the runtime.
        expected: String,
        /// The UID the API returned.
        actual: String,
    },

    /// An event could not be recorded.
    #[error("failed to record event {reason} for pod {pod}: {message}")]
    Event {
        /// `<namespace>/<name>`.
        pod: String,
        /// The event's reason (`AddedInterface`, `NoNetworkFound`).
        reason: String,
        /// The API's answer.
        message: String,
    },
}

impl Error {
    /// Wraps `self` with the pod and network it belongs to.
    pub(crate) fn in_pod(self, pod: &str, network: Option<&str>) -> Self {
        Self::InPod {
            pod: pod.to_owned(),
            network: network.map(str::to_owned),
            source: Box::new(self),
        }
    }

    /// Whether this is (or wraps) a NetworkAttachmentDefinition read that
    /// found no such NAD (the API's 404, or a name no API path can hold).
    pub fn is_nad_not_found(&self) -> bool {
        matches!(
            self.root(),
            Error::NadGet {
                not_found: true,
                ..
            }
        )
    }

    /// The innermost error (through [`Error::InPod`] and [`Error::ClusterNetwork`]).
    pub fn root(&self) -> &Error {
        match self {
            Self::InPod { source, .. } | Self::ClusterNetwork { source, .. } => source.root(),
            other => other,
        }
    }
}

impl ToCniError for Error {
    /// API availability problems map to 11 (try again later); configuration
    /// and annotation problems to 7 (invalid network config); annotations
    /// that do not parse keep their parser's code (6); a device-plugin
    /// checkpoint that cannot be read or parsed and a kubelet pod-resources
    /// socket that does not answer are 5 (I/O failure: node state, not the
    /// network config); DRA reads that fail or time out are 11, a claim
    /// without allocation or a device that does not match its extended
    /// resource is 7; the rest is 999.
    fn cni_code(&self) -> ErrorCode {
        match self {
            Self::InPod { source, .. } | Self::ClusterNetwork { source, .. } => source.cni_code(),
            Self::GetPod { .. }
            | Self::StatusWrite { .. }
            | Self::NadGet {
                not_found: false, ..
            } => ErrorCode::TryAgainLater,
            Self::Annotation { source, .. } | Self::Ecmp(source) => source.cni_code(),
            Self::Kubeconfig { .. }
            | Self::InCluster { .. }
            | Self::InvalidName { .. }
            | Self::NamespaceIsolation { .. }
            | Self::NadGet { .. }
            | Self::SpecConfig { .. }
            | Self::DelegateLoad { .. }
            | Self::CniArgs { .. }
            | Self::NoNetworksInDir { .. }
            | Self::NoNetworkNamed { .. }
            | Self::ConfigFile { .. }
            | Self::NetworkNotFound { .. }
            | Self::NoKubernetesNorDelegates
            | Self::AuxiliaryChainNotPath { .. } => ErrorCode::InvalidNetworkConfig,
            Self::ClaimGet { .. } | Self::SliceList { .. } | Self::DraTimeout { .. } => {
                ErrorCode::TryAgainLater
            }
            Self::ClaimNotAllocated { .. } | Self::ExtendedResource { .. } => {
                ErrorCode::InvalidNetworkConfig
            }
            Self::DeviceCheckpoint { .. } | Self::PodResources { .. } => ErrorCode::IoFailure,
            Self::Client { .. }
            | Self::PodUidMismatch { .. }
            | Self::StatusUidMismatch { .. }
            | Self::Event { .. } => ErrorCode::Internal,
        }
    }
}

fn format_list(items: &[String]) -> String {
    items
        .iter()
        .map(|s| format!("{s:?}"))
        .collect::<Vec<_>>()
        .join(", ")
}

fn format_tries(tried: &[String]) -> String {
    if tried.is_empty() {
        String::new()
    } else {
        format!(" ({})", tried.join("; "))
    }
}

/// A kube client error as one line: the API's own message for API errors
/// (`pods "x" not found`), else the error and its causes joined by `: `.
pub(crate) fn describe_kube_error(err: &kube::Error) -> String {
    match err {
        kube::Error::Api(status) => {
            if status.message.is_empty() {
                format!("{} ({})", status.reason, status.code)
            } else {
                status.message.clone()
            }
        }
        other => error_chain(other),
    }
}

/// An error and its `source()` chain, joined by `: `, without repeats.
pub(crate) fn error_chain(err: &dyn std::error::Error) -> String {
    let mut text = err.to_string();
    let mut source = err.source();
    while let Some(s) = source {
        let part = s.to_string();
        if !text.contains(&part) {
            text.push_str(": ");
            text.push_str(&part);
        }
        source = s.source();
    }
    text
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn in_pod_appends_context() {
        let e = Error::NadGet {
            namespace: "default".into(),
            name: "nope".into(),
            reason: "network-attachment-definitions.k8s.cni.cncf.io \"nope\" not found".into(),
            not_found: true,
        }
        .in_pod("default/p", Some("default/nope"));
        assert_eq!(
            e.to_string(),
            "getKubernetesDelegate: cannot find a network-attachment-definition (nope) in \
             namespace (default): network-attachment-definitions.k8s.cni.cncf.io \"nope\" not \
             found (pod default/p, network default/nope)"
        );
        assert_eq!(e.cni_code(), ErrorCode::InvalidNetworkConfig);
        assert!(matches!(e.root(), Error::NadGet { .. }));
    }

    #[test]
    fn isolation_text_starts_with_upstream_wording() {
        let e = Error::NamespaceIsolation {
            pod_namespace: "a".into(),
            target_namespace: "b".into(),
            allowed: vec!["default".into()],
        };
        assert!(e.to_string().starts_with(
            "GetNetworkDelegates: namespace isolation enabled, annotation violates permission, \
             pod is in namespace a but refers to target namespace b"
        ));
    }

    #[test]
    fn a_bad_device_checkpoint_is_an_io_failure() {
        let e = Error::DeviceCheckpoint {
            path: "/var/lib/kubelet/device-plugins/kubelet_internal_checkpoint".into(),
            reason: "expected value at line 1 column 1".into(),
        }
        .in_pod("default/p", Some("default/sriov"));
        assert_eq!(e.cni_code(), ErrorCode::IoFailure);
        assert_eq!(e.cni_code().code(), 5);
    }

    #[test]
    fn api_unavailability_is_try_again() {
        let e = Error::GetPod {
            reason: "connection refused".into(),
        };
        assert_eq!(e.cni_code(), ErrorCode::TryAgainLater);
        assert_eq!(e.to_string(), "error waiting for pod: connection refused");
    }
}
