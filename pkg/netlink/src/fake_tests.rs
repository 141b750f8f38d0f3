//! Unit tests of `fake`.

use super::*;
use kilo_mesh::plan::network::{AddressPlan, Link, RoutePlan, Table};

fn plan() -> NetworkPlan {
    NetworkPlan {
        links: LinkNames {
            wireguard: "kilo0".parse().unwrap(),
            private: Some("eth0".parse().unwrap()),
            tunnel: "tunl0".parse().unwrap(),
        },
        wireguard_up: true,
        mtu: 1420,
        tunnel: None,
        tunnel_peers: vec![],
        addresses: vec![AddressPlan {
            link: Link::WireGuard,
            address: "10.4.0.1/16".parse().unwrap(),
        }],
        routes: vec![RoutePlan {
            dst: "10.42.1.0/24".parse().unwrap(),
            via: Some("10.4.0.2".parse().unwrap()),
            dev: Link::WireGuard,
            src: None,
            table: Table::Main,
            onlink: true,
        }],
        rules: vec![],
    }
}

#[tokio::test]
async fn applies_reapplies_and_restores_a_deleted_route() {
    let mut fake = FakeNetwork::with_links(&[("kilo0", 1500), ("eth0", 1500)]);
    let mut events = fake.monitor().unwrap();
    let first = fake.apply(&plan()).await.unwrap();
    assert_eq!(
        first.lines(),
        [
            "set link kilo0 mtu 1420",
            "add address 10.4.0.1/16 dev kilo0",
            "add route 10.42.1.0/24 via 10.4.0.2 dev kilo0 onlink",
        ]
    );
    assert!(fake.apply(&plan()).await.unwrap().is_empty());
    let route = fake.routes.iter().next().unwrap().clone();
    fake.delete_route_by_hand(&route);
    assert_eq!(
        events.try_recv().unwrap(),
        NetworkEvent::RouteDeleted(route.dst)
    );
    let again = fake.apply(&plan()).await.unwrap();
    assert_eq!(
        again.lines(),
        ["add route 10.42.1.0/24 via 10.4.0.2 dev kilo0 onlink"]
    );
    let cleaned = fake.clean_up(&plan().links).await.unwrap();
    assert_eq!(cleaned.lines().len(), 2);
    assert!(fake.routes.is_empty() && fake.addresses.is_empty());
}

#[tokio::test]
async fn injected_failures_are_returned_once() {
    let mut fake = FakeNetwork::with_links(&[("kilo0", 1500)]);
    fake.fail.clean_up = Some(NetlinkError::NoPrivateLink);
    fake.fail.delete_link = Some(NetlinkError::LinkNotFound("kilo0".into()));
    let err = fake.clean_up(&plan().links).await.unwrap_err();
    assert_eq!(
        err.to_string(),
        "the plan uses the private interface, but its name is unknown"
    );
    assert!(fake.clean_up(&plan().links).await.unwrap().is_empty());
    let err = fake.delete_link("kilo0").await.unwrap_err();
    assert_eq!(err.to_string(), "link kilo0 not found");
    assert!(fake.links.contains_key("kilo0"));
    assert!(fake.delete_link("kilo0").await.unwrap());
}

#[tokio::test]
async fn a_missing_wireguard_link_is_an_error() {
    let err = FakeNetwork::default().apply(&plan()).await.unwrap_err();
    assert_eq!(err.to_string(), "link kilo0 not found");
}
