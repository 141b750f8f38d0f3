//! The mesh as an operator sees it (`kgctl status`): per node its segment, role, readiness,
//! addresses and the egress source address in force per family, or why there is none. Pure.
//!
//! What is *in force* on a node only that node's kg knows (an egress address must be assigned
//! there), so it comes from the `egress-ip-status` kg publishes; the `egress-ip` annotation is
//! what the operator asked for. When they disagree kg has not caught up yet, and the status says so.

use std::fmt::Display;
use std::net::{Ipv4Addr, Ipv6Addr};

use ipnet::{IpNet, Ipv4Net};
use serde::Serialize;

use crate::allocate::Allocation;
use crate::egress::EgressState;
use crate::implementation::Implementation;
use crate::node::{Node, READY_WINDOW_SECS, Snapshot};
use crate::topology::{PeerEntry, Topology, Warning};
use crate::types::{Endpoint, Granularity, NodeName};

/// The whole cluster.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct ClusterStatus {
    /// The time readiness was judged at, unix seconds.
    pub now: i64,
    /// Every node, sorted by name.
    pub nodes: Vec<NodeStatus>,
    /// Valid peers with their final AllowedIPs, sorted by name.
    pub peers: Vec<PeerEntry>,
    /// What the topology dropped or adjusted.
    pub warnings: Vec<Warning>,
    /// How the WireGuard IPs are allocated (`None` when no node takes part).
    pub allocation: Option<Allocation>,
}

/// One node.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct NodeStatus {
    /// The node.
    pub name: NodeName,
    /// Its location (`""` when none).
    pub location: String,
    /// Its segment key, when it takes part in the mesh.
    pub segment: Option<String>,
    /// It leads its segment (runs the WireGuard device peers connect to).
    pub leader: bool,
    /// `None` when it takes part in the mesh, else why not.
    pub not_ready: Option<String>,
    /// The WireGuard endpoint.
    pub endpoint: Option<Endpoint>,
    /// Private IPs.
    pub internal_ips: Vec<IpNet>,
    /// The segment's WireGuard IP (leaders), as the topology assigns it.
    pub wireguard_ip: Option<Ipv4Net>,
    /// Pod CIDRs.
    pub pod_cidrs: Vec<IpNet>,
    /// Seconds since kg's last heartbeat.
    pub last_seen_age: Option<i64>,
    /// Who runs its kg, from the `implementation` marker.
    pub implementation: Implementation,
    /// Egress source address, IPv4.
    pub egress_v4: FamilyEgress<Ipv4Addr>,
    /// Egress source address, IPv6.
    pub egress_v6: FamilyEgress<Ipv6Addr>,
}

/// The egress decision for one family of one node.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct FamilyEgress<A> {
    /// The address pod traffic leaving the cluster carries (SNAT); `None` means MASQUERADE.
    pub in_force: Option<A>,
    /// What kg last reported (`None`: it has not, e.g. it never ran or is not kilo-rs).
    pub reported: Option<EgressState<A>>,
    /// The annotation asks for something kg has not reported on yet.
    pub pending: bool,
    /// One readable line: what is in force and why.
    pub summary: String,
}

/// Computes the status of every node from a snapshot of the cluster.
#[must_use]
pub fn cluster_status(
    snapshot: &Snapshot,
    granularity: Granularity,
    subnet: Ipv4Net,
) -> ClusterStatus {
    let mut names: Vec<&Node> = snapshot.nodes.iter().collect();
    names.sort_by(|a, b| a.name.cmp(&b.name));
    let topo = crate::views::showconf::cluster_view(snapshot, granularity, subnet);
    let nodes = names
        .iter()
        .map(|n| node_status(n, topo.as_ref(), snapshot.now))
        .collect();
    ClusterStatus {
        now: snapshot.now,
        nodes,
        peers: topo.as_ref().map(|t| t.peers.clone()).unwrap_or_default(),
        allocation: topo.as_ref().map(|t| t.allocation.clone()),
        warnings: topo.map(|t| t.warnings).unwrap_or_default(),
    }
}

fn node_status(n: &Node, topo: Option<&Topology>, now: i64) -> NodeStatus {
    let segment = topo.and_then(|t| {
        t.segments
            .iter()
            .find(|s| s.nodes.iter().any(|m| m.name == n.name))
    });
    let leader = segment.is_some_and(|s| s.leader_node().name == n.name);
    let reported = n.egress_reported;
    NodeStatus {
        name: n.name.clone(),
        location: n.location.clone(),
        segment: segment.map(|s| s.key.clone()),
        leader,
        not_ready: not_ready(n, now),
        endpoint: n.endpoint.clone(),
        internal_ips: n.internal_ips.clone(),
        wireguard_ip: segment.filter(|_| leader).and_then(|s| s.wireguard_ip),
        pod_cidrs: n.pod_cidrs.clone(),
        last_seen_age: n.last_seen.map(|t| now.saturating_sub(t)),
        implementation: n.implementation,
        egress_v4: family(n.egress.v4, n.egress.rejected_v4, reported.map(|r| r.v4)),
        egress_v6: family(n.egress.v6, n.egress.rejected_v6, reported.map(|r| r.v6)),
    }
}

/// Why a node does not take part in the mesh, or `None` when it does.
fn not_ready(n: &Node, now: i64) -> Option<String> {
    if n.key.is_none() {
        return Some("no WireGuard key published (kg has not run on it)".to_owned());
    }
    if n.endpoint.is_none() {
        return Some("no endpoint".to_owned());
    }
    if n.pod_cidrs.is_empty() {
        return Some("no pod CIDR in spec.podCIDRs".to_owned());
    }
    match n.last_seen {
        None => Some("no last-seen heartbeat".to_owned()),
        Some(t) if now.saturating_sub(t) >= READY_WINDOW_SECS => Some(format!(
            "last-seen {} s ago (kg stopped? the limit is {READY_WINDOW_SECS} s)",
            now.saturating_sub(t)
        )),
        Some(_) => None,
    }
}

/// One family: what kg reported, checked against what the annotation asks for now.
fn family<A: Copy + PartialEq + Display>(
    requested: Option<A>,
    rejected: bool,
    reported: Option<EgressState<A>>,
) -> FamilyEgress<A> {
    let Some(state) = reported else {
        let summary = match (requested, rejected) {
            (_, true) => EgressState::<A>::Invalid.describe(),
            (None, false) => EgressState::<A>::NotSet.describe(),
            (Some(a), false) => format!("unknown: kg has not reported whether {a} is in force"),
        };
        return FamilyEgress {
            in_force: None,
            reported: None,
            pending: requested.is_some() && !rejected,
            summary,
        };
    };
    let agrees = match state {
        EgressState::InForce { address } | EgressState::NotAssigned { address } => {
            !rejected && requested == Some(address)
        }
        EgressState::NotSet => !rejected && requested.is_none(),
        EgressState::Invalid => rejected,
    };
    let mut summary = state.describe();
    if !agrees {
        summary.push_str("; the annotation has changed since, kg has not caught up yet");
    }
    FamilyEgress {
        in_force: state.in_force(),
        reported: Some(state),
        pending: !agrees,
        summary,
    }
}
