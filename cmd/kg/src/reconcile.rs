//! kg's reconcile loop: wake on cluster changes (debounced), node events, the resync period or
//! the heartbeat; then observe → overlay own facts → plan → publish → apply → report. One
//! topology computation per batch of events. Does I/O through its adapters.

use std::collections::{BTreeMap, BTreeSet};
use std::sync::Arc;
use std::sync::atomic::Ordering;
use std::time::{Duration, Instant};

use kilo_k8s::cluster::{Cluster, ClusterView, NodeEntry};
use kilo_k8s::{OwnFacts, own_annotations};
use kilo_mesh::allocate;
use kilo_mesh::annotations::keys;
use kilo_mesh::implementation::Implementation;
use kilo_mesh::local::{self, Discovered, HEARTBEAT_SECS};
use kilo_mesh::notice::{self, NoticeDedup, Refusal, Target};
use kilo_mesh::plan::{LocalFacts, NodePlan};
use kilo_mesh::types::WgKey;
use kilo_mesh::{Snapshot, Topology};

use crate::backend_override;
use crate::dataplane::{Dataplane, Observed, PeerStatus};
use crate::flags::Config;
use crate::http::Shared;
use crate::metrics::{Metrics, PeerLabels};

/// How long to wait for more events after the first one.
const DEBOUNCE: Duration = Duration::from_millis(50);
/// How often the WireGuard peer metrics (handshake age, bytes) are read between reconciles, so
/// a handshake shows within seconds rather than at the next resync.
const PEER_STATS: Duration = Duration::from_secs(5);
/// How often `last-seen` is refreshed (a node is ready while it is under 60 s old).
const HEARTBEAT: Duration = Duration::from_secs(HEARTBEAT_SECS.unsigned_abs());

/// The loop's state.
pub struct Reconciler<C, D> {
    cfg: Arc<Config>,
    cluster: C,
    dp: D,
    shared: Arc<Shared>,
    metrics: Metrics,
    notices: NoticeDedup,
    published: Option<(BTreeMap<String, String>, Instant)>,
    /// The WireGuard IP this kg last published as leader, and the time it published with it.
    claimed: Option<(std::net::Ipv4Addr, i64)>,
    cni_written: Option<String>,
    /// The planned peers' names by key, from the latest plan (the peer metrics' labels).
    peer_names: BTreeMap<WgKey, String>,
    /// The per-peer series the metrics hold now.
    peer_series: BTreeSet<PeerLabels>,
    health: Option<crate::health::FeedHandle>,
}

fn now() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| i64::try_from(d.as_secs()).unwrap_or(i64::MAX))
}

impl<C: Cluster, D: Dataplane> Reconciler<C, D> {
    /// A reconciler over its adapters.
    pub fn new(cfg: Arc<Config>, cluster: C, dp: D, shared: Arc<Shared>, metrics: Metrics) -> Self {
        Self {
            cfg,
            cluster,
            dp,
            shared,
            metrics,
            notices: NoticeDedup::default(),
            published: None,
            claimed: None,
            cni_written: None,
            peer_names: BTreeMap::new(),
            peer_series: BTreeSet::new(),
            health: None,
        }
    }

    /// Feeds every topology's probe targets to the mesh health prober.
    #[must_use]
    pub fn with_health(mut self, feed: crate::health::FeedHandle) -> Self {
        self.health = Some(feed);
        self
    }

    /// Runs until `shutdown` resolves, then cleans up when asked. An apply in progress always
    /// finishes first.
    pub async fn run(
        mut self,
        shutdown: impl std::future::Future<Output = ()>,
    ) -> anyhow::Result<()> {
        let mut shutdown = std::pin::pin!(shutdown);
        let mut resync = tokio::time::interval(self.cfg.flags.resync_period);
        let mut heartbeat = tokio::time::interval(HEARTBEAT);
        let mut peer_stats = tokio::time::interval(PEER_STATS);
        peer_stats.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        loop {
            tokio::select! {
                biased; // a pending shutdown wins over more work
                () = &mut shutdown => break,
                _ = peer_stats.tick() => {
                    self.refresh_peer_metrics().await;
                    continue;
                }
                () = self.cluster.changed() => tokio::time::sleep(DEBOUNCE).await,
                ev = self.dp.next_event() => tracing::debug!(?ev, "node event"),
                _ = resync.tick() => {}
                _ = heartbeat.tick() => {}
            }
            self.reconcile().await;
        }
        self.shut_down().await
    }

    async fn shut_down(&mut self) -> anyhow::Result<()> {
        if !self.cfg.flags.clean_up {
            tracing::info!("shutting down without clean-up: the dataplane stays as it is");
            return Ok(());
        }
        tracing::info!("cleaning up");
        let dp = clean_up_node(&self.cfg, &mut self.dp).await;
        let ann = self
            .cluster
            .publish(&self.cfg.hostname, &BTreeMap::new())
            .await;
        if dp.is_err() || ann.is_err() {
            self.metrics.error("cleanUp");
        }
        dp?;
        ann?;
        Ok(())
    }

    /// One full pass. Errors are logged and counted; the next wake-up retries.
    pub async fn reconcile(&mut self) {
        let started = Instant::now();
        let observed = match self.dp.observe().await {
            Ok(o) => o,
            Err(e) => {
                self.metrics.error("observe");
                tracing::warn!(error = format!("{e:#}"), "observing the node failed");
                Observed::default()
            }
        };
        let mut view = self.cluster.view();
        let nodes = self.take_nodes(&mut view);
        let Some(result) = self.plan(nodes, &view, &observed) else {
            return;
        };
        let (topo, plan, discovered) = result;
        if let Some(h) = &self.health {
            h.update(crate::health::Feed {
                targets: kilo_mesh::health::targets(&topo),
                mtu: plan.network.mtu,
                own_pod: kilo_mesh::health::local_pod_gateway(&topo),
            });
        }
        let mine = view.nodes.iter().find(|e| e.node.name == self.cfg.hostname);
        let stale = local::published_is_stale(mine.map(|e| &e.node), self.dp.public_key(), now());
        let held_since = topo.local_segment().wireguard_ip_since;
        self.publish(&plan, held_since, &discovered, &observed, stale)
            .await;
        let backend = backend_override::wanted(
            &view,
            &self.cfg.hostname,
            self.cfg.flags.mesh.firewall_backend,
        );
        self.dp.want_firewall(backend);
        match self.dp.apply(&plan).await {
            Ok(applied) => {
                self.metrics.applied(&applied);
                if applied != Default::default() {
                    tracing::info!(?applied, "applied plan");
                }
                self.shared.ready.store(true, Ordering::Relaxed);
            }
            Err(e) => {
                self.metrics.error("apply");
                tracing::error!(error = format!("{e:#}"), "applying the plan failed");
            }
        }
        self.write_cni(&plan);
        let reporter = notice::reports_cluster_problems(&topo, &self.cfg.hostname);
        self.report(&view, &plan, reporter).await;
        self.observe_metrics(&topo, &plan, &observed);
        if let Ok(mut g) = self.shared.graph.write() {
            *g = Some(kilo_mesh::views::graph::to_dot(&topo));
        }
        self.metrics.reconciles.inc();
        self.metrics
            .reconcile_seconds
            .observe(started.elapsed().as_secs_f64());
    }

    /// Moves the nodes out of `view` for the plan (no second copy of thousands of them); the
    /// view keeps only this node's entry, all that is read of it after the plan.
    fn take_nodes(&self, view: &mut ClusterView) -> Vec<NodeEntry> {
        let nodes = std::mem::take(&mut view.nodes);
        let mine = nodes.iter().find(|e| e.node.name == self.cfg.hostname);
        view.nodes.extend(mine.cloned());
        nodes
    }

    fn plan(
        &mut self,
        nodes: Vec<NodeEntry>,
        view: &ClusterView,
        observed: &Observed,
    ) -> Option<(Topology, NodePlan, Discovered)> {
        let f = &self.cfg.flags;
        let discovered = local::discover(&observed.host_facts(), &f.mesh.discover_settings());
        let mut nodes: Vec<kilo_mesh::Node> = nodes.into_iter().map(|e| e.node).collect();
        let Some(me) = nodes.iter_mut().find(|n| n.name == self.cfg.hostname) else {
            tracing::warn!(node = %self.cfg.hostname, "this node is not in the cluster (yet)");
            return None;
        };
        local::overlay(me, self.dp.public_key(), &discovered, now());
        me.cni_compatibility_ip = self.cni_compatibility_ip(observed).map(|n| n.addr());
        me.implementation = Implementation::KiloRs;
        let raw_me = me.clone();
        let snapshot = Snapshot {
            nodes,
            peers: view.peers.clone(),
            now: now(),
        };
        let mut settings = self.cfg.mesh.clone();
        settings.mtu = local::resolve_mtu(f.mesh.mtu, observed.underlay_mtu);
        let facts = LocalFacts {
            private_iface: discovered.iface.clone(),
            addresses: Some(observed.ips()),
            portmap: f.cni_bin_dir.join("portmap").exists(),
            cilium_tunl: observed.cilium_tunl,
        };
        let topo = match Topology::from_snapshot(
            snapshot,
            &settings.hostname,
            settings.granularity,
            settings.subnet,
        ) {
            Ok(t) => t,
            Err(e) => {
                tracing::warn!(error = %e, "cannot plan yet");
                return None;
            }
        };
        let plan = kilo_mesh::plan::plan_for(&topo, Some(&raw_me), &settings, &facts);
        Some((topo, plan, discovered))
    }

    /// This node's `cni-compatibility-ip`: `cilium_host`'s IPv4 with `--compatibility=cilium`.
    fn cni_compatibility_ip(&self, observed: &Observed) -> Option<ipnet::Ipv4Net> {
        let cilium = self.cfg.mesh.tunnel == kilo_mesh::types::TunnelKind::Cilium;
        observed.cilium_host.filter(|_| cilium)
    }

    /// Publishes this node's annotations when they changed or the heartbeat is due. `held_since`
    /// is since when the segment has held its WireGuard IP (`None`: from now on).
    async fn publish(
        &mut self,
        plan: &NodePlan,
        held_since: Option<i64>,
        d: &Discovered,
        observed: &Observed,
        stale: bool,
    ) {
        let now = now();
        let discovered = observed
            .peers
            .iter()
            .filter(|p| p.last_handshake.is_some())
            .filter_map(|p| Some((p.key, kilo_mesh::Endpoint::from_socket(p.endpoint?))))
            .collect();
        let wireguard_ip = plan.wireguard_ip.filter(|_| plan.is_leader);
        let since = wireguard_ip
            .map(|w| allocate::since_to_publish(w.addr(), held_since, self.claimed, now));
        let facts = OwnFacts {
            key: self.dp.public_key(),
            endpoint: d.endpoint.clone(),
            internal_ip: d.internal.first().copied(),
            wireguard_ip: wireguard_ip.map(ipnet::IpNet::V4),
            wireguard_ip_since: since,
            last_seen: now,
            discovered,
            granularity: self.cfg.mesh.granularity,
            egress: plan.egress,
            cni_compatibility_ip: self.cni_compatibility_ip(observed).map(ipnet::IpNet::V4),
        };
        let ann = own_annotations(&facts);
        let mut without_heartbeat = ann.clone();
        without_heartbeat.remove(keys::LAST_SEEN);
        without_heartbeat.remove(keys::IMPLEMENTATION);
        let due = stale
            || match &self.published {
                Some((prev, at)) => *prev != without_heartbeat || at.elapsed() >= HEARTBEAT,
                None => true,
            };
        if !due {
            return;
        }
        match self.cluster.publish(&self.cfg.hostname, &ann).await {
            Ok(()) => {
                self.published = Some((without_heartbeat, Instant::now()));
                self.claimed = wireguard_ip.zip(since).map(|(w, t)| (w.addr(), t));
            }
            Err(e) => {
                self.metrics.error("checkin");
                tracing::warn!(
                    error = format!("{:#}", anyhow::Error::from(e)),
                    "publishing annotations failed"
                );
            }
        }
    }

    fn write_cni(&mut self, plan: &NodePlan) {
        let Some(cni) = &plan.cni else { return };
        let text = serde_json::to_string_pretty(cni).unwrap_or_default() + "\n";
        if self.cni_written.as_deref() == Some(text.as_str()) {
            return;
        }
        let path = &self.cfg.flags.cni_path;
        match write_atomically(path, &text) {
            Ok(()) => {
                tracing::info!(path = %path.display(), "wrote the CNI config");
                self.cni_written = Some(text);
            }
            Err(e) => {
                self.metrics.error("cni");
                tracing::warn!(path = %path.display(), error = %e, "writing the CNI config failed");
            }
        }
    }

    async fn report(&mut self, view: &ClusterView, plan: &NodePlan, reporter: bool) {
        let me = &self.cfg.hostname;
        let problems = view
            .nodes
            .iter()
            .find(|e| &e.node.name == me)
            .map_or(&[][..], |e| e.problems.as_slice());
        let refused: Vec<Refusal<'_>> = view
            .rejected_peers
            .iter()
            .map(|r| Refusal {
                name: &r.name,
                reason: &r.reason,
            })
            .collect();
        let notices = notice::notices(me, problems, plan, &refused, reporter);
        for n in self.notices.fresh(notices) {
            self.metrics.error(match n.target {
                Target::Node(_) => "annotation",
                Target::Peer(_) => "peer",
            });
            tracing::warn!(target_object = ?n.target, reason = %n.reason, message = %n.message, "problem");
            if let Err(e) = self.cluster.record(&n).await {
                self.metrics.error("event");
                tracing::warn!(
                    error = format!("{:#}", anyhow::Error::from(e)),
                    "recording an event failed"
                );
            }
        }
    }

    fn observe_metrics(&mut self, topo: &Topology, plan: &NodePlan, observed: &Observed) {
        let m = &self.metrics;
        m.nodes.set(
            topo.segments
                .iter()
                .map(|s| s.nodes.len())
                .sum::<usize>()
                .try_into()
                .unwrap_or(i64::MAX),
        );
        m.peers.set(topo.peers.len().try_into().unwrap_or(i64::MAX));
        m.leader.set(i64::from(plan.is_leader));
        self.peer_names = plan
            .wireguard
            .iter()
            .flat_map(|w| w.peers.iter().map(|p| (p.public_key, p.name.clone())))
            .collect();
        self.set_peer_metrics(&observed.peers);
    }

    /// Re-reads the WireGuard peers and refreshes their metrics, between reconciles.
    pub async fn refresh_peer_metrics(&mut self) {
        let peers = self.dp.peer_status().await;
        self.set_peer_metrics(&peers);
    }

    /// Sets the per-peer series from `peers`; series of peers no longer there (or renamed) are
    /// removed, the others are updated in place, so a scrape never finds them missing.
    fn set_peer_metrics(&mut self, peers: &[PeerStatus]) {
        let m = &self.metrics;
        let mut series = BTreeSet::new();
        for p in peers {
            let labels = PeerLabels {
                peer: self
                    .peer_names
                    .get(&p.key)
                    .cloned()
                    .unwrap_or_else(|| p.key.fingerprint()),
            };
            if let Some(t) = p.last_handshake {
                m.handshake_age
                    .get_or_create(&labels)
                    .set(now().saturating_sub(t));
            } else {
                m.handshake_age.remove(&labels);
            }
            Metrics::set_bytes(&m.rx_bytes, &labels, p.rx_bytes);
            Metrics::set_bytes(&m.tx_bytes, &labels, p.tx_bytes);
            series.insert(labels);
        }
        for gone in self.peer_series.difference(&series) {
            m.handshake_age.remove(gone);
            m.rx_bytes.remove(gone);
            m.tx_bytes.remove(gone);
        }
        self.peer_series = series;
    }
}

/// Removes what kg programmed on its node: the dataplane (the interface too with
/// `--clean-up-interface`) and the CNI conflist kg writes. The annotations are the caller's (they
/// need the API server).
pub async fn clean_up_node<D: Dataplane>(cfg: &Config, dp: &mut D) -> anyhow::Result<()> {
    let result = dp.clean_up(cfg.flags.clean_up_interface).await;
    if cfg.mesh.cni {
        let _ = std::fs::remove_file(&cfg.flags.cni_path);
    }
    result
}

/// Writes `text` to `path` through a temporary file and a rename, so readers never see half.
fn write_atomically(path: &std::path::Path, text: &str) -> std::io::Result<()> {
    if let Some(dir) = path.parent() {
        std::fs::create_dir_all(dir)?;
    }
    let tmp = path.with_extension("tmp");
    std::fs::write(&tmp, text)?;
    std::fs::rename(&tmp, path)
}

#[cfg(test)]
#[path = "reconcile_tests.rs"]
mod tests;
