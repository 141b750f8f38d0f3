//! Translation of a k8s-openapi `Node` into a mesh [`Node`] plus the problems found in its
//! annotations, and the slimming of Nodes as they arrive (only what the mesh reads is kept).
//! Pure.

use k8s_openapi::api::core::v1::Node as K8sNode;
use kilo_mesh::Node;
use kilo_mesh::annotations::{self, AnnotationProblem, RawNode};

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

/// The annotation prefix of everything kg reads from a Node.
const KILO_PREFIX: &str = "kilo.squat.ai/";

/// Drops everything of a Node that the mesh never reads, as it arrives from a watch: managed
/// fields, other annotations (a `last-applied-configuration` can be most of a Node), owner
/// references, the whole status but the addresses, the spec but the pod CIDRs. What stays is
/// exactly what [`node_from_k8s`] and an Event's object reference use.
pub fn slim_node(node: &mut K8sNode) {
    let meta = &mut node.metadata;
    meta.managed_fields = None;
    meta.owner_references = None;
    meta.finalizers = None;
    if let Some(a) = meta.annotations.as_mut() {
        a.retain(|k, _| k.starts_with(KILO_PREFIX));
    }
    if let Some(spec) = node.spec.as_mut() {
        *spec = k8s_openapi::api::core::v1::NodeSpec {
            pod_cidr: spec.pod_cidr.take(),
            pod_cidrs: spec.pod_cidrs.take(),
            ..Default::default()
        };
    }
    if let Some(status) = node.status.as_mut() {
        *status = k8s_openapi::api::core::v1::NodeStatus {
            addresses: status.addresses.take(),
            ..Default::default()
        };
    }
}

/// Translates a Node. The error case is a Node without a valid name.
pub fn node_from_k8s(
    node: &K8sNode,
    topology_label: &str,
) -> Result<(Node, Vec<AnnotationProblem>), AnnotationProblem> {
    annotations::parse_node(&raw_node(node), topology_label)
}
