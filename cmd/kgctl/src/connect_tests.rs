//! Unit tests of `connect`: `--allowed-ips` routes extra cluster CIDRs through the first node.

use super::*;

#[test]
fn extra_cidrs_join_the_first_node_by_name_once() {
    let objects = crate::manifests::load(&[std::path::PathBuf::from(concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/../../e2e/fixtures/two-locations.yaml"
    ))])
    .unwrap();
    let t = crate::manifests::translate(&objects, kilo_mesh::flags::DEFAULT_TOPOLOGY_LABEL);
    let mut snapshot = kilo_mesh::Snapshot {
        nodes: t.nodes,
        peers: t.peers,
        now: 0,
    };
    let before: Vec<(String, Vec<IpNet>)> = snapshot
        .nodes
        .iter()
        .map(|n| (n.name.to_string(), n.allowed_location_ips.clone()))
        .collect();
    let cidrs: Vec<IpNet> = ["10.96.0.1/12", "fd00:96::/108", "10.96.0.0/12"]
        .iter()
        .map(|c| c.parse().unwrap())
        .collect();
    // the list order is not the name order: node-a must still get them
    snapshot.nodes.reverse();
    add_cluster_cidrs(&mut snapshot, &cidrs);
    snapshot.nodes.reverse();
    let after: Vec<(String, Vec<String>)> = snapshot
        .nodes
        .iter()
        .map(|n| {
            let ips = n
                .allowed_location_ips
                .iter()
                .map(ToString::to_string)
                .collect();
            (n.name.to_string(), ips)
        })
        .collect();
    let names: Vec<&str> = before.iter().map(|(n, _)| n.as_str()).collect();
    assert_eq!(names, ["node-a", "node-b", "node-c", "node-d"]);
    assert_eq!(
        format!("{before:?}"),
        "[(\"node-a\", []), (\"node-b\", [192.168.100.0/24]), (\"node-c\", []), (\"node-d\", [])]"
    );
    assert_eq!(
        after,
        [
            (
                "node-a".to_owned(),
                vec!["10.96.0.0/12".to_owned(), "fd00:96::/108".to_owned()]
            ),
            ("node-b".to_owned(), vec!["192.168.100.0/24".to_owned()]),
            ("node-c".to_owned(), vec![]),
            ("node-d".to_owned(), vec![]),
        ]
    );
}
