//! Property tests: plans do not depend on input order, WireGuard IPs never collide, and every
//! ready node's pod CIDRs are reachable in every other node's plan.

#[cfg(test)]
#[allow(
    dead_code,
    reason = "shared by several test binaries; each uses a subset"
)]
mod common;

use std::collections::BTreeSet;

use common::*;
use ipnet::IpNet;
use kilo_mesh::Snapshot;
use kilo_mesh::types::Granularity;
use proptest::prelude::*;

#[derive(Clone, Debug)]
struct Spec {
    location: u8,
    private: bool,
    public: bool,
    leader: bool,
    stale: bool,
}

#[cfg(test)]
fn spec() -> impl Strategy<Value = Spec> {
    (
        0u8..3,
        any::<bool>(),
        any::<bool>(),
        any::<bool>(),
        prop::bool::weighted(0.15),
    )
        .prop_map(|(location, private, public, leader, stale)| Spec {
            location,
            private,
            public,
            leader,
            stale,
        })
}

#[cfg(test)]
fn node(i: usize, s: &Spec) -> N {
    let endpoint = if s.public {
        format!("203.0.113.{i}:51820")
    } else {
        format!("192.168.1.{i}:51820")
    };
    let mut n = N::new(
        &format!("n{i}"),
        &format!("loc{}", s.location),
        &endpoint,
        &format!("10.{}.0.{i}/24", s.location),
        &[&format!("10.42.{i}.0/24"), &format!("fd00:10:42:{i}::/64")],
    )
    .status_ip(&format!("fd00:{}::{i}", s.location));
    if !s.private {
        n = n.ann("force-internal-ip", "-");
    }
    if s.leader {
        n = n.ann("leader", "");
    }
    if s.stale {
        n = n.ann("last-seen", "1");
    }
    n
}

#[cfg(test)]
fn cluster() -> impl Strategy<Value = (Vec<N>, Vec<kilo_mesh::Peer>)> {
    let peers = prop::collection::vec((0u8..4, 0u8..4), 0..4).prop_map(|ps| {
        ps.into_iter()
            .enumerate()
            .map(|(i, (a, b))| {
                let ips = [format!("10.5.{a}.0/24"), format!("10.5.{b}.1/32")];
                let refs: Vec<&str> = ips.iter().map(String::as_str).collect();
                peer(&format!("p{i}"), 0x80 + u8::try_from(i).unwrap(), &refs)
            })
            .collect()
    });
    (prop::collection::vec(spec(), 1..8), peers).prop_map(|(specs, peers)| {
        let nodes = specs
            .iter()
            .enumerate()
            .map(|(i, s)| node(i + 1, s))
            .collect();
        (nodes, peers)
    })
}

#[cfg(test)]
fn snapshot(nodes: &[N], peers: &[kilo_mesh::Peer]) -> Snapshot {
    let refs: Vec<&N> = nodes.iter().collect();
    snap(&refs, peers.to_vec())
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(128))]

    #[test]
    fn plans_do_not_depend_on_input_order(
        (nodes, peers) in cluster(),
        seed in any::<u64>(),
        full in any::<bool>(),
    ) {
        let mut settings = settings("n1");
        if full { settings.granularity = Granularity::Full; }
        let a = snapshot(&nodes, &peers);
        let mut b = a.clone();
        // A deterministic shuffle driven by the seed.
        let n = b.nodes.len();
        for i in (1..n).rev() {
            let j = usize::try_from((seed >> (i % 32)) % (i as u64 + 1)).unwrap();
            b.nodes.swap(i, j);
        }
        b.peers.reverse();
        prop_assume!(a.nodes.iter().any(|n| n.name.as_str() == "n1"));
        let pa = kilo_mesh::plan::plan(&a, &settings, &Default::default());
        let pb = kilo_mesh::plan::plan(&b, &settings, &Default::default());
        prop_assert_eq!(pa, pb);
    }

    #[test]
    fn wireguard_ips_are_unique((nodes, peers) in cluster(), full in any::<bool>()) {
        let g = if full { Granularity::Full } else { Granularity::Location };
        let s = snapshot(&nodes, &peers);
        let t = kilo_mesh::Topology::new(&s, &"n1".parse().unwrap(), g, "10.4.0.0/16".parse().unwrap()).unwrap();
        let ips: Vec<_> = t.segments.iter().filter_map(|s| s.wireguard_ip).collect();
        let unique: BTreeSet<_> = ips.iter().collect();
        prop_assert_eq!(ips.len(), t.segments.len());
        prop_assert_eq!(unique.len(), ips.len());
    }

    #[test]
    fn every_ready_pod_cidr_is_reachable_from_every_node((nodes, peers) in cluster(), full in any::<bool>()) {
        let s = snapshot(&nodes, &peers);
        let ready: Vec<&kilo_mesh::Node> = s.nodes.iter().filter(|n| n.is_ready(NOW)).collect();
        for me in &ready {
            let mut settings = settings(me.name.as_str());
            if full { settings.granularity = Granularity::Full; }
            let p = kilo_mesh::plan::plan(&s, &settings, &Default::default()).unwrap();
            let routed: BTreeSet<IpNet> = p.network.routes.iter().map(|r| r.dst).collect();
            let tunnelled: BTreeSet<IpNet> = p
                .wireguard
                .iter()
                .flat_map(|w| w.peers.iter().flat_map(|peer| peer.allowed_ips.iter().copied()))
                .collect();
            for other in ready.iter().filter(|o| o.name != me.name) {
                for cidr in &other.pod_cidrs {
                    prop_assert!(
                        routed.contains(cidr),
                        "{} has no route to {} of {}: {:?}", me.name, cidr, other.name, p.warnings
                    );
                    let via_wg = p.network.routes.iter().any(|r| r.dst == *cidr && r.dev == kilo_mesh::plan::network::Link::WireGuard);
                    if via_wg {
                        prop_assert!(tunnelled.contains(cidr), "{} routes {} into WireGuard without a peer", me.name, cidr);
                    }
                }
            }
        }
    }
}
