//! Apply, re-apply, plan changes, foreign state, clean-up and the monitor.

use std::time::Duration;

use kilo_mesh::plan::network::{Link, Table};
use kilo_netlink::{Network, NetworkEvent, RtNetlink};
use tokio::sync::mpsc;

use crate::common::{Netns, leader_links, leader_plan, net, route};

#[tokio::test]
async fn apply_programs_the_plan_exactly_and_reapply_changes_nothing() {
    let ns = Netns::new();
    leader_links(&ns);
    let mut nl = RtNetlink::in_netns(ns.path()).expect("connect");
    let plan = leader_plan();

    let report = nl.apply(&plan).await.expect("apply");
    assert_eq!(report.lines().len(), 13, "{:#?}", report.lines());
    assert_eq!(
        ns.ip_lines("-4 route show table all proto 107"),
        [
            "10.0.0.2 via 10.0.0.2 dev eth0 table 1107 src 10.0.0.1",
            "10.1.0.5 via 10.4.0.2 dev kilo0 src 10.0.0.1 onlink",
            "10.42.1.0/24 via 10.4.0.2 dev kilo0 src 10.0.0.1 onlink",
            "10.42.2.0/24 via 10.0.0.2 dev eth0",
        ]
    );
    assert_eq!(
        ns.ip_lines("-6 route show table all proto 107"),
        [
            "fd00::2 via fd00::2 dev eth0 table 1107 metric 1024 pref medium",
            "fd10::5 dev kilo0 metric 1024 pref medium",
            "fd42:1::/64 dev kilo0 metric 1024 pref medium",
        ]
    );
    assert_eq!(
        ns.rules("-4"),
        [
            "32764:\tfrom 10.42.0.0/24 to 10.0.0.2 lookup 1107 proto 107",
            "32765:\tfrom all to 10.0.0.2 iif kilo0 lookup 1107 proto 107",
        ]
    );
    assert_eq!(
        ns.rules("-6"),
        ["32765:\tfrom fd42::/64 to fd00::2 lookup 1107 proto 107"]
    );
    assert_eq!(ns.addresses("kilo0"), ["10.4.0.1/16"]);
    assert!(ns.ip("link show kilo0").contains(",UP,"), "kilo0 is up");
    assert!(
        ns.ip("link show kilo0").contains("mtu 1420"),
        "kilo0 has the planned MTU"
    );

    let again = nl.apply(&plan).await.expect("re-apply");
    assert_eq!(again.lines(), Vec::<String>::new());
}

#[tokio::test]
async fn a_plan_change_makes_exactly_those_changes() {
    let ns = Netns::new();
    leader_links(&ns);
    let mut nl = RtNetlink::in_netns(ns.path()).expect("connect");
    let mut plan = leader_plan();
    nl.apply(&plan).await.expect("apply");

    plan.routes.retain(|r| r.dst != net("10.1.0.5/32"));
    plan.routes.push(route(
        "10.42.3.0/24",
        Some("10.0.0.3"),
        Link::Private,
        None,
        Table::Main,
        false,
    ));
    for r in &mut plan.routes {
        if r.dst == net("10.42.2.0/24") {
            r.via = Some("10.0.0.4".parse().expect("ip"));
        }
    }
    let report = nl.apply(&plan).await.expect("apply change");
    assert_eq!(
        report.lines(),
        [
            "delete route 10.1.0.5/32 via 10.4.0.2 dev kilo0 src 10.0.0.1 onlink",
            "replace route 10.42.2.0/24 via 10.0.0.4 dev eth0",
            "add route 10.42.3.0/24 via 10.0.0.3 dev eth0",
        ]
    );
    assert!(nl.apply(&plan).await.expect("re-apply").is_empty());
}

#[tokio::test]
async fn foreign_state_is_never_touched_and_clean_up_removes_everything_of_kgs() {
    let ns = Netns::new();
    leader_links(&ns);
    ns.ip("route add 10.99.0.0/16 via 10.0.0.254 dev eth0 proto static");
    ns.ip("route add 10.97.0.0/16 via 10.0.0.254 dev eth0 table 1107 proto static");
    ns.ip("-6 route add fd99::/64 via fd00::fe dev eth0 proto static");
    ns.ip("rule add from 10.98.0.0/16 lookup 100");
    ns.ip("-6 rule add from fd98::/64 lookup 100");
    ns.ip("addr add 10.0.0.9/24 dev eth0");
    let foreign = |ns: &Netns| {
        (
            ns.ip_lines("-4 route show table all proto static"),
            ns.ip_lines("-6 route show table all proto static"),
            ns.rules("-4")
                .into_iter()
                .filter(|r| !r.contains("proto 107"))
                .collect::<Vec<_>>(),
            ns.rules("-6")
                .into_iter()
                .filter(|r| !r.contains("proto 107"))
                .collect::<Vec<_>>(),
            ns.addresses("eth0"),
        )
    };
    let before = foreign(&ns);
    assert_eq!(before.0.len(), 2, "{before:?}");

    let mut nl = RtNetlink::in_netns(ns.path()).expect("connect");
    let plan = leader_plan();
    nl.apply(&plan).await.expect("apply");
    assert_eq!(foreign(&ns), before, "after apply");
    assert!(nl.apply(&plan).await.expect("re-apply").is_empty());
    assert_eq!(foreign(&ns), before, "after re-apply");

    let report = nl.clean_up(&plan.links).await.expect("clean up");
    assert_eq!(report.lines().len(), 11, "{:#?}", report.lines());
    assert_eq!(foreign(&ns), before, "after clean-up");
    assert_eq!(
        ns.ip_lines("-4 route show table all proto 107"),
        Vec::<String>::new()
    );
    assert_eq!(
        ns.ip_lines("-6 route show table all proto 107"),
        Vec::<String>::new()
    );
    assert!(
        ns.rules("-4")
            .iter()
            .chain(&ns.rules("-6"))
            .all(|r| !r.contains("proto 107"))
    );
    assert_eq!(ns.addresses("kilo0"), Vec::<String>::new());
    assert!(
        nl.clean_up(&plan.links)
            .await
            .expect("clean up again")
            .is_empty()
    );
}

/// Waits for an event matching `want`, failing after a deadline.
async fn expect_event(rx: &mut mpsc::Receiver<NetworkEvent>, want: impl Fn(&NetworkEvent) -> bool) {
    let found = tokio::time::timeout(Duration::from_secs(10), async {
        while let Some(event) = rx.recv().await {
            if want(&event) {
                return true;
            }
        }
        false
    })
    .await;
    assert_eq!(
        found,
        Ok(true),
        "the monitor did not report the expected event in time"
    );
}

#[tokio::test]
async fn the_monitor_reports_deletions_and_the_next_apply_restores_exactly_them() {
    let ns = Netns::new();
    leader_links(&ns);
    let mut nl = RtNetlink::in_netns(ns.path()).expect("connect");
    let plan = leader_plan();
    nl.apply(&plan).await.expect("apply");
    let mut events = nl.monitor().expect("monitor");

    ns.ip("route del 10.42.1.0/24 table main proto 107");
    expect_event(&mut events, |e| {
        *e == NetworkEvent::RouteDeleted(net("10.42.1.0/24"))
    })
    .await;
    ns.ip("-6 rule del from fd42::/64 to fd00::2 lookup 1107");
    expect_event(&mut events, |e| *e == NetworkEvent::RuleDeleted).await;
    ns.ip("addr add 10.0.0.7/24 dev eth0");
    expect_event(&mut events, |e| {
        *e == NetworkEvent::AddressAdded("10.0.0.7".parse().expect("ip"))
    })
    .await;
    ns.ip("addr del 10.0.0.7/24 dev eth0");
    expect_event(&mut events, |e| {
        *e == NetworkEvent::AddressRemoved("10.0.0.7".parse().expect("ip"))
    })
    .await;

    let report = nl.apply(&plan).await.expect("re-apply");
    assert_eq!(
        report.lines(),
        [
            "add route 10.42.1.0/24 via 10.4.0.2 dev kilo0 src 10.0.0.1 onlink",
            "add rule -6 from fd42::/64 to fd00::2/128 lookup 1107",
        ]
    );
}

#[tokio::test]
async fn node_addresses_mtu_and_interface_lookup() {
    let ns = Netns::new();
    leader_links(&ns);
    ns.ip("link set eth0 mtu 1400");
    let mut nl = RtNetlink::in_netns(ns.path()).expect("connect");
    assert_eq!(nl.mtu("eth0").await.expect("mtu"), 1400);
    let addresses = nl.addresses().await.expect("addresses");
    assert!(
        addresses
            .iter()
            .any(|a| a.interface == "eth0" && a.address == net("10.0.0.1/24"))
    );
    assert!(
        addresses
            .iter()
            .any(|a| a.interface == "eth0" && a.address == net("fd00::1/64"))
    );
    let found = nl
        .interface_with("fd00::1".parse().expect("ip"))
        .await
        .expect("lookup");
    assert_eq!(found.as_deref(), Some("eth0"));
    let none = nl
        .interface_with("192.0.2.1".parse().expect("ip"))
        .await
        .expect("lookup");
    assert_eq!(none, None);
    let missing = nl.mtu("nope0").await.expect_err("no such link");
    assert_eq!(missing.to_string(), "link nope0 not found");
}

#[tokio::test]
async fn delete_link_removes_only_the_named_interface() {
    let ns = Netns::new();
    leader_links(&ns);
    let mut nl = RtNetlink::in_netns(ns.path()).expect("connect");
    assert!(nl.delete_link("kilo0").await.expect("delete kilo0"));
    let links = ns.ip("-o link show");
    assert!(!links.contains(" kilo0@"), "{links}");
    assert!(links.contains(" eth0@"), "{links}");
    assert!(!nl.delete_link("kilo0").await.expect("delete again"));
}
