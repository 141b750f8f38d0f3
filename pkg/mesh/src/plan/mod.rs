//! Per-node plans: what kg programs on one node, computed from a [`Snapshot`](crate::Snapshot) and [`Settings`].
//! Pure; adapters diff a plan against the observed state and apply the difference.

pub mod cni;
pub mod firewall;
pub mod network;
pub mod render;
pub mod routes;
pub mod wireguard;

use std::net::IpAddr;

use ipnet::{IpNet, Ipv4Net};
use serde::Serialize;

use crate::types::{Encapsulate, Granularity, IfName, NodeName, TunnelKind};

pub use crate::egress::{EgressState, EgressStatus};
pub use firewall::FirewallPlan;
pub use network::NetworkPlan;
pub use wireguard::WireGuardPlan;

/// The topology and dataplane settings of one node (kg's flags, validated).
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct Settings {
    /// The node this plan is for (`--hostname`).
    pub hostname: NodeName,
    /// `--mesh-granularity`.
    pub granularity: Granularity,
    /// `--subnet`: where WireGuard IPs come from.
    pub subnet: Ipv4Net,
    /// `--port`: WireGuard listen port (a `force-endpoint` port overrides it).
    pub port: u16,
    /// `--interface`.
    pub interface: IfName,
    /// `--encapsulate`.
    pub encapsulate: Encapsulate,
    /// Which tunnel encapsulation uses.
    pub tunnel: TunnelKind,
    /// `--service-cidr` (repeatable).
    pub service_cidrs: Vec<IpNet>,
    /// `--iptables-forward-rules`.
    pub forward_rules: bool,
    /// `--cni`: kg manages pod networking (NAT jump for local pod CIDRs, CNI config).
    pub cni: bool,
    /// `--local`: route between nodes of the same location over the private network.
    pub local: bool,
    /// WireGuard MTU (`--mtu`, resolved; auto is underlay MTU − 80).
    pub mtu: u32,
}

/// Facts kg observes on its own node that a plan depends on.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize)]
pub struct LocalFacts {
    /// The interface holding the private IP, when known.
    pub private_iface: Option<IfName>,
    /// Addresses assigned on the node; `None` when unknown (offline `kgctl plan`), in which case
    /// egress addresses are taken on trust.
    pub addresses: Option<Vec<IpAddr>>,
    /// `portmap` is installed next to `kilo-cni`.
    pub portmap: bool,
    /// Cilium renamed `tunl0` to `cilium_tunl` (`--compatibility=cilium` then reuses it).
    pub cilium_tunl: bool,
}

/// Everything kg programs on one node.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct NodePlan {
    /// The node.
    pub node: NodeName,
    /// Its segment key.
    pub segment: String,
    /// The segment's leader.
    pub leader: NodeName,
    /// Whether this node leads its segment (and so runs WireGuard).
    pub is_leader: bool,
    /// The segment's WireGuard IP (published as `wireguard-ip` by the leader).
    pub wireguard_ip: Option<Ipv4Net>,
    /// How the mesh's WireGuard IPs were allocated (Kilo's numbering while Go Kilo nodes take
    /// part).
    pub allocation: crate::allocate::Allocation,
    /// The WireGuard device (leaders only).
    pub wireguard: Option<WireGuardPlan>,
    /// Addresses, routes and rules.
    pub network: NetworkPlan,
    /// Firewall.
    pub firewall: FirewallPlan,
    /// The CNI conflist (`--cni`).
    pub cni: Option<serde_json::Value>,
    /// The egress source address in force per family, or why none is.
    pub egress: EgressStatus,
    /// What the topology and the planners dropped or could not do.
    pub warnings: Vec<crate::topology::Warning>,
    /// The values the guard refused (their warnings are in `warnings`).
    #[serde(skip)]
    pub rejected: Vec<crate::guard::Rejected>,
}

/// Computes the plan of node `settings.hostname`.
pub fn plan(
    snapshot: &crate::node::Snapshot,
    settings: &Settings,
    facts: &LocalFacts,
) -> Result<NodePlan, crate::topology::TopologyError> {
    let topo = crate::topology::Topology::new(
        snapshot,
        &settings.hostname,
        settings.granularity,
        settings.subnet,
    )?;
    let raw_me = snapshot.nodes.iter().find(|n| n.name == settings.hostname);
    Ok(plan_for(&topo, raw_me, settings, facts))
}

/// Computes the plan from an existing topology (`kgctl` shows both). `raw_me` is the local
/// node as the snapshot had it, before the topology's checks refused any of its values (its
/// egress IPs are judged from what it asked for); `None` takes the topology's.
#[must_use]
pub fn plan_for(
    topo: &crate::topology::Topology,
    raw_me: Option<&crate::node::Node>,
    settings: &Settings,
    facts: &LocalFacts,
) -> NodePlan {
    let me = topo.local_node();
    let seg = topo.local_segment();
    let (network, mut warnings) = routes::network_plan(topo, settings, facts);
    let raw_me = raw_me.unwrap_or(me);
    let egress = egress_status(raw_me, facts);
    let firewall = firewall::firewall_plan(
        topo,
        settings,
        &egress,
        network.tunnel,
        &network.tunnel_peers,
    );
    let cni = settings.cni.then(|| {
        cni::conflist(&cni::CniInputs {
            pod_cidrs: me.pod_cidrs.clone(),
            mtu: settings.mtu,
            portmap: facts.portmap,
        })
    });
    warnings.extend(topo.warnings.iter().cloned());
    warnings.sort();
    warnings.dedup();
    NodePlan {
        node: me.name.clone(),
        segment: seg.key.clone(),
        leader: seg.leader_node().name.clone(),
        is_leader: topo.is_leader(),
        wireguard_ip: seg.wireguard_ip,
        allocation: topo.allocation.clone(),
        wireguard: topo.is_leader().then(|| wireguard_plan(topo, settings)),
        network,
        firewall,
        cni,
        egress,
        warnings,
        rejected: topo.rejected.clone(),
    }
}

/// The leader's device: one peer per other segment and per Peer, sorted by public key. Every
/// peer gets the local node's `persistent-keepalive`, as in Kilo.
pub(crate) fn wireguard_plan(
    topo: &crate::topology::Topology,
    settings: &Settings,
) -> WireGuardPlan {
    let me = topo.local_node();
    let keepalive = me.persistent_keepalive.filter(|k| *k > 0);
    let mut peers: Vec<wireguard::WgPeer> = topo
        .other_segments()
        .filter_map(|s| {
            Some(wireguard::WgPeer {
                name: s.key.clone(),
                public_key: s.leader_node().key?,
                endpoint: s.endpoint.clone(),
                allowed_ips: s.allowed_ips(),
                persistent_keepalive: keepalive,
                preshared_key: None,
            })
        })
        .collect();
    peers.extend(topo.peers.iter().map(|p| wireguard::WgPeer {
        name: format!("peer:{}", p.peer.name),
        public_key: p.peer.public_key,
        endpoint: p.endpoint.clone(),
        allowed_ips: p.allowed_ips.clone(),
        persistent_keepalive: keepalive,
        preshared_key: p.peer.preshared_key,
    }));
    peers.sort_by_key(|p| p.public_key);
    WireGuardPlan {
        interface: settings.interface.clone(),
        listen_port: me.endpoint.as_ref().map_or(settings.port, |e| e.port),
        peers,
    }
}

/// Which egress address is in force per family: the annotated one when it parsed and is
/// assigned on the node (or when the node's addresses are unknown).
#[must_use]
pub fn egress_status(node: &crate::node::Node, facts: &LocalFacts) -> EgressStatus {
    fn state<A: Copy + Into<IpAddr>>(
        parsed: Option<A>,
        rejected: bool,
        facts: &LocalFacts,
    ) -> EgressState<A> {
        match (parsed, rejected) {
            (_, true) => EgressState::Invalid,
            (None, false) => EgressState::NotSet,
            (Some(address), false) => {
                let assigned = facts
                    .addresses
                    .as_ref()
                    .is_none_or(|a| a.contains(&address.into()));
                if assigned {
                    EgressState::InForce { address }
                } else {
                    EgressState::NotAssigned { address }
                }
            }
        }
    }
    EgressStatus {
        v4: state(node.egress.v4, node.egress.rejected_v4, facts),
        v6: state(node.egress.v6, node.egress.rejected_v6, facts),
    }
}
