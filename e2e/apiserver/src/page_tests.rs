//! Unit tests of `page`.

use super::*;
use serde_json::json;

fn nodes(names: &[&str]) -> Vec<Value> {
    names
        .iter()
        .map(|n| json!({"metadata": {"name": n}}))
        .collect()
}

#[test]
fn pages_follow_the_keys_and_keep_the_first_resource_version() {
    let all = nodes(&["a", "b", "c", "d", "e"]);
    let first = page(all.iter(), 40, Some("2"), None).unwrap();
    assert_eq!(
        first,
        Page {
            items: nodes(&["a", "b"]),
            rv: 40,
            next: Some(("40:/b".to_owned(), 3))
        }
    );
    // "b" deleted and "bb" added meanwhile, at a later resourceVersion
    let now = nodes(&["a", "bb", "c", "d", "e"]);
    let second = page(now.iter(), 44, Some("2"), Some("40:/b")).unwrap();
    assert_eq!(
        second,
        Page {
            items: nodes(&["bb", "c"]),
            rv: 40,
            next: Some(("40:/c".to_owned(), 2))
        }
    );
    let last = page(now.iter(), 44, Some("2"), Some("40:/c")).unwrap();
    assert_eq!(
        last,
        Page {
            items: nodes(&["d", "e"]),
            rv: 40,
            next: None
        }
    );
}

#[test]
fn no_limit_or_zero_is_everything_and_bad_parameters_are_400s() {
    let all = nodes(&["a", "b"]);
    for limit in [None, Some("0"), Some("2"), Some("500")] {
        assert_eq!(
            page(all.iter(), 7, limit, None).unwrap(),
            Page {
                items: all.clone(),
                rv: 7,
                next: None
            }
        );
    }
    for (limit, token) in [
        (Some("-1"), None),
        (Some("x"), None),
        (None, Some("nocolon")),
        (None, Some("x:/a")),
        (None, Some("3:a")),
    ] {
        assert_eq!(
            page(all.iter(), 7, limit, token).unwrap_err().code,
            400,
            "{limit:?} {token:?}"
        );
    }
}

#[test]
fn namespaced_keys_order_by_namespace_first() {
    // ("a", "z") < ("a-x", "a") as the store's keys order, though "a-x/a" < "a/z" as text
    let items = [
        json!({"metadata": {"namespace": "a", "name": "z"}}),
        json!({"metadata": {"namespace": "a-x", "name": "a"}}),
    ];
    let first = page(items.iter(), 3, Some("1"), None).unwrap();
    assert_eq!(first.next, Some(("3:a/z".to_owned(), 1)));
    let second = page(items.iter(), 3, Some("1"), Some("3:a/z")).unwrap();
    assert_eq!(
        second.items,
        vec![json!({"metadata": {"namespace": "a-x", "name": "a"}})]
    );
}
