//! The thick plugin's config generator and manager (upstream's
//! `pkg/server/config`): write `<cniConfigDir>/00-multus.conf` pointing the
//! `multus-shim` at the node's primary CNI config, and keep it current.

pub mod gojson;
