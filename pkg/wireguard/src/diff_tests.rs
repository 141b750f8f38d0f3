//! Table and property tests of the diff.

use std::net::SocketAddr;

use ipnet::IpNet;
use kilo_mesh::plan::wireguard::{PresharedKey, WgPeer, WireGuardPlan};
use kilo_mesh::types::{Endpoint, WgKey};
use proptest::prelude::*;

use super::*;
use crate::fake::apply_update;

fn key(n: u8) -> WgKey {
    WgKey::from_bytes([n; 32])
}

fn net(s: &str) -> IpNet {
    s.parse().unwrap()
}

fn peer(n: u8, endpoint: Option<&str>, ips: &[&str]) -> WgPeer {
    WgPeer {
        name: format!("node:n{n}"),
        public_key: key(n),
        endpoint: endpoint.map(|e| e.parse().unwrap()),
        allowed_ips: ips.iter().map(|s| net(s)).collect(),
        persistent_keepalive: None,
        preshared_key: None,
    }
}

fn plan(peers: Vec<WgPeer>) -> WireGuardPlan {
    WireGuardPlan {
        interface: "kilo0".parse().unwrap(),
        listen_port: 51820,
        peers,
    }
}

fn no_dns(_: &str, _: u16) -> std::io::Result<Vec<SocketAddr>> {
    Err(std::io::ErrorKind::NotFound.into())
}

fn two_addrs(_: &str, port: u16) -> std::io::Result<Vec<SocketAddr>> {
    Ok(vec![
        SocketAddr::new([192, 0, 2, 1].into(), port),
        SocketAddr::new([192, 0, 2, 2].into(), port),
    ])
}

/// Applies `p` to `dev` with the fake's semantics; returns the report lines.
fn step(dev: &mut DeviceState, p: &WireGuardPlan) -> (DeviceUpdate, Vec<String>) {
    let (update, report) = prepare(dev, p, key(99), no_dns);
    apply_update(dev, &update, key(99));
    (update, report.lines())
}

fn base() -> WireGuardPlan {
    plan(vec![
        peer(1, Some("192.0.2.1:51820"), &["10.4.0.1/32", "10.42.1.0/24"]),
        peer(2, Some("[2001:db8::2]:51820"), &["10.4.0.2/32"]),
        peer(3, None, &["10.4.0.3/32"]),
    ])
}

#[test]
fn empty_device_gets_everything_then_nothing() {
    let mut dev = DeviceState::empty("kilo0".parse().unwrap());
    let (_, lines) = step(&mut dev, &base());
    assert_eq!(
        lines,
        [
            "set private key (public key Y2NjY2Nj)",
            "set listen port 0 -> 51820",
            "add peer node:n1 (AQEBAQEB)",
            "add peer node:n2 (AgICAgIC)",
            "add peer node:n3 (AwMDAwMD)",
        ]
    );
    let (update, lines) = step(&mut dev, &base());
    assert!(update.is_empty());
    assert!(lines.is_empty());
}

#[test]
fn a_changed_endpoint_touches_only_that_peer() {
    let mut dev = DeviceState::empty("kilo0".parse().unwrap());
    step(&mut dev, &base());
    let mut p = base();
    p.peers[1].endpoint = Some("[2001:db8::9]:51821".parse().unwrap());
    let (update, lines) = step(&mut dev, &p);
    assert_eq!(
        lines,
        ["update peer node:n2 (AgICAgIC): endpoint [2001:db8::2]:51820 -> [2001:db8::9]:51821;"]
    );
    let mut want = PeerUpdate::new(key(2));
    want.endpoint = Some("[2001:db8::9]:51821".parse().unwrap());
    assert_eq!(update.peers, [want]);
    assert!(!update.private_key && update.listen_port.is_none());
}

#[test]
fn allowed_ips_are_replaced_only_when_the_set_differs() {
    let mut dev = DeviceState::empty("kilo0".parse().unwrap());
    step(&mut dev, &base());
    // Same set, other order and host bits set: no change.
    let mut p = base();
    p.peers[0].allowed_ips = vec![net("10.42.1.7/24"), net("10.4.0.1/32"), net("10.4.0.1/32")];
    assert!(step(&mut dev, &p).0.is_empty());
    p.peers[0].allowed_ips.push(net("fd00:42:1::/64"));
    let (update, lines) = step(&mut dev, &p);
    assert_eq!(
        lines,
        [
            "update peer node:n1 (AQEBAQEB): allowed ips [10.4.0.1/32,10.42.1.0/24] -> \
             [10.4.0.1/32,10.42.1.0/24,fd00:42:1::/64];"
        ]
    );
    assert!(update.peers[0].replace_allowed_ips);
    assert_eq!(update.peers[0].endpoint, None);
}

#[test]
fn a_removed_peer_is_removed_alone() {
    let mut dev = DeviceState::empty("kilo0".parse().unwrap());
    step(&mut dev, &base());
    let mut p = base();
    p.peers.remove(1);
    let (update, lines) = step(&mut dev, &p);
    assert_eq!(lines, ["remove peer AgICAgIC"]);
    assert_eq!(update.peers.len(), 1);
    assert!(update.peers[0].remove);
    assert_eq!(dev.peers.len(), 2);
}

#[test]
fn keepalive_and_preshared_key_changes() {
    let mut dev = DeviceState::empty("kilo0".parse().unwrap());
    step(&mut dev, &base());
    let mut p = base();
    p.peers[2].persistent_keepalive = Some(0);
    assert!(step(&mut dev, &p).0.is_empty(), "Some(0) means off");
    p.peers[2].persistent_keepalive = Some(25);
    p.peers[2].preshared_key = Some(PresharedKey(key(7)));
    let (update, lines) = step(&mut dev, &p);
    assert_eq!(
        lines,
        ["update peer node:n3 (AwMDAwMD): keepalive 0 -> 25; preshared key;"]
    );
    assert_eq!(
        update.peers[0].preshared_key,
        Some(Some(PresharedKey(key(7))))
    );
    p.peers[2].preshared_key = None;
    let (update, _) = step(&mut dev, &p);
    assert_eq!(update.peers[0].preshared_key, Some(None));
}

#[test]
fn a_new_private_key_or_port_is_written_alone() {
    let mut dev = DeviceState::empty("kilo0".parse().unwrap());
    step(&mut dev, &base());
    let (update, report) = prepare(&dev, &base(), key(98), no_dns);
    assert!(update.private_key && update.peers.is_empty() && update.listen_port.is_none());
    assert_eq!(report.lines(), ["set private key (public key YmJiYmJi)"]);
    let mut p = base();
    p.listen_port = 51821;
    let (update, _) = prepare(&dev, &p, key(99), no_dns);
    assert_eq!(update.listen_port, Some(51821));
    assert!(!update.private_key && update.peers.is_empty());
}

#[test]
fn dns_endpoints_keep_a_current_answer_and_survive_failures() {
    let mut dev = DeviceState::empty("kilo0".parse().unwrap());
    let mut p = base();
    p.peers[2].endpoint = Some(Endpoint {
        host: kilo_mesh::types::Host::Dns("n3.example.org".into()),
        port: 51820,
    });
    let (peers, unresolved) = resolve_peers(&p, &dev, two_addrs);
    assert_eq!(peers[2].endpoint, Some("192.0.2.1:51820".parse().unwrap()));
    assert!(unresolved.is_empty());
    step(&mut dev, &base());
    dev.peers[2].endpoint = Some("192.0.2.2:51820".parse().unwrap());
    let (peers, _) = resolve_peers(&p, &dev, two_addrs);
    assert_eq!(peers[2].endpoint, Some("192.0.2.2:51820".parse().unwrap()));
    let (update, report) = prepare(&dev, &p, key(99), no_dns);
    assert!(
        update.is_empty(),
        "an unresolvable name leaves the endpoint alone"
    );
    assert_eq!(
        report.unresolved,
        [("node:n3".to_owned(), "n3.example.org".to_owned())]
    );
}

fn arb_peer() -> impl Strategy<Value = WgPeer> {
    (
        1u8..12,
        proptest::option::of(1u16..4),
        proptest::collection::vec((0u8..4, 24u8..=32), 0..4),
        proptest::option::of(0u16..3),
        proptest::option::of(1u8..3),
    )
        .prop_map(|(k, port, ips, ka, psk)| WgPeer {
            name: format!("peer:{k}"),
            public_key: key(k),
            endpoint: port
                .map(|p| Endpoint::from_socket(SocketAddr::new([192, 0, 2, k].into(), p))),
            allowed_ips: ips
                .into_iter()
                .map(|(a, l)| IpNet::new([10, k, a, 1].into(), l).unwrap())
                .collect(),
            persistent_keepalive: ka,
            preshared_key: psk.map(|n| PresharedKey(key(100 + n))),
        })
}

fn arb_plan() -> impl Strategy<Value = WireGuardPlan> {
    (proptest::collection::vec(arb_peer(), 0..8), 1u16..3).prop_map(|(mut peers, port)| {
        peers.sort_by_key(|p| p.public_key);
        peers.dedup_by_key(|p| p.public_key);
        let mut p = plan(peers);
        p.listen_port = port;
        p
    })
}

proptest! {
    /// From any device state, one apply reaches a fixed point, and a peer whose planned config
    /// equals the device's is never written.
    #[test]
    fn apply_reaches_a_fixed_point(first in arb_plan(), second in arb_plan()) {
        let mut dev = DeviceState::empty("kilo0".parse().unwrap());
        step(&mut dev, &first);
        let before = dev.clone();
        let (update, _) = step(&mut dev, &second);
        prop_assert!(step(&mut dev, &second).0.is_empty());
        for p in &second.peers {
            let (resolved, _) = resolve_peers(&plan(vec![p.clone()]), &before, no_dns);
            let untouched = before.peer(&p.public_key).is_some_and(|b| {
                resolved[0].endpoint.is_none_or(|e| b.endpoint == Some(e))
                    && b.allowed_ips == resolved[0].allowed_ips
                    && b.persistent_keepalive.unwrap_or(0) == resolved[0].keepalive
                    && b.preshared_key == resolved[0].preshared_key
            });
            if untouched {
                prop_assert!(update.peers.iter().all(|u| u.public_key != p.public_key));
            }
        }
        for b in &before.peers {
            let kept = second.peers.iter().any(|p| p.public_key == b.public_key);
            let removed = update.peers.iter().any(|u| u.public_key == b.public_key && u.remove);
            prop_assert_eq!(kept, !removed);
        }
    }
}
