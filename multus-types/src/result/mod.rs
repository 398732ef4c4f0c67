//! CNI results of every version, and conversion between them.
//!
//! (Being completed: `v02`, `v04`, the version-tagged [`CniResult`] and libcni's conversions.)

pub mod v1;
