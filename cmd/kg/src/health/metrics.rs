//! The mesh health metrics: `kilo_peer_reachable{node,path}`, `kilo_peer_rtt_seconds{node,path}`
//! (a histogram) and `kilo_peer_last_success_timestamp_seconds{node,path}`, kept in step with
//! the probe state (series of nodes that left the mesh are removed). No I/O.

use std::collections::BTreeSet;

use kilo_mesh::health::{Path, PeerReport};
use prometheus_client::encoding::EncodeLabelSet;
use prometheus_client::metrics::family::Family;
use prometheus_client::metrics::gauge::Gauge;
use prometheus_client::metrics::histogram::Histogram;
use prometheus_client::registry::Registry;

/// `node` and `path` labels.
#[derive(Clone, Debug, Hash, PartialEq, Eq, PartialOrd, Ord, EncodeLabelSet)]
pub struct PathLabels {
    /// The probed node.
    pub node: String,
    /// `host`, `pod` or `mtu`.
    pub path: String,
}

fn rtt_histogram() -> Histogram {
    Histogram::new([
        0.000_5, 0.001, 0.002_5, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0,
    ])
}

/// The health metrics.
pub struct HealthMetrics {
    reachable: Family<PathLabels, Gauge>,
    rtt: Family<PathLabels, Histogram, fn() -> Histogram>,
    last_success: Family<PathLabels, Gauge>,
    known: BTreeSet<PathLabels>,
}

impl HealthMetrics {
    /// Creates the metrics and registers them.
    pub fn register(registry: &mut Registry) -> Self {
        let m = Self {
            reachable: Family::default(),
            rtt: Family::new_with_constructor(rtt_histogram as fn() -> Histogram),
            last_success: Family::default(),
            known: BTreeSet::new(),
        };
        registry.register(
            "kilo_peer_reachable",
            "1 when the latest probe of a node over a path (host, pod, mtu) worked, else 0",
            m.reachable.clone(),
        );
        registry.register(
            "kilo_peer_rtt_seconds",
            "Round-trip time of the ICMP echo to a node over a path",
            m.rtt.clone(),
        );
        registry.register(
            "kilo_peer_last_success_timestamp_seconds",
            "Unix time of the latest probe of a node over a path that worked",
            m.last_success.clone(),
        );
        m
    }

    /// One probe's round trip.
    pub fn observe_rtt(&self, node: &str, path: Path, seconds: f64) {
        self.rtt.get_or_create(&labels(node, path)).observe(seconds);
    }

    /// Sets the gauges from the state; series of nodes or paths no longer there are removed.
    /// Only paths with series are tracked (a path's rtt is observed only with a result), so the
    /// thousands of nodes of a big mesh not probed yet cost nothing here.
    pub fn update(&mut self, peers: &[PeerReport]) {
        let mut now = BTreeSet::new();
        for peer in peers {
            for p in &peer.paths {
                let l = labels(peer.node.as_str(), p.path);
                if p.reachable.is_none() && p.last_success.is_none() && !self.known.contains(&l) {
                    continue; // no series, and none to keep
                }
                if let Some(r) = p.reachable {
                    self.reachable.get_or_create(&l).set(i64::from(r));
                }
                if let Some(t) = p.last_success {
                    self.last_success.get_or_create(&l).set(t);
                }
                now.insert(l);
            }
        }
        for gone in self.known.difference(&now) {
            self.reachable.remove(gone);
            self.rtt.remove(gone);
            self.last_success.remove(gone);
        }
        self.known = now;
    }
}

fn labels(node: &str, path: Path) -> PathLabels {
    PathLabels {
        node: node.to_owned(),
        path: path.as_str().to_owned(),
    }
}

#[cfg(test)]
#[path = "metrics_tests.rs"]
mod tests;
