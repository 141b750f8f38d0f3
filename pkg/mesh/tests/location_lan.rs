//! A location's LAN behind its allowed-location IPs, as Go Kilo 0.7 handles it: a supernet of
//! the location's own private IPs is kept (only true conflicts are dropped), and traffic to it
//! is MASQUERADEd (never in the no-NAT mesh set; never SNATed to an egress IP). Expected values
//! are literal; the WireGuard IPs (gcp 10.4.11.93, aws 10.4.25.174) are the ones
//! tests/topology.rs derives independently.

#[cfg(test)]
#[allow(
    dead_code,
    reason = "shared by several test binaries; each uses a subset"
)]
mod common;

use common::*;
use kilo_mesh::Topology;
use kilo_mesh::plan::firewall::iptables::ruleset;
use kilo_mesh::types::Granularity;

/// Kilo's example with LANs: gcp claims its whole LAN 10.0.0.0/24 (node-b, which also has the
/// status address 10.0.0.2), aws claims 172.31.0.0/16 (its LAN) and hostile or conflicting
/// ranges.
#[cfg(test)]
fn lan_cluster() -> Vec<N> {
    let mut nodes = kilo_example();
    nodes[1] = nodes[1]
        .clone()
        .status_ip("10.0.0.2")
        .ann("allowed-location-ips", "10.0.0.0/24,203.0.113.0/25");
    nodes[2] = nodes[2].clone().ann(
        "allowed-location-ips",
        "172.31.0.0/16,10.0.0.0/16,172.31.0.3/32,10.42.2.0/23,10.0.0.1/32",
    );
    nodes
}

#[cfg(test)]
fn lan_topology(local: &str, g: Granularity) -> Topology {
    topology_of(&lan_cluster(), local, g)
}

#[cfg(test)]
fn strings<T: ToString>(v: impl IntoIterator<Item = T>) -> Vec<String> {
    v.into_iter().map(|x| x.to_string()).collect()
}

#[test]
fn a_supernet_of_the_locations_own_private_ips_is_kept_and_true_conflicts_are_dropped() {
    let t = lan_topology("node-a", Granularity::Location);
    let by_loc = |loc: &str| {
        let s = t.segments.iter().find(|s| s.location == loc).unwrap();
        strings(&s.allowed_location_ips)
    };
    assert_eq!(by_loc("gcp"), ["10.0.0.0/24"]);
    assert_eq!(by_loc("aws"), ["172.31.0.0/16"]);
    let warnings = warning_lines(&t);
    assert_eq!(
        warnings,
        [
            "node/node-b: kilo.squat.ai/allowed-location-ips=203.0.113.0/25 refused: covers the endpoint 203.0.113.1 of node node-a",
            "node/node-c: kilo.squat.ai/allowed-location-ips=10.0.0.0/16 refused: covers the internal IP 10.0.0.1 of node node-a",
            "node/node-c: kilo.squat.ai/allowed-location-ips=10.0.0.1/32 refused: covers the internal IP 10.0.0.1 of node node-a",
            "node/node-c: kilo.squat.ai/allowed-location-ips=172.31.0.3/32 refused: covers the internal IP 172.31.0.3 of node node-c",
            "segment/location:aws: allowed-location IP 10.42.2.0/23 overlaps a pod CIDR, private IP or WireGuard IP; dropped",
        ]
    );
}

#[test]
fn the_same_lan_in_full_granularity_is_still_kept_for_its_own_location() {
    let t = lan_topology("node-c", Granularity::Full);
    let kept: Vec<(String, Vec<String>)> = t
        .segments
        .iter()
        .map(|s| (s.key.clone(), strings(&s.allowed_location_ips)))
        .collect();
    assert_eq!(
        kept,
        [
            ("node:node-a".to_owned(), vec![]),
            ("node:node-b".to_owned(), vec!["10.0.0.0/24".to_owned()]),
            ("node:node-c".to_owned(), vec!["172.31.0.0/16".to_owned()]),
        ]
    );
}

#[test]
fn a_lan_covering_another_locations_status_address_is_refused() {
    let mut nodes = lan_cluster();
    nodes[1] = nodes[1].clone().ann("allowed-location-ips", "10.0.0.0/24");
    nodes[2] = nodes[2]
        .clone()
        .status_ip("10.0.0.77")
        .ann("allowed-location-ips", "172.31.0.0/16");
    let refs: Vec<&N> = nodes.iter().collect();
    let t = Topology::new(
        &snap(&refs, vec![]),
        &"node-a".parse().unwrap(),
        Granularity::Location,
        "10.4.0.0/16".parse().unwrap(),
    )
    .unwrap();
    let gcp = t.segments.iter().find(|s| s.location == "gcp").unwrap();
    assert_eq!(gcp.allowed_location_ips, []);
    assert_eq!(
        strings(t.warnings.iter().map(|w| &w.message)),
        [
            "kilo.squat.ai/allowed-location-ips=10.0.0.0/24 refused: covers an InternalIP 10.0.0.77 of node node-c"
        ]
    );
}

#[test]
fn other_locations_route_the_lan_and_the_more_specific_private_ips_to_its_leader() {
    let mut s = settings("node-c");
    s.service_cidrs = vec![];
    let nodes = lan_cluster();
    let p = plan(&snap(&nodes.iter().collect::<Vec<_>>(), vec![]), &s);
    let routes: Vec<String> = p
        .network
        .routes
        .iter()
        .filter(|r| r.dst.to_string().starts_with("10.0.0."))
        .map(|r| format!("{} via {:?} dev {:?}", r.dst, r.via, r.dev))
        .collect();
    assert_eq!(
        routes,
        [
            "10.0.0.0/24 via Some(10.4.11.93) dev WireGuard",
            "10.0.0.1/32 via Some(10.4.11.93) dev WireGuard",
            "10.0.0.2/32 via Some(10.4.11.93) dev WireGuard",
        ]
    );
    let wg = p.wireguard.unwrap();
    let gcp = wg.peers.iter().find(|p| p.name.contains("gcp")).unwrap();
    assert_eq!(
        strings(&gcp.allowed_ips),
        [
            "10.0.0.0/24",
            "10.0.0.1/32",
            "10.0.0.2/32",
            "10.4.11.93/32",
            "10.42.0.0/24",
            "10.42.1.0/24"
        ]
    );
}

#[test]
fn lan_traffic_is_masqueraded_and_never_snated_to_the_egress_ip() {
    let mut nodes = lan_cluster();
    nodes[0] = nodes[0].clone().ann("egress-ip", "203.0.113.10");
    let mut s = settings("node-a");
    s.service_cidrs = vec![];
    let p = plan(&snap(&nodes.iter().collect::<Vec<_>>(), vec![]), &s);
    let v4 = &p.firewall.v4;
    assert_eq!(strings(&v4.nat_destination), ["10.0.0.0/24"]);
    assert_eq!(
        strings(&v4.allowed_location),
        ["10.0.0.0/24", "172.31.0.0/16"]
    );
    assert_eq!(
        strings(&v4.mesh),
        [
            "10.0.0.1/32",
            "10.0.0.2/32",
            "10.4.11.93/32",
            "10.4.25.174/32",
            "10.42.0.0/24",
            "10.42.1.0/24",
            "10.42.2.0/24",
            "172.31.0.3/32"
        ]
    );
    let rs = ruleset(v4);
    let nat = rs.chains.iter().find(|c| c.name == "KILO-NAT").unwrap();
    assert_eq!(
        nat.rules,
        [
            r#"-m set --match-set kilo-mesh-v4 dst -m comment --comment "Kilo: do not NAT packets destined for the mesh" -j RETURN"#,
            r#"-m set ! --match-set kilo-location-v4 dst -m comment --comment "Kilo: SNAT to the egress IP of this node" -j SNAT --to-source 203.0.113.10"#,
            r#"-m comment --comment "Kilo: NAT remaining packets" -j MASQUERADE"#,
        ]
    );
}
