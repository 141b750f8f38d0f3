//! Translation of a k8s-openapi `Node` into a mesh [`Node`] plus the problems found in its
//! annotations (kgctl's path; kg keeps [`crate::slim::SlimNode`]s), and the slimming of Peers as
//! they arrive (only what kg reads is kept).
//! Pure.

use k8s_openapi::api::core::v1::Node as K8sNode;
use k8s_openapi::apimachinery::pkg::apis::meta::v1::ObjectMeta;
use kilo_mesh::Node;
use kilo_mesh::annotations::{self, AnnotationProblem, RawNode};
use kube::api::DynamicObject;

/// Extracts the fields the mesh reads from a Kubernetes Node.
#[must_use]
pub fn raw_node(node: &K8sNode) -> RawNode {
    let meta = &node.metadata;
    let spec = node.spec.as_ref();
    let mut pod_cidrs: Vec<String> = spec.and_then(|s| s.pod_cidrs.clone()).unwrap_or_default();
    if pod_cidrs.is_empty() {
        pod_cidrs.extend(spec.and_then(|s| s.pod_cidr.clone()));
    }
    let internal_addresses = node
        .status
        .as_ref()
        .and_then(|s| s.addresses.as_ref())
        .map(|a| {
            a.iter()
                .filter(|a| a.type_ == "InternalIP")
                .map(|a| a.address.clone())
                .collect()
        })
        .unwrap_or_default();
    RawNode {
        name: meta.name.clone().unwrap_or_default(),
        annotations: meta.annotations.clone().unwrap_or_default(),
        labels: meta.labels.clone().unwrap_or_default(),
        pod_cidrs,
        internal_addresses,
    }
}

/// Drops everything of an untyped Peer that kg never reads, as it arrives from a watch: all
/// metadata but the name, uid and resourceVersion (a `last-applied-configuration` annotation
/// holds a second copy of the Peer), and every top-level field but `spec`.
pub fn slim_peer(peer: &mut DynamicObject) {
    let meta = std::mem::take(&mut peer.metadata);
    peer.metadata = ObjectMeta {
        name: meta.name,
        uid: meta.uid,
        resource_version: meta.resource_version,
        ..ObjectMeta::default()
    };
    if let serde_json::Value::Object(data) = &mut peer.data {
        data.retain(|k, _| k == "spec");
    }
}

/// Translates a Node. The error case is a Node without a valid name.
pub fn node_from_k8s(
    node: &K8sNode,
    topology_label: &str,
) -> Result<(Node, Vec<AnnotationProblem>), AnnotationProblem> {
    annotations::parse_node(&raw_node(node), topology_label)
}
