//! kg's Prometheus metrics (SPEC section 9), registered in one prometheus-client registry.

use prometheus_client::encoding::EncodeLabelSet;
use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::family::Family;
use prometheus_client::metrics::gauge::Gauge;
use prometheus_client::metrics::histogram::Histogram;
use prometheus_client::registry::Registry;

/// `event` label of `kilo_errors_total`.
#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct ErrorLabels {
    /// What failed. Go Kilo's names where the failure is the same: `apply` (programming the
    /// node), `checkin` (publishing this node's annotations), `cleanUp` (the clean-up on
    /// shutdown); kg's own: `observe`, `cni`, `event`, `annotation`, `egress`, `peer`.
    pub event: String,
}

/// `peer` label of the per-peer WireGuard metrics.
#[derive(Clone, Debug, Hash, PartialEq, Eq, PartialOrd, Ord, EncodeLabelSet)]
pub struct PeerLabels {
    /// Segment key or `peer:<name>`.
    pub peer: String,
}

/// `part` label of `kilo_dataplane_changes_total`.
#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct PartLabels {
    /// `wireguard` (peers added, changed or removed; key, port) or `network` (addresses,
    /// routes, rules, link state). Firewall operations have their own counters.
    pub part: String,
}

/// Every metric kg exports.
pub struct Metrics {
    /// Ready nodes in the mesh.
    pub nodes: Gauge,
    /// Valid Peers.
    pub peers: Gauge,
    /// 1 when this node leads its segment.
    pub leader: Gauge,
    /// Completed reconciles.
    pub reconciles: Counter,
    /// Errors by event.
    pub errors: Family<ErrorLabels, Counter>,
    /// Reconcile duration.
    pub reconcile_seconds: Histogram,
    /// Seconds since the latest handshake per peer (absent: never).
    pub handshake_age: Family<PeerLabels, Gauge>,
    /// Bytes received per peer (`_total`: WireGuard's own counter, reset when the peer is).
    pub rx_bytes: Family<PeerLabels, Counter>,
    /// Bytes sent per peer (`_total`, likewise).
    pub tx_bytes: Family<PeerLabels, Counter>,
    /// Changes applies made to the dataplane, per part.
    pub changes: Family<PartLabels, Counter>,
}

impl Metrics {
    /// Counts what an apply changed.
    pub fn applied(&self, applied: &crate::dataplane::Applied) {
        for (part, n) in [
            ("wireguard", applied.wireguard),
            ("network", applied.network),
        ] {
            self.changes
                .get_or_create(&PartLabels {
                    part: part.to_owned(),
                })
                .inc_by(u64::try_from(n).unwrap_or(u64::MAX));
        }
    }

    /// Creates the metrics and registers them.
    pub fn register(registry: &mut Registry) -> Self {
        let m = Self {
            nodes: Gauge::default(),
            peers: Gauge::default(),
            leader: Gauge::default(),
            reconciles: Counter::default(),
            errors: Family::default(),
            reconcile_seconds: Histogram::new([
                0.001, 0.005, 0.01, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0,
            ]),
            handshake_age: Family::default(),
            rx_bytes: Family::default(),
            tx_bytes: Family::default(),
            changes: Family::default(),
        };
        registry.register(
            "kilo_dataplane_changes",
            "WireGuard and netlink changes made by applies",
            m.changes.clone(),
        );
        registry.register(
            "kilo_nodes",
            "Number of ready nodes in the mesh",
            m.nodes.clone(),
        );
        registry.register("kilo_peers", "Number of valid Peers", m.peers.clone());
        registry.register(
            "kilo_leader",
            "1 when this node leads its segment",
            m.leader.clone(),
        );
        registry.register(
            "kilo_reconciles",
            "Completed reconciles",
            m.reconciles.clone(),
        );
        registry.register("kilo_errors", "Errors by kind", m.errors.clone());
        registry.register(
            "kilo_reconcile_duration_seconds",
            "Time to compute and apply a plan",
            m.reconcile_seconds.clone(),
        );
        registry.register(
            "kilo_wireguard_peer_handshake_age_seconds",
            "Seconds since the latest WireGuard handshake with a peer",
            m.handshake_age.clone(),
        );
        registry.register(
            "kilo_wireguard_peer_receive_bytes",
            "Bytes received from a peer (WireGuard's counter)",
            m.rx_bytes.clone(),
        );
        registry.register(
            "kilo_wireguard_peer_transmit_bytes",
            "Bytes sent to a peer (WireGuard's counter)",
            m.tx_bytes.clone(),
        );
        m
    }

    /// Sets a per-peer byte counter to WireGuard's own count (which only grows until the peer
    /// is removed, when the series goes too).
    pub fn set_bytes(family: &Family<PeerLabels, Counter>, labels: &PeerLabels, bytes: u64) {
        family
            .get_or_create(labels)
            .inner()
            .store(bytes, std::sync::atomic::Ordering::Relaxed);
    }

    /// Counts one error of kind `event`.
    pub fn error(&self, event: &str) {
        self.errors
            .get_or_create(&ErrorLabels {
                event: event.to_owned(),
            })
            .inc();
    }
}

#[cfg(test)]
#[path = "metrics_tests.rs"]
mod tests;
