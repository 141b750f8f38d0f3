//! Node-local decisions: the one interface filter, private IP and endpoint discovery, the
//! overlay onto the Node, the MTU rule, staleness of what kg published, and the notices.

#[cfg(test)]
#[allow(
    dead_code,
    reason = "shared by several test binaries; each uses a subset"
)]
mod common;

use common::{N, NOW, kilo_example, plan, settings, snap};
use kilo_mesh::local::{
    DiscoverSettings, Discovered, HostFacts, MtuSetting, NodeAddress, discover, is_node_interface,
    overlay, published_is_stale, resolve_mtu,
};
use kilo_mesh::notice::{Notice, NoticeDedup, Refusal, Target, notices, reports_cluster_problems};
use kilo_mesh::types::WgKey;
use kilo_mesh::{Granularity, Topology};

#[cfg(test)]
fn addr(iface: &str, net: &str) -> NodeAddress {
    NodeAddress {
        iface: iface.parse().unwrap(),
        net: net.parse().unwrap(),
    }
}

#[cfg(test)]
fn wg(port: u16, prefer_private: bool) -> DiscoverSettings {
    DiscoverSettings {
        wireguard: "kilo0".to_owned(),
        internal_cidrs: Vec::new(),
        port,
        prefer_private,
    }
}

#[test]
fn one_interface_filter() {
    for skipped in [
        "kilo0",
        "wg9",
        "lo",
        "kube-bridge",
        "tunl0",
        "kilo.vxlan",
        "veth1a2b",
        "cni0",
        "docker0",
    ] {
        assert!(!is_node_interface(skipped, "wg9"), "{skipped}");
    }
    for kept in ["eth0", "ens4", "enp0s3", "bond0", "br-lan", "wlan0"] {
        assert!(is_node_interface(kept, "wg9"), "{kept}");
    }
}

#[test]
fn lab_node_discovers_its_underlay() {
    let host = HostFacts {
        addresses: vec![
            addr("eth0", "192.168.77.11/24"),
            addr("eth0", "192.168.77.101/24"),
            addr("eth0", "fd00:77::11/64"),
            addr("eth0", "fe80::1/64"),
            addr("kilo0", "10.4.0.1/16"),
            addr("kube-bridge", "10.42.1.1/24"),
        ],
        default_iface: None,
    };
    let d = discover(&host, &wg(51820, false));
    assert_eq!(d.iface.unwrap().as_str(), "eth0");
    let ips: Vec<String> = d.internal.iter().map(ToString::to_string).collect();
    assert_eq!(ips, ["192.168.77.11/24", "fd00:77::11/64"]);
    assert_eq!(d.endpoint.unwrap().to_string(), "192.168.77.11:51820");
}

#[test]
fn public_address_is_the_endpoint_unless_private_is_prioritised() {
    let host = HostFacts {
        addresses: vec![addr("ens4", "10.0.0.5/24"), addr("ens5", "203.0.113.7/24")],
        default_iface: Some("ens4".parse().unwrap()),
    };
    let endpoint = |s: &DiscoverSettings| discover(&host, s).endpoint.unwrap().to_string();
    assert_eq!(endpoint(&wg(51820, false)), "203.0.113.7:51820");
    assert_eq!(endpoint(&wg(51820, true)), "10.0.0.5:51820");
    let mut inside = wg(51820, false);
    inside.internal_cidrs = vec!["10.0.0.0/8".parse().unwrap()];
    assert_eq!(
        discover(&host, &inside).iface.unwrap().as_str(),
        "ens4",
        "--internal-cidr chooses"
    );
    // As in Kilo, --internal-cidr filters private addresses; it never makes a public one private.
    inside.internal_cidrs = vec!["203.0.113.0/24".parse().unwrap()];
    let d = discover(&host, &inside);
    assert_eq!((d.iface, d.internal), (None, vec![]));
    assert_eq!(d.endpoint.unwrap().to_string(), "203.0.113.7:51820");
}

#[test]
fn a_public_ipv4_is_never_the_private_ip() {
    // Only public addresses (100.64/10 counts as public, as in Kilo): no private IP at all, not
    // even the IPv6 address of that interface; the endpoint is the public address.
    let public_only = HostFacts {
        addresses: vec![
            addr("ens4", "198.51.100.7/24"),
            addr("ens4", "2001:db8::7/64"),
            addr("ens5", "100.64.0.9/10"),
        ],
        default_iface: Some("ens4".parse().unwrap()),
    };
    let d = discover(&public_only, &wg(51820, false));
    assert_eq!(
        d,
        Discovered {
            iface: None,
            internal: vec![],
            endpoint: Some("198.51.100.7:51820".parse().unwrap()),
        }
    );
    let d = discover(&public_only, &wg(51820, true));
    assert_eq!(d.internal, vec![]);
    assert_eq!(d.endpoint.unwrap().to_string(), "198.51.100.7:51820");
    // The default-route interface is public only: the private address of another interface is
    // the private IP (Kilo: private IPs of the default interface, then of any interface).
    let mixed = HostFacts {
        addresses: vec![addr("ens4", "198.51.100.7/24"), addr("ens5", "10.9.0.7/16")],
        default_iface: Some("ens4".parse().unwrap()),
    };
    let d = discover(&mixed, &wg(51820, false));
    assert_eq!(d.iface.unwrap().as_str(), "ens5");
    assert_eq!(
        d.internal,
        vec!["10.9.0.7/16".parse::<ipnet::IpNet>().unwrap()]
    );
    assert_eq!(d.endpoint.unwrap().to_string(), "198.51.100.7:51820");
}

#[test]
fn public_only_nodes_each_get_their_own_segment() {
    let public_only = |ip: &str| HostFacts {
        addresses: vec![addr("ens4", ip)],
        default_iface: Some("ens4".parse().unwrap()),
    };
    let raw = [
        N::new("p1", "hetzner", "198.51.100.1:51820", "", &["10.42.1.0/24"]),
        N::new("p2", "hetzner", "198.51.100.2:51820", "", &["10.42.2.0/24"]),
    ];
    let mut s = snap(&raw.iter().collect::<Vec<_>>(), vec![]);
    for (n, ip) in s
        .nodes
        .iter_mut()
        .zip(["198.51.100.1/24", "198.51.100.2/24"])
    {
        let d = discover(&public_only(ip), &wg(51820, false));
        let key = n.key.unwrap();
        overlay(n, key, &d, NOW);
    }
    let t = Topology::new(
        &s,
        &"p1".parse().unwrap(),
        Granularity::Location,
        "10.4.0.0/16".parse().unwrap(),
    )
    .unwrap();
    let keys: Vec<&str> = t.segments.iter().map(|s| s.key.as_str()).collect();
    assert_eq!(keys, ["node:p1", "node:p2"]);
}

#[test]
fn the_default_route_interface_wins_among_private_candidates() {
    let host = HostFacts {
        addresses: vec![addr("eth0", "10.0.0.5/24"), addr("eth1", "10.1.0.5/24")],
        default_iface: Some("eth1".parse().unwrap()),
    };
    let d = discover(&host, &wg(51821, false));
    assert_eq!(d.iface.unwrap().as_str(), "eth1");
    assert_eq!(d.endpoint.unwrap().to_string(), "10.1.0.5:51821");
    let none = discover(&HostFacts::default(), &wg(51820, false));
    assert_eq!(none, Discovered::default());
}

#[test]
fn overlay_keeps_forced_values() {
    let raw = N::new(
        "n1",
        "a",
        "198.51.100.1:51820",
        "10.0.0.1/24",
        &["10.42.1.0/24"],
    )
    .ann("force-endpoint", "203.0.113.9:51820");
    let s = snap(&[&raw], vec![]);
    let mut node = s.nodes[0].clone();
    let d = Discovered {
        iface: Some("eth0".parse().unwrap()),
        internal: vec!["10.0.0.7/24".parse().unwrap()],
        endpoint: Some("10.0.0.7:51820".parse().unwrap()),
    };
    let key: WgKey = common::key(7).parse().unwrap();
    overlay(&mut node, key, &d, NOW + 5);
    assert_eq!(node.key, Some(key));
    assert_eq!(node.endpoint.unwrap().to_string(), "203.0.113.9:51820");
    assert_eq!(
        node.internal_ips,
        ["10.0.0.7/24".parse::<ipnet::IpNet>().unwrap()]
    );
    assert_eq!(node.last_seen, Some(NOW + 5));
}

#[test]
fn mtu_rule() {
    assert_eq!(resolve_mtu(MtuSetting::Auto, None), 1420);
    assert_eq!(resolve_mtu(MtuSetting::Auto, Some(1500)), 1420);
    assert_eq!(resolve_mtu(MtuSetting::Auto, Some(9001)), 8921);
    assert_eq!(resolve_mtu(MtuSetting::Fixed(1380), Some(9001)), 1380);
    assert_eq!("auto".parse(), Ok(MtuSetting::Auto));
    assert_eq!("1280".parse(), Ok(MtuSetting::Fixed(1280)));
    for bad in ["", "0", "575", "65536", "1e3", "-1", "auto "] {
        assert!(bad.parse::<MtuSetting>().is_err(), "{bad:?}");
    }
}

#[test]
fn published_annotations_go_stale() {
    let s = snap(
        &[&N::new("n1", "a", "198.51.100.1:51820", "10.0.0.1/24", &[])],
        vec![],
    );
    let node = &s.nodes[0];
    let key = node.key.unwrap();
    let other: WgKey = common::key(9).parse().unwrap();
    assert!(!published_is_stale(Some(node), key, NOW + 40));
    assert!(
        published_is_stale(Some(node), key, NOW + 41),
        "two heartbeats"
    );
    assert!(published_is_stale(Some(node), other, NOW), "another key");
    assert!(published_is_stale(None, key, NOW), "the Node is gone");
}

#[test]
fn notices_of_a_reconcile() {
    let nodes = kilo_example();
    let s = snap(&nodes.iter().collect::<Vec<_>>(), vec![]);
    let p = plan(&s, &settings("node-a"));
    let me = "node-a".parse().unwrap();
    let refused = [Refusal {
        name: "laptop",
        reason: "spec.allowedIPs is empty",
    }];
    let peer = Notice {
        target: Target::Peer("laptop".to_owned()),
        reason: "InvalidPeer".to_owned(),
        message: "spec.allowedIPs is empty".to_owned(),
        warning: true,
    };
    assert_eq!(notices(&me, &[], &p, &refused, true), [peer]);
    assert_eq!(notices(&me, &[], &p, &refused, false), []);
    // segments sorted by key: aws (node-c) comes before gcp (node-a, node-b)
    let reporter = |host: &str| {
        let h = host.parse().unwrap();
        let topo = Topology::new(
            &s,
            &h,
            Granularity::Location,
            "10.4.0.0/16".parse().unwrap(),
        );
        reports_cluster_problems(&topo.unwrap(), &h)
    };
    assert_eq!(
        [reporter("node-a"), reporter("node-b"), reporter("node-c")],
        [false, false, true]
    );
}

#[test]
fn peers_go_kilo_would_configure_are_events_on_the_peer() {
    let nodes = kilo_example();
    let peers = vec![
        common::peer("twin", b'c', &["10.8.0.1/32"]),
        common::peer("overlap", 0x70, &["10.42.0.0/24", "10.9.0.1/32"]),
    ];
    let s = snap(&nodes.iter().collect::<Vec<_>>(), peers);
    let p = plan(&s, &settings("node-c"));
    let me = "node-c".parse().unwrap();
    let event = |peer: &str, message: &str| Notice {
        target: Target::Peer(peer.to_owned()),
        reason: "RefusedValue".to_owned(),
        message: message.to_owned(),
        warning: true,
    };
    assert_eq!(
        notices(&me, &[], &p, &[], true),
        [
            event(
                "overlap",
                "spec.allowedIPs=10.42.0.0/24 refused: overlaps 10.42.0.0/24 of segment location:gcp (Go Kilo configures it)"
            ),
            event(
                "twin",
                "spec.publicKey=Y2NjY2Nj… refused: node node-c publishes this key; the Peer is ignored (Go Kilo configures it)"
            ),
        ]
    );
    assert_eq!(notices(&me, &[], &p, &[], false), []);
}

#[test]
fn notices_are_emitted_once_while_they_persist() {
    let n = |msg: &str| Notice {
        target: Target::Node("n1".into()),
        reason: "InvalidAnnotation".into(),
        message: msg.into(),
        warning: true,
    };
    let mut d = NoticeDedup::default();
    assert_eq!(d.fresh(vec![n("a"), n("b")]), vec![n("a"), n("b")]);
    assert_eq!(d.fresh(vec![n("a"), n("b")]), vec![]);
    assert_eq!(d.fresh(vec![n("b")]), vec![]);
    assert_eq!(d.fresh(vec![n("a"), n("b")]), vec![n("a")]);
}
