//! Mesh health targets from a topology: every other node of the mesh, with its private IP
//! (host path) and CNI bridge gateway (pod path), IPv4 preferred. Expected values are literal.

#[cfg(test)]
#[allow(
    dead_code,
    reason = "shared by several test binaries; each uses a subset"
)]
mod common;

use common::{N, NOW, lab_node};
use kilo_mesh::health::{local_pod_gateway, targets};
use kilo_mesh::types::Granularity;
use kilo_mesh::{Snapshot, Topology};

#[test]
fn every_other_mesh_node_with_its_host_and_pod_addresses() {
    let v6_only = N::new(
        "n4",
        "loc-b",
        "[fd00:77::14]:51820",
        "fd00:77::14/64",
        &["fd00:10:42:4::/64"],
    );
    let unready = lab_node(5, "loc-b").ann("last-seen", &(NOW - 3600).to_string());
    let snapshot = Snapshot {
        nodes: [
            lab_node(3, "loc-b"),
            lab_node(1, "loc-a"),
            lab_node(2, "loc-a"),
            v6_only,
            unready,
        ]
        .iter()
        .map(N::build)
        .collect(),
        peers: Vec::new(),
        now: NOW + 5,
    };
    let topo = Topology::new(
        &snapshot,
        &"n2".parse().unwrap(),
        Granularity::Location,
        "10.4.0.0/16".parse().unwrap(),
    )
    .unwrap();
    let got: Vec<String> = targets(&topo)
        .iter()
        .map(|t| format!("{} host={:?} pod={:?}", t.node, t.host, t.pod))
        .collect();
    assert_eq!(
        got,
        [
            "n1 host=Some(192.168.77.11) pod=Some(10.42.1.1)",
            "n3 host=Some(192.168.77.13) pod=Some(10.42.3.1)",
            "n4 host=Some(fd00:77::14) pod=Some(fd00:10:42:4::1)",
        ]
    );
    assert_eq!(local_pod_gateway(&topo), Some("10.42.2.1".parse().unwrap()));
}
