//! The guard: hostile values never reach a plan. Literal tests per class of refused value (the
//! expected warnings are written out), and a property test over generated clusters with
//! adversarial values: no route or WireGuard AllowedIP covers a node's endpoint or an address of
//! a node other than that node's own host route, and no two WireGuard peers share a key or an
//! AllowedIP.

#[cfg(test)]
#[allow(
    dead_code,
    reason = "shared by several test binaries; each uses a subset"
)]
mod common;

use std::collections::BTreeSet;
use std::net::IpAddr;

use common::*;
use ipnet::IpNet;
use kilo_mesh::guard::{Object, Rejected};
use kilo_mesh::types::Granularity;
use kilo_mesh::{Snapshot, Topology};
use proptest::prelude::*;

#[cfg(test)]
fn topo_of(nodes: &[N], peers: Vec<kilo_mesh::Peer>, local: &str) -> Topology {
    let refs: Vec<&N> = nodes.iter().collect();
    Topology::new(
        &snap(&refs, peers),
        &local.parse().unwrap(),
        Granularity::Location,
        "10.4.0.0/16".parse().unwrap(),
    )
    .unwrap()
}

#[cfg(test)]
fn refused(t: &Topology) -> Vec<String> {
    t.warnings
        .iter()
        .filter(|w| w.message.contains(" refused: "))
        .map(|w| format!("{}: {}", w.subject, w.message))
        .collect()
}

#[test]
fn peer_allowed_ips_that_would_hijack_are_refused_and_the_rest_kept() {
    let ips = [
        "0.0.0.0/0",
        "::/0",
        "203.0.0.0/8",
        "10.0.0.2/32",
        "169.254.169.254/32",
        "127.0.0.0/8",
        "224.0.0.1/32",
        "::ffff:10.9.0.1/128",
        "10.4.7.0/24",
        "fe80::/64",
        "10.99.0.0/16",
    ];
    let t = topo_of(&kilo_example(), vec![peer("evil", 0x70, &ips)], "node-a");
    let kept: Vec<String> = t.peers[0]
        .allowed_ips
        .iter()
        .map(ToString::to_string)
        .collect();
    assert_eq!(kept, ["10.99.0.0/16"]);
    assert_eq!(
        refused(&t),
        [
            "peer/evil: spec.allowedIPs=0.0.0.0/0 refused: a default route is never taken from the cluster's objects",
            "peer/evil: spec.allowedIPs=10.0.0.2/32 refused: covers the internal IP 10.0.0.2 of node node-b",
            "peer/evil: spec.allowedIPs=10.4.7.0/24 refused: overlaps the WireGuard subnet 10.4.0.0/16",
            "peer/evil: spec.allowedIPs=127.0.0.0/8 refused: covers loopback space 127.0.0.0/8",
            "peer/evil: spec.allowedIPs=169.254.169.254/32 refused: covers link-local space 169.254.0.0/16",
            "peer/evil: spec.allowedIPs=203.0.0.0/8 refused: covers the endpoint 203.0.113.1 of node node-a",
            "peer/evil: spec.allowedIPs=224.0.0.1/32 refused: covers multicast space 224.0.0.0/4",
            "peer/evil: spec.allowedIPs=::/0 refused: a default route is never taken from the cluster's objects",
            "peer/evil: spec.allowedIPs=::ffff:10.9.0.1/128 refused: covers IPv4-mapped space ::ffff:0.0.0.0/96",
            "peer/evil: spec.allowedIPs=fe80::/64 refused: covers link-local space fe80::/10",
        ]
    );
    let r = &t.rejected[0];
    assert_eq!(r.object, Object::Peer("evil".to_owned()));
    assert_eq!(r.field, "spec.allowedIPs");
}

#[test]
fn allowed_location_ips_covering_endpoints_or_special_space_are_refused() {
    let mut nodes = kilo_example();
    nodes[2] = nodes[2].clone().ann(
        "allowed-location-ips",
        "192.0.0.0/2,203.0.113.0/24,0.0.0.0/0,169.254.0.0/16,172.31.0.3/32,192.168.50.0/24",
    );
    let t = topo_of(&nodes, vec![], "node-a");
    let aws = t.segments.iter().find(|s| s.location == "aws").unwrap();
    assert_eq!(
        aws.allowed_location_ips,
        ["192.168.50.0/24".parse::<IpNet>().unwrap()]
    );
    assert_eq!(
        refused(&t),
        [
            "node/node-c: kilo.squat.ai/allowed-location-ips=0.0.0.0/0 refused: a default route is never taken from the cluster's objects",
            "node/node-c: kilo.squat.ai/allowed-location-ips=169.254.0.0/16 refused: covers link-local space 169.254.0.0/16",
            "node/node-c: kilo.squat.ai/allowed-location-ips=172.31.0.3/32 refused: covers the internal IP 172.31.0.3 of node node-c",
            "node/node-c: kilo.squat.ai/allowed-location-ips=192.0.0.0/2 refused: covers multicast space 224.0.0.0/4",
            "node/node-c: kilo.squat.ai/allowed-location-ips=203.0.113.0/24 refused: covers the endpoint 203.0.113.1 of node node-a",
        ]
    );
}

#[test]
fn pod_cidrs_that_are_default_routes_or_cover_endpoints_are_refused() {
    let mut nodes = kilo_example();
    nodes.push(N::new(
        "node-d",
        "aws",
        "198.51.100.4:51820",
        "172.31.0.4/24",
        &["0.0.0.0/0", "::/0"],
    ));
    nodes.push(N::new(
        "node-e",
        "aws",
        "198.51.100.5:51820",
        "172.31.0.5/24",
        &["198.51.100.0/24"],
    ));
    nodes.push(N::new(
        "node-f",
        "aws",
        "198.51.100.6:51820",
        "172.31.0.6/24",
        &["10.42.0.0/23"],
    ));
    let t = topo_of(&nodes, vec![], "node-a");
    assert_eq!(
        refused(&t),
        [
            "node/node-d: spec.podCIDRs=0.0.0.0/0 refused: a default route is never taken from the cluster's objects",
            "node/node-d: spec.podCIDRs=::/0 refused: a default route is never taken from the cluster's objects",
            "node/node-e: spec.podCIDRs=198.51.100.0/24 refused: covers the endpoint 198.51.100.3 of node node-c",
            "node/node-f: spec.podCIDRs=10.42.0.0/23 refused: overlaps 10.42.0.0/24, the pod CIDR of node node-a",
        ]
    );
    let members: Vec<&str> = t
        .segments
        .iter()
        .flat_map(|s| s.nodes.iter().map(|n| n.name.as_str()))
        .collect();
    assert_eq!(members, ["node-c", "node-a", "node-b"], "the others go on");
}

#[test]
fn internal_ips_that_are_unspecified_loopback_mapped_or_someone_elses_are_refused() {
    let mut nodes = kilo_example();
    let add = |name: &str, internal: &str, pods: &str| {
        N::new(
            name,
            "aws",
            &format!("198.51.100.{}:51820", name.as_bytes()[5]),
            internal,
            &[pods],
        )
    };
    nodes.push(add("node-d", "0.0.0.0/0", "10.42.4.0/24"));
    nodes.push(add("node-e", "127.0.0.1/8", "10.42.5.0/24"));
    nodes.push(add("node-f", "::ffff:10.0.0.9/128", "10.42.6.0/24"));
    nodes.push(add("node-g", "10.42.0.7/24", "10.42.7.0/24"));
    nodes.push(add("node-h", "203.0.113.2/24", "10.42.8.0/24"));
    nodes.push(add("node-i", "10.0.0.1/24", "10.42.9.0/24"));
    nodes.push(add("node-j", "10.9.9.9/0", "10.42.10.0/24"));
    let t = topo_of(&nodes, vec![], "node-a");
    assert_eq!(
        refused(&t),
        [
            "node/node-d: kilo.squat.ai/internal-ip=0.0.0.0/0 refused: a prefix of 0 makes every address local",
            "node/node-e: kilo.squat.ai/internal-ip=127.0.0.1/8 refused: covers loopback space 127.0.0.0/8",
            "node/node-f: kilo.squat.ai/internal-ip=::ffff:10.0.0.9/128 refused: covers IPv4-mapped space ::ffff:0.0.0.0/96",
            "node/node-g: kilo.squat.ai/internal-ip=10.42.0.7/24 refused: inside 10.42.0.0/24, the pod CIDR of node node-a",
            "node/node-h: kilo.squat.ai/internal-ip=203.0.113.2/24 refused: the endpoint of node node-b",
            "node/node-i: kilo.squat.ai/internal-ip=10.0.0.1/24 refused: already the internal IP of node node-a",
            "node/node-j: kilo.squat.ai/internal-ip=10.9.9.9/0 refused: a prefix of 0 makes every address local",
        ]
    );
}

#[test]
fn a_second_node_with_the_same_key_is_refused_and_the_local_node_keeps_its_own() {
    let mut nodes = kilo_example();
    // node-z publishes node-a's key; node-0 (first by name) publishes node-c's
    nodes.push(
        N::new(
            "node-z",
            "azure",
            "192.0.2.9:51820",
            "10.9.0.9/24",
            &["10.42.9.0/24"],
        )
        .ann("key", &key(b'a')),
    );
    nodes.push(
        N::new(
            "node-0",
            "azure",
            "192.0.2.8:51820",
            "10.9.0.8/24",
            &["10.42.8.0/24"],
        )
        .ann("key", &key(b'c')),
    );
    let t = topo_of(&nodes, vec![], "node-a");
    assert_eq!(
        refused(&t),
        [
            "node/node-c: kilo.squat.ai/key=Y2NjY2Nj… refused: node node-0 already publishes this key",
            "node/node-z: kilo.squat.ai/key=YWFhYWFh… refused: node node-a already publishes this key",
        ]
    );
    let keys: Vec<String> = t
        .segments
        .iter()
        .map(|s| s.leader_node().key.unwrap().to_base64())
        .collect();
    let unique: BTreeSet<&String> = keys.iter().collect();
    assert_eq!(unique.len(), keys.len());
}

#[test]
fn the_reporter_raises_an_event_per_refused_value() {
    let nodes = kilo_example();
    let mut s = snap(&nodes.iter().collect::<Vec<_>>(), vec![]);
    s.peers
        .push(peer("evil", 0x70, &["0.0.0.0/0", "10.99.0.0/16"]));
    let p = plan(&s, &settings("node-a"));
    let me = "node-a".parse().unwrap();
    let got = kilo_mesh::notice::notices(&me, &[], &p, &[], true);
    let want = kilo_mesh::notice::Notice {
        target: kilo_mesh::notice::Target::Peer("evil".to_owned()),
        reason: "RefusedValue".to_owned(),
        message: "spec.allowedIPs=0.0.0.0/0 refused: a default route is never taken from the \
                  cluster's objects"
            .to_owned(),
        warning: true,
    };
    assert_eq!(got, [want]);
    assert!(kilo_mesh::notice::notices(&me, &[], &p, &[], false).is_empty());
}

// ---- the property ----

/// Values an adversary may publish: good ones, default routes, supernets of the endpoints and
/// addresses, special space, other nodes' values.
#[cfg(test)]
const NETS: &[&str] = &[
    "10.42.{i}.0/24",
    "10.42.{j}.0/24",
    "0.0.0.0/0",
    "::/0",
    "192.0.0.0/2",
    "203.0.113.0/24",
    "192.168.1.{j}/32",
    "10.{j}.0.{j}/32",
    "10.0.0.0/8",
    "169.254.169.254/32",
    "127.0.0.1/32",
    "::ffff:10.0.0.1/128",
    "10.4.0.0/24",
    "10.77.{i}.0/24",
    "fd00:10:42:{i}::/64",
];

#[cfg(test)]
const ADDRS: &[&str] = &[
    "10.{i}.0.{i}/24",
    "10.{j}.0.{j}/24",
    "0.0.0.0/0",
    "127.0.0.1/8",
    "::ffff:10.0.0.1/128",
    "10.42.{j}.5/24",
    "203.0.113.{j}/24",
    "192.168.1.{j}/24",
];

#[cfg(test)]
fn fill(t: &str, i: usize, j: usize) -> String {
    t.replace("{i}", &i.to_string())
        .replace("{j}", &j.to_string())
}

/// One generated node: which internal IP, pod CIDRs and allowed-location IPs (indices into the
/// pools), which other node `j` they refer to, a key of its own or another's.
#[cfg(test)]
fn hostile_node(i: usize) -> impl Strategy<Value = N> {
    (
        0..ADDRS.len(),
        prop::collection::vec(0..NETS.len(), 1..3),
        prop::collection::vec(0..NETS.len(), 0..3),
        1..6usize,
        prop::option::weighted(0.2, 1..6u8),
        any::<bool>(),
        0..2u8,
    )
        .prop_map(move |(addr, pods, alips, j, key_of, public, loc)| {
            let endpoint = if public {
                format!("203.0.113.{i}:51820")
            } else {
                format!("192.168.1.{i}:51820")
            };
            let pods: Vec<String> = pods.iter().map(|p| fill(NETS[*p], i, j)).collect();
            let pod_refs: Vec<&str> = pods.iter().map(String::as_str).collect();
            let alips: Vec<String> = alips.iter().map(|p| fill(NETS[*p], i, j)).collect();
            let mut n = N::new(
                &format!("n{i}"),
                &format!("loc{loc}"),
                &endpoint,
                &fill(ADDRS[addr], i, j),
                &pod_refs,
            )
            .status_ip(&format!("10.{i}.0.{i}"))
            .ann("allowed-location-ips", &alips.join(","));
            if let Some(k) = key_of {
                n = n.ann("key", &key(b'0' + k));
            }
            n
        })
}

#[cfg(test)]
fn hostile_cluster() -> impl Strategy<Value = Snapshot> {
    let nodes = (1..6usize).prop_flat_map(|n| (1..=n).map(hostile_node).collect::<Vec<_>>());
    let peers = prop::collection::vec(
        (
            prop::collection::vec((0..NETS.len(), 1..6usize), 1..4),
            0..8u8,
        ),
        0..3,
    );
    (nodes, peers).prop_map(|(nodes, peers)| {
        let peers = peers
            .iter()
            .enumerate()
            .map(|(i, (nets, k))| {
                let ips: Vec<String> = nets.iter().map(|(p, j)| fill(NETS[*p], 90, *j)).collect();
                let refs: Vec<&str> = ips.iter().map(String::as_str).collect();
                // keys b'1'..b'5' are nodes' keys: a peer may claim one
                peer(&format!("p{i}"), b'1' + k, &refs)
            })
            .collect();
        let refs: Vec<&N> = nodes.iter().collect();
        snap(&refs, peers)
    })
}

/// A protected address: an endpoint, or an address of a node (with the node's location).
#[cfg(test)]
struct Guarded {
    ip: IpAddr,
    location: String,
    endpoint: bool,
}

/// `dst` may cover a protected address only as exactly that address's host route, when the
/// address is an internal IP some node was allowed to keep (it is routed towards its owner), or
/// as an allowed-location IP of the address's own location strictly containing it (the
/// location's LAN, routed to the same location); never an endpoint otherwise.
#[cfg(test)]
fn check_dst(
    dst: &IpNet,
    protected: &[Guarded],
    kept: &BTreeSet<IpAddr>,
    lans: &BTreeSet<(String, IpNet)>,
) -> Result<(), String> {
    for g in protected.iter().filter(|g| dst.contains(&g.ip)) {
        let host_route = *dst == IpNet::from(g.ip) && kept.contains(&g.ip);
        let own_lan = !g.endpoint
            && dst.prefix_len() < IpNet::from(g.ip).prefix_len()
            && lans.contains(&(g.location.clone(), *dst));
        if !host_route && !own_lan {
            return Err(format!("{dst} covers the protected address {}", g.ip));
        }
    }
    match kilo_mesh::guard::reserved(dst) {
        Some(why) => Err(format!("{dst}: {why}")),
        None => Ok(()),
    }
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(256))]

    #[test]
    fn no_plan_routes_a_node_endpoint_or_address_and_wireguard_peers_are_distinct(
        s in hostile_cluster(),
        full in any::<bool>(),
    ) {
        for me in &s.nodes {
            let mut settings = settings(me.name.as_str());
            if full { settings.granularity = Granularity::Full; }
            let Ok(p) = kilo_mesh::plan::plan(&s, &settings, &Default::default()) else { continue };
            // Every endpoint and status address (the guard never changes them), and every
            // internal IP the guard let a node keep (a refused one is nobody's address).
            let (clean, _) = kilo_mesh::guard::sanitize(s.clone(), &me.name, settings.subnet);
            let kept: BTreeSet<IpAddr> = clean.nodes.iter()
                .flat_map(|n| n.internal_ips.iter().map(IpNet::addr))
                .collect();
            let lans: BTreeSet<(String, IpNet)> = clean.nodes.iter()
                .flat_map(|n| n.allowed_location_ips.iter().map(|a| (n.location.clone(), *a)))
                .collect();
            let protected: Vec<Guarded> = s.nodes.iter().flat_map(|n| {
                let g = |ip, endpoint| Guarded { ip, location: n.location.clone(), endpoint };
                let kept_here = clean.nodes.iter().filter(|c| c.name == n.name)
                    .flat_map(|c| c.internal_ips.iter().map(IpNet::addr));
                n.endpoint.iter().filter_map(kilo_mesh::Endpoint::ip).map(move |ip| g(ip, true))
                    .chain(n.status_addresses.iter().map(move |ip| g(*ip, false)))
                    .chain(kept_here.map(move |ip| g(ip, false)))
                    .collect::<Vec<_>>()
            }).collect();
            for r in &p.network.routes {
                if let Err(e) = check_dst(&r.dst, &protected, &kept, &lans) {
                    prop_assert!(false, "{}: route {e}", me.name);
                }
            }
            let Some(wg) = &p.wireguard else { continue };
            let mut keys = BTreeSet::new();
            let mut allowed = BTreeSet::new();
            for peer in &wg.peers {
                prop_assert!(keys.insert(peer.public_key), "{}: key shared by two peers", me.name);
                for a in &peer.allowed_ips {
                    if let Err(e) = check_dst(a, &protected, &kept, &lans) {
                        prop_assert!(false, "{}: AllowedIP of {} {e}", me.name, peer.name);
                    }
                    prop_assert!(allowed.insert(*a), "{}: AllowedIP {a} shared by two peers", me.name);
                }
            }
            let rejected: &[Rejected] = &p.rejected;
            prop_assert_eq!(rejected.len(), p.warnings.iter().filter(|w| w.message.contains(" refused: ")).count());
        }
    }
}

// ---- identity ----

#[test]
fn a_wireguard_ip_claimed_by_a_second_segment_stays_and_the_conflict_is_reported() {
    let mut nodes = kilo_example();
    // location:gcp published 10.4.11.93 (its hash slot, see tests/topology.rs); a new location
    // claims it
    nodes[0] = nodes[0].clone().ann("wireguard-ip", "10.4.11.93/16");
    nodes.push(
        N::new(
            "node-z",
            "zzz",
            "192.0.2.9:51820",
            "10.9.0.9/24",
            &["10.42.9.0/24"],
        )
        .ann("wireguard-ip", "10.4.11.93/16"),
    );
    let t = topo_of(&nodes, vec![], "node-a");
    let gcp = t.segments.iter().find(|s| s.location == "gcp").unwrap();
    assert_eq!(gcp.wireguard_ip.unwrap().to_string(), "10.4.11.93/16");
    let zzz = t.segments.iter().find(|s| s.location == "zzz").unwrap();
    assert_ne!(zzz.wireguard_ip.unwrap().to_string(), "10.4.11.93/16");
    let w = warning_lines(&t);
    assert_eq!(
        w,
        [
            "node/node-z: kilo.squat.ai/wireguard-ip 10.4.11.93 is held by segment location:gcp, \
             which claimed it first; segment location:zzz gets another address"
        ]
    );
}

// Issue #12: the first publisher keeps it, also when the newcomer sorts first. "First" is the
// published `wireguard-ip-since` (kg keeps it as long as the segment holds the address); a claim
// without one (typed by hand) comes after every claim with one.
#[test]
fn the_first_publisher_keeps_a_wireguard_ip_whatever_the_key_order() {
    for newcomer_since in ["1700000100", ""] {
        let mut nodes = kilo_example();
        nodes[0] = nodes[0].clone().claims("10.4.0.5/16", "1699990000");
        nodes.push(
            N::new(
                "node-z",
                "aaa",
                "192.0.2.9:51820",
                "10.9.0.9/24",
                &["10.42.9.0/24"],
            )
            .claims("10.4.0.5/16", newcomer_since),
        );
        let t = topo_of(&nodes, vec![], "node-z");
        let wg: Vec<String> = t
            .segments
            .iter()
            .map(|s| format!("{} {}", s.key, s.wireguard_ip.unwrap()))
            .collect();
        // location:aaa gets its hashed slot (10.4.0.1 + FNV-1a-64 mod 65534, Python one-liner).
        assert_eq!(
            wg,
            [
                "location:aaa 10.4.226.50/16",
                "location:aws 10.4.25.174/16",
                "location:gcp 10.4.0.5/16"
            ],
            "newcomer since {newcomer_since:?}"
        );
        let gcp = t.segments.iter().find(|s| s.location == "gcp").unwrap();
        assert_eq!(gcp.wireguard_ip_since, Some(1_699_990_000));
        let w = warning_lines(&t);
        assert_eq!(
            w,
            [
                "node/node-z: kilo.squat.ai/wireguard-ip 10.4.0.5 is held by segment location:gcp, \
                 which claimed it first; segment location:aaa gets another address"
            ]
        );
    }
}

/// Node `n1` (endpoint 192.0.2.1:51820) with annotation `kilo.squat.ai/<field>` set, parsed.
#[cfg(test)]
fn parsed_with(field: &str, value: &str) -> (kilo_mesh::Node, Vec<String>) {
    let n = N::new(
        "n1",
        "a",
        "192.0.2.1:51820",
        "10.0.0.1/24",
        &["10.42.1.0/24"],
    )
    .ann(field, value);
    let (node, problems) =
        kilo_mesh::annotations::parse_node(&n.0, "topology.kubernetes.io/region").unwrap();
    (node, problems.iter().map(ToString::to_string).collect())
}

#[test]
fn endpoints_that_cannot_be_one_are_refused_for_endpoint_and_force_endpoint() {
    let cases = [
        ("0.0.0.0:51820", "unspecified"),
        ("127.0.0.1:51820", "loopback"),
        ("224.0.0.1:51820", "multicast"),
        ("255.255.255.255:51820", "broadcast"),
        ("[::ffff:192.0.2.1]:51820", "IPv4-mapped IPv6"),
        ("[::1]:51820", "loopback"),
        ("[::]:51820", "unspecified"),
    ];
    for (value, class) in cases {
        for (field, kept) in [
            ("endpoint", None),
            ("force-endpoint", Some("192.0.2.1:51820")),
        ] {
            let (node, problems) = parsed_with(field, value);
            assert_eq!(
                problems,
                [format!(
                    "annotation kilo.squat.ai/{field}={value:?}: a {class} address cannot be an \
                     endpoint"
                )]
            );
            let endpoint = node.endpoint.map(|e| e.to_string());
            assert_eq!(endpoint.as_deref(), kept, "{field}={value}");
        }
    }
}

#[test]
fn locations_are_trimmed_and_must_be_label_values() {
    let huge = "é".repeat(100_000);
    let long = "a".repeat(64);
    let cases: [(&str, &str, usize); 8] = [
        (" gcp ", "gcp", 0),
        ("gcp", "gcp", 0),
        ("a\"b", "a", 1),
        ("x\ny", "a", 1),
        ("nul\0", "a", 1),
        ("-edge", "a", 1),
        (&long, "a", 1),
        (&huge, "a", 1),
    ];
    for (value, want, problems) in cases {
        let (node, got) = parsed_with("location", value);
        assert_eq!(node.location, want, "{value:?}");
        assert_eq!(got.len(), problems, "{value:?}: {got:?}");
    }
    let (_, got) = parsed_with("location", &huge);
    assert!(
        got[0].starts_with(&format!(
            "annotation kilo.squat.ai/location=\"{}…\": ",
            "é".repeat(128)
        )),
        "the problem repeats 256 bytes of the value: {}",
        &got[0][..400]
    );
    let both = [
        N::new(
            "n1",
            "x",
            "192.0.2.1:51820",
            "10.0.0.1/24",
            &["10.42.1.0/24"],
        )
        .ann("location", " gcp "),
        N::new(
            "n2",
            "x",
            "192.0.2.2:51820",
            "10.0.0.2/24",
            &["10.42.2.0/24"],
        )
        .ann("location", "gcp"),
    ];
    let t = topo_of(&both, vec![], "n1");
    let keys: Vec<&str> = t.segments.iter().map(|s| s.key.as_str()).collect();
    assert_eq!(keys, ["location:gcp"]);
}
