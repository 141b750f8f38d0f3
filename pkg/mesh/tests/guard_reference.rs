//! The guard's indexed checks against a straightforward reference kept here: the guard as it was
//! written before its lookups were indexed, comparing every value with every other. Generated
//! small clusters with overlapping pod CIDRs of both families, duplicate keys and names, internal
//! IPs inside other nodes' pod CIDRs or equal to their endpoints and status addresses,
//! allowed-location IPs over several locations and Peers over all of it must give the same
//! snapshot and the same refusals, in the same order, with the same messages.

use std::net::{IpAddr, Ipv4Addr};

use ipnet::{IpNet, Ipv4Net};
use kilo_mesh::annotations::keys;
use kilo_mesh::guard::{self, Object, Rejected, reserved};
use kilo_mesh::topology::overlaps;
use kilo_mesh::types::{Endpoint, Host, NodeName, WgKey};
use kilo_mesh::{Node, Peer, Snapshot};
use proptest::prelude::*;

/// The reference: every check a scan over every node or value.
mod reference {
    use super::*;

    #[derive(Clone, Copy, PartialEq, Eq)]
    enum Role {
        Endpoint,
        StatusAddress,
        InternalIp,
    }

    struct Guarded {
        ip: IpAddr,
        node: NodeName,
        location: String,
        role: Role,
    }

    fn protected(nodes: &[Node], internal: bool) -> Vec<Guarded> {
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
            if let Some(ip) = n.endpoint.as_ref().and_then(Endpoint::ip) {
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
        out
    }

    fn covered_where(
        p: &[Guarded],
        net: &IpNet,
        counts: impl Fn(&Guarded) -> bool,
    ) -> Option<String> {
        p.iter()
            .find(|g| net.contains(&g.ip) && counts(g))
            .map(|g| {
                let what = match g.role {
                    Role::Endpoint => "the endpoint",
                    Role::StatusAddress => "an InternalIP",
                    Role::InternalIp => "the internal IP",
                };
                format!("covers {what} {} of node {}", g.ip, g.node)
            })
    }

    fn reject(n: &Node, field: &'static str, value: impl ToString, reason: String) -> Rejected {
        Rejected {
            object: Object::Node(n.name.to_string()),
            field,
            value: value.to_string(),
            reason,
        }
    }

    pub fn sanitize(s: &Snapshot, local: &NodeName, subnet: Ipv4Net) -> (Snapshot, Vec<Rejected>) {
        let mut nodes = s.nodes.clone();
        nodes.sort_by(|a, b| (&a.name != local, &a.name).cmp(&(&b.name != local, &b.name)));
        let mut out = Vec::new();
        node_keys(&mut nodes, &mut out);
        pod_cidrs(&mut nodes, subnet, &mut out);
        internal_ips(&mut nodes, &mut out);
        compatibility_ips(&mut nodes, subnet, &mut out);
        let p = protected(&nodes, true);
        for n in &mut nodes {
            let mut kept = Vec::new();
            for c in std::mem::take(&mut n.allowed_location_ips) {
                let why = reserved(&c).or_else(|| {
                    covered_where(&p, &c, |g| {
                        g.role == Role::Endpoint
                            || g.location != n.location
                            || c.prefix_len() == IpNet::from(g.ip).prefix_len()
                    })
                });
                match why {
                    Some(why) => out.push(reject(n, keys::ALLOWED_LOCATION_IPS, c, why)),
                    None => kept.push(c),
                }
            }
            n.allowed_location_ips = kept;
        }
        let peers = s
            .peers
            .iter()
            .map(|x| peer(x, &p, subnet, &mut out))
            .collect();
        out.sort();
        out.dedup();
        let snapshot = Snapshot {
            nodes,
            peers,
            now: s.now,
        };
        (snapshot, out)
    }

    fn node_keys(nodes: &mut [Node], out: &mut Vec<Rejected>) {
        let mut seen: Vec<(WgKey, NodeName)> = Vec::new();
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

    fn pod_cidrs(nodes: &mut [Node], subnet: Ipv4Net, out: &mut Vec<Rejected>) {
        let p = protected(nodes, false);
        let wg = IpNet::V4(subnet);
        let mut taken: Vec<(IpNet, NodeName)> = Vec::new();
        for n in nodes.iter_mut() {
            let mut kept = Vec::new();
            for c in std::mem::take(&mut n.pod_cidrs) {
                let why = reserved(&c)
                    .or_else(|| covered_where(&p, &c, |_| true))
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
                    Some(why) => out.push(reject(n, guard::POD_CIDRS, c, why)),
                    None => {
                        taken.push((c, n.name.clone()));
                        kept.push(c);
                    }
                }
            }
            n.pod_cidrs = kept;
        }
    }

    fn internal_field(n: &Node, ip: IpAddr) -> &'static str {
        if n.status_addresses.contains(&ip) {
            guard::STATUS_ADDRESSES
        } else if n.forced_internal_ip {
            keys::FORCE_INTERNAL_IP
        } else {
            keys::INTERNAL_IP
        }
    }

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
        for o in nodes.iter().filter(|o| o.name != n.name) {
            if let Some(c) = o.pod_cidrs.iter().find(|c| c.contains(&ip)) {
                return Some(format!("inside {c}, the pod CIDR of node {}", o.name));
            }
            if o.status_addresses.contains(&ip) {
                return Some(format!("an InternalIP of node {}", o.name));
            }
            let own = n.status_addresses.contains(&ip);
            if !own && o.endpoint.as_ref().and_then(Endpoint::ip) == Some(ip) {
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
            if o.endpoint.as_ref().and_then(Endpoint::ip) == Some(ip) {
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

    fn peer(p: &Peer, prot: &[Guarded], subnet: Ipv4Net, out: &mut Vec<Rejected>) -> Peer {
        let wg = IpNet::V4(subnet);
        let mut kept = Vec::new();
        for c in &p.allowed_ips {
            let why = reserved(c)
                .or_else(|| covered_where(prot, c, |_| true))
                .or_else(|| {
                    overlaps(&wg, c).then(|| format!("overlaps the WireGuard subnet {wg}"))
                });
            match why {
                Some(reason) => out.push(Rejected {
                    object: Object::Peer(p.name.clone()),
                    field: guard::PEER_ALLOWED_IPS,
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
}

/// Addresses that collide on purpose: inside and around the pod CIDRs below, the WireGuard
/// subnet (10.4.0.0/16), loopback, and IPv6 inside and outside fd00::/48.
const ADDRESSES: &[&str] = &[
    "10.0.0.1",
    "10.0.0.2",
    "10.0.1.1",
    "10.0.1.2",
    "10.1.0.1",
    "10.4.0.9",
    "127.0.0.1",
    "192.168.0.1",
    "192.168.0.2",
    "192.168.1.1",
    "fd00::1",
    "fd00::2",
    "fd00:0:0:1::1",
    "fd01::1",
    "2001:db8::1",
];

/// Ranges that overlap each other and the addresses above, of every prefix length class: /0,
/// host routes of both families, a range of the other family.
const RANGES: &[&str] = &[
    "10.0.0.0/24",
    "10.0.0.0/16",
    "10.0.0.0/8",
    "10.0.1.0/24",
    "10.0.0.1/32",
    "10.0.1.2/32",
    "10.1.0.0/16",
    "10.4.1.0/24",
    "192.168.0.0/24",
    "192.168.0.0/16",
    "192.168.1.1/32",
    "0.0.0.0/0",
    "fd00::/48",
    "fd00::/64",
    "fd00:0:0:1::/64",
    "fd00::1/128",
    "fd00::/8",
    "2001:db8::/32",
    "::/0",
];

fn address() -> impl Strategy<Value = IpAddr> {
    prop::sample::select(ADDRESSES)
        .prop_map(|a| a.parse().unwrap_or(IpAddr::V4(Ipv4Addr::LOCALHOST)))
}

fn range() -> impl Strategy<Value = IpNet> {
    prop::sample::select(RANGES).prop_map(|r| r.parse().unwrap_or_default())
}

/// An internal IP: one of the addresses with a prefix of its family (sometimes 0).
fn internal_ip() -> impl Strategy<Value = IpNet> {
    (
        address(),
        prop::sample::select(vec![0_u8, 8, 16, 24, 32, 64, 128]),
    )
        .prop_map(|(a, p)| {
            let max = if a.is_ipv4() { 32 } else { 128 };
            IpNet::new(a, p.min(max)).unwrap_or_else(|_| IpNet::from(a))
        })
}

fn node() -> impl Strategy<Value = Node> {
    (
        (0_u8..6, 0_u8..3, prop::option::of(0_u8..4)),
        (
            prop::option::of(address()),
            prop::collection::vec(address(), 0..3),
        ),
        (
            prop::collection::vec(internal_ip(), 0..3),
            prop::collection::vec(range(), 0..3),
        ),
        (
            prop::collection::vec(range(), 0..3),
            prop::option::of(address()),
            any::<bool>(),
        ),
    )
        .prop_map(
            |((name, loc, key), (endpoint, status), (internal, pods), (lans, compat, forced))| {
                let name: NodeName = format!("n{name}")
                    .parse()
                    .unwrap_or_else(|_| unreachable!());
                let mut n = Node::named(name);
                n.location = ["a", "b", ""][usize::from(loc)].to_owned();
                n.key = key.map(|k| WgKey::from_bytes([k; 32]));
                n.endpoint = endpoint.map(|ip| Endpoint {
                    host: Host::Ip(ip),
                    port: 51820,
                });
                n.status_addresses = status;
                n.internal_ips = internal;
                n.pod_cidrs = pods;
                n.allowed_location_ips = lans;
                n.cni_compatibility_ip = compat.and_then(|ip| match ip {
                    IpAddr::V4(v4) => Some(v4),
                    IpAddr::V6(_) => None,
                });
                n.forced_internal_ip = forced;
                n
            },
        )
}

fn peer() -> impl Strategy<Value = Peer> {
    (0_u8..4, prop::collection::vec(range(), 0..4)).prop_map(|(i, allowed_ips)| Peer {
        name: format!("peer-{i}"),
        allowed_ips,
        public_key: WgKey::from_bytes([0x80 + i; 32]),
        endpoint: None,
        persistent_keepalive: None,
        preshared_key: None,
    })
}

fn cluster() -> impl Strategy<Value = Snapshot> {
    (
        prop::collection::vec(node(), 1..9),
        prop::collection::vec(peer(), 0..4),
    )
        .prop_map(|(nodes, peers)| Snapshot {
            nodes,
            peers,
            now: 1_700_000_000,
        })
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(2048))]

    #[test]
    fn the_indexed_guard_refuses_what_the_reference_refuses(s in cluster(), local in 0_usize..8) {
        let subnet: Ipv4Net = "10.4.0.0/16".parse().unwrap();
        let local = s.nodes[local % s.nodes.len()].name.clone();
        let (got, got_rejected) = guard::sanitize(s.clone(), &local, subnet);
        let (want, want_rejected) = reference::sanitize(&s, &local, subnet);
        prop_assert_eq!(got_rejected, want_rejected);
        prop_assert_eq!(got, want);
    }
}

/// One literal case per check, so a difference shows as a message and not only as a property:
/// an internal IP inside an earlier node's pod CIDR, an allowed-location IP over its own
/// location's nodes (kept) and over another location's (refused, naming the first one covered).
#[test]
fn literal_cluster_gives_the_reference_refusals() {
    let mk = |name: &str, loc: &str, ep: &str, internal: &str, pod: &str, lan: &[&str]| {
        let mut n = Node::named(name.parse().unwrap());
        n.location = loc.to_owned();
        n.endpoint = Some(Endpoint {
            host: Host::Ip(ep.parse().unwrap()),
            port: 51820,
        });
        n.internal_ips = vec![internal.parse().unwrap()];
        n.pod_cidrs = vec![pod.parse().unwrap()];
        n.allowed_location_ips = lan.iter().map(|l| l.parse().unwrap()).collect();
        n
    };
    let s = Snapshot {
        nodes: vec![
            mk(
                "n1",
                "a",
                "203.0.113.1",
                "192.168.0.1/24",
                "10.42.1.0/24",
                &["192.168.0.0/16"],
            ),
            mk(
                "n2",
                "a",
                "203.0.113.2",
                "192.168.0.2/24",
                "10.42.2.0/24",
                &[],
            ),
            mk(
                "n3",
                "b",
                "203.0.113.3",
                "192.168.1.3/24",
                "10.42.3.0/24",
                &["192.168.0.0/23"],
            ),
            mk(
                "n4",
                "b",
                "203.0.113.4",
                "10.42.1.7/24",
                "10.42.1.0/25",
                &[],
            ),
        ],
        peers: Vec::new(),
        now: 1_700_000_000,
    };
    let local: NodeName = "n2".parse().unwrap();
    let subnet: Ipv4Net = "10.4.0.0/16".parse().unwrap();
    let (_, rejected) = guard::sanitize(s.clone(), &local, subnet);
    let lines: Vec<String> = rejected.iter().map(|r| r.warning().message).collect();
    assert_eq!(
        lines,
        [
            "kilo.squat.ai/allowed-location-ips=192.168.0.0/16 refused: covers the internal IP 192.168.1.3 of node n3",
            "kilo.squat.ai/allowed-location-ips=192.168.0.0/23 refused: covers the internal IP 192.168.0.2 of node n2",
            "kilo.squat.ai/internal-ip=10.42.1.7/24 refused: inside 10.42.1.0/24, the pod CIDR of node n1",
            "spec.podCIDRs=10.42.1.0/25 refused: overlaps 10.42.1.0/24, the pod CIDR of node n1",
        ]
    );
    assert_eq!(rejected, reference::sanitize(&s, &local, subnet).1);
}
