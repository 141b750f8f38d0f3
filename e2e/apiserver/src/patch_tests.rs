//! Unit tests of `patch`.

use super::*;
use serde_json::json;

#[test]
fn merge_patch_rfc7386_examples() {
    let mut doc = json!({"a": "b", "c": {"d": "e", "f": "g"}});
    merge(&mut doc, &json!({"a": "z", "c": {"f": null}}));
    assert_eq!(doc, json!({"a": "z", "c": {"d": "e"}}));
    let mut doc = json!({"a": [1, 2]});
    merge(&mut doc, &json!({"a": [3]}));
    assert_eq!(doc, json!({"a": [3]}));
}

#[test]
fn json_patch_operations() {
    let mut doc = json!({"metadata": {"annotations": {"a/b": "1"}}, "list": [1, 2]});
    let ops = json!([
        {"op": "add", "path": "/metadata/annotations/c", "value": "2"},
        {"op": "remove", "path": "/metadata/annotations/a~1b"},
        {"op": "replace", "path": "/list/0", "value": 9},
        {"op": "add", "path": "/list/-", "value": 3},
        {"op": "copy", "from": "/list", "path": "/copy"},
        {"op": "move", "from": "/copy", "path": "/moved"},
        {"op": "test", "path": "/moved/2", "value": 3},
    ]);
    assert_eq!(json_patch(&mut doc, &ops), Ok(()));
    assert_eq!(
        doc,
        json!({"metadata": {"annotations": {"c": "2"}}, "list": [9, 2, 3], "moved": [9, 2, 3]})
    );
    let failing =
        json!([{"op": "add", "path": "/x", "value": 1}, {"op": "test", "path": "/x", "value": 2}]);
    assert!(json_patch(&mut doc, &failing).is_err());
    assert!(doc.get("x").is_none(), "a failed patch changes nothing");
}

#[test]
fn strategic_merge_on_metadata() {
    let mut doc = json!({"metadata": {"labels": {"a": "1", "b": "2"}}, "spec": {"taints": [{"key": "k"}], "podCIDRs": ["x", "y"]}});
    let patch = json!({
        "metadata": {"labels": {"a": null, "c": "3"}},
        "spec": {"$setElementOrder/taints": [], "taints": [{"key": "j"}], "$deleteFromPrimitiveList/podCIDRs": ["x"]}
    });
    strategic(&mut doc, &patch);
    assert_eq!(
        doc,
        json!({"metadata": {"labels": {"b": "2", "c": "3"}}, "spec": {"taints": [{"key": "j"}], "podCIDRs": ["y"]}})
    );
}
