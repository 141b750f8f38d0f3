//! `kgctl showconf`: the WireGuard configuration of a leader node, a segment written as one peer
//! (for another cluster), and what a Peer (a laptop) configures to join the mesh. Pure.

use std::fmt::Write as _;

use ipnet::{IpNet, Ipv4Net};

use crate::node::Snapshot;
use crate::plan::wireguard::{WgPeer, WireGuardPlan};
use crate::plan::{Settings, wireguard_plan};
use crate::topology::{Topology, TopologyError};
use crate::types::{Granularity, NodeName};

/// Why a configuration cannot be shown.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum ShowconfError {
    /// The node cannot be placed in the mesh.
    #[error(transparent)]
    Topology(#[from] TopologyError),
    /// Only leaders run a WireGuard device.
    #[error("node {node} is not a leader node: {leader} leads its segment {segment}")]
    NotALeader {
        /// The node asked for.
        node: NodeName,
        /// Its segment.
        segment: String,
        /// The segment's leader.
        leader: NodeName,
    },
    /// No node is ready, so there is no mesh to join.
    #[error("no node of the mesh is ready")]
    NoReadyNode,
    /// The Peer does not exist or was rejected.
    #[error("peer {0} does not exist (or was rejected: see kgctl status)")]
    UnknownPeer(String),
}

/// The topology as any ready node sees it (the first by name): segments, leaders and Peers are
/// the same from every node.
#[must_use]
pub fn cluster_view(
    snapshot: &Snapshot,
    granularity: Granularity,
    subnet: Ipv4Net,
) -> Option<Topology> {
    let mut ready: Vec<&NodeName> = snapshot
        .nodes
        .iter()
        .filter(|n| n.is_ready(snapshot.now))
        .map(|n| &n.name)
        .collect();
    ready.sort();
    ready
        .into_iter()
        .find_map(|name| Topology::new(snapshot, name, granularity, subnet).ok())
}

fn leader_topology(snapshot: &Snapshot, settings: &Settings) -> Result<Topology, ShowconfError> {
    let topo = Topology::new(
        snapshot,
        &settings.hostname,
        settings.granularity,
        settings.subnet,
    )?;
    if !topo.is_leader() {
        let seg = topo.local_segment();
        return Err(ShowconfError::NotALeader {
            node: settings.hostname.clone(),
            segment: seg.key.clone(),
            leader: seg.leader_node().name.clone(),
        });
    }
    Ok(topo)
}

/// The WireGuard device of leader `settings.hostname`, exactly as kg programs it.
pub fn node_conf(snapshot: &Snapshot, settings: &Settings) -> Result<WireGuardPlan, ShowconfError> {
    let topo = leader_topology(snapshot, settings)?;
    Ok(wireguard_plan(&topo, settings))
}

/// The segment led by `settings.hostname` as one peer: its leader's key and endpoint, the
/// segment's AllowedIPs plus `extra` (e.g. a service CIDR), the leader's keepalive.
pub fn node_as_peer(
    snapshot: &Snapshot,
    settings: &Settings,
    extra: &[IpNet],
) -> Result<WgPeer, ShowconfError> {
    let topo = leader_topology(snapshot, settings)?;
    let seg = topo.local_segment();
    let leader = seg.leader_node();
    let mut allowed_ips = seg.allowed_ips();
    allowed_ips.extend(extra.iter().map(IpNet::trunc));
    allowed_ips.sort();
    allowed_ips.dedup();
    Ok(WgPeer {
        name: seg.key.clone(),
        // leader_topology succeeded, so the leader (a member) has a key
        public_key: leader.key.ok_or_else(|| {
            ShowconfError::Topology(TopologyError::LocalNodeIncomplete {
                node: leader.name.clone(),
                missing: "key",
            })
        })?,
        endpoint: seg.endpoint.clone(),
        allowed_ips,
        persistent_keepalive: leader.persistent_keepalive.filter(|k| *k > 0),
        preshared_key: None,
    })
}

/// What Peer `name` configures: one peer per segment (its leader), then one per other Peer,
/// each with the Peer's own keepalive; segments also get its preshared key.
pub fn peer_conf(
    snapshot: &Snapshot,
    granularity: Granularity,
    subnet: Ipv4Net,
    name: &str,
) -> Result<Vec<WgPeer>, ShowconfError> {
    let topo = cluster_view(snapshot, granularity, subnet).ok_or(ShowconfError::NoReadyNode)?;
    let me = topo
        .peers
        .iter()
        .find(|p| p.peer.name == name)
        .ok_or_else(|| ShowconfError::UnknownPeer(name.to_owned()))?;
    let keepalive = me.peer.persistent_keepalive.filter(|k| *k > 0);
    let segments = topo.segments.iter().filter_map(|s| {
        Some(WgPeer {
            name: s.key.clone(),
            public_key: s.leader_node().key?,
            endpoint: s.endpoint.clone(),
            allowed_ips: s.allowed_ips(),
            persistent_keepalive: keepalive,
            preshared_key: me.peer.preshared_key,
        })
    });
    let others = topo
        .peers
        .iter()
        .filter(|p| p.peer.name != name)
        .map(|p| WgPeer {
            name: format!("peer:{}", p.peer.name),
            public_key: p.peer.public_key,
            endpoint: p.endpoint.clone(),
            allowed_ips: p.allowed_ips.clone(),
            persistent_keepalive: keepalive,
            preshared_key: None,
        });
    Ok(segments.chain(others).collect())
}

/// Renders peers as text `wg setconf` and `wg addconf` accept, preceded by an `[Interface]`
/// section holding only `ListenPort` when a port is given. Preshared keys are never printed: a
/// comment says where to set one.
#[must_use]
pub fn render_setconf(listen_port: Option<u16>, peers: &[WgPeer]) -> String {
    let mut out = String::new();
    if let Some(port) = listen_port {
        let _ = writeln!(out, "[Interface]\nListenPort = {port}\n");
    }
    for (i, p) in peers.iter().enumerate() {
        if i > 0 {
            out.push('\n');
        }
        p.write_ini(
            &mut out,
            "# PresharedKey: the Peer's spec.presharedKey (not printed; set it with \
             `wg set IFACE peer PUBLIC-KEY preshared-key FILE`)",
        );
    }
    out
}
