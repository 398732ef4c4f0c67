//! The Kubernetes side of Multus.
//!
//! * [`client`]: the API client from the config's `kubeconfig`, in-cluster,
//!   or none — rustls with ring, no automatic retries, upstream's timeouts.
//! * [`pod`]: reading the pod with upstream's bounded retry, "pod not
//!   found", and the UID check (ADD: error; DEL: proceed without the pod).
//! * [`nad`]: the NetworkAttachmentDefinition resource and its read.
//! * [`nad_source`]: where [`resolve_with`] reads NADs: the API (a GET per
//!   NAD), an informer cache (feature `runtime`), or NADs in memory.
//! * [`mod@resolve`]: the pod + config → [`multus_delegate::multus::Attachment`]
//!   plan: delegates vs clusterNetwork/defaultNetworks, the default-network
//!   and networks annotations, namespace isolation, NADs with or without
//!   `spec.config`, interface names, per-attachment runtimeConfig, cni-args,
//!   default-route flags, device IDs.
//! * [`confdir`]: configs on disk — search by network name in `confDir`,
//!   clusterNetwork paths, conflist sub-directory plugins, the auxiliary chain.
//! * [`devices`], [`dra`], [`config_edits`]: device IDs (kubelet's
//!   pod-resources API or the device-plugin checkpoint, then DRA) and config edits.
//! * [`status`]: the network-status annotation, written through
//!   `pods/status` with retry on conflict.
//! * [`events`]: `AddedInterface` and `NoNetworkFound` pod events.
//! * `informers` (feature `runtime`): the thick daemon's caches of this
//!   node's pods and of every NAD, and the pod lookup over them.
//!
//! The API is async (tokio); the thin plugin drives it from a current-thread
//! runtime.
//!
//! ```no_run
//! # async fn demo() -> Result<(), Box<dyn std::error::Error>> {
//! use multus_k8s::{client, pod, resolve};
//! use multus_types::{CniArgs, MultusConf};
//!
//! let conf = MultusConf::from_bytes(&std::fs::read("/etc/cni/net.d/00-multus.conf")?)?;
//! let args = CniArgs::parse("IgnoreUnknown=1;K8S_POD_NAMESPACE=default;K8S_POD_NAME=pod-case-01")?.k8s()?;
//! let client = client::client_for_conf(&conf).await?;
//! let pod = match &client {
//!     Some(c) => pod::lookup_pod(c, &args.pod_namespace, &args.pod_name, &args.pod_uid,
//!                                pod::PodRetry::THIN).await?.for_add()?,
//!     None => None,
//! };
//! let request = resolve::ResolveRequest::new(&conf, &args, "3f1a2b", "eth0").with_pod(pod.as_ref());
//! let plan = resolve::resolve(client.as_ref(), &request).await?;
//! for a in &plan.attachments {
//!     println!("{} <- {}", a.ifname, a.status_name);
//! }
//! # Ok(()) }
//! ```

#![cfg_attr(test, allow(clippy::unwrap_used, clippy::expect_used))]

mod error;

pub mod client;
pub mod confdir;
pub mod config_edits;
pub mod devices;
pub mod dra;
pub mod events;
#[cfg(feature = "runtime")]
pub mod informers;
pub mod nad;
pub mod nad_source;
pub mod names;
pub mod pod;
pub mod resolve;
pub mod status;

pub use error::Error;
pub use nad::NetworkAttachmentDefinition;
pub use nad_source::NadSource;
pub use pod::{PodLookup, PodRetry};
pub use resolve::{Plan, ResolveRequest, resolve, resolve_with};
pub use status::{StatusWrite, write_network_status};

/// The README's examples, compiled as doctests.
#[cfg(doctest)]
#[doc = include_str!("../README.md")]
struct ReadmeDoctests;
