//! Unit tests of `persist`.

use serde_json::json;

use super::*;
use crate::resources::find;
use crate::write::{PatchType, WriteCtx};

fn nodes() -> &'static crate::resources::ResourceDef {
    find("", "v1", "nodes").unwrap()
}

fn round_trip(store: &Store, records: &mut HashMap<Id, (u64, Vec<u8>)>) -> Store {
    let bytes = encode(&store.lock(), records).unwrap();
    let state: StateIn = serde_json::from_slice(&bytes).unwrap();
    restore(10, state, Path::new("state.json")).unwrap()
}

#[test]
fn a_restored_store_has_the_objects_and_expires_older_watches() {
    let store = Store::new(10);
    let n1 = store
        .create(
            nodes(),
            None,
            &json!({"metadata": {"name": "n1"}}),
            crate::write::WriteCtx::by("test"),
        )
        .unwrap();
    let event = json!({"metadata": {"name": "e1"}, "reason": "R"});
    let events = find("", "v1", "events").unwrap();
    store
        .create(
            events,
            Some("kube-system"),
            &event,
            crate::write::WriteCtx::by("test"),
        )
        .unwrap();
    let restored = round_trip(&store, &mut HashMap::new());
    assert_eq!(restored.get(nodes(), None, "n1").ok(), Some(n1.clone()));
    let e1 = restored.get(events, Some("kube-system"), "e1").unwrap();
    assert_eq!(e1["reason"], "R");
    let (namespaces, _) = restored.list(find("", "v1", "namespaces").unwrap(), None);
    assert_eq!(namespaces.len(), 4);
    let (_, rv) = restored.list(nodes(), None);
    assert_eq!(rv, store.list(nodes(), None).1);
    assert!(
        restored
            .subscribe(nodes(), Some(rv), false)
            .expired
            .is_none()
    );
    let n1_rv = object_rv(&n1).unwrap();
    let old = restored.subscribe(nodes(), Some(n1_rv), false);
    assert_eq!(old.expired.map(|e| e.code), Some(410));
    let n2 = restored
        .create(
            nodes(),
            None,
            &json!({"metadata": {"name": "n2"}}),
            crate::write::WriteCtx::by("test"),
        )
        .unwrap();
    assert_eq!(object_rv(&n2), Some(rv + 1));
}

#[test]
fn cached_records_follow_changes() {
    let store = Store::new(10);
    for name in ["n1", "n2"] {
        let node = json!({"metadata": {"name": name}});
        store
            .create(nodes(), None, &node, crate::write::WriteCtx::by("test"))
            .unwrap();
    }
    let mut records = HashMap::new();
    let first = encode(&store.lock(), &mut records).unwrap();
    assert_eq!(encode(&store.lock(), &mut records).unwrap(), first);
    let ctx = WriteCtx::by("test");
    let patch = br#"{"metadata": {"labels": {"a": "b"}}}"#;
    store
        .patch(nodes(), None, "n1", PatchType::Merge, patch, ctx)
        .unwrap();
    store.delete(nodes(), None, "n2").unwrap();
    let cached = encode(&store.lock(), &mut records).unwrap();
    assert_eq!(cached, encode(&store.lock(), &mut HashMap::new()).unwrap());
    let restored = round_trip(&store, &mut records);
    let n1 = restored.get(nodes(), None, "n1").unwrap();
    assert_eq!(n1["metadata"]["labels"]["a"], "b");
    assert!(restored.get(nodes(), None, "n2").is_err());
}
