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

use std::collections::HashMap;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};

use ipnet::{IpNet, Ipv4Net, Ipv6Net};
use serde::Serialize;

use crate::annotations::keys;
use crate::index::{AddressTable, Key, NetIndex, RangeTree, Summary, key, span};
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

/// One address no range may cover, with its node's position.
struct Guarded {
    ip: IpAddr,
    node: usize,
    role: Role,
}

/// For a run of protected addresses (by address): the first of them in [`Protected`]'s order
/// with its location, the first of another location than that one's, and the first endpoint
/// (orders; `usize::MAX`: none). Enough to answer both [`Protected::covered`] and
/// [`Protected::covered_for_location`] for any range in O(log n).
#[derive(Clone, Copy)]
struct Firsts {
    any: usize,
    location: u32,
    other_location: usize,
    endpoint: usize,
}

impl Summary for Firsts {
    const EMPTY: Self = Self {
        any: usize::MAX,
        location: u32::MAX,
        other_location: usize::MAX,
        endpoint: usize::MAX,
    };

    fn merge(self, other: Self) -> Self {
        let (first, second) = if self.any <= other.any {
            (self, other)
        } else {
            (other, self)
        };
        // The first of `second`'s run not in `first`'s location: its very first if that one is
        // elsewhere, else its first of another location than its own (which is `first`'s).
        let second_other = if second.location == first.location {
            second.other_location
        } else {
            second.any
        };
        Self {
            any: first.any,
            location: first.location,
            other_location: first.other_location.min(second_other),
            endpoint: self.endpoint.min(other.endpoint),
        }
    }
}

/// Addresses no range may cover: every literal endpoint IP, every status address and every
/// internal IP (the latter as accepted so far), each with its node, in node order; indexed by
/// address so that a range's first covered address is found without a scan. Built over, and
/// always asked with, the same `nodes` in the same order (only their ranges change meanwhile).
struct Protected {
    entries: Vec<Guarded>,
    /// The entries' addresses, sorted.
    keys: Vec<Key>,
    /// Over `keys`.
    firsts: RangeTree<Firsts>,
    /// Each node's location, numbered.
    location_of: Vec<u32>,
}

impl Protected {
    fn of(nodes: &[Node], internal: bool) -> Self {
        let mut entries = Vec::new();
        let mut numbers: HashMap<&str, u32> = HashMap::new();
        let mut location_of = Vec::with_capacity(nodes.len());
        for (i, n) in nodes.iter().enumerate() {
            let next = u32::try_from(numbers.len()).unwrap_or(u32::MAX);
            location_of.push(*numbers.entry(n.location.as_str()).or_insert(next));
            let mut push = |ip, role| entries.push(Guarded { ip, node: i, role });
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
        let mut sorted: Vec<(Key, Firsts)> = entries
            .iter()
            .enumerate()
            .map(|(order, g)| {
                let endpoint = if g.role == Role::Endpoint {
                    order
                } else {
                    usize::MAX
                };
                let leaf = Firsts {
                    any: order,
                    location: location_of[g.node],
                    other_location: usize::MAX,
                    endpoint,
                };
                (key(g.ip), leaf)
            })
            .collect();
        sorted.sort_unstable_by_key(|(k, f)| (*k, f.any));
        let (keys, leaves) = sorted.into_iter().unzip();
        Self {
            entries,
            keys,
            firsts: RangeTree::new(leaves),
            location_of,
        }
    }

    /// Why `net` may not be routed: it covers a protected address.
    fn covered(&self, net: &IpNet, nodes: &[Node]) -> Option<String> {
        self.describe(self.firsts.query(span(&self.keys, net)).any, nodes)
    }

    /// Why `net`, an allowed-location IP of `nodes[i]`, may not be routed: it covers an
    /// endpoint, or an address of a node in another location. A location's whole LAN strictly
    /// containing its own nodes' addresses is legitimate (Kilo 0.7 keeps it): the other
    /// locations route those addresses to the same leader, more specifically.
    fn covered_for_location(&self, net: &IpNet, i: usize, nodes: &[Node]) -> Option<String> {
        if net.prefix_len() == net.max_prefix_len() {
            return self.covered(net, nodes);
        }
        let f = self.firsts.query(span(&self.keys, net));
        let elsewhere = match self.location_of.get(i) {
            Some(here) if *here == f.location => f.other_location,
            _ => f.any,
        };
        self.describe(elsewhere.min(f.endpoint), nodes)
    }

    fn describe(&self, order: usize, nodes: &[Node]) -> Option<String> {
        let g = self.entries.get(order)?;
        let (what, ip, node) = (g.role.describe(), g.ip, &nodes.get(g.node)?.name);
        Some(format!("covers {what} {ip} of node {node}"))
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
    let owners = Owners::of(&nodes);
    internal_ips(&mut nodes, &owners, &mut out);
    compatibility_ips(&mut nodes, &owners, subnet, &mut out);
    let protected = Protected::of(&nodes, true);
    allowed_location_ips(&mut nodes, &protected, &mut out);
    let peers = snapshot
        .peers
        .iter()
        .map(|p| peer(p, (&protected, &nodes), subnet, &mut out))
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
    let owner: Vec<usize> = (0..nodes.len())
        .flat_map(|i| std::iter::repeat_n(i, nodes[i].pod_cidrs.len()))
        .collect();
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

/// Where the nodes' addresses are, for the internal and compatibility IP checks: the pod CIDRs
/// (as accepted), the status addresses and the endpoint IPs, each with its node's position.
struct Owners {
    pods: NetIndex,
    pod_node: Vec<usize>,
    status: AddressTable<usize>,
    endpoint: AddressTable<usize>,
}

/// What a node other than the one checked holds of an address: a pod CIDR containing it, or
/// the address itself in one of the tables asked about (by the table's position).
#[derive(Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
enum Held {
    Pod(usize),
    Listed(usize),
}

impl Owners {
    fn of(nodes: &[Node]) -> Self {
        let positions = nodes.iter().enumerate();
        Self {
            pods: NetIndex::new(nodes.iter().flat_map(|n| n.pod_cidrs.iter().copied())),
            pod_node: (0..nodes.len())
                .flat_map(|i| std::iter::repeat_n(i, nodes[i].pod_cidrs.len()))
                .collect(),
            status: AddressTable::new(
                positions
                    .clone()
                    .flat_map(|(i, n)| n.status_addresses.iter().map(move |a| (*a, i))),
            ),
            endpoint: AddressTable::new(positions.filter_map(|(i, n)| {
                Some((n.endpoint.as_ref().and_then(crate::types::Endpoint::ip)?, i))
            })),
        }
    }

    /// The first node, in order, not named `name` with a pod CIDR containing `ip` or holding
    /// `ip` in one of `tables` (`None`: not asked); for that node, a pod CIDR (its first)
    /// before the tables, in their order.
    fn first_other(
        &self,
        nodes: &[Node],
        name: &NodeName,
        ip: IpAddr,
        tables: &[Option<&AddressTable<usize>>],
    ) -> Option<(usize, Held)> {
        let pods = self
            .pods
            .containing(ip)
            .map(|k| (self.pod_node[k], Held::Pod(k)));
        let listed = tables.iter().enumerate().flat_map(|(l, table)| {
            table
                .iter()
                .flat_map(move |t| t.get(ip))
                .map(move |o| (o, Held::Listed(l)))
        });
        pods.chain(listed)
            .filter(|(o, _)| nodes[*o].name != *name)
            .min()
    }
}

/// Why node `nodes[i]` may not use internal IP `a`, given every node and the internal IPs
/// accepted so far.
fn internal_ip_problem(
    i: usize,
    a: &IpNet,
    nodes: &[Node],
    owners: &Owners,
    accepted: &HashMap<IpAddr, NodeName>,
) -> Option<String> {
    let (n, ip) = (&nodes[i], a.addr());
    if a.prefix_len() == 0 {
        return Some("a prefix of 0 makes every address local".to_owned());
    }
    if let Some(why) = reserved(&IpNet::from(ip)) {
        return Some(why);
    }
    let own = n.status_addresses.contains(&ip);
    let tables = [Some(&owners.status), (!own).then_some(&owners.endpoint)];
    if let Some((o, held)) = owners.first_other(nodes, &n.name, ip, &tables) {
        let o = &nodes[o].name;
        return Some(match held {
            Held::Pod(k) => format!("inside {}, the pod CIDR of node {o}", owners.pods.net(k)),
            Held::Listed(0) => format!("an InternalIP of node {o}"),
            Held::Listed(_) => format!("the endpoint of node {o}"),
        });
    }
    if let Some(c) = n.pod_cidrs.iter().find(|c| c.contains(&ip)) {
        return Some(format!("inside {c}, its own pod CIDR"));
    }
    accepted
        .get(&ip)
        .map(|o| format!("already the internal IP of node {o}"))
}

/// Internal IPs: see [`internal_ip_problem`].
fn internal_ips(nodes: &mut [Node], owners: &Owners, out: &mut Vec<Rejected>) {
    let mut accepted: HashMap<IpAddr, NodeName> = HashMap::new();
    for i in 0..nodes.len() {
        let mut kept = Vec::new();
        for a in nodes[i].internal_ips.clone() {
            let n = &nodes[i];
            match internal_ip_problem(i, &a, nodes, owners, &accepted) {
                Some(why) => out.push(reject(n, internal_field(n, a.addr()), a, why)),
                None => {
                    accepted.entry(a.addr()).or_insert_with(|| n.name.clone());
                    kept.push(a);
                }
            }
        }
        nodes[i].internal_ips = kept;
    }
}

/// Why node `nodes[i]` may not use `ip` as its `cni-compatibility-ip` (an IPIP gateway other
/// nodes route to): in the WireGuard subnet, inside another node's pod CIDR, another node's
/// endpoint, internal IP or status address, or an earlier node's compatibility IP. Inside its
/// own pod CIDR is where Cilium puts `cilium_host`, so that is fine.
fn compatibility_ip_problem(
    i: usize,
    ip: IpAddr,
    nodes: &[Node],
    (owners, internal): (&Owners, &AddressTable<usize>),
    subnet: Ipv4Net,
    accepted: &HashMap<IpAddr, NodeName>,
) -> Option<String> {
    if IpNet::V4(subnet).contains(&ip) {
        return Some(format!("inside the WireGuard subnet {subnet}"));
    }
    let tables = [Some(&owners.endpoint), Some(&owners.status), Some(internal)];
    if let Some((o, held)) = owners.first_other(nodes, &nodes[i].name, ip, &tables) {
        let o = &nodes[o].name;
        return Some(match held {
            Held::Pod(k) => format!("inside {}, the pod CIDR of node {o}", owners.pods.net(k)),
            Held::Listed(0) => format!("the endpoint of node {o}"),
            Held::Listed(_) => format!("an address of node {o}"),
        });
    }
    accepted
        .get(&ip)
        .map(|o| format!("already the cni-compatibility-ip of node {o}"))
}

/// `cni-compatibility-ip`s: see [`compatibility_ip_problem`].
fn compatibility_ips(
    nodes: &mut [Node],
    owners: &Owners,
    subnet: Ipv4Net,
    out: &mut Vec<Rejected>,
) {
    if nodes.iter().all(|n| n.cni_compatibility_ip.is_none()) {
        return;
    }
    let internal = AddressTable::new(
        nodes
            .iter()
            .enumerate()
            .flat_map(|(i, n)| n.internal_ips.iter().map(move |a| (a.addr(), i))),
    );
    let mut accepted: HashMap<IpAddr, NodeName> = HashMap::new();
    for i in 0..nodes.len() {
        let Some(v4) = nodes[i].cni_compatibility_ip else {
            continue;
        };
        let ip = IpAddr::V4(v4);
        let n = &nodes[i];
        let ix = (owners, &internal);
        if let Some(why) = compatibility_ip_problem(i, ip, nodes, ix, subnet, &accepted) {
            out.push(reject(n, keys::CNI_COMPATIBILITY_IP, ip, why));
            nodes[i].cni_compatibility_ip = None;
        } else {
            accepted.entry(ip).or_insert_with(|| n.name.clone());
        }
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
