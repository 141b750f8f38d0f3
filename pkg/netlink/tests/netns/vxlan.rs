//! VXLAN between two namespaces joined by a veth, and IPIP's clear failure without the module.

use std::net::SocketAddr;
use std::time::Duration;

use kilo_mesh::plan::network::{Link, LinkNames, NetworkPlan, Table};
use kilo_mesh::types::TunnelKind;
use kilo_netlink::{NetlinkError, Network, RtNetlink};

use crate::common::{Netns, ifname, ip, leader_links, leader_plan, poll, route, stand_in};

/// One node's plan: its pod CIDR's peer reached through `kilo.vxlan`.
fn vxlan_plan(local: &str, peer: &str, peer_pods: &str) -> NetworkPlan {
    NetworkPlan {
        links: LinkNames {
            wireguard: ifname("kilo0"),
            private: Some(ifname("veth0")),
            tunnel: TunnelKind::Vxlan.device(),
        },
        wireguard_up: false,
        mtu: 1420,
        tunnel: Some(TunnelKind::Vxlan),
        tunnel_peers: vec![ip(peer)],
        addresses: vec![],
        routes: vec![route(
            peer_pods,
            Some(peer),
            Link::Tunnel,
            Some(local),
            Table::Main,
            true,
        )],
        rules: vec![],
    }
}

fn node(ns: &Netns, private: &str, pod: &str) {
    stand_in(ns, "kilo0");
    ns.ip("link set veth0 up");
    ns.ip(&format!("addr add {private}/24 dev veth0"));
    stand_in(ns, "pod");
    ns.ip("link set pod up");
    ns.ip(&format!("addr add {pod}/24 dev pod"));
}

#[tokio::test]
async fn pods_reach_each_other_through_the_planned_vxlan_tunnel() {
    let (a, b) = (Netns::new(), Netns::new());
    a.ip(&format!(
        "link add veth0 type veth peer name veth0 netns {}",
        b.name
    ));
    node(&a, "10.0.0.1", "10.42.0.1");
    node(&b, "10.0.0.2", "10.42.1.1");
    let plan_a = vxlan_plan("10.0.0.1", "10.0.0.2", "10.42.1.0/24");
    let plan_b = vxlan_plan("10.0.0.2", "10.0.0.1", "10.42.0.0/24");
    let mut nl_a = RtNetlink::in_netns(a.path()).expect("connect a");
    let mut nl_b = RtNetlink::in_netns(b.path()).expect("connect b");
    let report = nl_a.apply(&plan_a).await.expect("apply a");
    assert_eq!(
        report.lines(),
        [
            "set link kilo0 mtu 1420",
            "add link kilo.vxlan vxlan id 1107 local 10.0.0.1 dstport 4789",
            "add fdb 00:00:00:00:00:00 dev kilo.vxlan dst 10.0.0.2",
            "add route 10.42.1.0/24 via 10.0.0.2 dev kilo.vxlan src 10.0.0.1 onlink",
        ]
    );
    nl_b.apply(&plan_b).await.expect("apply b");
    assert_eq!(
        nl_a.apply(&plan_a).await.expect("re-apply a").lines(),
        Vec::<String>::new()
    );
    let details = a.ip("-d link show kilo.vxlan");
    assert!(
        details.contains("vxlan id 1107 local 10.0.0.1 dev veth0"),
        "{details}"
    );
    assert!(details.contains("dstport 4789 nolearning"), "{details}");

    // A UDP echo from A's pod address to B's, both ways through the tunnel.
    let server = b.udp_socket("10.42.1.1:7000".parse().expect("addr"));
    let client = a.udp_socket("10.42.0.1:0".parse().expect("addr"));
    let timeout = Some(Duration::from_millis(200));
    server.set_read_timeout(timeout).expect("timeout");
    client.set_read_timeout(timeout).expect("timeout");
    let target: SocketAddr = "10.42.1.1:7000".parse().expect("addr");
    let echoed = poll(Duration::from_secs(10), || {
        client.send_to(b"kilo", target).ok()?;
        let mut buf = [0u8; 16];
        let (n, from) = server.recv_from(&mut buf).ok()?;
        server.send_to(&buf[..n], from).ok()?;
        let (n, from) = client.recv_from(&mut buf).ok()?;
        (from == target).then(|| buf[..n].to_vec())
    });
    assert_eq!(
        echoed.as_deref(),
        Some(&b"kilo"[..]),
        "no echo through the VXLAN tunnel"
    );

    let cleaned = nl_a.clean_up(&plan_a.links).await.expect("clean up");
    assert!(
        cleaned
            .lines()
            .contains(&"delete link kilo.vxlan".to_owned())
    );
}

#[tokio::test]
async fn ipip_works_or_fails_clearly_without_the_module() {
    let ns = Netns::new();
    leader_links(&ns);
    let mut plan = leader_plan();
    plan.tunnel = Some(TunnelKind::Ipip);
    let mut nl = RtNetlink::in_netns(ns.path()).expect("connect");
    match nl.apply(&plan).await {
        Ok(_) => assert!(ns.ip("link show tunl0").contains(",UP"), "tunl0 is up"),
        Err(e @ NetlinkError::TunnelUnsupported { .. }) => assert_eq!(
            e.to_string(),
            "creating ipip tunnel tunl0: the kernel has no ipip support (load the ipip module)"
        ),
        Err(e) => panic!("unexpected error: {e}"),
    }
}
