//! `kgctl showconf` core: a leader's device, a segment as one peer, and a Peer's configuration,
//! rendered as `wg setconf` text. Expected values are literal.

#[cfg(test)]
#[allow(
    dead_code,
    reason = "shared by several test binaries; each uses a subset"
)]
mod common;

use common::{kilo_example, peer, settings, snap};
use kilo_mesh::plan::wireguard::PresharedKey;
use kilo_mesh::types::Granularity;
use kilo_mesh::views::showconf::{
    ShowconfError, node_as_peer, node_conf, peer_conf, render_setconf,
};
use kilo_mesh::{Peer, Snapshot};

#[cfg(test)]
fn cluster() -> Snapshot {
    let nodes = kilo_example();
    let mut laptop = peer("laptop", b'L', &["10.5.0.1/32"]);
    laptop.persistent_keepalive = Some(25);
    laptop.preshared_key = Some(PresharedKey(common::key(b'P').parse().unwrap()));
    let mut phone: Peer = peer("phone", b'F', &["10.5.0.2/32"]);
    phone.endpoint = Some("192.0.2.50:51820".parse().unwrap());
    snap(&nodes.iter().collect::<Vec<_>>(), vec![phone, laptop])
}

#[cfg(test)]
fn subnet() -> ipnet::Ipv4Net {
    "10.4.0.0/16".parse().unwrap()
}

const PSK_COMMENT: &str = "# PresharedKey: the Peer's spec.presharedKey (not printed; set it with \
                           `wg set IFACE peer PUBLIC-KEY preshared-key FILE`)";

#[test]
fn a_leader_shows_the_device_kg_programs_without_secrets() {
    let plan = node_conf(&cluster(), &settings("node-a")).unwrap();
    let expected = format!(
        "[Interface]
ListenPort = 51820

[Peer]
# peer:phone
PublicKey = RkZGRkZGRkZGRkZGRkZGRkZGRkZGRkZGRkZGRkZGRkY=
Endpoint = 192.0.2.50:51820
AllowedIPs = 10.5.0.2/32

[Peer]
# peer:laptop
PublicKey = TExMTExMTExMTExMTExMTExMTExMTExMTExMTExMTEw=
AllowedIPs = 10.5.0.1/32
{PSK_COMMENT}

[Peer]
# location:aws
PublicKey = Y2NjY2NjY2NjY2NjY2NjY2NjY2NjY2NjY2NjY2NjY2M=
Endpoint = 198.51.100.3:51820
AllowedIPs = 10.4.25.174/32, 10.42.2.0/24, 172.31.0.3/32
"
    );
    assert_eq!(
        render_setconf(Some(plan.listen_port), &plan.peers),
        expected
    );
}

#[test]
fn a_non_leader_is_refused_with_its_leader_named() {
    let err = node_conf(&cluster(), &settings("node-b")).unwrap_err();
    assert_eq!(
        err.to_string(),
        "node node-b is not a leader node: node-a leads its segment location:gcp"
    );
    assert!(matches!(
        node_as_peer(&cluster(), &settings("node-b"), &[]),
        Err(ShowconfError::NotALeader { .. })
    ));
    assert_eq!(
        node_conf(&cluster(), &settings("node-z"))
            .unwrap_err()
            .to_string(),
        "node node-z is not in the snapshot"
    );
}

#[test]
fn a_segment_as_one_peer_adds_the_extra_allowed_ips() {
    let p = node_as_peer(
        &cluster(),
        &settings("node-c"),
        &[
            "10.43.0.0/16".parse().unwrap(),
            "10.42.2.7/24".parse().unwrap(),
        ],
    )
    .unwrap();
    assert_eq!(
        render_setconf(None, &[p]),
        "[Peer]
# location:aws
PublicKey = Y2NjY2NjY2NjY2NjY2NjY2NjY2NjY2NjY2NjY2NjY2M=
Endpoint = 198.51.100.3:51820
AllowedIPs = 10.4.25.174/32, 10.42.2.0/24, 10.43.0.0/16, 172.31.0.3/32
"
    );
}

#[test]
fn a_peer_gets_every_segment_and_every_other_peer_with_its_own_keepalive() {
    let peers = peer_conf(&cluster(), Granularity::Location, subnet(), "laptop").unwrap();
    let expected = format!(
        "[Peer]
# location:aws
PublicKey = Y2NjY2NjY2NjY2NjY2NjY2NjY2NjY2NjY2NjY2NjY2M=
Endpoint = 198.51.100.3:51820
AllowedIPs = 10.4.25.174/32, 10.42.2.0/24, 172.31.0.3/32
PersistentKeepalive = 25
{PSK_COMMENT}

[Peer]
# location:gcp
PublicKey = YWFhYWFhYWFhYWFhYWFhYWFhYWFhYWFhYWFhYWFhYWE=
Endpoint = 203.0.113.1:51820
AllowedIPs = 10.0.0.1/32, 10.0.0.2/32, 10.4.11.93/32, 10.42.0.0/24, 10.42.1.0/24
PersistentKeepalive = 25
{PSK_COMMENT}

[Peer]
# peer:phone
PublicKey = RkZGRkZGRkZGRkZGRkZGRkZGRkZGRkZGRkZGRkZGRkY=
Endpoint = 192.0.2.50:51820
AllowedIPs = 10.5.0.2/32
PersistentKeepalive = 25
"
    );
    assert_eq!(render_setconf(None, &peers), expected);
}

#[test]
fn full_granularity_gives_a_peer_one_entry_per_node() {
    let peers = peer_conf(&cluster(), Granularity::Full, subnet(), "phone").unwrap();
    let names: Vec<&str> = peers.iter().map(|p| p.name.as_str()).collect();
    assert_eq!(
        names,
        ["node:node-a", "node:node-b", "node:node-c", "peer:laptop"]
    );
    assert!(peers.iter().all(|p| p.persistent_keepalive.is_none()));
    assert!(peers.iter().all(|p| p.preshared_key.is_none()));
}

#[test]
fn unknown_peers_and_empty_clusters_are_explained() {
    assert_eq!(
        peer_conf(&cluster(), Granularity::Location, subnet(), "tablet")
            .unwrap_err()
            .to_string(),
        "peer tablet does not exist (or was rejected: see kgctl status)"
    );
    let mut stale = cluster();
    stale.now += 3600;
    assert_eq!(
        peer_conf(&stale, Granularity::Location, subnet(), "laptop").unwrap_err(),
        ShowconfError::NoReadyNode
    );
}
