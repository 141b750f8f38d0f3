//! kilo-mesh: the pure core of kilo-rs. It owns the domain vocabulary, the parsing of every
//! `kilo.squat.ai/*` annotation value, the topology (segments, leaders, WireGuard IP allocation)
//! and the per-node *plans* (WireGuard, addresses/routes/rules, firewall, CNI config).
//!
//! No I/O happens here: no tokio, netlink, kube or process spawning. Adapters take a plan, diff it
//! against what they observe and apply the difference.

pub mod allocate;
pub mod annotations;
mod conflicts;
pub mod duration;
pub mod egress;
#[cfg(feature = "clap")]
pub mod flags;
pub mod guard;
pub mod health;
pub mod implementation;
pub(crate) mod index;
pub mod local;
pub mod node;
pub mod notice;
pub mod plan;
pub mod topology;
pub mod tunnel;
pub mod types;
pub mod views;

pub use node::{Node, Peer, Snapshot};
pub use plan::{NodePlan, Settings};
pub use topology::{Segment, Topology};
pub use types::{
    Endpoint, FirewallBackend, Granularity, Host, IfName, NodeName, WgKey, WireGuardBackend,
};
