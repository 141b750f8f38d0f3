//! `--compatibility=flannel` against a real kernel: flannel's `flannel.1` (VXLAN id 1, port 8472,
//! as flannel's vxlan backend makes it) is adopted, never created, configured or deleted; a
//! route flannel put in one of kg's slots on it is taken over, one of another owner is not;
//! clean-up leaves the device and flannel's other routes.

use kilo_mesh::plan::network::{Link, LinkNames, NetworkPlan, Table};
use kilo_mesh::types::TunnelKind;
use kilo_netlink::{NetlinkError, Network, RtNetlink};

use crate::common::{Netns, ifname, ip, route, stand_in};

/// A follower's plan: another location's pod CIDR via the leader's VTEP address on flannel.1.
fn flannel_plan() -> NetworkPlan {
    NetworkPlan {
        links: LinkNames {
            wireguard: ifname("kilo0"),
            private: Some(ifname("eth0")),
            tunnel: TunnelKind::Flannel.device(),
        },
        wireguard_up: false,
        mtu: 1420,
        tunnel: Some(TunnelKind::Flannel),
        tunnel_peers: vec![ip("10.0.0.1"), ip("10.42.0.0")],
        addresses: vec![],
        routes: vec![route(
            "10.42.2.0/24",
            Some("10.42.0.0"),
            Link::Tunnel,
            Some("10.0.0.2"),
            Table::Main,
            true,
        )],
        rules: vec![],
    }
}

fn node() -> Netns {
    let ns = Netns::new();
    stand_in(&ns, "kilo0");
    stand_in(&ns, "eth0");
    ns.ip("link set eth0 up");
    ns.ip("addr add 10.0.0.2/24 dev eth0");
    ns
}

fn flannel(ns: &Netns) {
    ns.ip("link add flannel.1 type vxlan id 1 local 10.0.0.2 dev eth0 dstport 8472 nolearning");
    ns.ip("link set flannel.1 mtu 1450 up");
    ns.ip("addr add 10.42.1.0/32 dev flannel.1");
    // flannel's routes: the same location's node (10.42.0.0/24) and another location's
    ns.ip("route add 10.42.0.0/24 via 10.42.0.0 dev flannel.1 onlink");
    ns.ip("route add 10.42.2.0/24 via 10.42.2.0 dev flannel.1 onlink");
}

#[tokio::test]
async fn flannel_1_is_adopted_its_routes_taken_over_and_left_on_clean_up() {
    let ns = node();
    let mut nl = RtNetlink::in_netns(ns.path()).expect("connect");
    let plan = flannel_plan();
    match nl.apply(&plan).await {
        Err(e @ NetlinkError::AdoptedLinkMissing(_)) => assert_eq!(
            e.to_string(),
            "link flannel.1 not found: it belongs to the CNI kg runs on top of (is it running?)"
        ),
        other => panic!("applied without flannel.1: {other:?}"),
    }
    flannel(&ns);
    // (kilo0's MTU was set by the first apply, before it stopped at the missing device)
    let report = nl.apply(&plan).await.expect("apply");
    assert_eq!(
        report.lines(),
        ["replace route 10.42.2.0/24 via 10.42.0.0 dev flannel.1 src 10.0.0.2 onlink"]
    );
    assert_eq!(
        ns.ip_lines("-4 route show dev flannel.1"),
        [
            "10.42.0.0/24 via 10.42.0.0 onlink",
            "10.42.2.0/24 via 10.42.0.0 proto 107 src 10.0.0.2 onlink",
        ]
    );
    assert_eq!(
        nl.apply(&plan).await.expect("re-apply").lines(),
        Vec::<String>::new()
    );
    let before = ns.ip("-d link show flannel.1");
    nl.clean_up(&plan.links).await.expect("clean up");
    let after = ns.ip("-d link show flannel.1");
    assert!(
        after.contains("vxlan id 1 local 10.0.0.2 dev eth0"),
        "{after}"
    );
    assert!(after.contains("dstport 8472 nolearning"), "{after}");
    assert_eq!(before, after, "clean-up changed flannel.1");
    assert_eq!(ns.addresses("flannel.1"), ["10.42.1.0/32"]);
    // kg's route is gone, flannel's own-location route is as flannel made it
    assert_eq!(
        ns.ip_lines("-4 route show dev flannel.1"),
        ["10.42.0.0/24 via 10.42.0.0 onlink"]
    );
}

#[tokio::test]
async fn a_route_of_another_owner_in_the_slot_is_a_conflict_not_taken_over() {
    let ns = node();
    flannel(&ns);
    ns.ip("route replace 10.42.2.0/24 via 10.0.0.9 dev eth0 onlink proto static");
    let mut nl = RtNetlink::in_netns(ns.path()).expect("connect");
    let err = nl
        .apply(&flannel_plan())
        .await
        .expect_err("a foreign route");
    assert_eq!(
        err.to_string(),
        "adding route 10.42.2.0/24 via 10.42.0.0 dev flannel.1 src 10.0.0.2 onlink: a route kg does not own already exists for this destination"
    );
    assert_eq!(
        ns.ip_lines("-4 route show 10.42.2.0/24"),
        ["10.42.2.0/24 via 10.0.0.9 dev eth0 proto static onlink"]
    );
}
