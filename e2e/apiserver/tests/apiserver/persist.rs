//! `--state-file`: the server is killed and started again on the same file; objects,
//! resourceVersions and uids survive, new writes get higher resourceVersions, and watches from
//! before the restart get 410 unless they resume from the current resourceVersion.

use std::io::Read as _;
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use futures::{Stream, StreamExt};
use k8s_openapi::api::core::v1::{Event as CoreEvent, Node};
use kube::api::{
    Api, DynamicObject, GroupVersionKind, ListParams, ObjectList, ObjectMeta, PostParams,
    WatchEvent, WatchParams,
};
use kube::discovery::ApiResource;
use serde_json::json;
use tokio::time::timeout;

use crate::common::{PEER, Scratch, Server};

const DEADLINE: Duration = Duration::from_secs(30);

fn node(name: &str) -> Node {
    serde_json::from_value(json!({"apiVersion": "v1", "kind": "Node", "metadata": {"name": name}}))
        .unwrap()
}

fn peers(client: kube::Client) -> Api<DynamicObject> {
    let gvk = GroupVersionKind::gvk("kilo.squat.ai", "v1alpha1", "Peer");
    Api::all_with(client, &ApiResource::from_gvk_with_plural(&gvk, "peers"))
}

fn rv(meta: &ObjectMeta) -> u64 {
    number(meta.resource_version.as_deref())
}

fn list_rv<K: Clone>(list: &ObjectList<K>) -> u64 {
    number(list.metadata.resource_version.as_deref())
}

fn number(rv: Option<&str>) -> u64 {
    rv.and_then(|r| r.parse().ok())
        .unwrap_or_else(|| panic!("not a numeric resourceVersion: {rv:?}"))
}

/// The server started on `state`, and its node API.
async fn start(state: &Path) -> (Server, Api<Node>) {
    let server = Server::start(&["--state-file", &state.display().to_string()]);
    let nodes = Api::all(server.client().await);
    (server, nodes)
}

/// The first non-bookmark event of a raw watch, within the deadline.
async fn first_event<S>(stream: &mut S) -> WatchEvent<Node>
where
    S: Stream<Item = kube::Result<WatchEvent<Node>>> + Unpin,
{
    timeout(DEADLINE, async {
        loop {
            match stream.next().await {
                Some(Ok(WatchEvent::Bookmark(_))) => {}
                Some(Ok(ev)) => return ev,
                other => panic!("the watch ended or failed: {other:?}"),
            }
        }
    })
    .await
    .expect("no watch event before the deadline")
}

#[tokio::test]
async fn objects_and_resource_versions_survive_a_restart() {
    let scratch = Scratch::new();
    let state = scratch.dir.join("state.json");
    let (s, nodes) = start(&state).await;
    assert!(state.exists(), "the state file is written at start-up");
    let pp = PostParams::default();
    nodes.create(&pp, &node("gone")).await.unwrap();
    nodes.delete("gone", &Default::default()).await.unwrap();
    nodes.create(&pp, &node("n1")).await.unwrap();
    s.kubectl_ok(&["annotate", "node", "n1", "kilo.squat.ai/location=a"]);
    s.apply_crds();
    let peer_file = s.file("peer.yaml", PEER);
    s.kubectl_ok(&["apply", "-f", &peer_file]);
    let client = s.client().await;
    let events: Api<CoreEvent> = Api::namespaced(client.clone(), "default");
    let event: CoreEvent = serde_json::from_value(json!({
        "metadata": {"name": "n1.restart"}, "involvedObject": {"kind": "Node", "name": "n1"},
        "reason": "Restarted", "message": "before the restart", "type": "Normal",
    }))
    .unwrap();
    let event = events.create(&pp, &event).await.unwrap();
    let n1 = nodes.get("n1").await.unwrap();
    let p1 = peers(client).get("p1").await.unwrap();
    let last = rv(&event.metadata);
    drop(s); // kills the server by PID and waits for it

    let (s, nodes) = start(&state).await;
    let client = s.client().await;
    let n1_after = nodes.get("n1").await.unwrap();
    assert_eq!(
        n1_after.metadata, n1.metadata,
        "node metadata after the restart"
    );
    let p1_after = peers(client.clone()).get("p1").await.unwrap();
    assert_eq!(
        p1_after.metadata, p1.metadata,
        "peer metadata after the restart"
    );
    assert_eq!(p1_after.data, p1.data);
    let events: Api<CoreEvent> = Api::namespaced(client, "default");
    let event_after = events.get("n1.restart").await.unwrap();
    assert_eq!(event_after.message.as_deref(), Some("before the restart"));
    assert_eq!(nodes.get_opt("gone").await.unwrap(), None);
    let names = s.kubectl_ok(&["get", "namespaces", "-o", "name"]);
    assert!(names.contains("namespace/kube-system"), "{names}");
    let list = nodes.list(&ListParams::default()).await.unwrap();
    assert_eq!(list_rv(&list), last, "the counter is restored");

    // Resuming from the current resourceVersion: only later changes; from before it: 410.
    let mut current = nodes
        .watch(&WatchParams::default(), &last.to_string())
        .await
        .unwrap()
        .boxed();
    let mut old = nodes
        .watch(&WatchParams::default(), &rv(&n1.metadata).to_string())
        .await
        .unwrap()
        .boxed();
    let expired = first_event(&mut old).await;
    assert!(
        matches!(&expired, WatchEvent::Error(e) if e.code == 410),
        "{expired:?}"
    );
    let n2 = nodes
        .create(&PostParams::default(), &node("n2"))
        .await
        .unwrap();
    assert!(rv(&n2.metadata) > last, "{n2:?} after {last}");
    let added = first_event(&mut current).await;
    assert!(
        matches!(&added, WatchEvent::Added(n) if n.metadata.name.as_deref() == Some("n2")),
        "{added:?}"
    );

    // Writes through kubectl keep working on restored ownership.
    let out = s.kubectl_ok(&[
        "apply",
        "-f",
        &s.file("peer.yaml", &PEER.replace("10.5.0.1/32", "10.5.0.2/32")),
    ]);
    assert!(out.contains("peer.kilo.squat.ai/p1 configured"), "{out}");
    let n1_again = s.kubectl_ok(&[
        "annotate",
        "node",
        "n1",
        "--overwrite",
        "kilo.squat.ai/location=b",
    ]);
    assert!(n1_again.contains("annotated"), "{n1_again}");
    assert!(rv(&nodes.get("n1").await.unwrap().metadata) > rv(&n2.metadata));
}

#[tokio::test]
async fn resource_versions_keep_growing_over_restarts_and_compaction() {
    let scratch = Scratch::new();
    let state = scratch.dir.join("state.json");
    let mut seen = 0;
    for round in 0..3 {
        let (s, nodes) = start(&state).await;
        let n = nodes
            .create(&PostParams::default(), &node(&format!("n{round}")))
            .await
            .unwrap();
        assert!(rv(&n.metadata) > seen, "round {round}: {n:?} after {seen}");
        let reply = s.post_raw("/debug/compact");
        assert!(reply.contains("resourceVersion"), "{reply}");
        let list = nodes.list(&ListParams::default()).await.unwrap();
        seen = list_rv(&list);
        assert!(
            seen > rv(&n.metadata),
            "compaction bumps the resourceVersion"
        );
        assert_eq!(list.items.len(), round + 1);
    }
}

/// A process killed (by PID) on drop.
struct Running(Child);

impl Drop for Running {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

#[test]
fn an_unreadable_state_file_fails_the_start_up() {
    let scratch = Scratch::new();
    let state = scratch.dir.join("state.json");
    std::fs::write(&state, "not json").unwrap();
    let child = Command::new(env!("CARGO_BIN_EXE_kilo-test-apiserver"))
        .args(["--listen", "127.0.0.1:0", "--state-file"])
        .arg(&state)
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let mut running = Running(child);
    let deadline = Instant::now() + DEADLINE;
    let status = loop {
        if let Some(status) = running.0.try_wait().unwrap() {
            break status;
        }
        assert!(
            Instant::now() < deadline,
            "the server did not exit on a bad state file"
        );
        std::thread::sleep(Duration::from_millis(20));
    };
    assert!(!status.success());
    let mut stderr = String::new();
    let mut stdout = String::new();
    running
        .0
        .stderr
        .take()
        .unwrap()
        .read_to_string(&mut stderr)
        .unwrap();
    running
        .0
        .stdout
        .take()
        .unwrap()
        .read_to_string(&mut stdout)
        .unwrap();
    assert!(stderr.contains("parsing state file"), "{stderr}");
    assert_eq!(stdout, "", "no address is printed");
    assert_eq!(
        std::fs::read_to_string(&state).unwrap(),
        "not json",
        "the file is left alone"
    );
}
