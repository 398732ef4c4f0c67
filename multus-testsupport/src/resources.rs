//! The resource types the stand-in API server knows, and Kubernetes `Status` objects.

use serde_json::{Value, json};

/// One kind of object the stand-in serves (a row of the API server's discovery).
#[derive(Debug)]
pub(crate) struct ResourceType {
    /// API group; empty for the core group.
    pub group: &'static str,
    /// API version inside the group.
    pub version: &'static str,
    /// Plural resource name, as in URLs.
    pub plural: &'static str,
    /// Singular resource name.
    pub singular: &'static str,
    /// Kind of one object.
    pub kind: &'static str,
    /// Whether objects live in a namespace.
    pub namespaced: bool,
    /// Whether the type has a `status` subresource (then the main resource ignores status).
    pub status_subresource: bool,
    /// kubectl short names.
    pub short_names: &'static [&'static str],
    /// The field selectors LIST accepts (others: 400 `field label not
    /// supported`); empty: any dotted path.
    pub field_labels: &'static [&'static str],
}

impl ResourceType {
    /// `apiVersion` of the objects: `v1` or `group/version`.
    pub fn api_version(&self) -> String {
        if self.group.is_empty() {
            self.version.to_string()
        } else {
            format!("{}/{}", self.group, self.version)
        }
    }

    /// The name used in API server messages: `pods`, `network-attachment-definitions.k8s.cni.cncf.io`.
    pub fn qualified(&self) -> String {
        if self.group.is_empty() {
            self.plural.to_string()
        } else {
            format!("{}.{}", self.plural, self.group)
        }
    }

    /// Kind of the list object.
    pub fn list_kind(&self) -> String {
        format!("{}List", self.kind)
    }
}

/// Core v1 Pods.
pub(crate) const PODS: ResourceType = ResourceType {
    group: "",
    version: "v1",
    plural: "pods",
    singular: "pod",
    kind: "Pod",
    namespaced: true,
    status_subresource: true,
    short_names: &["po"],
    field_labels: &[],
};

/// Core v1 Namespaces.
pub(crate) const NAMESPACES: ResourceType = ResourceType {
    group: "",
    version: "v1",
    plural: "namespaces",
    singular: "namespace",
    kind: "Namespace",
    namespaced: false,
    status_subresource: true,
    short_names: &["ns"],
    field_labels: &[],
};

/// Core v1 Events.
pub(crate) const CORE_EVENTS: ResourceType = ResourceType {
    group: "",
    version: "v1",
    plural: "events",
    singular: "event",
    kind: "Event",
    namespaced: true,
    status_subresource: false,
    short_names: &["ev"],
    field_labels: &[],
};

/// events.k8s.io/v1 Events.
pub(crate) const EVENTS: ResourceType = ResourceType {
    group: "events.k8s.io",
    version: "v1",
    plural: "events",
    singular: "event",
    kind: "Event",
    namespaced: true,
    status_subresource: false,
    short_names: &["ev"],
    field_labels: &[],
};

/// k8s.cni.cncf.io/v1 NetworkAttachmentDefinitions (a CRD without a status subresource).
pub(crate) const NADS: ResourceType = ResourceType {
    group: "k8s.cni.cncf.io",
    version: "v1",
    plural: "network-attachment-definitions",
    singular: "network-attachment-definition",
    kind: "NetworkAttachmentDefinition",
    namespaced: true,
    status_subresource: false,
    short_names: &["net-attach-def"],
    field_labels: &[],
};

/// resource.k8s.io/v1 ResourceClaims (DRA).
pub(crate) const RESOURCE_CLAIMS: ResourceType = ResourceType {
    group: "resource.k8s.io",
    version: "v1",
    plural: "resourceclaims",
    singular: "resourceclaim",
    kind: "ResourceClaim",
    namespaced: true,
    status_subresource: true,
    short_names: &[],
    field_labels: &["metadata.name", "metadata.namespace"],
};

/// resource.k8s.io/v1 ResourceSlices (DRA; cluster-scoped), with the field
/// selectors the real API server accepts for them.
pub(crate) const RESOURCE_SLICES: ResourceType = ResourceType {
    group: "resource.k8s.io",
    version: "v1",
    plural: "resourceslices",
    singular: "resourceslice",
    kind: "ResourceSlice",
    namespaced: false,
    status_subresource: false,
    short_names: &[],
    field_labels: &[
        "metadata.name",
        "spec.nodeName",
        "spec.driver",
        "spec.pool.name",
    ],
};

/// resource.k8s.io/v1 DeviceClasses (DRA; cluster-scoped).
pub(crate) const DEVICE_CLASSES: ResourceType = ResourceType {
    group: "resource.k8s.io",
    version: "v1",
    plural: "deviceclasses",
    singular: "deviceclass",
    kind: "DeviceClass",
    namespaced: false,
    status_subresource: false,
    short_names: &[],
    field_labels: &["metadata.name"],
};

/// Every type served, indexed by position in the store.
pub(crate) static TYPES: [&ResourceType; 8] = [
    &PODS,
    &NAMESPACES,
    &CORE_EVENTS,
    &EVENTS,
    &NADS,
    &RESOURCE_CLAIMS,
    &RESOURCE_SLICES,
    &DEVICE_CLASSES,
];

/// Index of a type in [`TYPES`].
pub(crate) type TypeId = usize;

/// Index of pods in [`TYPES`].
pub(crate) const POD_TYPE: TypeId = 0;
/// Index of namespaces in [`TYPES`].
pub(crate) const NAMESPACE_TYPE: TypeId = 1;
/// Index of core events in [`TYPES`].
pub(crate) const CORE_EVENT_TYPE: TypeId = 2;
/// Index of events.k8s.io events in [`TYPES`].
pub(crate) const EVENT_TYPE: TypeId = 3;
/// Index of NADs in [`TYPES`].
pub(crate) const NAD_TYPE: TypeId = 4;

/// The type served under `group`/`version` with this plural name.
pub(crate) fn by_plural(group: &str, version: &str, plural: &str) -> Option<TypeId> {
    TYPES
        .iter()
        .position(|t| t.group == group && t.version == version && t.plural == plural)
}

/// The type of an object with this `apiVersion` and `kind`.
pub(crate) fn by_kind(api_version: &str, kind: &str) -> Option<TypeId> {
    TYPES
        .iter()
        .position(|t| t.api_version() == api_version && t.kind == kind)
}

/// An API error, answered as a Kubernetes `Status` object.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct ApiError {
    /// HTTP status code.
    pub code: u16,
    /// `reason` field (`NotFound`, `Conflict`, ...).
    pub reason: &'static str,
    /// Human-readable message, worded as the real API server words it.
    pub message: String,
    /// `details` field, if any.
    pub details: Option<Value>,
}

impl ApiError {
    fn new(code: u16, reason: &'static str, message: impl Into<String>) -> Self {
        ApiError {
            code,
            reason,
            message: message.into(),
            details: None,
        }
    }

    fn with_details(mut self, t: &ResourceType, name: &str) -> Self {
        let mut details = json!({ "name": name });
        if !t.group.is_empty() {
            details["group"] = json!(t.group);
        }
        details["kind"] = json!(t.plural);
        self.details = Some(details);
        self
    }

    /// `<resource> "<name>" not found`.
    pub fn not_found(t: &ResourceType, name: &str) -> Self {
        Self::new(
            404,
            "NotFound",
            format!("{} \"{name}\" not found", t.qualified()),
        )
        .with_details(t, name)
    }

    /// The optimistic-concurrency conflict of an update with a stale resourceVersion.
    pub fn conflict(t: &ResourceType, name: &str) -> Self {
        Self::new(
            409,
            "Conflict",
            format!(
                "Operation cannot be fulfilled on {} \"{name}\": the object has been modified; \
                 please apply your changes to the latest version and try again",
                t.qualified()
            ),
        )
        .with_details(t, name)
    }

    /// A conflict with a custom explanation (UID preconditions).
    pub fn conflict_because(t: &ResourceType, name: &str, why: &str) -> Self {
        Self::new(
            409,
            "Conflict",
            format!(
                "Operation cannot be fulfilled on {} \"{name}\": {why}",
                t.qualified()
            ),
        )
        .with_details(t, name)
    }

    /// `<resource> "<name>" already exists`.
    pub fn already_exists(t: &ResourceType, name: &str) -> Self {
        Self::new(
            409,
            "AlreadyExists",
            format!("{} \"{name}\" already exists", t.qualified()),
        )
        .with_details(t, name)
    }

    /// 400 BadRequest.
    pub fn bad_request(message: impl Into<String>) -> Self {
        Self::new(400, "BadRequest", message)
    }

    /// 422 Invalid, for an object that fails validation.
    pub fn invalid(t: &ResourceType, name: &str, message: impl Into<String>) -> Self {
        Self::new(
            422,
            "Invalid",
            format!("{} \"{name}\" is invalid: {}", t.kind, message.into()),
        )
        .with_details(t, name)
    }

    /// 404 for a URL the server does not serve.
    pub fn no_route() -> Self {
        Self::new(
            404,
            "NotFound",
            "the server could not find the requested resource",
        )
    }

    /// 410 Expired: a watch from a resourceVersion older than the kept history.
    pub fn expired(message: impl Into<String>) -> Self {
        Self::new(410, "Expired", message)
    }

    /// 405 MethodNotAllowed.
    pub fn method_not_allowed(message: impl Into<String>) -> Self {
        Self::new(405, "MethodNotAllowed", message)
    }

    /// 415 UnsupportedMediaType.
    pub fn unsupported_media_type(content_type: &str) -> Self {
        Self::new(
            415,
            "UnsupportedMediaType",
            format!(
                "the body of the request was in an unknown format - accepted media types include: application/json-patch+json, application/merge-patch+json, application/apply-patch+yaml, application/strategic-merge-patch+json; got {content_type:?}"
            ),
        )
    }

    /// The error a fault injection answers with for this code.
    pub fn injected(code: u16, target: Option<(&ResourceType, &str)>) -> Self {
        match (code, target) {
            (409, Some((t, name))) => Self::conflict(t, name),
            (404, Some((t, name))) => Self::not_found(t, name),
            (409, None) => Self::new(
                409,
                "Conflict",
                "Operation cannot be fulfilled: the object has been modified; please apply your changes to the latest version and try again",
            ),
            (404, None) => Self::no_route(),
            (429, _) => {
                let mut e = Self::new(
                    429,
                    "TooManyRequests",
                    "Too many requests, please try again later.",
                );
                e.details = Some(json!({ "retryAfterSeconds": 1 }));
                e
            }
            (500, _) => Self::new(
                500,
                "InternalError",
                "Internal error occurred: injected by the stand-in API server",
            ),
            (503, _) => Self::new(
                503,
                "ServiceUnavailable",
                "the server is currently unable to handle the request",
            ),
            (504, _) => Self::new(
                504,
                "Timeout",
                "the server was unable to return a response in the time allotted, but may still be processing the request",
            ),
            (code, _) => Self::new(code, "", format!("injected fault: HTTP {code}")),
        }
    }

    /// The `Status` object the server answers.
    pub fn to_status(&self) -> Value {
        let mut status = json!({
            "kind": "Status",
            "apiVersion": "v1",
            "metadata": {},
            "status": "Failure",
            "message": self.message,
            "reason": self.reason,
        });
        if self.reason.is_empty()
            && let Some(map) = status.as_object_mut()
        {
            map.remove("reason");
        }
        if let Some(details) = &self.details {
            status["details"] = details.clone();
        }
        status["code"] = json!(self.code);
        status
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn conflict_status_is_worded_like_the_api_server() {
        let s = ApiError::conflict(&PODS, "x").to_status();
        assert_eq!(
            s,
            json!({"kind":"Status","apiVersion":"v1","metadata":{},"status":"Failure",
                "message":"Operation cannot be fulfilled on pods \"x\": the object has been modified; please apply your changes to the latest version and try again",
                "reason":"Conflict","details":{"name":"x","kind":"pods"},"code":409})
        );
    }

    #[test]
    fn nad_not_found_names_the_group() {
        let s = ApiError::not_found(&NADS, "macvlan-conf-3").to_status();
        assert_eq!(
            s["message"],
            "network-attachment-definitions.k8s.cni.cncf.io \"macvlan-conf-3\" not found"
        );
        assert_eq!(s["details"]["group"], "k8s.cni.cncf.io");
        assert_eq!(s["code"], 404);
    }

    #[test]
    fn lookups() {
        assert_eq!(by_plural("", "v1", "pods"), Some(POD_TYPE));
        assert_eq!(
            by_kind("k8s.cni.cncf.io/v1", "NetworkAttachmentDefinition"),
            Some(NAD_TYPE)
        );
        assert_eq!(by_kind("events.k8s.io/v1", "Event"), Some(EVENT_TYPE));
        assert_eq!(by_kind("v1", "Event"), Some(CORE_EVENT_TYPE));
        assert_eq!(by_kind("v1", "Namespace"), Some(NAMESPACE_TYPE));
        assert_eq!(by_kind("v1", "Secret"), None);
    }
}
