//! Table-driven topology tests: segments, leaders, WireGuard IPs, AllowedIPs, peers.
//! Expected WireGuard IPs are literal; they were computed independently of the code under test
//! (10.4.0.1 + FNV-1a-64(key) mod 65534, with a Python one-liner).

#[cfg(test)]
#[allow(
    dead_code,
    reason = "shared by several test binaries; each uses a subset"
)]
mod common;

use common::*;
use kilo_mesh::Topology;
use kilo_mesh::types::Granularity;

#[cfg(test)]
fn topo(nodes: &[&N], peers: Vec<kilo_mesh::Peer>, local: &str, g: Granularity) -> Topology {
    let s = snap(nodes, peers);
    Topology::new(
        &s,
        &local.parse().unwrap(),
        g,
        "10.4.0.0/16".parse().unwrap(),
    )
    .unwrap()
}

#[cfg(test)]
fn summary(t: &Topology) -> Vec<String> {
    t.segments
        .iter()
        .map(|s| {
            let ips: Vec<String> = s.allowed_ips().iter().map(ToString::to_string).collect();
            format!(
                "{} leader={} wg={} allowed=[{}]",
                s.key,
                s.leader_node().name,
                s.wireguard_ip.map(|w| w.to_string()).unwrap_or_default(),
                ips.join(",")
            )
        })
        .collect()
}

#[test]
fn two_locations_and_a_node_without_private_ip() {
    let mut nodes = kilo_example();
    nodes.push(
        N::new("node-d", "aws", "198.51.100.4:51820", "", &["10.42.3.0/24"])
            .ann("force-internal-ip", "-"),
    );
    let refs: Vec<&N> = nodes.iter().collect();
    let t = topo(&refs, vec![], "node-a", Granularity::Location);
    assert_eq!(
        summary(&t),
        [
            "location:aws leader=node-c wg=10.4.25.174/16 allowed=[10.4.25.174/32,10.42.2.0/24,172.31.0.3/32]",
            "location:gcp leader=node-a wg=10.4.11.93/16 allowed=[10.0.0.1/32,10.0.0.2/32,10.4.11.93/32,10.42.0.0/24,10.42.1.0/24]",
            "node:node-d leader=node-d wg=10.4.226.37/16 allowed=[10.4.226.37/32,10.42.3.0/24]",
        ]
    );
    assert!(t.is_leader());
}

#[test]
fn full_granularity_makes_every_node_a_segment() {
    let nodes = kilo_example();
    let refs: Vec<&N> = nodes.iter().collect();
    let t = topo(&refs, vec![], "node-b", Granularity::Full);
    assert_eq!(
        summary(&t),
        [
            "node:node-a leader=node-a wg=10.4.209.12/16 allowed=[10.0.0.1/32,10.4.209.12/32,10.42.0.0/24]",
            "node:node-b leader=node-b wg=10.4.214.191/16 allowed=[10.0.0.2/32,10.4.214.191/32,10.42.1.0/24]",
            "node:node-c leader=node-c wg=10.4.220.114/16 allowed=[10.4.220.114/32,10.42.2.0/24,172.31.0.3/32]",
        ]
    );
    assert!(
        t.is_leader(),
        "with full granularity every node leads itself"
    );
}

/// Every branch of the leader election, as (case, nodes of one location, expected leader).
#[test]
fn leader_election_branches() {
    // distinct addresses per node (one byte from the name): the guard refuses shared ones
    let public = |n: &str, ip: &str| {
        let b = n.as_bytes()[n.len() - 1];
        N::new(
            n,
            "x",
            &format!("{ip}:51820"),
            &format!("10.0.0.{b}/24"),
            &[&format!("10.42.{b}.0/24")],
        )
    };
    let cases: Vec<(&str, Vec<N>, &str)> = vec![
        (
            "annotated and public beats annotated only and public only",
            vec![
                public("a", "10.1.1.1").ann("leader", ""),
                public("b", "203.0.113.2"),
                public("c", "203.0.113.3").ann("leader", "true"),
            ],
            "c",
        ),
        (
            "annotated (private endpoint) beats unannotated public",
            vec![
                public("a", "203.0.113.1"),
                public("b", "10.1.1.2").ann("leader", "false"),
            ],
            "b",
        ),
        (
            "public beats private when nobody is annotated",
            vec![public("a", "192.168.1.1"), public("b", "100.64.0.2")],
            "b",
        ),
        (
            "a DNS endpoint counts as public",
            vec![
                public("a", "172.16.0.1"),
                N::new(
                    "b",
                    "x",
                    "vpn.example.com:51820",
                    "10.0.0.8/24",
                    &["10.42.8.0/24"],
                ),
            ],
            "b",
        ),
        (
            "IPv6 ULA is private, global IPv6 is public",
            vec![
                N::new(
                    "a",
                    "x",
                    "[fd00::1]:51820",
                    "10.0.0.1/24",
                    &["10.42.1.0/24"],
                ),
                N::new(
                    "b",
                    "x",
                    "[2001:db8::2]:51820",
                    "10.0.0.2/24",
                    &["10.42.2.0/24"],
                ),
            ],
            "b",
        ),
        (
            "all private: first by name",
            vec![public("b", "10.1.1.2"), public("a", "10.1.1.1")],
            "a",
        ),
    ];
    for (case, nodes, want) in cases {
        let refs: Vec<&N> = nodes.iter().collect();
        let first = nodes[0].0.name.clone();
        let t = topo(&refs, vec![], &first, Granularity::Location);
        assert_eq!(t.segments.len(), 1, "{case}");
        assert_eq!(t.segments[0].leader_node().name.as_str(), want, "{case}");
    }
}

#[test]
fn peers_with_overlapping_allowed_ips() {
    let nodes = kilo_example();
    let refs: Vec<&N> = nodes.iter().collect();
    let peers = vec![
        peer("b-second", 0x72, &["10.5.0.1/32", "10.6.0.0/16"]),
        peer("a-first", 0x71, &["10.5.0.1/32", "10.6.1.0/24"]),
        peer("c-mesh", 0x73, &["10.42.1.0/24", "10.7.0.1/32"]),
        peer("d-node-key", b'a', &["10.8.0.1/32"]),
        peer("e-empty", 0x75, &["10.42.0.0/16"]),
    ];
    let t = topo(&refs, peers, "node-a", Granularity::Location);
    let got: Vec<String> = t
        .peers
        .iter()
        .map(|p| {
            let ips: Vec<String> = p.allowed_ips.iter().map(ToString::to_string).collect();
            format!("{}=[{}]", p.peer.name, ips.join(","))
        })
        .collect();
    assert_eq!(
        got,
        [
            "a-first=[10.5.0.1/32,10.6.1.0/24]",
            "b-second=[10.6.0.0/16]",
            "c-mesh=[10.7.0.1/32]"
        ]
    );
    let warnings = warning_lines(&t);
    assert_eq!(
        warnings,
        [
            "peer/b-second: allowed IP 10.5.0.1/32 already belongs to peer a-first; dropped",
            "peer/c-mesh: allowed IP 10.42.1.0/24 overlaps the cluster's own ranges; dropped",
            "peer/d-node-key: its public key is already used by a node or another peer; ignored",
            "peer/e-empty: allowed IP 10.42.0.0/16 overlaps the cluster's own ranges; dropped",
            "peer/e-empty: no usable allowed IP; ignored",
        ]
    );
}

#[test]
fn allowed_location_ips_that_overlap_are_dropped() {
    let nodes = [
        N::new(
            "a1",
            "a",
            "203.0.113.1:51820",
            "10.0.0.1/24",
            &["10.42.0.0/24"],
        )
        .ann(
            "allowed-location-ips",
            "192.168.10.0/24, 192.168.20.0/24,10.42.0.128/25",
        ),
        N::new(
            "b1",
            "b",
            "203.0.113.2:51820",
            "10.1.0.1/24",
            &["10.42.1.0/24"],
        )
        // a key of its own: the name's last byte would give it a1's key
        .ann("key", &key(0xb1))
        .ann(
            "allowed-location-ips",
            "192.168.20.0/25,192.168.30.0/24,10.4.0.0/24",
        ),
    ];
    let refs: Vec<&N> = nodes.iter().collect();
    let t = topo(
        &refs,
        vec![peer("p", 0x70, &["192.168.30.7/32"])],
        "a1",
        Granularity::Location,
    );
    let kept: Vec<Vec<String>> = t
        .segments
        .iter()
        .map(|s| {
            s.allowed_location_ips
                .iter()
                .map(ToString::to_string)
                .collect()
        })
        .collect();
    assert_eq!(kept, [vec!["192.168.10.0/24".to_owned()], vec![]]);
    let warnings = warning_lines(&t);
    assert_eq!(
        warnings,
        [
            "segment/location:a: allowed-location IP 10.42.0.128/25 overlaps a pod CIDR, private IP or WireGuard IP; dropped",
            "segment/location:a: allowed-location IP 192.168.20.0/24 overlaps another location's allowed-location IPs; dropped",
            "segment/location:b: allowed-location IP 10.4.0.0/24 overlaps the WireGuard subnet; dropped",
            "segment/location:b: allowed-location IP 192.168.20.0/25 overlaps another location's allowed-location IPs; dropped",
            "segment/location:b: allowed-location IP 192.168.30.0/24 overlaps a peer's allowed IPs; dropped",
        ]
    );
}

#[test]
fn dual_stack_pod_cidrs_are_meshed() {
    let nodes = [
        lab_node(1, "a").status_ip("fd00:77::11"),
        lab_node(3, "b").status_ip("fd00:77::13"),
    ];
    let refs: Vec<&N> = nodes.iter().collect();
    let t = topo(&refs, vec![], "n1", Granularity::Location);
    assert_eq!(
        summary(&t),
        [
            "location:a leader=n1 wg=10.4.14.114/16 allowed=[10.4.14.114/32,10.42.1.0/24,192.168.77.11/32,fd00:10:42:1::/64,fd00:77::11/128]",
            "location:b leader=n3 wg=10.4.20.37/16 allowed=[10.4.20.37/32,10.42.3.0/24,192.168.77.13/32,fd00:10:42:3::/64,fd00:77::13/128]",
        ]
    );
}

#[test]
fn adding_or_removing_a_location_never_renumbers_the_others() {
    let base = kilo_example();
    let azure = N::new(
        "node-z",
        "azure",
        "203.0.113.9:51820",
        "10.9.0.1/24",
        &["10.42.9.0/24"],
    );
    let before_refs: Vec<&N> = base.iter().collect();
    let mut with = base.clone();
    with.push(azure);
    let after_refs: Vec<&N> = with.iter().collect();
    let wg = |t: &Topology| -> Vec<(String, String)> {
        t.segments
            .iter()
            .map(|s| {
                (
                    s.key.clone(),
                    s.wireguard_ip
                        .map(|w| w.addr().to_string())
                        .unwrap_or_default(),
                )
            })
            .collect()
    };
    let before = topo(&before_refs, vec![], "node-a", Granularity::Location);
    let after = topo(&after_refs, vec![], "node-a", Granularity::Location);
    assert_eq!(
        wg(&before),
        [
            ("location:aws".into(), "10.4.25.174".into()),
            ("location:gcp".into(), "10.4.11.93".into())
        ]
    );
    assert_eq!(
        wg(&after),
        [
            ("location:aws".into(), "10.4.25.174".into()),
            ("location:azure".into(), "10.4.144.162".into()),
            ("location:gcp".into(), "10.4.11.93".into()),
        ]
    );
}

#[test]
fn published_wireguard_ips_are_kept() {
    // Kilo-style sequential addresses published by a previous (Go) kg are honoured as claims.
    let ex = kilo_example();
    let nodes = [
        ex[0].clone().ann("wireguard-ip", "10.4.0.2/16"),
        ex[2].clone().ann("wireguard-ip", "10.4.0.1/16"),
    ];
    let refs: Vec<&N> = nodes.iter().collect();
    let t = topo(&refs, vec![], "node-a", Granularity::Location);
    let got: Vec<String> = t
        .segments
        .iter()
        .map(|s| s.wireguard_ip.unwrap().to_string())
        .collect();
    assert_eq!(got, ["10.4.0.1/16", "10.4.0.2/16"]);
}

#[test]
fn stale_nodes_are_left_out_but_the_local_node_never_is() {
    let mut nodes = kilo_example();
    nodes[2] = nodes[2].clone().ann("last-seen", &(NOW - 61).to_string());
    nodes[0] = nodes[0].clone().ann("last-seen", "1");
    let refs: Vec<&N> = nodes.iter().collect();
    let t = topo(&refs, vec![], "node-a", Granularity::Location);
    let keys: Vec<&str> = t.segments.iter().map(|s| s.key.as_str()).collect();
    assert_eq!(keys, ["location:gcp"]);
    assert_eq!(t.segments[0].nodes.len(), 2);
}

#[test]
fn nat_traversal_uses_discovered_endpoints_for_keepalive_leaders() {
    let c_key = key(b'c');
    let ex = kilo_example();
    let nodes = [
        ex[0].clone().ann(
            "discovered-endpoints",
            &format!(r#"{{"{c_key}":{{"IP":"198.51.100.33","Port":40000,"Zone":""}}}}"#),
        ),
        ex[2].clone().ann("persistent-keepalive", "25"),
    ];
    let refs: Vec<&N> = nodes.iter().collect();
    let t = topo(&refs, vec![], "node-a", Granularity::Location);
    assert_eq!(
        t.segments[0].endpoint.as_ref().unwrap().to_string(),
        "198.51.100.33:40000"
    );
}
