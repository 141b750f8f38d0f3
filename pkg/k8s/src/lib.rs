//! kilo-k8s: the Kubernetes side of kilo-rs. Pure translation between Kubernetes objects
//! (k8s-openapi `Node`, the `Peer` custom resource) and the mesh's types, the annotations kg
//! publishes for its own node, and (in the adapter modules) the watches and patches themselves.
//! k8s-openapi types stop here.

pub mod client;
pub mod cluster;
pub mod kube_cluster;
pub mod peer;
pub mod publish;
pub mod slim;
pub mod store;
pub mod translate;

pub use peer::{Peer, PeerRejection, PeerSpec, decode_dynamic_peer, decode_peer, mesh_peer};

/// The Node annotation that overrides kg's `--firewall-backend` on its node (`iptables` or
/// `nftables`); carried as written in [`cluster::NodeEntry::firewall_backend`].
pub const FIREWALL_BACKEND_ANNOTATION: &str = "kilo.squat.ai/firewall-backend";
pub use publish::{OwnFacts, own_annotations};
pub use slim::SlimNode;
pub use translate::{node_from_k8s, raw_node, slim_peer};
