//! Unit tests of [`LiveStore`]: watch events, a re-list in place, readiness.

use std::sync::Arc;
use std::time::Duration;

use k8s_openapi::api::core::v1::Node;
use k8s_openapi::apimachinery::pkg::apis::meta::v1::ObjectMeta;
use kube::runtime::watcher::Event;

use super::{Change, LiveStore};

fn node(name: &str, rv: &str) -> Node {
    Node {
        metadata: ObjectMeta {
            name: Some(name.to_owned()),
            resource_version: Some(rv.to_owned()),
            ..ObjectMeta::default()
        },
        ..Node::default()
    }
}

/// The (name, resourceVersion) pairs of the store, sorted.
fn contents(store: &LiveStore<Node>) -> Vec<(String, String)> {
    let mut v: Vec<_> = store
        .state()
        .iter()
        .map(|n| {
            (
                n.metadata.name.clone().unwrap_or_default(),
                n.metadata.resource_version.clone().unwrap_or_default(),
            )
        })
        .collect();
    v.sort();
    v
}

fn pairs(p: &[(&str, &str)]) -> Vec<(String, String)> {
    p.iter()
        .map(|(a, b)| ((*a).to_owned(), (*b).to_owned()))
        .collect()
}

fn list(store: &LiveStore<Node>, nodes: &[(&str, &str)]) {
    assert_eq!(store.apply(Event::Init), Change::Listing);
    for (n, rv) in nodes {
        assert_eq!(store.apply(Event::InitApply(node(n, rv))), Change::Listing);
    }
    assert_eq!(store.apply(Event::InitDone), Change::Objects);
}

#[test]
fn watch_events_add_replace_and_delete_by_name() {
    let store = LiveStore::new();
    list(&store, &[("a", "1"), ("b", "2")]);
    assert_eq!(store.apply(Event::Apply(node("c", "3"))), Change::Objects);
    assert_eq!(store.apply(Event::Apply(node("a", "4"))), Change::Objects);
    assert_eq!(store.apply(Event::Delete(node("b", "5"))), Change::Objects);
    assert_eq!(contents(&store), pairs(&[("a", "4"), ("c", "3")]));
    assert_eq!(store.len(), 2);
    assert_eq!(
        store
            .get("a")
            .and_then(|n| n.metadata.resource_version.clone()),
        Some("4".to_owned())
    );
    assert!(store.get("b").is_none());
}

#[test]
fn a_relist_replaces_what_it_names_and_drops_the_rest_at_its_end() {
    let store = LiveStore::new();
    list(&store, &[("a", "1"), ("b", "2"), ("c", "3")]);
    store.apply(Event::Init);
    store.apply(Event::InitApply(node("b", "7")));
    store.apply(Event::InitApply(node("d", "8")));
    // mid-list: every object is there, the listed ones already new, none dropped yet
    assert_eq!(
        contents(&store),
        pairs(&[("a", "1"), ("b", "7"), ("c", "3"), ("d", "8")])
    );
    store.apply(Event::InitDone);
    assert_eq!(contents(&store), pairs(&[("b", "7"), ("d", "8")]));
}

#[test]
fn an_empty_relist_empties_the_store() {
    let store = LiveStore::new();
    list(&store, &[("a", "1")]);
    list(&store, &[]);
    assert!(store.is_empty());
}

#[test]
fn objects_changed_between_lists_survive_only_if_listed_again() {
    let store = LiveStore::new();
    list(&store, &[("a", "1")]);
    store.apply(Event::Apply(node("z", "2")));
    list(&store, &[("a", "3")]);
    assert_eq!(contents(&store), pairs(&[("a", "3")]));
}

#[test]
fn a_listed_object_replaces_the_old_copy_at_once() {
    let store = LiveStore::new();
    list(&store, &[("a", "1")]);
    let old = store.get("a");
    let weak = old.as_ref().map(Arc::downgrade);
    drop(old);
    store.apply(Event::Init);
    store.apply(Event::InitApply(node("a", "2")));
    // the store held the only strong reference: the old copy is gone before the list ends
    assert!(weak.is_some_and(|w| w.upgrade().is_none()));
}

#[test]
fn an_object_without_a_name_is_ignored() {
    let store = LiveStore::new();
    list(&store, &[]);
    store.apply(Event::Apply(Node::default()));
    assert!(store.is_empty());
}

#[tokio::test]
async fn ready_only_after_the_first_list_is_done() {
    let store: LiveStore<Node> = LiveStore::new();
    store.apply(Event::Init);
    store.apply(Event::InitApply(node("a", "1")));
    assert!(!store.is_ready(), "ready before the list was done");
    store.apply(Event::InitDone);
    tokio::time::timeout(Duration::from_secs(10), store.wait_until_ready())
        .await
        .unwrap_or_else(|_| panic!("not ready after the list was done"));
    // a later re-list does not make it unready
    store.apply(Event::Init);
    assert!(store.is_ready());
    tokio::time::timeout(Duration::from_secs(10), store.wait_until_ready())
        .await
        .unwrap_or_else(|_| panic!("not ready during a re-list"));
}
