//! Drives the server with kube-rs: watchers, patches, server-side apply, errors, events.

use std::time::Duration;

use futures::StreamExt;
use k8s_openapi::api::core::v1::{Event as CoreEvent, Node, ObjectReference};
use kube::api::{
    Api, DynamicObject, GroupVersionKind, Patch, PatchParams, PostParams, WatchEvent, WatchParams,
};
use kube::discovery::ApiResource;
use kube::runtime::events::{Event, EventType, Recorder, Reporter};
use kube::runtime::watcher::{self, watcher};
use serde_json::json;
use tokio::sync::mpsc;
use tokio::time::timeout;

use crate::common::Server;

const DEADLINE: Duration = Duration::from_secs(30);

/// What the watcher saw, simplified.
#[derive(Debug, Clone, PartialEq)]
enum Seen {
    Init,
    InitDone,
    Apply(String, Option<String>),
    Delete(String),
    Error(String),
}

fn node(name: &str) -> Node {
    serde_json::from_value(json!({"apiVersion": "v1", "kind": "Node", "metadata": {"name": name}}))
        .unwrap()
}

/// Runs a raw node watcher in the background, reporting what it sees.
fn watch_nodes(api: Api<Node>) -> mpsc::UnboundedReceiver<Seen> {
    let (tx, rx) = mpsc::unbounded_channel();
    tokio::spawn(async move {
        let mut stream = watcher(api, watcher::Config::default()).boxed();
        while let Some(ev) = stream.next().await {
            let loc = |n: &Node| {
                n.metadata
                    .annotations
                    .as_ref()
                    .and_then(|a| a.get("kilo.squat.ai/location").cloned())
            };
            let seen = match ev {
                Ok(watcher::Event::Init) => Seen::Init,
                Ok(watcher::Event::InitDone) => Seen::InitDone,
                Ok(watcher::Event::InitApply(n) | watcher::Event::Apply(n)) => {
                    Seen::Apply(n.metadata.name.clone().unwrap_or_default(), loc(&n))
                }
                Ok(watcher::Event::Delete(n)) => Seen::Delete(n.metadata.name.unwrap_or_default()),
                Err(e) => Seen::Error(e.to_string()),
            };
            if tx.send(seen).is_err() {
                return;
            }
        }
    });
    rx
}

/// Waits (with a deadline) until the watcher reports `want`; returns everything seen before it.
async fn wait_for(rx: &mut mpsc::UnboundedReceiver<Seen>, want: &Seen) -> Vec<Seen> {
    let mut before = Vec::new();
    let found = timeout(DEADLINE, async {
        while let Some(seen) = rx.recv().await {
            if seen == *want {
                return true;
            }
            before.push(seen);
        }
        false
    })
    .await;
    assert_eq!(
        found,
        Ok(true),
        "watcher never reported {want:?}; saw {before:?}"
    );
    before
}

fn location(n: &Node) -> Option<&str> {
    n.metadata
        .annotations
        .as_ref()?
        .get("kilo.squat.ai/location")
        .map(String::as_str)
}

#[tokio::test]
async fn watcher_sees_changes_from_kubectl_and_the_api() {
    let s = Server::start(&[]);
    let nodes: Api<Node> = Api::all(s.client().await);
    nodes
        .create(&PostParams::default(), &node("n0"))
        .await
        .unwrap();
    let mut rx = watch_nodes(nodes.clone());
    wait_for(&mut rx, &Seen::InitDone).await;

    nodes
        .create(&PostParams::default(), &node("n1"))
        .await
        .unwrap();
    wait_for(&mut rx, &Seen::Apply("n1".into(), None)).await;
    s.kubectl_ok(&["annotate", "node", "n1", "kilo.squat.ai/location=kubectl"]);
    wait_for(&mut rx, &Seen::Apply("n1".into(), Some("kubectl".into()))).await;
    let patch = json!({"metadata": {"annotations": {"kilo.squat.ai/location": "api"}}});
    nodes
        .patch("n1", &PatchParams::default(), &Patch::Merge(&patch))
        .await
        .unwrap();
    wait_for(&mut rx, &Seen::Apply("n1".into(), Some("api".into()))).await;
    s.kubectl_ok(&["delete", "node", "n1"]);
    wait_for(&mut rx, &Seen::Delete("n1".into())).await;
}

#[tokio::test]
async fn server_side_apply_tracks_field_managers() {
    let s = Server::start(&[]);
    let nodes: Api<Node> = Api::all(s.client().await);
    let cfg = |annotations: serde_json::Value| json!({"apiVersion": "v1", "kind": "Node", "metadata": {"name": "n1", "annotations": annotations}});
    let kg = PatchParams::apply("kg");
    let n = nodes
        .patch(
            "n1",
            &kg,
            &Patch::Apply(cfg(
                json!({"kilo.squat.ai/key": "k", "kilo.squat.ai/endpoint": "e"}),
            )),
        )
        .await
        .unwrap();
    assert_eq!(n.metadata.uid.as_deref().map(str::len), Some(36));
    assert!(n.metadata.creation_timestamp.is_some());
    let other = PatchParams::apply("admin");
    nodes
        .patch(
            "n1",
            &other,
            &Patch::Apply(cfg(json!({"kilo.squat.ai/location": "x"}))),
        )
        .await
        .unwrap();

    // A conflicting value from another manager needs force.
    let err = nodes
        .patch(
            "n1",
            &other,
            &Patch::Apply(cfg(
                json!({"kilo.squat.ai/location": "x", "kilo.squat.ai/key": "stolen"}),
            )),
        )
        .await;
    assert!(
        matches!(&err, Err(kube::Error::Api(s)) if s.code == 409 && s.message.contains("conflict with \"kg\"")),
        "{err:?}"
    );

    // kg stops sending endpoint: it disappears; admin's location stays.
    let n = nodes
        .patch(
            "n1",
            &kg,
            &Patch::Apply(cfg(json!({"kilo.squat.ai/key": "k"}))),
        )
        .await
        .unwrap();
    let annotations = n.metadata.annotations.unwrap_or_default();
    assert_eq!(annotations.get("kilo.squat.ai/endpoint"), None);
    assert_eq!(
        annotations.get("kilo.squat.ai/key").map(String::as_str),
        Some("k")
    );
    assert_eq!(
        annotations
            .get("kilo.squat.ai/location")
            .map(String::as_str),
        Some("x")
    );
    let managers: Vec<_> = n
        .metadata
        .managed_fields
        .unwrap_or_default()
        .into_iter()
        .filter_map(|m| m.manager)
        .collect();
    assert_eq!(managers, vec!["kg".to_string(), "admin".to_string()]);

    // Merge, JSON and strategic patches on metadata.
    let pp = PatchParams::default();
    nodes
        .patch(
            "n1",
            &pp,
            &Patch::Merge(json!({"metadata": {"labels": {"a": "1"}}})),
        )
        .await
        .unwrap();
    // The json-patch type is inferred from `Patch::Json` (kube does not re-export the crate).
    let ops =
        serde_json::from_value(json!([{"op": "add", "path": "/metadata/labels/b", "value": "2"}]))
            .unwrap();
    nodes
        .patch("n1", &pp, &Patch::<()>::Json(ops))
        .await
        .unwrap();
    let n = nodes
        .patch(
            "n1",
            &pp,
            &Patch::Strategic(json!({"metadata": {"labels": {"a": null, "c": "3"}}})),
        )
        .await
        .unwrap();
    let labels = n.metadata.labels.clone().unwrap_or_default();
    assert_eq!(
        labels.keys().cloned().collect::<Vec<_>>(),
        vec!["b".to_string(), "c".to_string()]
    );
    assert_eq!(location(&n), Some("x"));
}

#[tokio::test]
async fn errors_are_status_objects() {
    let s = Server::start(&[]);
    let nodes: Api<Node> = Api::all(s.client().await);
    let created = nodes
        .create(&PostParams::default(), &node("n1"))
        .await
        .unwrap();
    let dup = nodes.create(&PostParams::default(), &node("n1")).await;
    assert!(
        matches!(&dup, Err(kube::Error::Api(s)) if s.code == 409 && s.reason == "AlreadyExists"),
        "{dup:?}"
    );
    let missing = nodes.get("nope").await;
    assert!(
        matches!(&missing, Err(kube::Error::Api(s)) if s.code == 404 && s.reason == "NotFound"),
        "{missing:?}"
    );
    assert_eq!(nodes.get_opt("nope").await.unwrap(), None);

    let mut stale = created.clone();
    nodes
        .patch(
            "n1",
            &PatchParams::default(),
            &Patch::Merge(json!({"metadata": {"labels": {"x": "1"}}})),
        )
        .await
        .unwrap();
    stale.metadata.labels = Some([("y".to_string(), "2".to_string())].into());
    let conflict = nodes.replace("n1", &PostParams::default(), &stale).await;
    assert!(
        matches!(&conflict, Err(kube::Error::Api(s)) if s.code == 409 && s.reason == "Conflict"),
        "{conflict:?}"
    );
    let deleted = nodes.delete("nope", &Default::default()).await;
    assert!(
        matches!(&deleted, Err(kube::Error::Api(s)) if s.code == 404),
        "{deleted:?}"
    );
}

#[tokio::test]
async fn too_old_watches_get_410_and_the_watcher_relists() {
    let s = Server::start(&["--history", "3"]);
    let nodes: Api<Node> = Api::all(s.client().await);
    for i in 0..6 {
        nodes
            .create(&PostParams::default(), &node(&format!("old{i}")))
            .await
            .unwrap();
    }
    let mut raw = nodes
        .watch(&WatchParams::default(), "1")
        .await
        .unwrap()
        .boxed();
    let first = timeout(DEADLINE, raw.next()).await.unwrap();
    assert!(
        matches!(&first, Some(Ok(WatchEvent::Error(s))) if s.code == 410),
        "{first:?}"
    );

    let mut rx = watch_nodes(nodes.clone());
    wait_for(&mut rx, &Seen::InitDone).await;
    let reply = s.post_raw("/debug/compact");
    assert!(reply.contains("resourceVersion"), "{reply}");
    // The watcher resumes from a compacted resourceVersion, gets 410 and lists again.
    let before = wait_for(&mut rx, &Seen::Init).await;
    assert!(before.iter().any(|s| matches!(s, Seen::Error(e) if e.contains("410") || e.to_lowercase().contains("too old"))), "{before:?}");
    wait_for(&mut rx, &Seen::InitDone).await;
    nodes
        .create(&PostParams::default(), &node("new"))
        .await
        .unwrap();
    wait_for(&mut rx, &Seen::Apply("new".into(), None)).await;
}

#[tokio::test]
async fn streaming_list_watch_and_peers() {
    let s = Server::start(&[]);
    s.apply_crds();
    let client = s.client().await;
    let gvk = GroupVersionKind::gvk("kilo.squat.ai", "v1alpha1", "Peer");
    let ar = ApiResource::from_gvk_with_plural(&gvk, "peers");
    let peers: Api<DynamicObject> = Api::all_with(client.clone(), &ar);
    let peer: DynamicObject = serde_json::from_value(json!({
        "apiVersion": "kilo.squat.ai/v1alpha1", "kind": "Peer", "metadata": {"name": "p1"},
        "spec": {"allowedIPs": ["10.5.0.1/32"], "publicKey": "GDW8CKOm8v1G5Q3Y1lYHxrz1ynCkSHUTGBhPFlCmx20="}
    }))
    .unwrap();
    peers.create(&PostParams::default(), &peer).await.unwrap();
    assert_eq!(
        peers.list(&Default::default()).await.unwrap().items.len(),
        1
    );
    let mut stream = watcher(peers.clone(), watcher::Config::default().streaming_lists()).boxed();
    let mut names = Vec::new();
    timeout(DEADLINE, async {
        while let Some(Ok(ev)) = stream.next().await {
            match ev {
                watcher::Event::InitApply(p) => names.push(p.metadata.name.unwrap_or_default()),
                watcher::Event::InitDone => break,
                _ => {}
            }
        }
    })
    .await
    .unwrap();
    assert_eq!(names, vec!["p1".to_string()]);
    peers.delete("p1", &Default::default()).await.unwrap();
    let deleted = timeout(DEADLINE, stream.next()).await.unwrap();
    assert!(
        matches!(&deleted, Some(Ok(watcher::Event::Delete(p))) if p.metadata.name.as_deref() == Some("p1")),
        "{deleted:?}"
    );
}

#[tokio::test]
async fn recorder_events_show_in_kubectl() {
    let s = Server::start(&[]);
    let client = s.client().await;
    let recorder = Recorder::new(client.clone(), Reporter::from("kg"));
    let reference = ObjectReference {
        kind: Some("Node".into()),
        name: Some("n1".into()),
        api_version: Some("v1".into()),
        ..Default::default()
    };
    let event = Event {
        type_: EventType::Warning,
        reason: "InvalidEgressIP".into(),
        note: Some("egress-ip 10.0.0.1/32 is a CIDR".into()),
        action: "Reconcile".into(),
        secondary: None,
    };
    recorder.publish(&event, &reference).await.unwrap();
    recorder.publish(&event, &reference).await.unwrap();
    let core: Api<CoreEvent> = Api::namespaced(client, "default");
    let list = core.list(&Default::default()).await.unwrap();
    assert_eq!(
        list.items.len(),
        1,
        "the repeat is a series on the same event"
    );
    let ev = &list.items[0];
    assert_eq!(ev.involved_object.name.as_deref(), Some("n1"));
    assert_eq!(
        ev.message.as_deref(),
        Some("egress-ip 10.0.0.1/32 is a CIDR")
    );
    assert_eq!(ev.series.as_ref().map(|s| s.count), Some(Some(2)));
    let table = s.kubectl_ok(&[
        "get",
        "events",
        "--field-selector",
        "involvedObject.name=n1",
    ]);
    assert!(
        table.contains("InvalidEgressIP") && table.contains("node/n1"),
        "{table}"
    );
}
