//! WireGuard IP allocation for segments. Pure.
//!
//! Kilo hands out `--subnet` addresses by sorted segment index, so adding or removing a location
//! renumbers every location after it (and resets their tunnels). kilo-rs never does:
//! 1. a segment keeps the address its nodes already published (`wireguard-ip`), when that address
//!    is inside the subnet and no segment earlier in key order claims it;
//! 2. a segment without a claim starts at a slot derived from a stable hash (FNV-1a, 64 bit) of
//!    its key and probes upwards to the first free address.
//!
//! So the result for one segment depends only on its own key and claims, except in the rare case
//! of a hash collision between two unclaimed segments, which is resolved by key order. Once a
//! leader has published its address, that claim pins it for good, unless a segment earlier in key
//! order claims the same address (the topology reports that conflict).

use std::collections::{BTreeMap, BTreeSet};
use std::net::Ipv4Addr;

use ipnet::Ipv4Net;

/// One segment asking for an address.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Request<'a> {
    /// The segment key (`location:<name>` or `node:<name>`).
    pub key: &'a str,
    /// Addresses its nodes published, in preference order (leader first).
    pub claims: Vec<Ipv4Addr>,
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

/// Allocates one address per request. Requests may come in any order; the result is the same.
/// A segment is missing from the result only when the subnet is exhausted.
#[must_use]
pub fn allocate(subnet: Ipv4Net, requests: &[Request<'_>]) -> BTreeMap<String, Ipv4Addr> {
    let (lo, hi) = host_range(subnet);
    let size = u64::from(hi - lo) + 1;
    let mut sorted: Vec<&Request<'_>> = requests.iter().collect();
    sorted.sort_by_key(|r| r.key);
    sorted.dedup_by_key(|r| r.key);

    let mut taken: BTreeSet<u32> = BTreeSet::new();
    let mut out = BTreeMap::new();
    for r in &sorted {
        let claim = r
            .claims
            .iter()
            .map(|a| u32::from(*a))
            .find(|a| (lo..=hi).contains(a) && !taken.contains(a));
        if let Some(a) = claim {
            taken.insert(a);
            out.insert(r.key.to_owned(), Ipv4Addr::from(a));
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

/// A published `wireguard-ip` that another segment holds is reported: the allocator gives a
/// contested address to the segment first in key order, and the other one moves.
pub(crate) fn claim_conflicts(
    groups: &BTreeMap<String, Vec<crate::node::Node>>,
    addresses: &BTreeMap<String, Ipv4Addr>,
    warnings: &mut Vec<crate::topology::Warning>,
) {
    let holder: BTreeMap<Ipv4Addr, &String> = addresses.iter().map(|(k, a)| (*a, k)).collect();
    for (key, nodes) in groups {
        for n in nodes {
            let Some(std::net::IpAddr::V4(claim)) = n.wireguard_ip.map(|w| w.addr()) else {
                continue;
            };
            if let Some(h) = holder.get(&claim).filter(|h| **h != key) {
                warnings.push(crate::topology::Warning {
                    subject: format!("node/{}", n.name),
                    message: format!(
                        "kilo.squat.ai/wireguard-ip {claim} is held by segment {h}; segment \
                         {key} gets another address"
                    ),
                });
            }
        }
    }
}

#[cfg(test)]
#[path = "allocate_tests.rs"]
mod tests;
