//! `--compatibility=flannel|cilium` in the core: the `cni-compatibility-ip` annotation (parsed
//! and guarded), and the routes, tunnel and IPIP guard of both modes on Kilo's example cluster
//! (gcp: node-a leader, node-b; aws: node-c). Expected values are written out literally.

#[cfg(test)]
#[allow(
    dead_code,
    reason = "shared by several test binaries; each uses a subset"
)]
mod common;

use common::{N, kilo_example, plan, settings, snap};
use kilo_mesh::annotations::parse_node;
use kilo_mesh::plan::network::{RouteDisplay, RuleDisplay};
use kilo_mesh::plan::{LocalFacts, NodePlan};
use kilo_mesh::types::{Encapsulate, TunnelKind};

fn routes(p: &NodePlan) -> Vec<String> {
    let n = &p.network;
    n.routes
        .iter()
        .map(|r| RouteDisplay(r, &n.links).to_string())
        .collect()
}

fn rules(p: &NodePlan) -> Vec<String> {
    let n = &p.network;
    n.rules
        .iter()
        .map(|r| RuleDisplay(r, &n.links).to_string())
        .collect()
}

fn compat(host: &str, tunnel: TunnelKind, local: bool) -> kilo_mesh::plan::Settings {
    let mut s = settings(host);
    s.tunnel = tunnel;
    s.encapsulate = Encapsulate::Always;
    s.cni = false;
    s.local = local;
    s
}

fn with_cilium_ips(nodes: Vec<N>) -> Vec<N> {
    nodes
        .into_iter()
        .map(|n| match n.0.name.as_str() {
            "node-a" => n.ann("cni-compatibility-ip", "10.42.0.77/32"),
            "node-b" => n.ann("cni-compatibility-ip", "10.42.1.77"),
            _ => n,
        })
        .collect()
}

#[test]
fn cni_compatibility_ip_takes_one_ipv4_host_address() {
    let base = &kilo_example()[0];
    let parsed = |v: &str| {
        let (node, problems) =
            parse_node(&base.clone().ann("cni-compatibility-ip", v).0, "x").unwrap();
        let reasons: Vec<String> = problems.iter().map(|p| p.reason.clone()).collect();
        (node.cni_compatibility_ip.map(|i| i.to_string()), reasons)
    };
    assert_eq!(parsed("10.42.0.77/32"), (Some("10.42.0.77".into()), vec![]));
    assert_eq!(parsed(" 10.42.0.77 "), (Some("10.42.0.77".into()), vec![]));
    assert_eq!(parsed(""), (None, vec![]));
    assert_eq!(parsed("-"), (None, vec![]));
    let refused = [
        ("fd00::1", "not an IPv4 address (IPIP needs IPv4)"),
        ("fd00::1/128", "not an IPv4 address (IPIP needs IPv4)"),
        ("10.42.0.77,10.42.0.78", "not an IPv4 address"),
        ("10.42.0.77\n-A INPUT -j ACCEPT", "not an IPv4 address"),
        ("\"10.42.0.77\"", "not an IPv4 address"),
        (
            "127.0.0.1",
            "not a host address: covers loopback space 127.0.0.0/8",
        ),
        (
            "169.254.169.254/32",
            "not a host address: covers link-local space 169.254.0.0/16",
        ),
        (
            "224.0.0.1",
            "not a host address: covers multicast space 224.0.0.0/4",
        ),
        (
            "0.0.0.0/0",
            "not a host address: covers unspecified space 0.0.0.0/8",
        ),
        (
            "255.255.255.255",
            "not a host address: covers broadcast space 255.255.255.255/32",
        ),
    ];
    for (v, why) in refused {
        assert_eq!(parsed(v), (None, vec![why.to_owned()]), "{v:?}");
    }
    let huge = "1".repeat(100_000);
    assert_eq!(parsed(&huge).0, None);
}

#[test]
fn the_guard_refuses_compatibility_ips_of_other_nodes_space() {
    let mut nodes = with_cilium_ips(kilo_example());
    nodes[2] = nodes[2].clone().ann("cni-compatibility-ip", "10.42.0.5");
    nodes.push(
        N::new(
            "node-e",
            "aws",
            "198.51.100.5:51820",
            "172.31.0.5/24",
            &["10.42.5.0/24"],
        )
        .ann("cni-compatibility-ip", "10.42.1.77"),
    );
    nodes.push(
        N::new(
            "node-f",
            "aws",
            "198.51.100.6:51820",
            "172.31.0.6/24",
            &["10.42.6.0/24"],
        )
        .ann("cni-compatibility-ip", "10.4.0.9"),
    );
    nodes.push(
        N::new(
            "node-g",
            "aws",
            "198.51.100.7:51820",
            "172.31.0.7/24",
            &["10.42.7.0/24"],
        )
        .ann("cni-compatibility-ip", "172.31.0.3"),
    );
    nodes.push(
        N::new(
            "node-h",
            "aws",
            "198.51.100.8:51820",
            "172.31.0.8/24",
            &["10.42.8.0/24"],
        )
        .ann("cni-compatibility-ip", "198.51.100.3"),
    );
    let refs: Vec<&N> = nodes.iter().collect();
    let p = plan(
        &snap(&refs, vec![]),
        &compat("node-a", TunnelKind::Cilium, false),
    );
    let refused: Vec<String> = p.rejected.iter().map(ToString::to_string).collect();
    assert_eq!(
        refused,
        [
            "kilo.squat.ai/cni-compatibility-ip=10.42.0.5 refused: inside 10.42.0.0/24, the pod CIDR of node node-a",
            "kilo.squat.ai/cni-compatibility-ip=10.42.1.77 refused: inside 10.42.1.0/24, the pod CIDR of node node-b",
            "kilo.squat.ai/cni-compatibility-ip=10.4.0.9 refused: inside the WireGuard subnet 10.4.0.0/16",
            "kilo.squat.ai/cni-compatibility-ip=172.31.0.3 refused: an address of node node-c",
            "kilo.squat.ai/cni-compatibility-ip=198.51.100.3 refused: the endpoint of node node-c",
        ]
    );
}

#[test]
fn flannel_follower_routes_everything_over_flannel_1_to_the_leaders_vtep() {
    let nodes = kilo_example();
    let refs: Vec<&N> = nodes.iter().collect();
    let p = plan(
        &snap(&refs, vec![]),
        &compat("node-b", TunnelKind::Flannel, false),
    );
    assert_eq!(p.network.tunnel, Some(TunnelKind::Flannel));
    assert_eq!(p.network.links.tunnel.as_str(), "flannel.1");
    assert_eq!(
        routes(&p),
        [
            "10.4.11.93/32 via 10.42.0.0 dev flannel.1 proto 107 src 10.0.0.2 onlink",
            "10.4.25.174/32 via 10.42.0.0 dev flannel.1 proto 107 src 10.0.0.2 onlink",
            "10.42.2.0/24 via 10.42.0.0 dev flannel.1 proto 107 src 10.0.0.2 onlink",
            "172.31.0.3/32 via 10.42.0.0 dev flannel.1 proto 107 src 10.0.0.2 onlink",
        ]
    );
    assert!(rules(&p).is_empty());
    // flannel needs no IPIP guard; with --cni=false kg NATs nothing of its own pods.
    assert!(p.firewall.v4.ipip.is_none() && p.cni.is_none());
}

#[test]
fn flannel_leader_keeps_flannels_location_routes_and_returns_over_flannel_1() {
    let nodes = kilo_example();
    let refs: Vec<&N> = nodes.iter().collect();
    for local in [false, true] {
        let p = plan(
            &snap(&refs, vec![]),
            &compat("node-a", TunnelKind::Flannel, local),
        );
        assert_eq!(p.network.tunnel, Some(TunnelKind::Flannel));
        let r = routes(&p);
        // node-b's pod CIDR is flannel's route, never kg's.
        assert!(!r.iter().any(|r| r.starts_with("10.42.1.0/24")), "{r:?}");
        assert!(r.contains(
            &"10.42.2.0/24 via 10.4.25.174 dev kilo0 proto 107 src 10.0.0.1 onlink".to_owned()
        ));
        assert!(
            r.contains(
                &"10.0.0.2/32 via 10.42.1.0 dev flannel.1 table 1107 proto 107 src 10.0.0.1 onlink"
                    .to_owned()
            )
        );
    }
    let p = plan(
        &snap(&refs, vec![]),
        &compat("node-a", TunnelKind::Flannel, false),
    );
    assert_eq!(rules(&p), ["from all to 10.0.0.2/32 iif kilo0 lookup 1107"]);
}

#[test]
fn flannel_with_encapsulate_never_routes_over_the_private_network() {
    let nodes = kilo_example();
    let refs: Vec<&N> = nodes.iter().collect();
    let mut s = compat("node-b", TunnelKind::Flannel, false);
    s.encapsulate = Encapsulate::Never;
    let p = plan(&snap(&refs, vec![]), &s);
    assert!(routes(&p).contains(
        &"10.42.2.0/24 via 10.0.0.1 dev <private> proto 107 src 10.0.0.2 onlink".to_owned()
    ));
}

#[test]
fn cilium_gateway_is_the_cni_compatibility_ip_else_the_pod_subnet_address() {
    let with = with_cilium_ips(kilo_example());
    let without = kilo_example();
    for (nodes, gw) in [(with, "10.42.0.77"), (without, "10.42.0.0")] {
        let refs: Vec<&N> = nodes.iter().collect();
        let p = plan(
            &snap(&refs, vec![]),
            &compat("node-b", TunnelKind::Cilium, false),
        );
        assert_eq!(p.network.links.tunnel.as_str(), "tunl0");
        assert_eq!(
            routes(&p)[2],
            format!("10.42.2.0/24 via {gw} dev tunl0 proto 107 src 10.0.0.2 onlink")
        );
        assert_eq!(
            p.network.tunnel_peers,
            [
                gw.parse::<std::net::IpAddr>().unwrap(),
                "10.0.0.1".parse().unwrap()
            ]
            .into_iter()
            .collect::<std::collections::BTreeSet<_>>()
            .into_iter()
            .collect::<Vec<_>>()
        );
        // Kilo guards IPIP in Cilium mode only with --local.
        assert!(p.firewall.v4.ipip.is_none());
        let p = plan(
            &snap(&refs, vec![]),
            &compat("node-b", TunnelKind::Cilium, true),
        );
        let ipip: Vec<String> = p
            .firewall
            .v4
            .ipip
            .iter()
            .flatten()
            .map(ToString::to_string)
            .collect();
        let mut want = vec!["10.0.0.1/32".to_owned(), format!("{gw}/32")];
        want.sort();
        assert_eq!(ipip, want);
    }
}

#[test]
fn cilium_reuses_cilium_tunl_when_cilium_owns_it() {
    let nodes = with_cilium_ips(kilo_example());
    let refs: Vec<&N> = nodes.iter().collect();
    let facts = LocalFacts {
        cilium_tunl: true,
        ..LocalFacts::default()
    };
    let s = compat("node-a", TunnelKind::Cilium, false);
    let p = kilo_mesh::plan::plan(&snap(&refs, vec![]), &s, &facts).unwrap();
    assert_eq!(p.network.links.tunnel.as_str(), "cilium_tunl");
    assert_eq!(
        routes(&p)[0],
        "10.0.0.2/32 via 10.42.1.77 dev cilium_tunl table 1107 proto 107 src 10.0.0.1 onlink"
    );
    assert_eq!(rules(&p), ["from all to 10.0.0.2/32 iif kilo0 lookup 1107"]);
}
