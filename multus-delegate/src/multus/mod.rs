//! The Multus layer: a pod's ordered attachment plan, run with rollback, and
//! the delegate cache that lets DEL work after the pod is gone.

mod plan;

pub use plan::Attachment;
