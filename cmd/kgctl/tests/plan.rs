//! Black-box snapshot tests of `kgctl plan` over the example clusters in `e2e/fixtures/`.
//! The snapshots under `tests/snapshots/` are the literal expected plans; review changes with
//! `cargo insta review`.

#[cfg(test)]
mod support;

use support::kgctl;

#[test]
fn two_locations_leader() {
    insta::assert_snapshot!(kgctl(&[
        "plan",
        "-f",
        "two-locations.yaml",
        "--hostname",
        "node-a",
        "--service-cidr",
        "10.43.0.0/16"
    ]));
}

#[test]
fn two_locations_follower() {
    insta::assert_snapshot!(kgctl(&[
        "plan",
        "-f",
        "two-locations.yaml",
        "--hostname",
        "node-b",
        "--service-cidr",
        "10.43.0.0/16"
    ]));
}

#[test]
fn two_locations_full_mesh_with_forward_rules() {
    insta::assert_snapshot!(kgctl(&[
        "plan",
        "-f",
        "two-locations.yaml",
        "--hostname",
        "node-c",
        "--mesh-granularity",
        "full",
        "--iptables-forward-rules",
        "--encapsulate",
        "never",
    ]));
}

#[test]
fn lab_leader_with_egress_text() {
    insta::assert_snapshot!(kgctl(&[
        "plan",
        "-f",
        "lab-dual-stack.yaml",
        "--hostname",
        "n1",
        "--encapsulate",
        "never",
        "--private-iface",
        "eth0",
        "--node-address",
        "192.168.77.11",
        "--node-address",
        "192.168.77.101",
        "--node-address",
        "fd00:77::11",
    ]));
}

#[test]
fn lab_follower_json() {
    insta::assert_snapshot!(kgctl(&[
        "plan",
        "-f",
        "lab-dual-stack.yaml",
        "--hostname",
        "n2",
        "--encapsulate",
        "crosssubnet",
        "--tunnel",
        "vxlan",
        "-o",
        "json",
    ]));
}

#[test]
fn directory_input_and_annotation_problems() {
    let out = kgctl(&[
        "plan",
        "-f",
        ".",
        "--hostname",
        "n3",
        "--encapsulate",
        "never",
    ]);
    assert!(
        out.contains("node n3 (leader of segment location:loc-b, leader n3)"),
        "{out}"
    );
}

#[test]
fn graph_of_two_locations() {
    insta::assert_snapshot!(kgctl(&[
        "graph",
        "-f",
        "two-locations.yaml",
        "--hostname",
        "node-a"
    ]));
}

#[test]
fn the_committed_crd_manifest_is_current() {
    let committed = std::fs::read_to_string(concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/../../manifests/crds.yaml"
    ))
    .expect("reading manifests/crds.yaml");
    assert_eq!(
        kgctl(&["crd"]),
        committed,
        "regenerate with: kgctl crd > manifests/crds.yaml"
    );
}
