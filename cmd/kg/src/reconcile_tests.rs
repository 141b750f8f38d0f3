//! Reconcile-loop tests over the in-memory cluster and a recording dataplane: publishing,
//! Events (once per problem), egress address checks, CNI config, readiness.

use std::collections::BTreeMap;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex, RwLock};

use clap::Parser as _;
use kilo_k8s::cluster::{ClusterView, FakeCluster, NodeEntry, Target};
use kilo_mesh::annotations::{RawNode, parse_node};
use kilo_mesh::plan::{EgressState, NodePlan};
use kilo_mesh::types::WgKey;
use prometheus_client::registry::Registry;

use crate::dataplane::{Applied, Dataplane, NodeAddress, NodeEvent, Observed, PeerStatus};
use crate::flags::Flags;
use crate::http::Shared;
use crate::metrics::Metrics;
use crate::reconcile::Reconciler;

#[derive(Clone, Default)]
struct FakeDp {
    observed: Arc<Mutex<Observed>>,
    applied: Arc<Mutex<Vec<NodePlan>>>,
}

impl Dataplane for FakeDp {
    fn public_key(&self) -> WgKey {
        WgKey::from_bytes([7; 32])
    }
    async fn observe(&mut self) -> anyhow::Result<Observed> {
        Ok(self.observed.lock().unwrap().clone())
    }
    async fn peer_status(&mut self) -> Vec<PeerStatus> {
        self.observed.lock().unwrap().peers.clone()
    }
    async fn apply(&mut self, plan: &NodePlan) -> anyhow::Result<Applied> {
        self.applied.lock().unwrap().push(plan.clone());
        Ok(Applied::default())
    }
    async fn clean_up(&mut self, _: bool) -> anyhow::Result<()> {
        Ok(())
    }
    async fn next_event(&mut self) -> NodeEvent {
        std::future::pending().await
    }
}

fn entry(name: &str, ann: &[(&str, &str)], pods: &[&str]) -> NodeEntry {
    let raw = RawNode {
        name: name.into(),
        annotations: ann
            .iter()
            .map(|(k, v)| (format!("kilo.squat.ai/{k}"), (*v).to_owned()))
            .collect(),
        labels: BTreeMap::from([("topology.kubernetes.io/region".to_owned(), "a".to_owned())]),
        pod_cidrs: pods.iter().map(|s| (*s).to_owned()).collect(),
        internal_addresses: vec![],
    };
    let (node, problems) = parse_node(&raw, "topology.kubernetes.io/region").unwrap();
    NodeEntry {
        node,
        problems,
        firewall_backend: None,
    }
}

struct Harness {
    cluster: FakeCluster,
    dp: FakeDp,
    shared: Arc<Shared>,
    rec: Reconciler<FakeCluster, FakeDp>,
    _dir: TempDir,
}

struct TempDir(std::path::PathBuf);
impl Drop for TempDir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

fn harness(view: ClusterView) -> Harness {
    let dir =
        std::env::temp_dir().join(format!("kg-test-{}-{}", std::process::id(), rand_suffix()));
    std::fs::create_dir_all(&dir).unwrap();
    let cni = dir.join("10-kilo.conflist");
    let flags = Flags::try_parse_from([
        "kg",
        "--hostname",
        "n1",
        "--encapsulate",
        "never",
        "--cni-path",
        cni.to_str().unwrap(),
        "--cni-bin-dir",
        dir.to_str().unwrap(),
    ])
    .unwrap();
    let cfg = Arc::new(flags.into_config().unwrap());
    let cluster = FakeCluster::default();
    cluster.set_view(view);
    let dp = FakeDp::default();
    *dp.observed.lock().unwrap() = Observed {
        addresses: vec![NodeAddress {
            iface: "eth0".parse().unwrap(),
            net: "192.168.77.11/24".parse().unwrap(),
        }],
        ..Observed::default()
    };
    let mut registry = Registry::default();
    let metrics = Metrics::register(&mut registry);
    let shared = Arc::new(Shared {
        registry: Mutex::new(registry),
        ready: AtomicBool::new(false),
        graph: RwLock::new(None),
    });
    let rec = Reconciler::new(cfg, cluster.clone(), dp.clone(), shared.clone(), metrics);
    Harness {
        cluster,
        dp,
        shared,
        rec,
        _dir: TempDir(dir),
    }
}

fn rand_suffix() -> u64 {
    use std::sync::atomic::AtomicU64;
    static N: AtomicU64 = AtomicU64::new(0);
    N.fetch_add(1, Ordering::Relaxed)
}

fn view(n1_ann: &[(&str, &str)]) -> ClusterView {
    ClusterView {
        nodes: vec![entry("n1", n1_ann, &["10.42.1.0/24", "fd00:10:42:1::/64"])],
        peers_synced: true,
        ..ClusterView::default()
    }
}

#[tokio::test]
async fn first_reconcile_publishes_applies_and_becomes_ready() {
    let mut h = harness(view(&[]));
    assert!(!h.shared.ready.load(Ordering::Relaxed));
    h.rec.reconcile().await;
    assert!(h.shared.ready.load(Ordering::Relaxed));
    let published = h
        .cluster
        .with_state(|s| s.published.get("n1").cloned())
        .flatten()
        .unwrap();
    assert_eq!(
        published["kilo.squat.ai/key"],
        WgKey::from_bytes([7; 32]).to_base64()
    );
    assert_eq!(published["kilo.squat.ai/endpoint"], "192.168.77.11:51820");
    assert_eq!(published["kilo.squat.ai/internal-ip"], "192.168.77.11/24");
    // location:a → 10.4.0.1 + fnv1a64("location:a") % 65534, computed independently.
    assert_eq!(published["kilo.squat.ai/wireguard-ip"], "10.4.14.114/16");
    assert_eq!(published["kilo.squat.ai/granularity"], "location");
    // The marker carries the heartbeat it was written with; a new address is held from now on.
    let last_seen = &published["kilo.squat.ai/last-seen"];
    assert_eq!(
        published["kilo.squat.ai/implementation"],
        format!("kilo-rs; last-seen={last_seen}")
    );
    assert_eq!(&published["kilo.squat.ai/wireguard-ip-since"], last_seen);
    let plans = h.dp.applied.lock().unwrap();
    assert_eq!(plans.len(), 1);
    assert!(plans[0].is_leader);
    let cni = std::fs::read_to_string(h._dir.0.join("10-kilo.conflist")).unwrap();
    assert!(cni.contains("\"subnet\": \"fd00:10:42:1::/64\""), "{cni}");
}

// The leader publishes on the time its segment first held the address (issue #12's "first
// publisher"), not the time of this publish.
#[tokio::test]
async fn a_held_address_keeps_its_time() {
    let mut h = harness(view(&[
        ("wireguard-ip", "10.4.0.9/16"),
        ("wireguard-ip-since", "1600000000"),
    ]));
    h.rec.reconcile().await;
    let published = h
        .cluster
        .with_state(|s| s.published.get("n1").cloned())
        .flatten()
        .unwrap();
    assert_eq!(published["kilo.squat.ai/wireguard-ip"], "10.4.0.9/16");
    assert_eq!(published["kilo.squat.ai/wireguard-ip-since"], "1600000000");
}

#[tokio::test]
async fn a_bad_annotation_is_one_event_not_one_per_reconcile() {
    let mut h = harness(view(&[("persistent-keepalive", "abc")]));
    h.rec.reconcile().await;
    h.rec.reconcile().await;
    let events = h.cluster.with_state(|s| s.events.clone()).unwrap();
    assert_eq!(events.len(), 1, "{events:?}");
    assert_eq!(events[0].target, Target::Node("n1".into()));
    assert_eq!(events[0].reason, "InvalidAnnotation");
    assert_eq!(
        events[0].message,
        "annotation kilo.squat.ai/persistent-keepalive=\"abc\": must be a whole number of seconds from 0 to 65535"
    );
    assert_eq!(
        h.dp.applied.lock().unwrap().len(),
        2,
        "the mesh keeps working"
    );
}

#[tokio::test]
async fn an_egress_ip_takes_effect_when_the_address_appears() {
    let mut h = harness(view(&[("egress-ip", "192.168.77.101")]));
    h.rec.reconcile().await;
    let last = |h: &Harness| h.dp.applied.lock().unwrap().last().unwrap().egress.v4;
    assert_eq!(
        last(&h),
        EgressState::NotAssigned {
            address: "192.168.77.101".parse().unwrap()
        }
    );
    let events = h.cluster.with_state(|s| s.events.clone()).unwrap();
    assert_eq!(events.len(), 1);
    assert_eq!(events[0].reason, "EgressIPNotAssigned");
    h.dp.observed.lock().unwrap().addresses.push(NodeAddress {
        iface: "eth0".parse().unwrap(),
        net: "192.168.77.101/24".parse().unwrap(),
    });
    h.rec.reconcile().await;
    assert_eq!(
        last(&h),
        EgressState::InForce {
            address: "192.168.77.101".parse().unwrap()
        }
    );
    let status = h
        .cluster
        .with_state(|s| s.published["n1"]["kilo.squat.ai/egress-ip-status"].clone())
        .unwrap();
    assert_eq!(
        status,
        r#"{"v4":{"reason":"in-force","address":"192.168.77.101"},"v6":{"reason":"not-set"}}"#
    );
}

#[tokio::test]
async fn a_peer_asking_for_a_default_route_is_one_event_and_keeps_its_other_ips() {
    let mut v = view(&[]);
    v.peers.push(kilo_mesh::Peer {
        name: "evil".into(),
        allowed_ips: vec![
            "0.0.0.0/0".parse().unwrap(),
            "10.99.0.0/16".parse().unwrap(),
        ],
        public_key: WgKey::from_bytes([9; 32]),
        endpoint: None,
        persistent_keepalive: None,
        preshared_key: None,
    });
    let mut h = harness(v);
    h.rec.reconcile().await;
    h.rec.reconcile().await;
    let events = h.cluster.with_state(|s| s.events.clone()).unwrap();
    assert_eq!(events.len(), 1, "{events:?}");
    assert_eq!(events[0].target, Target::Peer("evil".into()));
    assert_eq!(events[0].reason, "RefusedValue");
    assert_eq!(
        events[0].message,
        "spec.allowedIPs=0.0.0.0/0 refused: a default route is never taken from the cluster's objects"
    );
    let plans = h.dp.applied.lock().unwrap();
    let wg = plans[1].wireguard.as_ref().unwrap();
    let evil: Vec<String> = wg.peers[0]
        .allowed_ips
        .iter()
        .map(ToString::to_string)
        .collect();
    assert_eq!((wg.peers.len(), evil), (1, vec!["10.99.0.0/16".to_owned()]));
    assert!(
        plans[1]
            .network
            .routes
            .iter()
            .all(|r| r.dst.prefix_len() > 0)
    );
}

fn metrics_text(shared: &Shared) -> String {
    let mut body = String::new();
    prometheus_client::encoding::text::encode(&mut body, &shared.registry.lock().unwrap()).unwrap();
    body
}

#[tokio::test]
async fn peer_metrics_follow_the_device_between_reconciles() {
    let mut h = harness(view(&[]));
    h.rec.reconcile().await;
    let before = metrics_text(&h.shared);
    assert!(
        !before.contains("kilo_wireguard_peer_receive_bytes_total{"),
        "{before}"
    );
    let handshake = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_secs();
    h.dp.observed.lock().unwrap().peers = vec![PeerStatus {
        key: WgKey::from_bytes([9; 32]),
        endpoint: None,
        last_handshake: Some(i64::try_from(handshake).unwrap()),
        rx_bytes: 100,
        tx_bytes: 200,
    }];
    h.rec.refresh_peer_metrics().await;
    let after = metrics_text(&h.shared);
    // An unplanned peer is labelled with its key's first 8 base64 characters.
    assert!(
        after.contains("kilo_wireguard_peer_receive_bytes_total{peer=\"CQkJCQkJ\"} 100"),
        "{after}"
    );
    assert!(
        after.contains("kilo_wireguard_peer_transmit_bytes_total{peer=\"CQkJCQkJ\"} 200"),
        "{after}"
    );
    assert!(
        after.contains("kilo_wireguard_peer_handshake_age_seconds{peer=\"CQkJCQkJ\"}"),
        "{after}"
    );
    assert_eq!(
        h.dp.applied.lock().unwrap().len(),
        1,
        "a refresh is not a reconcile"
    );
    // The peer leaves the device: its series go.
    h.dp.observed.lock().unwrap().peers.clear();
    h.rec.refresh_peer_metrics().await;
    let gone = metrics_text(&h.shared);
    assert!(!gone.contains("peer=\"CQkJCQkJ\""), "{gone}");
}
