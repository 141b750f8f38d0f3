//! Translation of a k8s-openapi `Node` into a mesh [`Node`] plus the problems found in its
//! annotations. Pure.

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

/// Translates a Node. The error case is a Node without a valid name.
pub fn node_from_k8s(
    node: &K8sNode,
    topology_label: &str,
) -> Result<(Node, Vec<AnnotationProblem>), AnnotationProblem> {
    annotations::parse_node(&raw_node(node), topology_label)
}
