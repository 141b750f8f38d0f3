//! The shipped ValidatingAdmissionPolicy (manifests/kg-admission-policy.yaml) against sample
//! admission requests: kg's writes to its own Node's kilo annotations pass, everything else kg
//! could try is refused with the policy's message; other users are not concerned.

use serde_json::{Value, json};

use super::*;

fn policy() -> Value {
    let text = include_str!("../../../manifests/kg-admission-policy.yaml");
    let docs: Vec<Value> = serde_saphyr::from_multiple(text).unwrap();
    docs.into_iter()
        .find(|d| d["kind"] == "ValidatingAdmissionPolicy")
        .unwrap()
}

const KG: &str = "system:serviceaccount:kube-system:kilo";

fn node(name: &str, annotations: Value, labels: Value) -> Value {
    json!({"apiVersion": "v1", "kind": "Node", "metadata": {"name": name,
        "annotations": annotations, "labels": labels}, "spec": {"podCIDR": "10.4.0.0/24"}})
}

fn request(user: &str, bound_to: Option<&str>, op: &str, name: &str, sub: &str) -> Value {
    let mut extra = json!({});
    if let Some(n) = bound_to {
        extra["authentication.kubernetes.io/node-name"] = json!([n]);
    }
    json!({"operation": op, "name": name, "namespace": "", "subResource": sub,
        "resource": {"group": "", "version": "v1", "resource": "nodes"},
        "kind": {"group": "", "version": "v1", "kind": "Node"},
        "userInfo": {"username": user, "groups": ["system:authenticated"], "extra": extra}})
}

fn update(user: &str, bound_to: Option<&str>, name: &str, old: Value, new: Value) -> Admission {
    Admission {
        request: request(user, bound_to, "UPDATE", name, ""),
        object: new,
        old_object: old,
    }
}

/// kg bound to n1 updating n1 from `base("n1")` to a Node with these annotations and labels.
fn own(annotations: Value, labels: Value) -> Admission {
    update(
        KG,
        Some("n1"),
        "n1",
        base("n1"),
        node("n1", annotations, labels),
    )
}

/// kg bound to n1 making request `op` on `name`/`sub` with these objects.
fn by_kg(op: &str, name: &str, sub: &str, old: Value, new: Value) -> Admission {
    Admission {
        request: request(KG, Some("n1"), op, name, sub),
        object: new,
        old_object: old,
    }
}

fn base(name: &str) -> Value {
    node(
        name,
        json!({"kilo.squat.ai/key": "a", "other/x": "1"}),
        json!({"role": "edge"}),
    )
}

#[test]
fn kg_may_change_its_own_nodes_kilo_annotations() {
    let p = policy();
    let new = node(
        "n1",
        json!({"kilo.squat.ai/key": "b", "kilo.squat.ai/endpoint": "192.0.2.1:51820", "other/x": "1"}),
        json!({"role": "edge"}),
    );
    assert_eq!(
        denial(&p, &update(KG, Some("n1"), "n1", base("n1"), new)),
        None
    );
    let removed = node("n1", json!({"other/x": "1"}), json!({"role": "edge"}));
    assert_eq!(
        denial(&p, &update(KG, Some("n1"), "n1", base("n1"), removed)),
        None,
        "removing its own kilo annotations (clean-up)"
    );
}

#[test]
fn kg_is_refused_everything_else() {
    let p = policy();
    let evil = node(
        "n2",
        json!({"kilo.squat.ai/key": "evil", "other/x": "1"}),
        json!({"role": "edge"}),
    );
    let only_kilo = "kg may only change kilo.squat.ai/* annotations";
    let edge = || json!({"role": "edge"});
    let cases: Vec<(Admission, &str)> = vec![
        (
            update(KG, Some("n1"), "n2", base("n2"), evil),
            "kg on n1 may only update its own Node, not UPDATE n2",
        ),
        (
            update(KG, None, "n1", base("n1"), base("n1")),
            "kg's token is not bound to a Node (no authentication.kubernetes.io/node-name)",
        ),
        (
            own(json!({"kilo.squat.ai/key": "a", "other/x": "2"}), edge()),
            only_kilo,
        ),
        (own(json!({"kilo.squat.ai/key": "a"}), edge()), only_kilo),
        (
            own(
                json!({"kilo.squat.ai/key": "a", "other/x": "1", "new/y": "z"}),
                edge(),
            ),
            only_kilo,
        ),
        (
            own(
                json!({"kilo.squat.ai/key": "a", "other/x": "1"}),
                json!({"role": "core"}),
            ),
            only_kilo,
        ),
        (
            by_kg("UPDATE", "n1", "status", base("n1"), base("n1")),
            "kg on n1 may only update its own Node, not UPDATE n1/status",
        ),
        (
            by_kg("DELETE", "n2", "", base("n2"), Value::Null),
            "kg on n1 may only update its own Node, not DELETE n2",
        ),
        (
            by_kg("CREATE", "n9", "", Value::Null, base("n9")),
            "kg on n1 may only update its own Node, not CREATE n9",
        ),
    ];
    for (admission, want) in cases {
        assert_eq!(
            denial(&p, &admission).as_deref(),
            Some(want),
            "{:?}",
            admission.request
        );
    }
    let mut spec = base("n1");
    spec["spec"]["podCIDR"] = json!("10.9.0.0/24");
    assert_eq!(
        denial(&p, &update(KG, Some("n1"), "n1", base("n1"), spec)).as_deref(),
        Some(only_kilo)
    );
}

#[test]
fn other_users_and_resources_are_not_concerned() {
    let p = policy();
    let other = update(
        "kilo-test-admin",
        None,
        "n2",
        base("n2"),
        node("n2", json!({}), json!({})),
    );
    assert_eq!(denial(&p, &other), None);
    let mut peers = update(KG, Some("n1"), "p1", json!({}), json!({}));
    peers.request["resource"] =
        json!({"group": "kilo.squat.ai", "version": "v1alpha1", "resource": "peers"});
    assert_eq!(denial(&p, &peers), None);
}
