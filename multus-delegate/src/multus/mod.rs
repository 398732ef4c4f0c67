//! The Multus layer: a pod's ordered attachment plan, run with rollback, and
//! the delegate cache that lets DEL work after the pod is gone.
//!
//! * [`Attachment`]: one delegate of a pod (built by a resolver such as
//!   `multus-k8s`), with the two rules a plan and its cached copy must agree
//!   on: [`positional_ifname`] and [`delegate_runtime_config`].
//! * [`Runner`]: `ADD` in order with hooks and rollback, `DEL` in reverse
//!   collecting every error, `CHECK`; the `CNI_ARGS`, capability arguments,
//!   plugin directories and result cache upstream Multus uses.
//! * [`DelegateCache`]: `<cniDir>/<containerID>` in upstream's JSON layout, so
//!   pods attached by Go Multus can be deleted by this crate and back.

mod delegate_cache;
mod plan;
mod runner;

pub use delegate_cache::{CachedPlan, DelegateCache};
pub use plan::{
    Attachment, DEVINFO_CNI_DIR, RuntimeRequests, cni_device_info_path, delegate_runtime_config,
    positional_ifname,
};
pub use runner::{AddHooks, AddOutcome, DelegateStep, PodContext, Runner};
