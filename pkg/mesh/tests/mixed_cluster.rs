//! Mixed Go Kilo / kilo-rs clusters agree on WireGuard IPs (issue #11 item 5): Kilo's own
//! allocation tables replayed, then migrations in both directions and leader changes. Expected
//! addresses are literal: Kilo's from its topology_test.go (0.7.0), hashed ones from a Python
//! one-liner (10.4.0.1 + FNV-1a-64(key) mod 65534).

#[cfg(test)]
#[allow(
    dead_code,
    reason = "shared by several test binaries; each uses a subset"
)]
mod common;

use common::*;
use kilo_mesh::Topology;
use kilo_mesh::allocate::Allocation;
use kilo_mesh::implementation::Implementation;
use kilo_mesh::types::Granularity;

#[cfg(test)]
fn topo(nodes: &[N], local: &str) -> Topology {
    topology_of(nodes, local, Granularity::Location)
}

/// `segment-key wireguard-ip` per segment.
#[cfg(test)]
fn wg(t: &Topology) -> Vec<String> {
    t.segments
        .iter()
        .map(|s| {
            let ip = s.wireguard_ip.map(|w| w.to_string()).unwrap_or_default();
            format!("{} {ip}", s.key)
        })
        .collect()
}

#[cfg(test)]
fn kilo_mode(names: &[&str]) -> Allocation {
    Allocation::Kilo {
        go_kilo_nodes: names.iter().map(|n| n.parse().unwrap()).collect(),
    }
}

/// Kilo's `setup` in pkg/mesh/topology_test.go: a and d in location 1 (d without a private IP),
/// b and c in location 2, all run by Go Kilo. One change: there b reuses a's private IP
/// 192.168.0.1, which kilo-rs refuses (see `a_refused_private_ip_changes_the_segments`); here b
/// has 192.168.0.3.
#[cfg(test)]
fn kilos_setup() -> Vec<N> {
    vec![
        N::new(
            "a",
            "1",
            "10.1.0.1:51820",
            "192.168.0.1/32",
            &["10.2.1.0/24"],
        )
        .ann("persistent-keepalive", "25")
        .go_kilo(),
        N::new(
            "b",
            "2",
            "10.1.0.2:51820",
            "192.168.0.3/32",
            &["10.2.2.0/24"],
        )
        .ann("allowed-location-ips", "192.168.178.3/32")
        .go_kilo(),
        N::new(
            "c",
            "2",
            "10.1.0.3:51820",
            "192.168.0.2/32",
            &["10.2.3.0/24"],
        )
        .go_kilo(),
        N::new("d", "1", "10.1.0.4:51820", "", &["10.2.4.0/24"]).go_kilo(),
    ]
}

// TestNewTopology's cases "logical from a/b/c": segments location:1, location:2, node:d get
// 10.4.0.1, 10.4.0.2, 10.4.0.3; a and b lead, c does not.
#[test]
fn replays_kilos_logical_table() {
    for (host, leader, ip) in [
        ("a", true, "10.4.0.1/16"),
        ("b", true, "10.4.0.2/16"),
        ("c", false, "10.4.0.2/16"),
    ] {
        let t = topo(&kilos_setup(), host);
        assert_eq!(
            wg(&t),
            [
                "location:1 10.4.0.1/16",
                "location:2 10.4.0.2/16",
                "node:d 10.4.0.3/16"
            ],
            "logical from {host}"
        );
        assert_eq!(t.is_leader(), leader, "logical from {host}");
        assert_eq!(
            t.local_segment().wireguard_ip.unwrap().to_string(),
            ip,
            "logical from {host}"
        );
        assert_eq!(t.allocation, kilo_mode(&["a", "b", "c", "d"]));
    }
}

// The one known way to disagree: a value the guard refuses (docs/security.md) and Go Kilo
// accepts can change a segment. Kilo's literal setup gives b a's private IP; kilo-rs refuses it,
// so b has no private IP and forms its own segment, which shifts Kilo's numbering after it. The
// refusal is reported (an Event, `kgctl check`); fixing the value restores agreement.
#[test]
fn a_refused_private_ip_changes_the_segments() {
    let mut nodes = kilos_setup();
    nodes[1] = nodes[1].clone().ann("internal-ip", "192.168.0.1/32");
    let t = topo(&nodes, "a");
    assert_eq!(
        wg(&t),
        [
            "location:1 10.4.0.1/16",
            "location:2 10.4.0.2/16",
            "node:b 10.4.0.3/16",
            "node:d 10.4.0.4/16"
        ]
    );
    let refused: Vec<String> = t
        .rejected
        .iter()
        .map(|r| format!("{} {}", r.field, r.value))
        .collect();
    assert_eq!(refused, ["kilo.squat.ai/internal-ip 192.168.0.1/32"]);
}

// TestNewTopology's cases "full from a/b/c/d": node:a..node:d get 10.4.0.1..10.4.0.4.
#[test]
fn replays_kilos_full_table() {
    for host in ["a", "b", "c", "d"] {
        let t = topology_of(&kilos_setup(), host, Granularity::Full);
        assert_eq!(
            wg(&t),
            [
                "node:a 10.4.0.1/16",
                "node:b 10.4.0.2/16",
                "node:c 10.4.0.3/16",
                "node:d 10.4.0.4/16"
            ],
            "full from {host}"
        );
        assert!(t.is_leader(), "full from {host}");
    }
}

/// Kilo's example plus node-d without a private IP: gcp led by node-a (kilo-rs), aws led by
/// node-c (Go Kilo), node:node-d (kilo-rs).
#[cfg(test)]
fn mixed() -> Vec<N> {
    let mut nodes = kilo_example();
    nodes[2] = nodes[2].clone().go_kilo();
    nodes.push(
        N::new("node-d", "aws", "198.51.100.4:51820", "", &["10.42.3.0/24"])
            .ann("force-internal-ip", "-"),
    );
    nodes
}

// Every node, whichever kind its leader is, computes Kilo's numbering while node-c runs Go.
#[test]
fn every_node_of_a_mixed_cluster_computes_kilos_numbering() {
    for host in ["node-a", "node-b", "node-c", "node-d"] {
        let t = topo(&mixed(), host);
        assert_eq!(
            wg(&t),
            [
                "location:aws 10.4.0.1/16",
                "location:gcp 10.4.0.2/16",
                "node:node-d 10.4.0.3/16"
            ],
            "from {host}"
        );
        assert_eq!(t.allocation, kilo_mode(&["node-c"]), "from {host}");
    }
}

// Published claims do not matter while Go Kilo takes part (Go ignores them), and a leader
// change inside a segment keeps Kilo's numbering.
#[test]
fn claims_and_leader_changes_do_not_move_kilos_numbering() {
    let mut nodes = mixed();
    nodes[0] = nodes[0].clone().claims("10.4.11.93/16", "1600000000");
    nodes[1] = nodes[1].clone().ann("leader", "");
    let t = topo(&nodes, "node-b");
    assert!(t.is_leader());
    assert_eq!(
        wg(&t),
        [
            "location:aws 10.4.0.1/16",
            "location:gcp 10.4.0.2/16",
            "node:node-d 10.4.0.3/16"
        ]
    );
    assert!(t.warnings.is_empty(), "{:?}", t.warnings);
}

/// The mixed cluster after every leader published what Kilo's numbering gave it, at `since`.
#[cfg(test)]
fn published_kilo_numbering(mut nodes: Vec<N>) -> Vec<N> {
    for (i, ip) in [(0, "10.4.0.2/16"), (2, "10.4.0.1/16"), (3, "10.4.0.3/16")] {
        nodes[i] = nodes[i].clone().ann("wireguard-ip", ip);
    }
    nodes[0] = nodes[0].clone().ann("wireguard-ip-since", "1699999000");
    nodes[3] = nodes[3].clone().ann("wireguard-ip-since", "1699999000");
    nodes
}

// node-c moves to kilo-rs: stable allocation keeps every published address, no renumbering.
#[test]
fn the_last_go_node_upgrading_renumbers_nothing() {
    let mut nodes = published_kilo_numbering(mixed());
    nodes[2] = N::new(
        "node-c",
        "aws",
        "198.51.100.3:51820",
        "172.31.0.3/24",
        &["10.42.2.0/24"],
    )
    .ann("wireguard-ip", "10.4.0.1/16");
    let t = topo(&nodes, "node-a");
    assert_eq!(t.allocation, Allocation::Stable);
    assert_eq!(
        wg(&t),
        [
            "location:aws 10.4.0.1/16",
            "location:gcp 10.4.0.2/16",
            "node:node-d 10.4.0.3/16"
        ]
    );
    let since: Vec<Option<i64>> = t.segments.iter().map(|s| s.wireguard_ip_since).collect();
    assert_eq!(since, [None, Some(1_699_999_000), Some(1_699_999_000)]);
    assert!(t.warnings.is_empty(), "{:?}", t.warnings);
}

// The Go-led location goes away: Kilo's numbering would move node:node-d from .3 to .2 (and
// gcp from .2 to .1); stable allocation keeps both.
#[test]
fn a_go_location_leaving_renumbers_nothing() {
    let mut nodes = published_kilo_numbering(mixed());
    nodes.remove(2);
    let t = topo(&nodes, "node-b");
    assert_eq!(t.allocation, Allocation::Stable);
    assert_eq!(
        wg(&t),
        ["location:gcp 10.4.0.2/16", "node:node-d 10.4.0.3/16"]
    );
}

// A Go Kilo node joining a kilo-rs cluster: back to Kilo's numbering (Go cannot adapt).
#[test]
fn a_go_node_joining_switches_back_to_kilos_numbering() {
    let mut nodes = kilo_example();
    let t = topo(&nodes, "node-a");
    assert_eq!(t.allocation, Allocation::Stable);
    assert_eq!(
        wg(&t),
        ["location:aws 10.4.25.174/16", "location:gcp 10.4.11.93/16"]
    );
    nodes[0] = nodes[0].clone().ann("wireguard-ip", "10.4.11.93/16");
    nodes[2] = nodes[2].clone().ann("wireguard-ip", "10.4.25.174/16");
    nodes.push(
        N::new(
            "node-e",
            "azure",
            "192.0.2.5:51820",
            "10.8.0.5/24",
            &["10.42.5.0/24"],
        )
        .go_kilo(),
    );
    let t = topo(&nodes, "node-a");
    assert_eq!(t.allocation, kilo_mode(&["node-e"]));
    assert_eq!(
        wg(&t),
        [
            "location:aws 10.4.0.1/16",
            "location:azure 10.4.0.2/16",
            "location:gcp 10.4.0.3/16"
        ]
    );
}

// A node that went back to Go Kilo keeps kilo-rs's marker (KILO_CLEAN_UP=false), but Go's first
// heartbeat rewrites last-seen and the marker no longer matches: it counts as Go Kilo.
#[test]
fn a_stale_marker_counts_as_go_kilo() {
    let mut nodes = kilo_example();
    nodes[2] = nodes[2].clone().ann(
        "implementation",
        &format!("kilo-rs; last-seen={}", NOW - 30),
    );
    assert_eq!(nodes[2].build().implementation, Implementation::GoKilo);
    assert_eq!(nodes[1].build().implementation, Implementation::KiloRs);
    let t = topo(&nodes, "node-a");
    assert_eq!(t.allocation, kilo_mode(&["node-c"]));
}

// Only nodes taking part count: a stale Go node does not hold the cluster in Kilo's numbering.
#[test]
fn a_stale_go_node_does_not_count() {
    let mut nodes = kilo_example();
    nodes[2] = nodes[2]
        .clone()
        .go_kilo()
        .ann("last-seen", &(NOW - 61).to_string());
    let t = topo(&nodes, "node-a");
    assert_eq!(t.allocation, Allocation::Stable);
}

// Stable allocation: a leader change inside a segment keeps the address and its time, from the
// former leader's claim.
#[test]
fn a_new_leader_keeps_the_segments_address_and_time() {
    let mut nodes = kilo_example();
    nodes[0] = nodes[0].clone().claims("10.4.0.2/16", "1699999000");
    nodes[1] = nodes[1].clone().ann("leader", "");
    let t = topo(&nodes, "node-b");
    assert!(t.is_leader());
    let gcp = t.segments.iter().find(|s| s.key == "location:gcp").unwrap();
    assert_eq!(gcp.wireguard_ip.unwrap().to_string(), "10.4.0.2/16");
    assert_eq!(gcp.wireguard_ip_since, Some(1_699_999_000));
}
