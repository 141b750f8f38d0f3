//! What the topology drops when values conflict: Peers whose key is taken, Peer allowed IPs
//! that are taken or overlap the cluster's ranges (each a refused value, see
//! [`crate::guard::Rejected`]), and allowed-location IPs that overlap what other segments or
//! Peers own (a strict supernet of the location's own private IPs excepted). Pure.

use std::collections::{BTreeMap, BTreeSet};

use ipnet::{IpNet, Ipv4Net};

use crate::guard::{self, Object, Rejected};
use crate::index::NetIndex;
use crate::node::Peer;
use crate::topology::{PeerEntry, Segment, Warning, overlaps, sorted};
use crate::types::{NodeName, WgKey};

/// Why a Peer's key is refused: a node's (Go Kilo would configure the Peer anyway) or an
/// earlier Peer's.
fn key_refusal(
    p: &Peer,
    node_keys: &BTreeMap<WgKey, NodeName>,
    seen_keys: &BTreeMap<WgKey, String>,
) -> Option<String> {
    if let Some(node) = node_keys.get(&p.public_key) {
        return Some(format!(
            "node {node} publishes this key; the Peer is ignored (Go Kilo configures it)"
        ));
    }
    seen_keys
        .get(&p.public_key)
        .map(|first| format!("peer {first} already uses this key; the Peer is ignored"))
}

/// Every node's key, with its node.
fn node_keys(segments: &[Segment]) -> BTreeMap<WgKey, NodeName> {
    segments
        .iter()
        .flat_map(|s| s.nodes.iter())
        .filter_map(|n| n.key.map(|k| (k, n.name.clone())))
        .collect()
}

/// Every segment's own ranges (pod CIDRs, private IPs, WireGuard IP) in segment order, indexed,
/// with the key of each one's segment.
struct SegmentRanges<'a> {
    index: NetIndex,
    segment: Vec<&'a str>,
}

impl<'a> SegmentRanges<'a> {
    fn of(segments: &'a [Segment]) -> Self {
        let ranges: Vec<(IpNet, &str)> = segments
            .iter()
            .flat_map(|s| {
                s.base_allowed_ips()
                    .into_iter()
                    .map(|b| (b, s.key.as_str()))
            })
            .collect();
        Self {
            index: NetIndex::new(ranges.iter().map(|(b, _)| *b)),
            segment: ranges.into_iter().map(|(_, s)| s).collect(),
        }
    }

    /// The first range (in segment order) overlapping `ip`, with its segment's key.
    fn first_overlapping(&self, ip: &IpNet) -> Option<(IpNet, &'a str)> {
        let i = self.index.first_overlapping(ip)?;
        Some((self.index.net(i), self.segment[i]))
    }
}

/// Why a Peer's allowed IP is refused: an earlier Peer has it (as in Go Kilo), or it overlaps a
/// segment's range (Go Kilo would configure it).
fn ip_refusal(
    ip: &IpNet,
    claimed: &BTreeMap<IpNet, String>,
    mesh: &SegmentRanges<'_>,
) -> Option<String> {
    if let Some(owner) = claimed.get(ip) {
        return Some(format!("already an allowed IP of peer {owner}"));
    }
    mesh.first_overlapping(ip)
        .map(|(m, seg)| format!("overlaps {m} of segment {seg} (Go Kilo configures it)"))
}

/// Peers sorted by name; a Peer whose key is a node's or an earlier Peer's is refused; an allowed
/// IP equal to an earlier Peer's, or overlapping a segment, is refused; a Peer left with nothing
/// is dropped. Every refusal is a [`Rejected`] on the Peer (an Event and a `kgctl check`
/// finding) and a warning.
pub(crate) fn dedup_peers(
    peers: &[Peer],
    segments: &[Segment],
    warnings: &mut Vec<Warning>,
    rejected: &mut Vec<Rejected>,
) -> Vec<PeerEntry> {
    let mut sorted_peers: Vec<&Peer> = peers.iter().collect();
    sorted_peers.sort_by(|a, b| a.name.cmp(&b.name));
    let (node_keys, mesh) = (node_keys(segments), SegmentRanges::of(segments));
    let mut seen_keys: BTreeMap<WgKey, String> = BTreeMap::new();
    let mut claimed: BTreeMap<IpNet, String> = BTreeMap::new();
    let mut out = Vec::new();
    for p in sorted_peers {
        let mut refuse = |field, value: String, reason: String| {
            let r = Rejected {
                object: Object::Peer(p.name.clone()),
                field,
                value,
                reason,
            };
            warnings.push(r.warning());
            rejected.push(r);
        };
        if let Some(why) = key_refusal(p, &node_keys, &seen_keys) {
            refuse(
                guard::PEER_PUBLIC_KEY,
                p.public_key.fingerprint() + "…",
                why,
            );
            continue;
        }
        seen_keys.insert(p.public_key, p.name.clone());
        let mut ips = Vec::new();
        for ip in sorted(p.allowed_ips.iter().map(IpNet::trunc)) {
            match ip_refusal(&ip, &claimed, &mesh) {
                Some(why) => refuse(guard::PEER_ALLOWED_IPS, ip.to_string(), why),
                None => {
                    claimed.insert(ip, p.name.clone());
                    ips.push(ip);
                }
            }
        }
        if ips.is_empty() {
            warnings.push(Warning {
                subject: format!("peer/{}", p.name),
                message: "no usable allowed IP; ignored".into(),
            });
            continue;
        }
        out.push(PeerEntry {
            peer: p.clone(),
            allowed_ips: ips,
            endpoint: p.endpoint.clone(),
        });
    }
    out
}

/// Whether `a`, an allowed-location IP of `location`, conflicts with `b`, an allowed IP of
/// `b_location`: they overlap, unless `a` strictly contains a private IP of its own location
/// (a location's whole LAN, as Kilo 0.7 keeps it; the more specific route still wins).
fn conflicts_with_base(
    a: &IpNet,
    location: &str,
    b: &IpNet,
    b_location: &str,
    private: bool,
) -> bool {
    let lan_of_own_node =
        private && b_location == location && a.prefix_len() < b.prefix_len() && a.contains(b);
    overlaps(a, b) && !lan_of_own_node
}

/// Drops allowed-location IPs that overlap another segment's allowed-location IPs, any segment's
/// own ranges (except a strict supernet of its own location's private IPs), the WireGuard subnet
/// or a Peer. The result does not depend on segment order.
pub(crate) fn filter_allowed_location_ips(
    segments: &mut [Segment],
    peers: &[PeerEntry],
    subnet: Ipv4Net,
    warnings: &mut Vec<Warning>,
) {
    if segments.iter().all(|s| s.allowed_location_ips.is_empty()) {
        return;
    }
    let base: Vec<(IpNet, String, bool)> = segments
        .iter()
        .flat_map(|s| {
            let private: BTreeSet<IpNet> = s.private_ips().into_iter().collect();
            s.base_allowed_ips()
                .into_iter()
                .map(move |b| (b, s.location.clone(), private.contains(&b)))
        })
        .collect();
    let peer_ips: Vec<IpNet> = peers
        .iter()
        .flat_map(|p| p.allowed_ips.iter().copied())
        .collect();
    let raw: Vec<(usize, IpNet)> = segments
        .iter()
        .enumerate()
        .flat_map(|(i, s)| s.allowed_location_ips.iter().map(move |a| (i, *a)))
        .collect();
    let wg = IpNet::V4(subnet);
    for (i, seg) in segments.iter_mut().enumerate() {
        seg.allowed_location_ips.retain(|a| {
            let why = if raw.iter().any(|(j, o)| *j != i && overlaps(o, a)) {
                Some("overlaps another location's allowed-location IPs")
            } else if base
                .iter()
                .any(|(b, loc, private)| conflicts_with_base(a, &seg.location, b, loc, *private))
            {
                Some("overlaps a pod CIDR, private IP or WireGuard IP")
            } else if overlaps(&wg, a) {
                Some("overlaps the WireGuard subnet")
            } else if peer_ips.iter().any(|p| overlaps(p, a)) {
                Some("overlaps a peer's allowed IPs")
            } else {
                None
            };
            if let Some(why) = why {
                warnings.push(Warning {
                    subject: format!("segment/{}", seg.key),
                    message: format!("allowed-location IP {a} {why}; dropped"),
                });
            }
            why.is_none()
        });
    }
}
