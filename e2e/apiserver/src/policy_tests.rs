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
    let kilo = |v: &str| {
        node(
            "n2",
            json!({"kilo.squat.ai/key": v, "other/x": "1"}),
            json!({"role": "edge"}),
        )
    };
    let own_only = "kg on n1 may only update its own Node, not UPDATE n2";
    let cases: Vec<(Admission, &str)> = vec![
        (
            update(KG, Some("n1"), "n2", base("n2"), kilo("evil")),
            own_only,
        ),
        (
            update(KG, None, "n1", base("n1"), base("n1")),
            "kg's token is not bound to a Node (no authentication.kubernetes.io/node-name)",
        ),
        (
            update(
                KG,
                Some("n1"),
                "n1",
                base("n1"),
                node(
                    "n1",
                    json!({"kilo.squat.ai/key": "a", "other/x": "2"}),
                    json!({"role": "edge"}),
                ),
            ),
            "kg may only change kilo.squat.ai/* annotations",
        ),
        (
            update(
                KG,
                Some("n1"),
                "n1",
                base("n1"),
                node(
                    "n1",
                    json!({"kilo.squat.ai/key": "a"}),
                    json!({"role": "edge"}),
                ),
            ),
            "kg may only change kilo.squat.ai/* annotations",
        ),
        (
            update(
                KG,
                Some("n1"),
                "n1",
                base("n1"),
                node(
                    "n1",
                    json!({"kilo.squat.ai/key": "a", "other/x": "1", "new/y": "z"}),
                    json!({"role": "edge"}),
                ),
            ),
            "kg may only change kilo.squat.ai/* annotations",
        ),
        (
            update(
                KG,
                Some("n1"),
                "n1",
                base("n1"),
                node(
                    "n1",
                    json!({"kilo.squat.ai/key": "a", "other/x": "1"}),
                    json!({"role": "core"}),
                ),
            ),
            "kg may only change kilo.squat.ai/* annotations",
        ),
        (
            Admission {
                request: request(KG, Some("n1"), "UPDATE", "n1", "status"),
                object: base("n1"),
                old_object: base("n1"),
            },
            "kg on n1 may only update its own Node, not UPDATE n1/status",
        ),
        (
            Admission {
                request: request(KG, Some("n1"), "DELETE", "n2", ""),
                object: Value::Null,
                old_object: base("n2"),
            },
            "kg on n1 may only update its own Node, not DELETE n2",
        ),
        (
            Admission {
                request: request(KG, Some("n1"), "CREATE", "n9", ""),
                object: base("n9"),
                old_object: Value::Null,
            },
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
        Some("kg may only change kilo.squat.ai/* annotations")
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
