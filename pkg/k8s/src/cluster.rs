//! The cluster adapter kg talks to: a view of all Nodes and Peers (already translated), a wake-up
//! when they change, publishing kg's own annotations, and reporting problems as Events. Defines
//! the [`Cluster`] trait and an in-memory [`FakeCluster`]; the kube-rs implementation lives in
//! [`crate::kube_cluster`]. The trait itself does no I/O.

use std::collections::BTreeMap;
use std::future::Future;
use std::sync::{Arc, Mutex};

use kilo_mesh::annotations::AnnotationProblem;
use kilo_mesh::types::NodeName;
use tokio::sync::Notify;

use crate::peer::PeerRejection;

/// Errors of a cluster backend.
#[derive(Debug, thiserror::Error)]
pub enum ClusterError {
    /// A Kubernetes API call failed.
    #[error("{action}")]
    Api {
        /// What kg was doing ("publishing annotations of node n1").
        action: String,
        /// The client error.
        #[source]
        source: Box<dyn std::error::Error + Send + Sync>,
    },
}

/// A node as the cluster reports it: translated, with its annotation problems.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct NodeEntry {
    /// The mesh node.
    pub node: kilo_mesh::Node,
    /// Problems in its annotations.
    pub problems: Vec<AnnotationProblem>,
    /// Its `kilo.squat.ai/firewall-backend` annotation as written (kg's per-node override of
    /// `--firewall-backend`; kg parses it).
    pub firewall_backend: Option<String>,
}

/// Everything kg reads from the cluster, translated.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct ClusterView {
    /// Nodes with valid names.
    pub nodes: Vec<NodeEntry>,
    /// Valid Peers.
    pub peers: Vec<kilo_mesh::Peer>,
    /// Rejected Peers.
    pub rejected_peers: Vec<PeerRejection>,
    /// Whether the Peer watch is working (the CRD may be missing).
    pub peers_synced: bool,
}

pub use kilo_mesh::notice::{Notice, NoticeDedup, Target};

/// What kg needs from the cluster.
pub trait Cluster: Send + Sync + 'static {
    /// The current view.
    fn view(&self) -> ClusterView;
    /// Resolves when something changed since the last call.
    fn changed(&self) -> impl Future<Output = ()> + Send;
    /// Sets exactly `annotations` as the ones kg owns on `node` (keys left out disappear).
    fn publish(
        &self,
        node: &NodeName,
        annotations: &BTreeMap<String, String>,
    ) -> impl Future<Output = Result<(), ClusterError>> + Send;
    /// Records an Event.
    fn record(&self, notice: &Notice) -> impl Future<Output = Result<(), ClusterError>> + Send;
}

/// An in-memory cluster for tests and for the `file` backend.
#[derive(Clone, Default)]
pub struct FakeCluster {
    inner: Arc<Mutex<FakeState>>,
    notify: Arc<Notify>,
}

/// The state of a [`FakeCluster`].
#[derive(Debug, Default)]
pub struct FakeState {
    /// The view served.
    pub view: ClusterView,
    /// Published annotations by node.
    pub published: BTreeMap<String, BTreeMap<String, String>>,
    /// Recorded events, in order.
    pub events: Vec<Notice>,
}

impl FakeCluster {
    /// Replaces the view and wakes the watcher.
    pub fn set_view(&self, view: ClusterView) {
        if let Ok(mut s) = self.inner.lock() {
            s.view = view;
        }
        self.notify.notify_one();
    }

    /// Reads the state.
    pub fn with_state<T>(&self, f: impl FnOnce(&FakeState) -> T) -> Option<T> {
        self.inner.lock().ok().map(|s| f(&s))
    }
}

impl Cluster for FakeCluster {
    fn view(&self) -> ClusterView {
        self.inner
            .lock()
            .map(|s| s.view.clone())
            .unwrap_or_default()
    }

    async fn changed(&self) {
        self.notify.notified().await;
    }

    async fn publish(
        &self,
        node: &NodeName,
        annotations: &BTreeMap<String, String>,
    ) -> Result<(), ClusterError> {
        if let Ok(mut s) = self.inner.lock() {
            s.published.insert(node.to_string(), annotations.clone());
        }
        Ok(())
    }

    async fn record(&self, notice: &Notice) -> Result<(), ClusterError> {
        if let Ok(mut s) = self.inner.lock() {
            s.events.push(notice.clone());
        }
        Ok(())
    }
}
