//! Unit tests of `builtin`.

use serde_json::json;

use super::*;
use crate::resources::RESOURCES;

fn def(group: &str, kind: &str) -> &'static ResourceDef {
    RESOURCES
        .iter()
        .find(|r| r.group == group && r.kind == kind)
        .unwrap()
}

#[test]
fn a_node_with_unknown_fields() {
    let node = json!({
        "apiVersion": "v1", "kind": "Node",
        "metadata": {"name": "n1", "labels": {"any-key": "kept"}, "bogus": 1},
        "spec": {"podCIDR": "10.42.1.0/24", "podCIDRz": ["x"], "taints": [{"key": "k", "effect": "NoSchedule", "extra": true}]},
        "status": {"addresses": [{"type": "InternalIP", "address": "10.0.0.1"}]},
    });
    assert_eq!(
        unknown_fields(def("", "Node"), &node),
        Some(vec![
            "metadata.bogus".to_owned(),
            "spec.podCIDRz".to_owned(),
            "spec.taints[0].extra".to_owned(),
        ])
    );
}

#[test]
fn known_fields_nulls_and_empties_pass() {
    let node = json!({
        "apiVersion": "v1", "kind": "Node",
        "metadata": {"name": "n1", "annotations": {}, "ownerReferences": null},
        "spec": {"podCIDRs": ["10.42.1.0/24"], "providerID": null},
    });
    assert_eq!(unknown_fields(def("", "Node"), &node), Some(vec![]));
    let binding = json!({
        "apiVersion": "rbac.authorization.k8s.io/v1", "kind": "ClusterRoleBinding",
        "metadata": {"name": "kilo"},
        "roleRef": {"apiGroup": "rbac.authorization.k8s.io", "kind": "ClusterRole", "name": "kilo"},
        "subjects": [{"kind": "ServiceAccount", "name": "kilo", "namespace": "kube-system", "typo": 1}],
    });
    assert_eq!(
        unknown_fields(
            def("rbac.authorization.k8s.io", "ClusterRoleBinding"),
            &binding
        ),
        Some(vec!["subjects[0].typo".to_owned()])
    );
}

#[test]
fn custom_resources_are_not_decoded_here() {
    let crd = def("apiextensions.k8s.io", "CustomResourceDefinition");
    assert_eq!(unknown_fields(crd, &json!({})), None);
}
