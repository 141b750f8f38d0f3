//! WireGuard IP allocation for segments. Pure.
//!
//! Two ways, chosen per snapshot (docs/migrating-from-kilo.md, "WireGuard IPs in a mixed
//! cluster"):
//! - **Kilo's** ([`allocate_kilo`]), while any node taking part runs Go Kilo: the segments sorted
//!   by key get the subnet's addresses in order (the first segment `network + 1`, and so on up
//!   to the broadcast address), exactly as Go Kilo's allocator. Go Kilo ignores `wireguard-ip`,
//!   so this is the only way both agree.
//! - **Stable** ([`allocate`]) once every node runs kilo-rs. Kilo's numbering renumbers every
//!   segment after one that comes or goes; this never does:
//!   1. a segment keeps the address its nodes published (`wireguard-ip`), when that address is
//!      inside the subnet; when two segments claim the same address, the first publisher keeps
//!      it: the claim with the earliest `wireguard-ip-since`, a claim without one after all that
//!      have one, equal times by key order (the topology reports the conflict);
//!   2. a segment without a claim starts at a slot derived from a stable hash (FNV-1a, 64 bit) of
//!      its key and probes upwards to the first free address.
//!
//! The switch from Kilo's to stable renumbers nothing: every leader has published the address
//! Kilo's numbering gave it, and stable allocation keeps published addresses.

use std::collections::{BTreeMap, BTreeSet};
use std::net::{IpAddr, Ipv4Addr};

use ipnet::Ipv4Net;
use serde::Serialize;

use crate::implementation::Implementation;
use crate::node::Node;
use crate::topology::{Warning, elect_leader};
use crate::types::NodeName;

/// An address a node published for its segment.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Claim {
    /// The published `wireguard-ip`.
    pub address: Ipv4Addr,
    /// The published `wireguard-ip-since`, unix seconds.
    pub since: Option<i64>,
}

/// One segment asking for an address.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Request<'a> {
    /// The segment key (`location:<name>` or `node:<name>`).
    pub key: &'a str,
    /// Addresses its nodes published, in preference order (leader first).
    pub claims: Vec<Claim>,
}

/// How a topology's WireGuard IPs were allocated.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
#[serde(tag = "mode", rename_all = "lowercase")]
pub enum Allocation {
    /// Kilo's numbering by segment order, because these nodes run Go Kilo.
    Kilo {
        /// The nodes taking part that run Go Kilo, sorted.
        go_kilo_nodes: Vec<NodeName>,
    },
    /// Stable allocation: every node taking part runs kilo-rs.
    Stable,
}

impl Allocation {
    /// One line for operators in Kilo's mode (`None` when stable: nothing to say).
    #[must_use]
    pub fn describe(&self) -> Option<String> {
        let Self::Kilo { go_kilo_nodes } = self else {
            return None;
        };
        let names: Vec<&str> = go_kilo_nodes.iter().map(NodeName::as_str).collect();
        Some(format!(
            "WireGuard IPs numbered by segment order, as Go Kilo does, while Go Kilo runs on: {}",
            names.join(", ")
        ))
    }
}

/// FNV-1a over bytes, 64 bit: small, stable across versions and platforms.
#[must_use]
pub fn fnv1a64(bytes: &[u8]) -> u64 {
    let mut h: u64 = 0xcbf2_9ce4_8422_2325;
    for b in bytes {
        h ^= u64::from(*b);
        h = h.wrapping_mul(0x0000_0100_0000_01b3);
    }
    h
}

/// The usable host range of a subnet as integers (excludes network and broadcast addresses when
/// the prefix is shorter than /31).
fn host_range(subnet: Ipv4Net) -> (u32, u32) {
    let net = u32::from(subnet.network());
    let bcast = u32::from(subnet.broadcast());
    if subnet.prefix_len() >= 31 {
        (net, bcast)
    } else {
        (net + 1, bcast - 1)
    }
}

/// Kilo's allocation: the `i`-th key in sorted order gets `network + 1 + i`, as long as that is
/// inside the subnet (the broadcast address included, as in Go Kilo; a /32 has none). Keys past
/// the end get nothing (Go Kilo then refuses the whole topology).
#[must_use]
pub fn allocate_kilo(subnet: Ipv4Net, keys: &[&str]) -> BTreeMap<String, Ipv4Addr> {
    let sorted: BTreeSet<&str> = keys.iter().copied().collect();
    let first = u64::from(u32::from(subnet.network())) + 1;
    let last = u64::from(u32::from(subnet.broadcast()));
    sorted
        .into_iter()
        .zip(first..=last)
        .filter_map(|(k, a)| Some((k.to_owned(), Ipv4Addr::from(u32::try_from(a).ok()?))))
        .collect()
}

/// Stable allocation: one address per request. Requests may come in any order; the result is
/// the same. A segment is missing from the result only when the subnet is exhausted.
#[must_use]
pub fn allocate(subnet: Ipv4Net, requests: &[Request<'_>]) -> BTreeMap<String, Ipv4Addr> {
    let (lo, hi) = host_range(subnet);
    let size = u64::from(hi - lo) + 1;
    let mut sorted: Vec<&Request<'_>> = requests.iter().collect();
    sorted.sort_by_key(|r| r.key);
    sorted.dedup_by_key(|r| r.key);

    // Every claim, first publisher first: earliest since, no since last, then key order, then
    // the segment's own preference.
    let mut claims: Vec<(i64, &str, usize, u32)> = sorted
        .iter()
        .flat_map(|r| {
            r.claims
                .iter()
                .enumerate()
                .map(|(i, c)| (c.since.unwrap_or(i64::MAX), r.key, i, u32::from(c.address)))
        })
        .filter(|(_, _, _, a)| (lo..=hi).contains(a))
        .collect();
    claims.sort_unstable();
    let mut taken: BTreeSet<u32> = BTreeSet::new();
    let mut out = BTreeMap::new();
    for (_, key, _, a) in claims {
        if !out.contains_key(key) && taken.insert(a) {
            out.insert(key.to_owned(), Ipv4Addr::from(a));
        }
    }
    let unclaimed: Vec<&&Request<'_>> =
        sorted.iter().filter(|r| !out.contains_key(r.key)).collect();
    for r in unclaimed {
        if taken.len() as u64 >= size {
            break;
        }
        let start = fnv1a64(r.key.as_bytes()) % size;
        let free = (0..size)
            .map(|i| lo + u32::try_from((start + i) % size).unwrap_or(0))
            .find(|a| !taken.contains(a));
        if let Some(a) = free {
            taken.insert(a);
            out.insert(r.key.to_owned(), Ipv4Addr::from(a));
        }
    }
    out
}

/// The segments' addresses and how they were chosen.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) struct Outcome {
    pub(crate) allocation: Allocation,
    pub(crate) addresses: BTreeMap<String, Ipv4Addr>,
}

/// A node's published claim, if it is an IPv4 address.
fn claim_of(n: &Node) -> Option<Claim> {
    match n.wireguard_ip.map(|w| w.addr()) {
        Some(IpAddr::V4(address)) => Some(Claim {
            address,
            since: n.wireguard_ip_since,
        }),
        _ => None,
    }
}

/// Allocates the segments' addresses: Kilo's way while any member runs Go Kilo, else stable
/// with claims from the leader first, then the other members by name.
pub(crate) fn for_segments(groups: &BTreeMap<String, Vec<Node>>, subnet: Ipv4Net) -> Outcome {
    let go_kilo_nodes: Vec<NodeName> = groups
        .values()
        .flatten()
        .filter(|n| n.implementation == Implementation::GoKilo)
        .map(|n| n.name.clone())
        .collect::<BTreeSet<_>>()
        .into_iter()
        .collect();
    if !go_kilo_nodes.is_empty() {
        let keys: Vec<&str> = groups.keys().map(String::as_str).collect();
        return Outcome {
            allocation: Allocation::Kilo { go_kilo_nodes },
            addresses: allocate_kilo(subnet, &keys),
        };
    }
    let requests: Vec<Request<'_>> = groups
        .iter()
        .map(|(key, nodes)| {
            let leader = elect_leader(nodes);
            let others = nodes
                .iter()
                .enumerate()
                .filter(|(i, _)| *i != leader)
                .map(|(_, n)| n);
            let claims = nodes
                .get(leader)
                .into_iter()
                .chain(others)
                .filter_map(claim_of)
                .collect();
            Request { key, claims }
        })
        .collect();
    Outcome {
        allocation: Allocation::Stable,
        addresses: allocate(subnet, &requests),
    }
}

/// Since when the segment has held `address`: the earliest `wireguard-ip-since` among its
/// members' claims of that very address (the leader publishes it on), `None` when no member
/// claimed it with a time (the leader then publishes the current time).
#[must_use]
pub fn held_since(nodes: &[Node], address: Ipv4Addr) -> Option<i64> {
    nodes
        .iter()
        .filter_map(claim_of)
        .filter(|c| c.address == address)
        .filter_map(|c| c.since)
        .min()
}

/// The `wireguard-ip-since` a leader publishes for `address`: the earliest of the time its
/// segment's members published for it (`held`, from [`held_since`]) and the time this kg itself
/// last published for that same address (`mine`; it covers the moments before the cluster view
/// shows kg's own publish), else `now`.
#[must_use]
pub fn since_to_publish(
    address: Ipv4Addr,
    held: Option<i64>,
    mine: Option<(Ipv4Addr, i64)>,
    now: i64,
) -> i64 {
    let mine = mine.filter(|(a, _)| *a == address).map(|(_, t)| t);
    held.into_iter().chain(mine).min().unwrap_or(now)
}

/// A published `wireguard-ip` that another segment holds is reported (stable allocation only;
/// Kilo's numbering ignores claims): the first publisher keeps a contested address and the
/// other segment moves.
pub(crate) fn claim_conflicts(
    groups: &BTreeMap<String, Vec<Node>>,
    outcome: &Outcome,
    warnings: &mut Vec<Warning>,
) {
    if outcome.allocation != Allocation::Stable {
        return;
    }
    let holder: BTreeMap<Ipv4Addr, &String> =
        outcome.addresses.iter().map(|(k, a)| (*a, k)).collect();
    for (key, nodes) in groups {
        for n in nodes {
            let Some(claim) = claim_of(n) else {
                continue;
            };
            if let Some(h) = holder.get(&claim.address).filter(|h| **h != key) {
                warnings.push(Warning {
                    subject: format!("node/{}", n.name),
                    message: format!(
                        "kilo.squat.ai/wireguard-ip {} is held by segment {h}, which claimed it \
                         first; segment {key} gets another address",
                        claim.address
                    ),
                });
            }
        }
    }
}

#[cfg(test)]
#[path = "allocate_tests.rs"]
mod tests;
