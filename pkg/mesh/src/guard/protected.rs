//! The protected addresses of a snapshot (endpoints, status addresses, internal IPs), indexed
//! by address so that the first one a range covers, in node order, is found in O(log n). Pure.

use std::collections::HashMap;
use std::net::IpAddr;

use ipnet::IpNet;

use crate::index::{Key, RangeTree, Summary, key, span};
use crate::node::Node;

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
pub(super) struct Protected {
    entries: Vec<Guarded>,
    /// The entries' addresses, sorted.
    keys: Vec<Key>,
    /// Over `keys`.
    firsts: RangeTree<Firsts>,
    /// Each node's location, numbered.
    location_of: Vec<u32>,
}

impl Protected {
    pub(super) fn of(nodes: &[Node], internal: bool) -> Self {
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
    pub(super) fn covered(&self, net: &IpNet, nodes: &[Node]) -> Option<String> {
        self.describe(self.firsts.query(span(&self.keys, net)).any, nodes)
    }

    /// Why `net`, an allowed-location IP of `nodes[i]`, may not be routed: it covers an
    /// endpoint, or an address of a node in another location. A location's whole LAN strictly
    /// containing its own nodes' addresses is legitimate (Kilo 0.7 keeps it): the other
    /// locations route those addresses to the same leader, more specifically.
    pub(super) fn covered_for_location(
        &self,
        net: &IpNet,
        i: usize,
        nodes: &[Node],
    ) -> Option<String> {
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
