//! The kube-rs [`Cluster`]: watches over Nodes and Peers into [`LiveStore`]s, server-side apply
//! of kg's own annotations under one field manager, and core/v1 Events (one per distinct
//! problem). Does I/O.
//!
//! A missing Peer CRD is not fatal: the Peer watch keeps retrying with backoff, is reported in
//! the log and through [`ClusterView::peers_synced`], and node meshing carries on.

use std::collections::BTreeMap;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};

use futures::StreamExt as _;
use k8s_openapi::api::core::v1::{Event as CoreEvent, EventSource, ObjectReference};
use k8s_openapi::apimachinery::pkg::apis::meta::v1::{ObjectMeta, Time};
use kilo_mesh::types::NodeName;
use kube::api::{ApiResource, DynamicObject, Patch, PatchParams, PostParams};
use kube::runtime::{WatchStreamExt as _, watcher};
use kube::{Api, Client, Resource, ResourceExt as _};
use serde_json::json;
use tokio::sync::Notify;

use crate::cluster::{Cluster, ClusterError, ClusterView, NodeEntry, Notice, Target};
use crate::peer::Peer;
use crate::slim::SlimNode;
use crate::store::{Change, LiveStore};

/// The field manager kg uses for server-side apply.
pub const FIELD_MANAGER: &str = "kg";

/// A live cluster connection.
#[derive(Clone)]
pub struct KubeCluster {
    client: Client,
    /// Nodes as [`SlimNode`]s: decoded with only what the mesh reads.
    nodes: LiveStore<SlimNode>,
    /// Peers untyped: each is decoded on its own in [`Cluster::view`], so one that does not
    /// decode is rejected alone and never stops the watch (nor gets its body logged by the
    /// client).
    peers: LiveStore<DynamicObject>,
    peers_ok: Arc<AtomicBool>,
    notify: Arc<Notify>,
    reporter: String,
    topology_label: String,
}

impl KubeCluster {
    /// Starts the watches (as background tasks) and returns the adapter.
    #[must_use]
    pub fn start(client: Client, topology_label: String, reporter: &str) -> Self {
        let notify = Arc::new(Notify::new());
        let peers_ok = Arc::new(AtomicBool::new(false));
        let nodes = LiveStore::new();
        let peers = LiveStore::new();
        let label = topology_label.clone();
        let peer_resource = ApiResource::erase::<Peer>(&());
        let node_stream = watcher(
            Api::<SlimNode>::all(client.clone()),
            watcher::Config::default(),
        )
        .modify(move |n| n.keep_label(&label))
        .default_backoff();
        let peer_stream = watcher(
            Api::<DynamicObject>::all_with(client.clone(), &peer_resource),
            watcher::Config::default(),
        )
        .modify(crate::translate::slim_peer)
        .default_backoff();
        tokio::spawn(drive(
            node_stream,
            nodes.clone(),
            notify.clone(),
            None,
            "nodes",
        ));
        tokio::spawn(drive(
            peer_stream,
            peers.clone(),
            notify.clone(),
            Some(peers_ok.clone()),
            "peers",
        ));
        Self {
            client,
            nodes,
            peers,
            peers_ok,
            notify,
            reporter: reporter.to_owned(),
            topology_label,
        }
    }

    /// Waits until the Node store has its first full list.
    pub async fn wait_ready(&self) {
        self.nodes.wait_until_ready().await;
    }

    fn reference(&self, target: &Target) -> ObjectReference {
        match target {
            Target::Node(name) => {
                let uid = self.nodes.get(name).and_then(|n| n.uid());
                ObjectReference {
                    api_version: Some("v1".to_owned()),
                    kind: Some("Node".to_owned()),
                    name: Some(name.clone()),
                    uid,
                    ..ObjectReference::default()
                }
            }
            Target::Peer(name) => {
                let uid = self.peers.get(name).and_then(|p| p.uid());
                ObjectReference {
                    api_version: Some(Peer::api_version(&()).into_owned()),
                    kind: Some("Peer".to_owned()),
                    name: Some(name.clone()),
                    uid,
                    ..ObjectReference::default()
                }
            }
        }
    }
}

/// Feeds one watch into its store and wakes the mesh when the objects changed: not for each
/// object of a list in progress (the store is whole throughout, and the list's end wakes it).
async fn drive<S, K>(
    stream: S,
    store: LiveStore<K>,
    notify: Arc<Notify>,
    ok: Option<Arc<AtomicBool>>,
    what: &'static str,
) where
    S: futures::Stream<Item = Result<watcher::Event<K>, watcher::Error>>,
    K: Resource,
{
    let mut stream = std::pin::pin!(stream);
    while let Some(ev) = stream.next().await {
        match ev {
            Ok(ev) => {
                if let Some(ok) = &ok {
                    ok.store(true, Ordering::Relaxed);
                }
                if store.apply(ev) == Change::Objects {
                    notify.notify_one();
                }
            }
            Err(e) => {
                if let Some(ok) = &ok {
                    ok.store(false, Ordering::Relaxed);
                }
                tracing::warn!(watch = what, error = %e, "watch failed; retrying with backoff");
            }
        }
    }
}

fn api_error(action: String, e: kube::Error) -> ClusterError {
    ClusterError::Api {
        action,
        source: Box::new(e),
    }
}

impl Cluster for KubeCluster {
    fn view(&self) -> ClusterView {
        let mut view = ClusterView {
            peers_synced: self.peers_ok.load(Ordering::Relaxed),
            ..ClusterView::default()
        };
        for n in self.nodes.state() {
            match n.to_mesh(&self.topology_label) {
                Ok((node, problems)) => view.nodes.push(NodeEntry {
                    node,
                    problems,
                    firewall_backend: n
                        .annotation(crate::FIREWALL_BACKEND_ANNOTATION)
                        .map(str::to_owned),
                }),
                Err(p) => tracing::warn!(problem = %p, "ignoring a node"),
            }
        }
        for p in self.peers.state() {
            match crate::peer::mesh_peer(&p) {
                Ok(peer) => view.peers.push(peer),
                Err(r) => view.rejected_peers.push(r),
            }
        }
        view
    }

    async fn changed(&self) {
        self.notify.notified().await;
    }

    async fn publish(
        &self,
        node: &NodeName,
        annotations: &BTreeMap<String, String>,
    ) -> Result<(), ClusterError> {
        // the reply is decoded slim too
        let api: Api<SlimNode> = Api::all(self.client.clone());
        let patch = json!({
            "apiVersion": "v1",
            "kind": "Node",
            "metadata": { "name": node.as_str(), "annotations": annotations },
        });
        api.patch(
            node.as_str(),
            &PatchParams::apply(FIELD_MANAGER).force(),
            &Patch::Apply(&patch),
        )
        .await
        .map(|_| ())
        .map_err(|e| api_error(format!("publishing the annotations of node {node}"), e))
    }

    /// Creates a core/v1 Event in `default`. Each distinct notice is its own Event (kg's
    /// [`crate::cluster::NoticeDedup`] already keeps a persisting problem from repeating); kube's
    /// `Recorder` would fold every notice with the same reason into one series and keep the first
    /// message, hiding what changed.
    async fn record(&self, notice: &Notice) -> Result<(), ClusterError> {
        let reference = self.reference(&notice.target);
        let now = Time(k8s_openapi::jiff::Timestamp::now());
        let event = CoreEvent {
            metadata: ObjectMeta {
                name: Some(format!(
                    "{}.{:x}",
                    reference.name.clone().unwrap_or_default(),
                    now.0.as_nanosecond()
                )),
                namespace: Some("default".to_owned()),
                ..ObjectMeta::default()
            },
            involved_object: reference,
            reason: Some(notice.reason.clone()),
            message: Some(notice.message.chars().take(1000).collect()),
            type_: Some(if notice.warning { "Warning" } else { "Normal" }.to_owned()),
            first_timestamp: Some(now.clone()),
            last_timestamp: Some(now),
            count: Some(1),
            source: Some(EventSource {
                component: Some("kg".to_owned()),
                host: Some(self.reporter.clone()),
            }),
            reporting_component: Some("kg".to_owned()),
            reporting_instance: Some(self.reporter.clone()),
            ..CoreEvent::default()
        };
        let api: Api<CoreEvent> = Api::namespaced(self.client.clone(), "default");
        api.create(&PostParams::default(), &event)
            .await
            .map(|_| ())
            .map_err(|e| {
                api_error(
                    format!("recording event {} for {:?}", notice.reason, notice.target),
                    e,
                )
            })
    }
}
