//! The guard the topology runs over a snapshot first: which values may never be routed into the
//! tunnel, and who keeps a contested identity. Pure.
//!
//! The rule: no plan routes a node's endpoint, an address of a node (its internal IPs and its
//! `InternalIP` status addresses; a location's allowed-location IPs may strictly contain its own
//! nodes' addresses, never an endpoint or another location's), or loopback, link-local (the cloud metadata address
//! included), multicast, unspecified or IPv4-mapped IPv6 space into the tunnel, and no default
//! route comes from a Node or a Peer. Every value refused is a [`Rejected`] naming the object,
//! the field and the value; the mesh is then planned as if that value were absent.
//!
//! Contested values go to the node that comes first: the local node (its key and pod CIDR are
//! the ones its own kg and pods use), then the others by name.
//!
//! No check compares every node with every other: each looks values up in indexes
//! (`crate::index`; the protected addresses in `protected`, the nodes' addresses for the
//! internal and compatibility IP checks in `addresses`), and names the same first conflicting
//! value, in node order, that a scan would.

use std::collections::HashMap;
use std::net::{Ipv4Addr, Ipv6Addr};

use ipnet::{IpNet, Ipv4Net, Ipv6Net};
use serde::Serialize;

use crate::annotations::keys;
use crate::index::NetIndex;
use crate::node::{Node, Peer, Snapshot};
use crate::topology::{Warning, overlaps};
use crate::types::NodeName;

mod addresses;
mod protected;

use addresses::{Owners, compatibility_ips, internal_ips, pod_cidr_nodes};
use protected::Protected;

/// The field a refused value came from: `spec.podCIDRs` on a Node.
pub const POD_CIDRS: &str = "spec.podCIDRs";
/// The field a refused value came from: an `InternalIP` of a Node's `status.addresses`.
pub const STATUS_ADDRESSES: &str = "status.addresses";
/// The field a refused value came from: `spec.allowedIPs` on a Peer.
pub const PEER_ALLOWED_IPS: &str = "spec.allowedIPs";
/// The field a refused value came from: `spec.publicKey` on a Peer.
pub const PEER_PUBLIC_KEY: &str = "spec.publicKey";

/// What a refused value belonged to.
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize)]
#[serde(rename_all = "lowercase", tag = "kind", content = "name")]
pub enum Object {
    /// A Node.
    Node(String),
    /// A Peer.
    Peer(String),
}

/// A value the guard refused.
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, thiserror::Error)]
#[error("{field}={value} refused: {reason}")]
pub struct Rejected {
    /// The object it came from.
    pub object: Object,
    /// The annotation or field (`kilo.squat.ai/internal-ip`, `spec.podCIDRs`, …).
    pub field: &'static str,
    /// The refused value.
    pub value: String,
    /// Why.
    pub reason: String,
}

impl Rejected {
    /// The topology warning for it (`node/<name>` or `peer/<name>`).
    #[must_use]
    pub fn warning(&self) -> Warning {
        let subject = match &self.object {
            Object::Node(n) => format!("node/{n}"),
            Object::Peer(p) => format!("peer/{p}"),
        };
        Warning {
            subject,
            message: self.to_string(),
        }
    }
}

const fn v4(a: u8, b: u8, c: u8, d: u8, prefix: u8) -> IpNet {
    IpNet::V4(Ipv4Net::new_assert(Ipv4Addr::new(a, b, c, d), prefix))
}

const fn v6(a: Ipv6Addr, prefix: u8) -> IpNet {
    IpNet::V6(Ipv6Net::new_assert(a, prefix))
}

/// Address space that is never routed into the tunnel, with its name.
const RESERVED_SPACE: [(IpNet, &str); 10] = [
    (v4(0, 0, 0, 0, 8), "unspecified"),
    (v4(127, 0, 0, 0, 8), "loopback"),
    (v4(169, 254, 0, 0, 16), "link-local"),
    (v4(224, 0, 0, 0, 4), "multicast"),
    (v4(255, 255, 255, 255, 32), "broadcast"),
    (v6(Ipv6Addr::UNSPECIFIED, 128), "unspecified"),
    (v6(Ipv6Addr::LOCALHOST, 128), "loopback"),
    (
        v6(Ipv6Addr::new(0xfe80, 0, 0, 0, 0, 0, 0, 0), 10),
        "link-local",
    ),
    (
        v6(Ipv6Addr::new(0xff00, 0, 0, 0, 0, 0, 0, 0), 8),
        "multicast",
    ),
    (
        v6(Ipv6Addr::new(0, 0, 0, 0, 0, 0xffff, 0, 0), 96),
        "IPv4-mapped",
    ),
];

/// Why `net` may never be routed into the tunnel, if it may not: a default route, or a range
/// touching loopback, link-local, multicast, unspecified, broadcast or IPv4-mapped space.
#[must_use]
pub fn reserved(net: &IpNet) -> Option<String> {
    if net.prefix_len() == 0 {
        return Some("a default route is never taken from the cluster's objects".to_owned());
    }
    RESERVED_SPACE
        .iter()
        .find(|(space, _)| overlaps(space, net))
        .map(|(space, name)| format!("covers {name} space {space}"))
}

/// Refuses every value of `snapshot` that breaks the rule (see the module doc) and returns the
/// snapshot without them, with what was refused. The local node comes first for contested
/// values, then the other nodes by name.
#[must_use]
pub fn sanitize(
    snapshot: Snapshot,
    local: &NodeName,
    subnet: Ipv4Net,
) -> (Snapshot, Vec<Rejected>) {
    let Snapshot {
        mut nodes,
        peers,
        now,
    } = snapshot;
    nodes.sort_by(|a, b| (&a.name != local, &a.name).cmp(&(&b.name != local, &b.name)));
    let mut out = Vec::new();
    keys(&mut nodes, &mut out);
    pod_cidrs(&mut nodes, subnet, &mut out);
    let owners = Owners::of(&nodes);
    internal_ips(&mut nodes, &owners, &mut out);
    compatibility_ips(&mut nodes, &owners, subnet, &mut out);
    let protected = Protected::of(&nodes, true);
    allowed_location_ips(&mut nodes, &protected, &mut out);
    let peers = peers
        .iter()
        .map(|p| peer(p, (&protected, &nodes), subnet, &mut out))
        .collect();
    out.sort();
    out.dedup();
    (Snapshot { nodes, peers, now }, out)
}

fn reject(node: &Node, field: &'static str, value: impl ToString, reason: String) -> Rejected {
    Rejected {
        object: Object::Node(node.name.to_string()),
        field,
        value: value.to_string(),
        reason,
    }
}

/// A WireGuard key published by an earlier node is refused (its node cannot take part).
fn keys(nodes: &mut [Node], out: &mut Vec<Rejected>) {
    let mut seen: HashMap<crate::types::WgKey, NodeName> = HashMap::new();
    for n in nodes.iter_mut() {
        let Some(k) = n.key else { continue };
        if let Some(first) = seen.get(&k) {
            let why = format!("node {first} already publishes this key");
            out.push(reject(n, keys::KEY, k.fingerprint() + "…", why));
            n.key = None;
        } else {
            seen.insert(k, n.name.clone());
        }
    }
}

/// Pod CIDRs: no reserved space, none covering an endpoint or status address, none overlapping
/// the WireGuard subnet or an earlier node's pod CIDR.
fn pod_cidrs(nodes: &mut [Node], subnet: Ipv4Net, out: &mut Vec<Rejected>) {
    let protected = Protected::of(nodes, false);
    let wg = IpNet::V4(subnet);
    // Every pod CIDR in node order, with its node; those accepted so far are active.
    let owner = pod_cidr_nodes(nodes);
    let mut taken = NetIndex::inactive(nodes.iter().flat_map(|n| n.pod_cidrs.iter().copied()));
    let mut order = 0;
    for i in 0..nodes.len() {
        let mut kept = Vec::new();
        for c in std::mem::take(&mut nodes[i].pod_cidrs) {
            let why = reserved(&c)
                .or_else(|| protected.covered(&c, nodes))
                .or_else(|| {
                    overlaps(&wg, &c).then(|| format!("overlaps the WireGuard subnet {wg}"))
                })
                .or_else(|| {
                    taken.first_overlapping(&c).map(|t| {
                        let (t, o) = (taken.net(t), &nodes[owner[t]].name);
                        format!("overlaps {t}, the pod CIDR of node {o}")
                    })
                });
            match why {
                Some(why) => out.push(reject(&nodes[i], POD_CIDRS, c, why)),
                None => {
                    taken.activate(order);
                    kept.push(c);
                }
            }
            order += 1;
        }
        nodes[i].pod_cidrs = kept;
    }
}

fn allowed_location_ips(nodes: &mut [Node], protected: &Protected, out: &mut Vec<Rejected>) {
    for i in 0..nodes.len() {
        let mut kept = Vec::new();
        for c in std::mem::take(&mut nodes[i].allowed_location_ips) {
            let why = reserved(&c).or_else(|| protected.covered_for_location(&c, i, nodes));
            match why {
                Some(why) => out.push(reject(&nodes[i], keys::ALLOWED_LOCATION_IPS, c, why)),
                None => kept.push(c),
            }
        }
        nodes[i].allowed_location_ips = kept;
    }
}

/// A Peer's allowed IPs: no reserved space, none covering a node's address or endpoint, none
/// overlapping the WireGuard subnet.
fn peer(
    p: &Peer,
    (protected, nodes): (&Protected, &[Node]),
    subnet: Ipv4Net,
    out: &mut Vec<Rejected>,
) -> Peer {
    let wg = IpNet::V4(subnet);
    let mut kept = Vec::new();
    for c in &p.allowed_ips {
        let why = reserved(c)
            .or_else(|| protected.covered(c, nodes))
            .or_else(|| overlaps(&wg, c).then(|| format!("overlaps the WireGuard subnet {wg}")));
        match why {
            Some(reason) => out.push(Rejected {
                object: Object::Peer(p.name.clone()),
                field: PEER_ALLOWED_IPS,
                value: c.to_string(),
                reason,
            }),
            None => kept.push(*c),
        }
    }
    Peer {
        allowed_ips: kept,
        ..p.clone()
    }
}
