//! What `kgctl` and kg's HTTP endpoints show, computed from a snapshot and its topology: `check`
//! findings, `status`, `showconf` configurations, the `connect` plan of a Peer host and the DOT
//! `graph`. Pure.

pub mod check;
pub mod connect;
pub mod graph;
pub mod showconf;
pub mod status;
