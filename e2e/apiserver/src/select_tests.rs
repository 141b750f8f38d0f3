//! Unit tests of `select`.

use super::*;
use serde_json::json;

fn node() -> Value {
    json!({"metadata": {"name": "n1", "labels": {"role": "edge", "zone": "a"}}, "spec": {"podCIDR": "10.0.0.0/24"}})
}

#[test]
fn label_selectors() {
    for (sel, want) in [
        ("", true),
        ("role=edge", true),
        ("role==edge,zone=b", false),
        ("role!=core", true),
        ("zone in (a, b)", true),
        ("zone notin (a)", false),
        ("role", true),
        ("!missing", true),
        ("missing", false),
    ] {
        assert_eq!(
            Selector::labels(sel).map(|s| s.matches(&node())).ok(),
            Some(want),
            "{sel}"
        );
    }
}

#[test]
fn field_selectors() {
    assert!(Selector::fields("metadata.name=n1").is_ok_and(|s| s.matches(&node())));
    assert!(Selector::fields("metadata.name!=n1").is_ok_and(|s| !s.matches(&node())));
    assert!(Selector::fields("spec.podCIDR=10.0.0.0/24").is_ok_and(|s| s.matches(&node())));
    assert!(Selector::fields("metadata.namespace=").is_ok_and(|s| s.matches(&node())));
    assert!(Selector::fields("bogus").is_err());
}
