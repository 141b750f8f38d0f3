//! Unit tests of `fields`.

use super::*;

fn writer(manager: &str) -> Writer<'_> {
    Writer {
        manager,
        api_version: "v1",
        time: "2024-01-01T00:00:00Z",
    }
}

fn annotations(v: &Value) -> Value {
    v.pointer("/metadata/annotations")
        .cloned()
        .unwrap_or(Value::Null)
}

#[test]
fn a_manager_dropping_a_key_removes_only_its_own() {
    let mut own = Ownership::default();
    let base = json!({"apiVersion": "v1", "kind": "Node", "metadata": {"name": "n1"}});
    let a1 = json!({"metadata": {"annotations": {"a": "1", "shared": "x"}}});
    let obj = own
        .apply(&base, &a1, &writer("kg"), false)
        .unwrap_or_default();
    let b1 = json!({"metadata": {"annotations": {"b": "2", "shared": "x"}}});
    let obj = own
        .apply(&obj, &b1, &writer("other"), false)
        .unwrap_or_default();
    assert_eq!(
        annotations(&obj),
        json!({"a": "1", "b": "2", "shared": "x"})
    );
    let a2 = json!({"metadata": {"annotations": {}}});
    let obj = own
        .apply(&obj, &a2, &writer("kg"), false)
        .unwrap_or_default();
    assert_eq!(
        annotations(&obj),
        json!({"b": "2", "shared": "x"}),
        "shared key stays: other still owns it"
    );
    let b2 = json!({"metadata": {"labels": {"l": "v"}}});
    let obj = own
        .apply(&obj, &b2, &writer("other"), false)
        .unwrap_or_default();
    assert_eq!(
        annotations(&obj),
        Value::Null,
        "empty annotations are pruned"
    );
}

#[test]
fn conflicts_need_force_and_updates_take_ownership() {
    let mut own = Ownership::default();
    let base = json!({"metadata": {"name": "n1"}});
    let obj = own
        .apply(
            &base,
            &json!({"metadata": {"labels": {"k": "a"}}}),
            &writer("one"),
            false,
        )
        .unwrap_or_default();
    let err = own.apply(
        &obj,
        &json!({"metadata": {"labels": {"k": "b"}}}),
        &writer("two"),
        false,
    );
    assert_eq!(
        err,
        Err(vec![
            "conflict with \"one\": .metadata.labels.k".to_string()
        ])
    );
    let obj = own
        .apply(
            &obj,
            &json!({"metadata": {"labels": {"k": "b"}}}),
            &writer("two"),
            true,
        )
        .unwrap_or_default();
    // "one" lost k, so dropping it from its apply leaves k alone.
    let obj = own
        .apply(
            &obj,
            &json!({"metadata": {"labels": {"z": "1"}}}),
            &writer("one"),
            false,
        )
        .unwrap_or_default();
    assert_eq!(
        obj.pointer("/metadata/labels"),
        Some(&json!({"k": "b", "z": "1"}))
    );
    let mut edited = obj.clone();
    edited["metadata"]["labels"]["z"] = json!("2");
    own.record_update(Some(&obj), &edited, &writer("kubectl-label"));
    let obj = own
        .apply(&edited, &json!({"metadata": {}}), &writer("one"), false)
        .unwrap_or_default();
    assert_eq!(
        obj.pointer("/metadata/labels"),
        Some(&json!({"k": "b", "z": "2"}))
    );
    let managers: Vec<_> = own
        .render()
        .as_array()
        .into_iter()
        .flatten()
        .map(|e| e["manager"].clone())
        .collect();
    assert_eq!(managers, vec![json!("two"), json!("kubectl-label")]);
}
