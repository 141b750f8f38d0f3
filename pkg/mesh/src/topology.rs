//! The mesh topology: which nodes take part, how they group into segments, who leads each
//! segment, each segment's WireGuard IP and AllowedIPs, and the de-duplicated Peers. Pure and
//! independent of input order.

use std::collections::BTreeMap;
use std::net::IpAddr;

use ipnet::{IpNet, Ipv4Net};
use serde::Serialize;

use crate::allocate::{self, Allocation};
use crate::conflicts;
use crate::guard::{self, Rejected};
use crate::node::{Node, Peer, Snapshot};
use crate::types::{Endpoint, Granularity, Host, NodeName, WgKey};

/// Why a topology cannot be computed for the local node.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum TopologyError {
    /// The local node is not in the snapshot.
    #[error("node {0} is not in the snapshot")]
    LocalNodeMissing(NodeName),
    /// The local node lacks something it needs to take part.
    #[error("node {node} cannot take part in the mesh yet: it has no {missing}")]
    LocalNodeIncomplete {
        /// The node.
        node: NodeName,
        /// What is missing (`key`, `endpoint`, `pod CIDR`).
        missing: &'static str,
    },
}

/// Something the topology dropped or adjusted, reported to the operator.
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord, Serialize)]
pub struct Warning {
    /// What it is about (`node/n1`, `peer/laptop`, `segment/location:gcp`).
    pub subject: String,
    /// What happened.
    pub message: String,
}

/// A group of nodes behind one WireGuard leader.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct Segment {
    /// `location:<name>` or `node:<name>`; segments sort by it.
    pub key: String,
    /// The location name.
    pub location: String,
    /// Members, sorted by name.
    pub nodes: Vec<Node>,
    /// Index of the leader in `nodes`.
    pub leader: usize,
    /// The segment's WireGuard IP with the subnet's prefix; `None` if the subnet is exhausted.
    pub wireguard_ip: Option<Ipv4Net>,
    /// Since when the segment has held it, from its members' `wireguard-ip-since` (`None`: a new
    /// address, or claims without a time).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub wireguard_ip_since: Option<i64>,
    /// The endpoint peers use for the leader (a discovered one for NATed leaders).
    pub endpoint: Option<Endpoint>,
    /// Allowed-location IPs that survived the overlap filter.
    pub allowed_location_ips: Vec<IpNet>,
}

impl Segment {
    /// The leader node.
    #[must_use]
    pub fn leader_node(&self) -> &Node {
        &self.nodes[self.leader.min(self.nodes.len() - 1)]
    }

    /// All members' pod CIDRs, sorted.
    #[must_use]
    pub fn pod_cidrs(&self) -> Vec<IpNet> {
        sorted(self.pod_cidrs_unsorted())
    }

    /// All members' private IPs as host routes (/32, /128), sorted.
    #[must_use]
    pub fn private_ips(&self) -> Vec<IpNet> {
        sorted(self.private_ips_unsorted())
    }

    /// Pod CIDRs, private IPs and the WireGuard IP (without allowed-location IPs).
    #[must_use]
    pub fn base_allowed_ips(&self) -> Vec<IpNet> {
        sorted(self.base_unsorted())
    }

    /// Everything routed to this segment: [`Self::base_allowed_ips`] plus its allowed-location
    /// IPs.
    #[must_use]
    pub fn allowed_ips(&self) -> Vec<IpNet> {
        sorted(
            self.base_unsorted()
                .chain(self.allowed_location_ips.iter().copied()),
        )
    }

    fn pod_cidrs_unsorted(&self) -> impl Iterator<Item = IpNet> + '_ {
        self.nodes.iter().flat_map(|n| n.pod_cidrs.iter().copied())
    }

    fn private_ips_unsorted(&self) -> impl Iterator<Item = IpNet> + '_ {
        self.nodes
            .iter()
            .flat_map(|n| n.internal_ips.iter().map(|i| IpNet::from(i.addr())))
    }

    fn base_unsorted(&self) -> impl Iterator<Item = IpNet> + '_ {
        let wg = self.wireguard_ip.map(|w| IpNet::from(IpAddr::V4(w.addr())));
        self.pod_cidrs_unsorted()
            .chain(self.private_ips_unsorted())
            .chain(wg)
    }
}

/// A Peer with its final AllowedIPs.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct PeerEntry {
    /// The peer.
    pub peer: Peer,
    /// AllowedIPs after de-duplication, sorted.
    pub allowed_ips: Vec<IpNet>,
    /// The endpoint to use (a discovered one when the peer keeps alive).
    pub endpoint: Option<Endpoint>,
}

/// The whole mesh as seen from one node.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct Topology {
    /// `--subnet`.
    pub subnet: Ipv4Net,
    /// How the WireGuard IPs were allocated (Kilo's numbering while Go Kilo nodes take part).
    pub allocation: Allocation,
    /// Segments, sorted by key.
    pub segments: Vec<Segment>,
    /// Index of the local node's segment.
    pub local_segment: usize,
    /// The local node.
    pub local: NodeName,
    /// Peers, sorted by name.
    pub peers: Vec<PeerEntry>,
    /// What was dropped or adjusted, sorted.
    pub warnings: Vec<Warning>,
    /// The values the guard refused (also in `warnings`), sorted.
    #[serde(skip)]
    pub rejected: Vec<Rejected>,
}

/// The ranges sorted, without repeats.
pub(crate) fn sorted(it: impl Iterator<Item = IpNet>) -> Vec<IpNet> {
    let mut v: Vec<IpNet> = it.collect();
    v.sort_unstable();
    v.dedup();
    v
}

/// True for addresses reachable from the internet: not RFC 1918, ULA (fc00::/7), loopback,
/// link-local or unspecified. Shared address space (100.64/10) counts as public, as in Kilo.
#[must_use]
pub fn is_public(ip: IpAddr) -> bool {
    match ip {
        IpAddr::V4(a) => {
            !(a.is_private() || a.is_loopback() || a.is_link_local() || a.is_unspecified())
        }
        IpAddr::V6(a) => {
            let first = a.segments()[0];
            !(a.is_loopback()
                || a.is_unspecified()
                || (first & 0xfe00) == 0xfc00
                || (first & 0xffc0) == 0xfe80)
        }
    }
}

/// An endpoint counts as public when its IP is public or it is a DNS name.
fn has_public_endpoint(n: &Node) -> bool {
    n.endpoint.as_ref().is_some_and(|e| match e.host {
        Host::Ip(ip) => is_public(ip),
        Host::Dns(_) => true,
    })
}

/// Picks a leader among `nodes` (sorted by name): a `leader`-annotated node with a public
/// endpoint, else any `leader`-annotated node, else a node with a public endpoint, else the first.
#[must_use]
pub fn elect_leader(nodes: &[Node]) -> usize {
    let find = |f: &dyn Fn(&Node) -> bool| nodes.iter().position(f);
    find(&|n| n.leader && has_public_endpoint(n))
        .or_else(|| find(&|n| n.leader))
        .or_else(|| find(&has_public_endpoint))
        .unwrap_or(0)
}

/// The segment key of a node.
fn segment_key(n: &Node, granularity: Granularity) -> String {
    match granularity {
        Granularity::Location if !n.internal_ips.is_empty() => format!("location:{}", n.location),
        _ => format!("node:{}", n.name),
    }
}

/// Nodes taking part: ready ones, plus the local node when it has a key, an endpoint and a pod
/// CIDR (kg is alive, whatever its published heartbeat says).
fn members(nodes: Vec<Node>, now: i64, local: &NodeName) -> Result<Vec<Node>, TopologyError> {
    let me = nodes
        .iter()
        .find(|n| &n.name == local)
        .ok_or_else(|| TopologyError::LocalNodeMissing(local.clone()))?;
    let missing = if me.key.is_none() {
        Some("key")
    } else if me.endpoint.is_none() {
        Some("endpoint")
    } else if me.pod_cidrs.is_empty() {
        Some("pod CIDR")
    } else {
        None
    };
    if let Some(missing) = missing {
        return Err(TopologyError::LocalNodeIncomplete {
            node: local.clone(),
            missing,
        });
    }
    // The first node of each name, sorted by name (a stable sort keeps the first first).
    let mut out: Vec<Node> = nodes
        .into_iter()
        .filter(|n| &n.name == local || n.is_ready(now))
        .collect();
    out.sort_by(|a, b| a.name.cmp(&b.name));
    out.dedup_by(|later, first| later.name == first.name);
    Ok(out)
}

impl Topology {
    /// Computes the topology seen from node `local`.
    pub fn new(
        snapshot: &Snapshot,
        local: &NodeName,
        granularity: Granularity,
        subnet: Ipv4Net,
    ) -> Result<Self, TopologyError> {
        Self::from_snapshot(snapshot.clone(), local, granularity, subnet)
    }

    /// [`Topology::new`] taking the snapshot: its nodes become the topology's, so a caller that
    /// has no further use for them never holds two copies (kg at thousands of Nodes).
    pub fn from_snapshot(
        snapshot: Snapshot,
        local: &NodeName,
        granularity: Granularity,
        subnet: Ipv4Net,
    ) -> Result<Self, TopologyError> {
        let (snapshot, rejected) = guard::sanitize(snapshot, local, subnet);
        let Snapshot { nodes, peers, now } = snapshot;
        let nodes = members(nodes, now, local)?;
        let mut warnings: Vec<Warning> = rejected.iter().map(Rejected::warning).collect();
        let mut groups: BTreeMap<String, Vec<Node>> = BTreeMap::new();
        for n in nodes {
            groups
                .entry(segment_key(&n, granularity))
                .or_default()
                .push(n);
        }
        let outcome = allocate::for_segments(&groups, subnet);
        allocate::claim_conflicts(&groups, &outcome, &mut warnings);
        let mut segments: Vec<Segment> = groups
            .into_iter()
            .map(|(key, nodes)| {
                let leader = elect_leader(&nodes);
                let address = outcome.addresses.get(&key).copied();
                let wireguard_ip = address.and_then(|a| Ipv4Net::new(a, subnet.prefix_len()).ok());
                let wireguard_ip_since = address.and_then(|a| allocate::held_since(&nodes, a));
                if wireguard_ip.is_none() {
                    warnings.push(Warning {
                        subject: format!("segment/{key}"),
                        message: format!("no WireGuard IP left in {subnet}"),
                    });
                }
                Segment {
                    location: nodes[leader].location.clone(),
                    endpoint: nodes[leader].endpoint.clone(),
                    allowed_location_ips: sorted(
                        nodes
                            .iter()
                            .flat_map(|n| n.allowed_location_ips.iter().copied()),
                    ),
                    key,
                    nodes,
                    leader,
                    wireguard_ip,
                    wireguard_ip_since,
                }
            })
            .collect();
        let local_segment = segments
            .iter()
            .position(|s| s.nodes.iter().any(|n| &n.name == local))
            .unwrap_or(0);
        let mut rejected = rejected;
        let peers = conflicts::dedup_peers(&peers, &segments, &mut warnings, &mut rejected);
        rejected.sort();
        conflicts::filter_allowed_location_ips(&mut segments, &peers, subnet, &mut warnings);
        let mut topo = Self {
            subnet,
            allocation: outcome.allocation,
            segments,
            local_segment,
            local: local.clone(),
            peers,
            warnings,
            rejected,
        };
        topo.apply_discovered_endpoints();
        topo.warnings.sort();
        topo.warnings.dedup();
        Ok(topo)
    }

    /// The local node's segment.
    #[must_use]
    pub fn local_segment(&self) -> &Segment {
        &self.segments[self.local_segment]
    }

    /// The local node.
    #[must_use]
    pub fn local_node(&self) -> &Node {
        let seg = self.local_segment();
        seg.nodes
            .iter()
            .find(|n| n.name == self.local)
            .unwrap_or_else(|| seg.leader_node())
    }

    /// Whether the local node leads its segment.
    #[must_use]
    pub fn is_leader(&self) -> bool {
        self.local_segment().leader_node().name == self.local
    }

    /// Other segments, in key order.
    pub fn other_segments(&self) -> impl Iterator<Item = &Segment> {
        self.segments
            .iter()
            .enumerate()
            .filter(move |(i, _)| *i != self.local_segment)
            .map(|(_, s)| s)
    }

    /// NAT traversal: a segment leader or Peer that keeps the connection alive
    /// (`persistent-keepalive` > 0) is reached at the endpoint the local node's WireGuard device
    /// observed, else at one another node observed (segments in key order), else its own.
    fn apply_discovered_endpoints(&mut self) {
        let mut maps: Vec<&BTreeMap<WgKey, Endpoint>> =
            vec![&self.local_node().discovered_endpoints];
        maps.extend(
            self.segments
                .iter()
                .flat_map(|s| s.nodes.iter())
                .filter(|n| n.name != self.local)
                .map(|n| &n.discovered_endpoints),
        );
        let lookup = |k: &WgKey| maps.iter().find_map(|m| m.get(k)).cloned();
        let seg_updates: Vec<Option<Endpoint>> = self
            .segments
            .iter()
            .map(|s| {
                let l = s.leader_node();
                let ka = l.persistent_keepalive.unwrap_or(0) > 0;
                l.key.as_ref().filter(|_| ka).and_then(lookup)
            })
            .collect();
        let peer_updates: Vec<Option<Endpoint>> = self
            .peers
            .iter()
            .map(|p| {
                let ka = p.peer.persistent_keepalive.unwrap_or(0) > 0;
                ka.then(|| lookup(&p.peer.public_key)).flatten()
            })
            .collect();
        for (s, e) in self.segments.iter_mut().zip(seg_updates) {
            if e.is_some() {
                s.endpoint = e;
            }
        }
        for (p, e) in self.peers.iter_mut().zip(peer_updates) {
            if e.is_some() {
                p.endpoint = e;
            }
        }
    }
}

/// Two networks overlap when one contains the other's network address.
#[must_use]
pub fn overlaps(a: &IpNet, b: &IpNet) -> bool {
    a.contains(&b.network()) || b.contains(&a.network())
}
