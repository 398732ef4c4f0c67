//! Run CNI plugins from Rust: the runtime side of the CNI specification,
//! as Go's `libcni` implements it.
//!
//! * [`find_in_path`]: locate a plugin binary by `type` in ordered bin dirs.
//! * [`PluginExec`]: run one plugin with the `CNI_*` environment, config on
//!   stdin, result or CNI error on stdout, a timeout that kills it.
//! * [`plugin_request`] and friends: the config each plugin receives
//!   (`name`/`cniVersion` injected, `runtimeConfig` filtered by capabilities,
//!   `prevResult`).
//! * [`CniConfig`]: whole networks — `ADD` with chaining, `DEL` in reverse,
//!   `CHECK`, `STATUS`, `GC`, validation and `VERSION` negotiation — with
//!   [`ResultCache`], libcni's on-disk result cache.
//!
//! Nothing here knows about Kubernetes or Multus: any CNI runtime can use it.
//! The [`multus`] module adds what Multus does with a pod's delegates (the
//! attachment plan, its runner with rollback, the delegate cache), still
//! without Kubernetes.
//!
//! ```no_run
//! use multus_delegate::{CniConfig, RuntimeConf};
//! use multus_types::NetConfList;
//!
//! fn main() -> Result<(), Box<dyn std::error::Error>> {
//!     let rt = tokio::runtime::Builder::new_current_thread().enable_all().build()?;
//!     let list = NetConfList::from_bytes(br#"{
//!         "cniVersion": "1.0.0", "name": "demo",
//!         "plugins": [{"type": "loopback"}]
//!     }"#)?;
//!     let cni = CniConfig::new(["/usr/lib/cni"]).with_cache_dir("/tmp/cni-cache");
//!     let attachment = RuntimeConf::new("demo-1", "/run/netns/demo", "lo");
//!     let result = rt.block_on(cni.add_network_list(&list, &attachment))?;
//!     println!("{}", result.to_json_string()?);
//!     rt.block_on(cni.del_network_list(&list, &attachment))?;
//!     Ok(())
//! }
//! ```

mod base64;
mod cache;
mod error;
mod exec;
mod find;
mod list;
pub mod multus;
mod request;
mod validate;
mod version;

pub use cache::{CACHE_KIND_V1, CacheEntry, DEFAULT_CACHE_DIR, ResultCache};
pub use error::Error;
pub use exec::{Command, PluginEnv, PluginExec, PluginOutput};
pub use find::{find_in_path, validate_plugin_type};
pub use list::CniConfig;
pub use request::{
    ATTACHMENTS_KEY_OLD, GcAttachment, RuntimeConf, VALID_ATTACHMENTS_KEY, gc_request,
    plugin_request, runtime_config, status_request,
};
pub use validate::{MAX_IFNAME_LEN, validate_container_id, validate_ifname, validate_network_name};
pub use version::{PluginInfo, list_with_version, negotiate, offered_versions};
