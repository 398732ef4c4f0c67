//! Pod events, as upstream's event recorder writes them (core/v1 Events,
//! source and reporting component `multus`, the pod as involved object):
//!
//! * `Normal AddedInterface "Add <ifname> [<ip/prefix> ...] from <network>"`
//!   after each attachment whose result has interfaces or IPs;
//! * `Warning NoNetworkFound "cannot find a network-attachment-definition
//!   (<name>) in namespace (<ns>): <err>"` when a network cannot be found.
//!
//! Events are best effort: upstream records them asynchronously and never
//! fails an operation over them. The functions here return the error so the
//! caller can log it; each request is bounded by [`EVENT_TIMEOUT`].

use std::time::Duration;

use k8s_openapi::api::core::v1::{Event, EventSource, ObjectReference, Pod};
use k8s_openapi::apimachinery::pkg::apis::meta::v1::{ObjectMeta, Time};
use kube::Api;
use kube::api::PostParams;
use multus_types::result::v1;

use crate::Error;
use crate::error::describe_kube_error;

/// `source.component` and `reportingComponent` of every event.
pub const REPORTING_COMPONENT: &str = "multus";

/// Reason of the event recorded after an attachment was added.
pub const ADDED_INTERFACE: &str = "AddedInterface";

/// Reason of the event recorded when a network cannot be found.
pub const NO_NETWORK_FOUND: &str = "NoNetworkFound";

/// How long one event write may take.
pub const EVENT_TIMEOUT: Duration = Duration::from_secs(1);

/// Event type.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum EventType {
    /// `Normal`.
    Normal,
    /// `Warning`.
    Warning,
}

impl EventType {
    /// The API's spelling.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Normal => "Normal",
            Self::Warning => "Warning",
        }
    }
}

/// The text of the `AddedInterface` event: `Add <ifname> [<ip/prefix>
/// ...] from <network>` (Go's `%v` of the address list; without ` from
/// ...` when the network has no name).
///
/// ```
/// let result: multus_types::result::v1::Result = serde_json::from_str(r#"{"cniVersion":"1.0.0",
///     "ips":[{"address":"10.1.1.5/24"},{"address":"fd00::5/64"}]}"#).unwrap();
/// assert_eq!(
///     multus_k8s::events::added_interface_message("net1", &result, "default/macvlan-conf-1"),
///     "Add net1 [10.1.1.5/24 fd00::5/64] from default/macvlan-conf-1"
/// );
/// ```
pub fn added_interface_message(ifname: &str, result: &v1::Result, network: &str) -> String {
    let ips: Vec<String> = result.ips.iter().map(|ip| ip.address.to_string()).collect();
    let mut message = format!("Add {ifname} [{}]", ips.join(" "));
    if !network.is_empty() {
        message.push_str(" from ");
        message.push_str(network);
    }
    message
}

/// Records `Normal AddedInterface` for an attachment, if its result has
/// interfaces or IPs (else nothing is recorded).
pub async fn added_interface(
    client: &kube::Client,
    pod: &Pod,
    ifname: &str,
    result: &v1::Result,
    network: &str,
) -> Result<(), Error> {
    if result.interfaces.is_empty() && result.ips.is_empty() {
        return Ok(());
    }
    let message = added_interface_message(ifname, result, network);
    record(client, pod, EventType::Normal, ADDED_INTERFACE, &message).await
}

/// Records `Warning NoNetworkFound` with `message`.
pub async fn no_network_found(
    client: &kube::Client,
    pod: &Pod,
    message: &str,
) -> Result<(), Error> {
    record(client, pod, EventType::Warning, NO_NETWORK_FOUND, message).await
}

/// Records an event about `pod` (core/v1, in the pod's namespace).
pub async fn record(
    client: &kube::Client,
    pod: &Pod,
    event_type: EventType,
    reason: &str,
    message: &str,
) -> Result<(), Error> {
    let namespace = pod.metadata.namespace.clone().unwrap_or_default();
    let name = pod.metadata.name.clone().unwrap_or_default();
    let pod_id = format!("{namespace}/{name}");
    let failed = |message: String| Error::Event {
        pod: pod_id.clone(),
        reason: reason.to_owned(),
        message,
    };
    let ns_segment =
        crate::names::path_segment("namespace", &namespace).map_err(|e| failed(e.to_string()))?;
    let event = build_event(pod, event_type, reason, message);
    let api: Api<Event> = Api::namespaced(client.clone(), &ns_segment);
    match tokio::time::timeout(EVENT_TIMEOUT, api.create(&PostParams::default(), &event)).await {
        Ok(Ok(_)) => Ok(()),
        Ok(Err(e)) => Err(failed(describe_kube_error(&e))),
        Err(_) => Err(failed(format!(
            "timed out after {} ms",
            EVENT_TIMEOUT.as_millis()
        ))),
    }
}

/// The Event object client-go's recorder would create.
fn build_event(pod: &Pod, event_type: EventType, reason: &str, message: &str) -> Event {
    let now = k8s_openapi::jiff::Timestamp::now();
    let name = pod.metadata.name.clone().unwrap_or_default();
    Event {
        metadata: ObjectMeta {
            name: Some(format!("{name}.{:x}", now.as_nanosecond())),
            namespace: pod.metadata.namespace.clone(),
            ..ObjectMeta::default()
        },
        involved_object: ObjectReference {
            api_version: Some("v1".into()),
            kind: Some("Pod".into()),
            name: pod.metadata.name.clone(),
            namespace: pod.metadata.namespace.clone(),
            uid: pod.metadata.uid.clone(),
            resource_version: pod.metadata.resource_version.clone(),
            ..ObjectReference::default()
        },
        reason: Some(reason.to_owned()),
        message: Some(message.to_owned()),
        type_: Some(event_type.as_str().to_owned()),
        count: Some(1),
        first_timestamp: Some(Time(now)),
        last_timestamp: Some(Time(now)),
        source: Some(EventSource {
            component: Some(REPORTING_COMPONENT.to_owned()),
            host: None,
        }),
        reporting_component: Some(REPORTING_COMPONENT.to_owned()),
        ..Event::default()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn message_without_ips_or_network() {
        let result: v1::Result = serde_json::from_str(
            r#"{"cniVersion":"1.0.0","interfaces":[{"name":"net1","sandbox":"/x"}]}"#,
        )
        .unwrap();
        assert_eq!(added_interface_message("net1", &result, ""), "Add net1 []");
    }

    #[test]
    fn event_shape() {
        let pod: Pod = serde_json::from_str(
            r#"{"metadata":{"name":"p","namespace":"ns","uid":"u1","resourceVersion":"7"}}"#,
        )
        .unwrap();
        let e = build_event(&pod, EventType::Warning, NO_NETWORK_FOUND, "m");
        assert!(e.metadata.name.as_deref().unwrap().starts_with("p."));
        assert_eq!(e.involved_object.uid.as_deref(), Some("u1"));
        assert_eq!(e.involved_object.kind.as_deref(), Some("Pod"));
        assert_eq!(e.type_.as_deref(), Some("Warning"));
        assert_eq!(e.source.unwrap().component.as_deref(), Some("multus"));
    }
}
