//! A node whose private address is a /32 (common on clouds) with `--encapsulate never`: its
//! gateway routes over the private interface need `onlink`, as Go Kilo sets it. The kernel
//! accepts the planned routes with the flag and refuses them without it (the control).

use kilo_mesh::plan::network::{Link, LinkNames, NetworkPlan, Table};
use kilo_netlink::{Network, RtNetlink};

use crate::common::{Netns, ifname, route, stand_in};

/// A follower's plan: everything via its leader's /32 private address over `eth0`.
fn follower_plan(onlink: bool) -> NetworkPlan {
    let via = |dst, gw| route(dst, Some(gw), Link::Private, None, Table::Main, onlink);
    NetworkPlan {
        links: LinkNames {
            wireguard: ifname("kilo0"),
            private: Some(ifname("eth0")),
            tunnel: ifname("tunl0"),
        },
        wireguard_up: false,
        mtu: 1420,
        tunnel: None,
        tunnel_peers: vec![],
        addresses: vec![],
        routes: vec![
            via("10.4.11.93/32", "10.0.0.1"),
            via("10.42.0.0/24", "10.0.0.1"),
            via("fd42::/64", "fd00::1"),
        ],
        rules: vec![],
    }
}

/// `eth0` holding only host addresses: no connected route reaches the leader.
fn slash_32_node() -> Netns {
    let ns = Netns::new();
    stand_in(&ns, "kilo0");
    stand_in(&ns, "eth0");
    ns.ip("link set eth0 up");
    ns.ip("addr add 10.0.0.2/32 dev eth0");
    ns.ip("addr add fd00::2/128 dev eth0 nodad");
    ns
}

#[tokio::test]
async fn onlink_gateway_routes_over_a_slash_32_private_address_are_accepted() {
    let ns = slash_32_node();
    let mut nl = RtNetlink::in_netns(ns.path()).expect("connect");
    nl.apply(&follower_plan(true)).await.expect("apply");
    assert_eq!(
        ns.ip_lines("-4 route show proto 107"),
        [
            "10.4.11.93 via 10.0.0.1 dev eth0 onlink",
            "10.42.0.0/24 via 10.0.0.1 dev eth0 onlink",
        ]
    );
    assert_eq!(
        ns.ip_lines("-6 route show proto 107"),
        ["fd42::/64 via fd00::1 dev eth0 metric 1024 onlink pref medium"]
    );
    let again = nl.apply(&follower_plan(true)).await.expect("re-apply");
    assert_eq!(again.lines(), Vec::<String>::new());
}

#[tokio::test]
async fn without_onlink_the_kernel_refuses_them() {
    let ns = slash_32_node();
    let mut nl = RtNetlink::in_netns(ns.path()).expect("connect");
    let err = nl
        .apply(&follower_plan(false))
        .await
        .expect_err("the kernel must refuse a gateway it cannot reach");
    assert!(
        format!("{err:#}").contains("10.0.0.1") || format!("{err:#}").contains("fd00::1"),
        "{err:#}"
    );
}
