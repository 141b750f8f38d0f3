//! Two wireguard-go devices in two namespaces joined by a veth: traffic flows over the tunnel,
//! and growing the plan to 50 + 1 peers writes only the new peer and keeps the live session.
//! Needs root, wireguard-go and wg (fails clearly otherwise).

#[cfg(test)]
mod common;

use std::time::Duration;

use common::{Netns, Recording, WgGo, poll, random_key, require_prerequisites, run};
use kilo_mesh::plan::wireguard::{WgPeer, WireGuardPlan};
use kilo_wireguard::{Change, PrivateKey, Userspace, WireGuard};

#[cfg(test)]
struct Side {
    backend: Userspace<Recording>,
    key: PrivateKey,
    _wg: WgGo,
    _dir: tempfile::TempDir,
    ns: Netns,
}

#[cfg(test)]
fn side(ns: Netns, overlay: &str) -> Side {
    let dir = tempfile::tempdir().expect("tempdir");
    let wg = WgGo::start(&ns, dir.path(), "kwg0");
    run(&["ip", "-n", &ns.name, "addr", "add", overlay, "dev", "kwg0"]);
    run(&["ip", "-n", &ns.name, "link", "set", "kwg0", "up"]);
    Side {
        backend: Userspace::with_transport(Recording::new(dir.path())),
        key: PrivateKey::generate(),
        _wg: wg,
        _dir: dir,
        ns,
    }
}

#[cfg(test)]
fn peer(name: &str, key: kilo_mesh::types::WgKey, endpoint: &str, ips: &str) -> WgPeer {
    WgPeer {
        name: name.to_owned(),
        public_key: key,
        endpoint: Some(endpoint.parse().expect("endpoint")),
        allowed_ips: vec![ips.parse().expect("prefix")],
        persistent_keepalive: None,
        preshared_key: None,
    }
}

#[cfg(test)]
fn plan(mut peers: Vec<WgPeer>) -> WireGuardPlan {
    peers.sort_by_key(|p| p.public_key);
    WireGuardPlan {
        interface: "kwg0".parse().expect("ifname"),
        listen_port: 51820,
        peers,
    }
}

#[test]
fn tunnel_works_and_a_new_peer_does_not_disturb_the_session() {
    require_prerequisites();
    let (na, nb) = (Netns::new(), Netns::new());
    run(&[
        "ip", "-n", &na.name, "link", "add", "kv0", "type", "veth", "peer", "name", "kv1", "netns",
        &nb.name,
    ]);
    run(&[
        "ip",
        "-n",
        &na.name,
        "addr",
        "add",
        "192.168.201.1/24",
        "dev",
        "kv0",
    ]);
    run(&[
        "ip",
        "-n",
        &nb.name,
        "addr",
        "add",
        "192.168.201.2/24",
        "dev",
        "kv1",
    ]);
    run(&["ip", "-n", &na.name, "link", "set", "kv0", "up"]);
    run(&["ip", "-n", &nb.name, "link", "set", "kv1", "up"]);
    let mut a = side(na, "10.201.0.1/24");
    let mut b = side(nb, "10.201.0.2/24");

    let b_on_a = peer(
        "node:b",
        b.key.public_key(),
        "192.168.201.2:51820",
        "10.201.0.2/32",
    );
    let a_on_b = peer(
        "node:a",
        a.key.public_key(),
        "192.168.201.1:51820",
        "10.201.0.1/32",
    );
    a.backend
        .apply(&plan(vec![b_on_a.clone()]), &a.key)
        .expect("apply a");
    b.backend
        .apply(&plan(vec![a_on_b]), &b.key)
        .expect("apply b");

    let pinged = poll(Duration::from_secs(20), || {
        a.ns.exec_ok(&["ping", "-c1", "-W1", "-q", "10.201.0.2"])
            .then_some(())
    });
    assert!(pinged.is_some(), "no ping over the tunnel");
    let iface = "kwg0".parse().expect("ifname");
    let dev = a.backend.read(&iface).expect("read a");
    let live = dev.peer(&b.key.public_key()).expect("peer b");
    let handshake = live.last_handshake.expect("a handshake after the ping");
    assert!(live.rx_bytes > 0 && live.tx_bytes > 0);

    // 49 more peers (endpoints on the veth subnet, never contacted: no traffic, no keepalive).
    let mut peers = vec![b_on_a];
    for i in 0..49u8 {
        let ep = format!("192.168.201.{}:51820", 100 + i);
        peers.push(peer(
            &format!("peer:{i}"),
            random_key(),
            &ep,
            &format!("10.202.{i}.0/24"),
        ));
    }
    let report = a
        .backend
        .apply(&plan(peers.clone()), &a.key)
        .expect("50 peers");
    assert_eq!(report.changes.len(), 49, "{:?}", report.lines());
    a.backend.transport().take();

    let new = peer(
        "peer:new",
        random_key(),
        "192.168.201.250:51820",
        "10.203.0.0/24",
    );
    peers.push(new.clone());
    let report = a.backend.apply(&plan(peers), &a.key).expect("51 peers");
    assert_eq!(
        report.changes,
        [Change::AddPeer {
            name: "peer:new".into(),
            public_key: new.public_key
        }]
    );
    let log = a.backend.transport().take();
    assert_eq!(log.len(), 2, "one get, one set");
    assert_eq!(
        log[1],
        format!(
            "set=1\npublic_key={}\nendpoint=192.168.201.250:51820\nallowed_ip=10.203.0.0/24\n\n",
            new.public_key.to_hex()
        )
    );

    let dev = a.backend.read(&iface).expect("read a again");
    assert_eq!(dev.peers.len(), 51);
    let live = dev.peer(&b.key.public_key()).expect("peer b");
    assert_eq!(
        live.last_handshake,
        Some(handshake),
        "the live session was not reset"
    );
    assert!(
        a.ns.exec_ok(&["ping", "-c1", "-W2", "-q", "10.201.0.2"]),
        "tunnel still up"
    );
    let dev = a.backend.read(&iface).expect("read a after ping");
    assert_eq!(
        dev.peer(&b.key.public_key()).and_then(|p| p.last_handshake),
        Some(handshake)
    );
}
