//! A small mutation fuzzer, on stable Rust, for the parsers that take input
//! from pod authors and node admins: the networks and default-network
//! annotations, network-status, the multus config, delegate configs and
//! conflists, CNI results of every version, `CNI_ARGS` and the kubeconfig.
//!
//! * [`targets`]: what each target runs and which invariants it checks;
//! * [`corpus`]: the committed seeds under `fuzz/corpus/<target>/`;
//! * [`mutate`]: the mutations (byte edits, chunk duplication, splicing,
//!   dictionary tokens);
//! * [`structured`]: JSON-aware mutations (edit one node, write it back);
//! * [`runner`]: replay, the fuzz loop under `catch_unwind`, crash artifacts;
//! * [`rng`]: the deterministic generator behind `--seed`.
//!
//! The `multus-fuzz` binary is the command line; `tests/smoke.rs` runs every
//! target briefly in `cargo test`. See `fuzz/README.md`.

#![cfg_attr(test, allow(clippy::unwrap_used, clippy::expect_used))]

pub mod corpus;
pub mod dict;
mod error;
pub mod mutate;
pub mod rng;
pub mod runner;
pub mod structured;
pub mod targets;

pub use error::Error;
