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

use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};

use ipnet::{IpNet, Ipv4Net, Ipv6Net};
use serde::Serialize;

use crate::annotations::keys;
use crate::node::{Node, Peer, Snapshot};
use crate::topology::{Warning, overlaps};
use crate::types::NodeName;

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

/// Address space that is never routed into the tunnel, with its name.
fn reserved_space() -> [(IpNet, &'static str); 10] {
    let v4 = |a, b, c, d, p| IpNet::V4(Ipv4Net::new_assert(Ipv4Addr::new(a, b, c, d), p));
    let v6 = |a: Ipv6Addr, p| IpNet::V6(Ipv6Net::new_assert(a, p));
    [
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
    ]
}

/// Why `net` may never be routed into the tunnel, if it may not: a default route, or a range
/// touching loopback, link-local, multicast, unspecified, broadcast or IPv4-mapped space.
#[must_use]
pub fn reserved(net: &IpNet) -> Option<String> {
    if net.prefix_len() == 0 {
        return Some("a default route is never taken from the cluster's objects".to_owned());
    }
    reserved_space()
        .into_iter()
        .find(|(space, _)| overlaps(space, net))
        .map(|(space, name)| format!("covers {name} space {space}"))
}

/// What a protected address is to its node.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Role {
    Endpoint,
    StatusAddress,
    InternalIp,
}

impl Role {
    const fn describe(self) -> &'static str {
        match self {
            Self::Endpoint => "the endpoint",
            Self::StatusAddress => "an InternalIP",
            Self::InternalIp => "the internal IP",
        }
    }
}

/// One address no range may cover, with its node and the node's location.
struct Guarded {
    ip: IpAddr,
    node: NodeName,
    location: String,
    role: Role,
}

/// Addresses no range may cover: every literal endpoint IP, every status address and every
/// internal IP (the latter as accepted so far), each with its node.
struct Protected(Vec<Guarded>);

impl Protected {
    fn of(nodes: &[Node], internal: bool) -> Self {
        let mut out = Vec::new();
        for n in nodes {
            let mut push = |ip, role| {
                out.push(Guarded {
                    ip,
                    node: n.name.clone(),
                    location: n.location.clone(),
                    role,
                });
            };
            if let Some(ip) = n.endpoint.as_ref().and_then(crate::types::Endpoint::ip) {
                push(ip, Role::Endpoint);
            }
            for a in &n.status_addresses {
                push(*a, Role::StatusAddress);
            }
            if internal {
                for a in &n.internal_ips {
                    push(a.addr(), Role::InternalIp);
                }
            }
        }
        Self(out)
    }

    /// Why `net` may not be routed: it covers a protected address.
    fn covered(&self, net: &IpNet) -> Option<String> {
        self.covered_where(net, |_| true)
    }

    /// Why `net`, an allowed-location IP of a node in `location`, may not be routed: it covers
    /// an endpoint, or an address of a node in another location. A location's whole LAN
    /// strictly containing its own nodes' addresses is legitimate (Kilo 0.7 keeps it): the
    /// other locations route those addresses to the same leader, more specifically.
    fn covered_for_location(&self, net: &IpNet, location: &str) -> Option<String> {
        self.covered_where(net, |g| {
            g.role == Role::Endpoint
                || g.location != location
                || net.prefix_len() == IpNet::from(g.ip).prefix_len()
        })
    }

    fn covered_where(&self, net: &IpNet, counts: impl Fn(&Guarded) -> bool) -> Option<String> {
        self.0
            .iter()
            .find(|g| net.contains(&g.ip) && counts(g))
            .map(|g| {
                let (what, ip, node) = (g.role.describe(), g.ip, &g.node);
                format!("covers {what} {ip} of node {node}")
            })
    }
}

/// Refuses every value of `snapshot` that breaks the rule (see the module doc) and returns the
/// snapshot without them, with what was refused. The local node comes first for contested
/// values, then the other nodes by name.
#[must_use]
pub fn sanitize(
    snapshot: &Snapshot,
    local: &NodeName,
    subnet: Ipv4Net,
) -> (Snapshot, Vec<Rejected>) {
    let mut nodes = snapshot.nodes.clone();
    nodes.sort_by(|a, b| (&a.name != local, &a.name).cmp(&(&b.name != local, &b.name)));
    let mut out = Vec::new();
    keys(&mut nodes, &mut out);
    pod_cidrs(&mut nodes, subnet, &mut out);
    internal_ips(&mut nodes, &mut out);
    compatibility_ips(&mut nodes, subnet, &mut out);
    let protected = Protected::of(&nodes, true);
    allowed_location_ips(&mut nodes, &protected, &mut out);
    let peers = snapshot
        .peers
        .iter()
        .map(|p| peer(p, &protected, subnet, &mut out))
        .collect();
    out.sort();
    out.dedup();
    let snapshot = Snapshot {
        nodes,
        peers,
        now: snapshot.now,
    };
    (snapshot, out)
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
    let mut seen: Vec<(crate::types::WgKey, NodeName)> = Vec::new();
    for n in nodes.iter_mut() {
        let Some(k) = n.key else { continue };
        if let Some((_, first)) = seen.iter().find(|(s, _)| *s == k) {
            let why = format!("node {first} already publishes this key");
            out.push(reject(n, keys::KEY, k.fingerprint() + "…", why));
            n.key = None;
        } else {
            seen.push((k, n.name.clone()));
        }
    }
}

/// Pod CIDRs: no reserved space, none covering an endpoint or status address, none overlapping
/// the WireGuard subnet or an earlier node's pod CIDR.
fn pod_cidrs(nodes: &mut [Node], subnet: Ipv4Net, out: &mut Vec<Rejected>) {
    let protected = Protected::of(nodes, false);
    let wg = IpNet::V4(subnet);
    let mut taken: Vec<(IpNet, NodeName)> = Vec::new();
    for n in nodes.iter_mut() {
        let mut kept = Vec::new();
        for c in std::mem::take(&mut n.pod_cidrs) {
            let why = reserved(&c)
                .or_else(|| protected.covered(&c))
                .or_else(|| {
                    overlaps(&wg, &c).then(|| format!("overlaps the WireGuard subnet {wg}"))
                })
                .or_else(|| {
                    taken
                        .iter()
                        .find(|(t, _)| overlaps(t, &c))
                        .map(|(t, o)| format!("overlaps {t}, the pod CIDR of node {o}"))
                });
            match why {
                Some(why) => out.push(reject(n, POD_CIDRS, c, why)),
                None => {
                    taken.push((c, n.name.clone()));
                    kept.push(c);
                }
            }
        }
        n.pod_cidrs = kept;
    }
}

/// The field an internal IP of `n` came from.
fn internal_field(n: &Node, ip: IpAddr) -> &'static str {
    if n.status_addresses.contains(&ip) {
        STATUS_ADDRESSES
    } else if n.forced_internal_ip {
        keys::FORCE_INTERNAL_IP
    } else {
        keys::INTERNAL_IP
    }
}

/// Why node `n` may not use internal IP `a`, given every node and the internal IPs accepted so
/// far.
fn internal_ip_problem(
    n: &Node,
    a: &IpNet,
    nodes: &[Node],
    accepted: &[(IpAddr, NodeName)],
) -> Option<String> {
    let ip = a.addr();
    if a.prefix_len() == 0 {
        return Some("a prefix of 0 makes every address local".to_owned());
    }
    if let Some(why) = reserved(&IpNet::from(ip)) {
        return Some(why);
    }
    let others = nodes.iter().filter(|o| o.name != n.name);
    for o in others {
        if let Some(c) = o.pod_cidrs.iter().find(|c| c.contains(&ip)) {
            return Some(format!("inside {c}, the pod CIDR of node {}", o.name));
        }
        if o.status_addresses.contains(&ip) {
            return Some(format!("an InternalIP of node {}", o.name));
        }
        let own = n.status_addresses.contains(&ip);
        if !own && o.endpoint.as_ref().and_then(crate::types::Endpoint::ip) == Some(ip) {
            return Some(format!("the endpoint of node {}", o.name));
        }
    }
    if let Some(c) = n.pod_cidrs.iter().find(|c| c.contains(&ip)) {
        return Some(format!("inside {c}, its own pod CIDR"));
    }
    accepted
        .iter()
        .find(|(t, _)| *t == ip)
        .map(|(_, o)| format!("already the internal IP of node {o}"))
}

/// Internal IPs: see [`internal_ip_problem`].
fn internal_ips(nodes: &mut [Node], out: &mut Vec<Rejected>) {
    let mut accepted: Vec<(IpAddr, NodeName)> = Vec::new();
    for i in 0..nodes.len() {
        let mut kept = Vec::new();
        for a in nodes[i].internal_ips.clone() {
            let n = &nodes[i];
            match internal_ip_problem(n, &a, nodes, &accepted) {
                Some(why) => out.push(reject(n, internal_field(n, a.addr()), a, why)),
                None => {
                    accepted.push((a.addr(), n.name.clone()));
                    kept.push(a);
                }
            }
        }
        nodes[i].internal_ips = kept;
    }
}

/// Why node `n` may not use `ip` as its `cni-compatibility-ip` (an IPIP gateway other nodes
/// route to): in the WireGuard subnet, inside another node's pod CIDR, another node's endpoint,
/// internal IP or status address, or an earlier node's compatibility IP. Inside its own pod
/// CIDR is where Cilium puts `cilium_host`, so that is fine.
fn compatibility_ip_problem(
    n: &Node,
    ip: IpAddr,
    nodes: &[Node],
    subnet: Ipv4Net,
    accepted: &[(IpAddr, NodeName)],
) -> Option<String> {
    if IpNet::V4(subnet).contains(&ip) {
        return Some(format!("inside the WireGuard subnet {subnet}"));
    }
    for o in nodes.iter().filter(|o| o.name != n.name) {
        if let Some(c) = o.pod_cidrs.iter().find(|c| c.contains(&ip)) {
            return Some(format!("inside {c}, the pod CIDR of node {}", o.name));
        }
        if o.endpoint.as_ref().and_then(crate::types::Endpoint::ip) == Some(ip) {
            return Some(format!("the endpoint of node {}", o.name));
        }
        if o.status_addresses.contains(&ip) || o.internal_ips.iter().any(|a| a.addr() == ip) {
            return Some(format!("an address of node {}", o.name));
        }
    }
    accepted
        .iter()
        .find(|(t, _)| *t == ip)
        .map(|(_, o)| format!("already the cni-compatibility-ip of node {o}"))
}

/// `cni-compatibility-ip`s: see [`compatibility_ip_problem`].
fn compatibility_ips(nodes: &mut [Node], subnet: Ipv4Net, out: &mut Vec<Rejected>) {
    let mut accepted: Vec<(IpAddr, NodeName)> = Vec::new();
    for i in 0..nodes.len() {
        let Some(v4) = nodes[i].cni_compatibility_ip else {
            continue;
        };
        let ip = IpAddr::V4(v4);
        let n = &nodes[i];
        if let Some(why) = compatibility_ip_problem(n, ip, nodes, subnet, &accepted) {
            out.push(reject(n, keys::CNI_COMPATIBILITY_IP, ip, why));
            nodes[i].cni_compatibility_ip = None;
        } else {
            accepted.push((ip, n.name.clone()));
        }
    }
}

fn allowed_location_ips(nodes: &mut [Node], protected: &Protected, out: &mut Vec<Rejected>) {
    for n in nodes.iter_mut() {
        let mut kept = Vec::new();
        for c in std::mem::take(&mut n.allowed_location_ips) {
            let why = reserved(&c).or_else(|| protected.covered_for_location(&c, &n.location));
            match why {
                Some(why) => out.push(reject(n, keys::ALLOWED_LOCATION_IPS, c, why)),
                None => kept.push(c),
            }
        }
        n.allowed_location_ips = kept;
    }
}

/// A Peer's allowed IPs: no reserved space, none covering a node's address or endpoint, none
/// overlapping the WireGuard subnet.
fn peer(p: &Peer, protected: &Protected, subnet: Ipv4Net, out: &mut Vec<Rejected>) -> Peer {
    let wg = IpNet::V4(subnet);
    let mut kept = Vec::new();
    for c in &p.allowed_ips {
        let why = reserved(c)
            .or_else(|| protected.covered(c))
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
