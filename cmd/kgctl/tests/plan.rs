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

#[test]
fn nftables_backend_writes_the_firewall_as_nft_scripts() {
    let args = [
        "plan",
        "-f",
        "two-locations.yaml",
        "--hostname",
        "node-a",
        "--firewall-backend",
        "nftables",
    ];
    let out = kgctl(&args);
    assert!(!out.contains("iptables-restore"), "{out}");
    let start = out.find("== Firewall IPv4: nft -f ==").unwrap();
    let end = out.find("== Firewall IPv6: nft -f ==").unwrap();
    assert_eq!(
        &out[start..end],
        r#"== Firewall IPv4: nft -f ==
add table ip kilo
add set ip kilo nat-src { type ipv4_addr; flags interval; }
add element ip kilo nat-src { 10.5.0.1/32, 10.42.0.0/24 }
add set ip kilo nat-dst { type ipv4_addr; flags interval; }
add element ip kilo nat-dst { 192.168.100.0/24 }
add set ip kilo mesh { type ipv4_addr; flags interval; }
add element ip kilo mesh { 10.0.0.1/32, 10.0.0.2/32, 10.4.11.93/32, 10.4.25.174/32, 10.4.226.37/32, 10.5.0.1/32, 10.42.0.0/24, 10.42.1.0/24, 10.42.2.0/24, 10.42.3.0/24, 172.31.0.3/32 }
add set ip kilo location { type ipv4_addr; flags interval; }
add element ip kilo location { 192.168.100.0/24 }
add set ip kilo ipip { type ipv4_addr; flags interval; }
add element ip kilo ipip { 10.0.0.2/32 }
add chain ip kilo postrouting { type nat hook postrouting priority 100; policy accept; }
add chain ip kilo input { type filter hook input priority 0; policy accept; }
add chain ip kilo nat
add rule ip kilo postrouting ip saddr @nat-src jump nat comment "Kilo: jump to KILO-NAT chain"
add rule ip kilo postrouting ip daddr @nat-dst jump nat comment "Kilo: jump to KILO-NAT chain for allowed location IPs"
add rule ip kilo input ip protocol 4 ip saddr @ipip accept comment "Kilo: allow IPIP traffic"
add rule ip kilo input ip protocol 4 drop comment "Kilo: reject other IPIP traffic"
add rule ip kilo nat ip daddr @mesh return comment "Kilo: do not NAT packets destined for the mesh"
add rule ip kilo nat masquerade comment "Kilo: NAT remaining packets"

"#
    );
    let json = kgctl(&[&args[..], &["-o", "json"]].concat());
    let doc: serde_json::Value = serde_json::from_str(&json).unwrap();
    assert!(
        doc["firewallText"]["v6"]["nft"]
            .as_str()
            .unwrap()
            .starts_with("add table ip6 kilo\n")
    );
}

/// `--host-address` replays kg's discovery: n1's private IP and endpoint come from the given
/// addresses (eth1 holds the default route), not from what n1 published.
#[test]
fn host_addresses_replay_discovery() {
    let out = kgctl(&[
        "plan",
        "-f",
        "lab-dual-stack.yaml",
        "--hostname",
        "n1",
        "--encapsulate",
        "never",
        "-o",
        "json",
        "--host-address",
        "eth0=192.168.77.11/24",
        "--host-address",
        "eth1=192.168.88.11/24",
        "--host-address",
        "eth1=fd00:88::11/64",
        "--host-address",
        "kube-bridge=10.42.1.1/24",
        "--default-iface",
        "eth1",
    ]);
    let doc: serde_json::Value = serde_json::from_str(&out).unwrap();
    let plan = &doc["plan"];
    assert_eq!(plan["network"]["links"]["private"], "eth1");
    assert_eq!(plan["wireguard"]["listen_port"], 51820);
    let mesh4 = doc["firewallIntent"]["v4"]["mesh"].as_array().unwrap();
    assert!(
        mesh4.contains(&serde_json::json!("192.168.88.11/32")),
        "{mesh4:?}"
    );
    assert!(
        !mesh4.contains(&serde_json::json!("192.168.77.11/32")),
        "{mesh4:?}"
    );
    assert!(
        !mesh4.contains(&serde_json::json!("10.42.1.1/32")),
        "{mesh4:?}"
    );
    let mesh6 = doc["firewallIntent"]["v6"]["mesh"].as_array().unwrap();
    assert!(
        mesh6.contains(&serde_json::json!("fd00:88::11/128")),
        "{mesh6:?}"
    );
    assert_eq!(
        plan["egress"]["v4"]["reason"], "not-assigned",
        "192.168.77.101 is not among the host addresses"
    );
}

/// The hostile fixture (see its header): the leader's WireGuard peers and routes hold only the
/// sane values; node-e (node-a's key) is out of the mesh.
#[test]
fn hostile_cluster_routes_only_sane_values() {
    let out = kgctl(&[
        "plan",
        "-f",
        "hostile.yaml",
        "--now",
        "1700000010",
        "--hostname",
        "node-a",
    ]);
    let section = |name: &str| -> String {
        let start = out.find(&format!("== {name} ==\n")).unwrap();
        let rest = &out[start..];
        let end = rest[3..].find("\n== ").map_or(rest.len(), |e| e + 4);
        rest[..end].to_owned()
    };
    assert_eq!(
        section("Routes"),
        "== Routes ==
10.0.0.2/32 via 10.0.0.2 dev tunl0 table 1107 proto 107 src 10.0.0.1 onlink
10.5.0.1/32 dev kilo0 proto 107 src 10.0.0.1
10.42.1.0/24 via 10.0.0.2 dev tunl0 proto 107 src 10.0.0.1 onlink
10.42.2.0/24 via 10.4.25.174 dev kilo0 proto 107 src 10.0.0.1 onlink
172.31.0.3/32 via 10.4.25.174 dev kilo0 proto 107 src 10.0.0.1 onlink
192.168.100.0/24 via 10.4.25.174 dev kilo0 proto 107 src 10.0.0.1 onlink
\n"
    );
    let wg = section("WireGuard");
    assert!(wg.contains("# peer:evil\nPublicKey = cHBwcHBwcHBwcHBwcHBwcHBwcHBwcHBwcHBwcHBwcHA=\nAllowedIPs = 10.5.0.1/32\n"), "{wg}");
    assert!(
        !wg.contains("198.51.100.5"),
        "node-e is out of the mesh: {wg}"
    );
    assert!(
        out.contains("node/node-e: kilo.squat.ai/key=YWFhYWFh… refused: node node-a already publishes this key"),
        "{out}"
    );
}

// Issue #11 item 5: a cluster half-way through a migration (e2e/fixtures/mixed.yaml). The
// kilo-rs leader node-a and the Go Kilo leader node-c (whose plan kgctl computes as kg would;
// Go Kilo's own numbering is replayed in pkg/mesh/tests/mixed_cluster.rs) configure the same
// addresses: Kilo's numbering by segment order.
#[test]
fn mixed_cluster_kilo_rs_leader() {
    insta::assert_snapshot!(kgctl(&[
        "plan",
        "-f",
        "mixed.yaml",
        "--hostname",
        "node-a",
        "--service-cidr",
        "10.43.0.0/16"
    ]));
}

#[test]
fn mixed_cluster_go_kilo_leader() {
    insta::assert_snapshot!(kgctl(&[
        "plan",
        "-f",
        "mixed.yaml",
        "--hostname",
        "node-c",
        "--service-cidr",
        "10.43.0.0/16"
    ]));
}

// Every node of the mixed cluster, leader or follower, kilo-rs or Go: the same numbering, and
// every leader's WireGuard peers carry the other segments' addresses from it.
#[test]
fn every_node_of_the_mixed_cluster_agrees() {
    let cases = [
        (
            "node-a",
            "10.4.0.2/16",
            vec![vec!["10.4.0.1/32"], vec!["10.4.0.3/32"]],
        ),
        ("node-b", "10.4.0.2/16", vec![]),
        (
            "node-c",
            "10.4.0.1/16",
            vec![vec!["10.4.0.2/32"], vec!["10.4.0.3/32"]],
        ),
        (
            "node-d",
            "10.4.0.3/16",
            vec![vec!["10.4.0.2/32"], vec!["10.4.0.1/32"]],
        ),
        ("node-e", "10.4.0.1/16", vec![]),
    ];
    for (host, own, peers) in cases {
        let out = kgctl(&["plan", "-f", "mixed.yaml", "--hostname", host, "-o", "json"]);
        let doc: serde_json::Value = serde_json::from_str(&out).unwrap();
        let plan = &doc["plan"];
        assert_eq!(
            plan["allocation"],
            serde_json::json!({"mode": "kilo", "go_kilo_nodes": ["node-c"]}),
            "{host}"
        );
        assert_eq!(plan["wireguard_ip"], own, "{host}");
        let got: Vec<Vec<String>> = plan["wireguard"]["peers"]
            .as_array()
            .map(|ps| {
                ps.iter()
                    .map(|p| {
                        p["allowed_ips"]
                            .as_array()
                            .unwrap()
                            .iter()
                            .filter_map(|a| a.as_str())
                            .filter(|a| a.starts_with("10.4."))
                            .map(str::to_owned)
                            .collect()
                    })
                    .collect()
            })
            .unwrap_or_default();
        assert_eq!(got, peers, "{host}");
    }
}

/// `kgctl plan -f FILE --hostname HOST FLAGS...`.
fn plan_of(file: &str, host: &str, flags: &[&str]) -> String {
    kgctl(&[&["plan", "-f", file, "--hostname", host][..], flags].concat())
}

/// Kilo's flannel manifests' flags: WireGuard between locations, flannel inside them.
const FLANNEL: [&str; 4] = [
    "--compatibility=flannel",
    "--cni=false",
    "--local=false",
    "--service-cidr=10.43.0.0/16",
];

#[test]
fn flannel_leader() {
    insta::assert_snapshot!(plan_of("two-locations.yaml", "node-a", &FLANNEL));
}

#[test]
fn flannel_follower() {
    insta::assert_snapshot!(plan_of("two-locations.yaml", "node-b", &FLANNEL));
}

#[test]
fn flannel_follower_with_local_routes_leaves_the_location_to_flannel() {
    let flags = ["--compatibility", "flannel"];
    insta::assert_snapshot!(plan_of("two-locations.yaml", "node-b", &flags));
}

/// Kilo's Cilium manifests' flags.
const CILIUM: [&str; 4] = [
    "--compatibility=cilium",
    "--cni=false",
    "--local=false",
    "--encapsulate=crosssubnet",
];

#[test]
fn cilium_follower_without_cni_compatibility_ip() {
    insta::assert_snapshot!(plan_of("two-locations.yaml", "node-b", &CILIUM));
}

#[test]
fn cilium_leader_with_cni_compatibility_ip() {
    insta::assert_snapshot!(plan_of("cilium.yaml", "node-a", &CILIUM));
}

#[test]
fn cilium_follower_with_cni_compatibility_ip_on_cilium_tunl() {
    let flags = [&CILIUM[..], &["--cilium-tunl"]].concat();
    insta::assert_snapshot!(plan_of("cilium.yaml", "node-b", &flags));
}

#[test]
fn cilium_follower_with_local_routes_guards_ipip() {
    let flags = ["--compatibility=cilium"];
    insta::assert_snapshot!(plan_of("cilium.yaml", "node-b", &flags));
}
