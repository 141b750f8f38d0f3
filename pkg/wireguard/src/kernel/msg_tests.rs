//! Generic netlink message building and parsing for the kernel backend.

use netlink_packet_core::{NetlinkHeader, NetlinkMessage, NetlinkPayload};
use netlink_packet_generic::GenlMessage;
use netlink_packet_wireguard::WireguardTimeSpec;

use super::*;

fn iface() -> IfName {
    "kilo0".parse().unwrap()
}

fn key(n: u8) -> WgKey {
    WgKey::from_bytes([n; 32])
}

fn peers_of(m: &WireguardMessage) -> Vec<WireguardPeer> {
    m.attributes
        .iter()
        .find_map(|a| match a {
            WireguardAttribute::Peers(p) => Some(p.clone()),
            _ => None,
        })
        .unwrap_or_default()
}

#[test]
fn new_link_is_of_kind_wireguard() {
    let m = new_link(&iface());
    assert_eq!(
        m.attributes,
        [
            LinkAttribute::IfName("kilo0".into()),
            LinkAttribute::LinkInfo(vec![LinkInfo::Kind(InfoKind::Wireguard)])
        ]
    );
}

#[test]
fn set_device_writes_only_the_update() {
    let k = PrivateKey::generate();
    let mut change = PeerUpdate::new(key(3));
    change.replace_allowed_ips = true;
    change.allowed_ips = vec!["10.4.0.3/32".parse().unwrap()];
    change.endpoint = Some("192.0.2.3:51820".parse().unwrap());
    let mut remove = PeerUpdate::new(key(2));
    remove.remove = true;
    let update = DeviceUpdate {
        private_key: true,
        listen_port: None,
        peers: vec![remove, change],
    };
    let mut msgs = set_device(&iface(), &update, &k);
    assert_eq!(msgs.len(), 1);
    let m = &msgs[0];
    assert_eq!(m.cmd, WireguardCmd::SetDevice);
    assert_eq!(m.attributes[0], WireguardAttribute::IfName("kilo0".into()));
    assert_eq!(
        m.attributes[1],
        WireguardAttribute::PrivateKey(*k.expose_bytes())
    );
    assert_eq!(m.attributes.len(), 3, "no listen port");
    let peers = peers_of(m);
    assert_eq!(
        peers[0].0,
        [
            WireguardPeerAttribute::PublicKey([2; 32]),
            WireguardPeerAttribute::Flags(WireguardPeerFlags::RemoveMe)
        ]
    );
    assert_eq!(
        peers[1].0,
        [
            WireguardPeerAttribute::PublicKey([3; 32]),
            WireguardPeerAttribute::Flags(WireguardPeerFlags::ReplaceAllowedIps),
            WireguardPeerAttribute::Endpoint("192.0.2.3:51820".parse().unwrap()),
            WireguardPeerAttribute::AllowedIps(vec![WireguardAllowedIp(vec![
                WireguardAllowedIpAttr::Family(WireguardAddressFamily::Ipv4),
                WireguardAllowedIpAttr::IpAddr("10.4.0.3".parse().unwrap()),
                WireguardAllowedIpAttr::Cidr(32),
            ])]),
        ]
    );
    scrub(&mut msgs);
    assert_eq!(
        msgs[0].attributes[1],
        WireguardAttribute::PrivateKey([0; 32])
    );
}

#[test]
fn an_empty_update_sends_nothing() {
    assert!(set_device(&iface(), &DeviceUpdate::default(), &PrivateKey::generate()).is_empty());
}

#[test]
fn large_updates_are_split() {
    let mut big = PeerUpdate::new(key(1));
    big.replace_allowed_ips = true;
    big.allowed_ips = (0..300u32)
        .map(|i| IpNet::new(std::net::Ipv4Addr::from(0x0a00_0000 + (i << 8)).into(), 24).unwrap())
        .collect();
    let mut peers = vec![big];
    peers.extend((2..=200).map(|n| {
        let mut u = PeerUpdate::new(WgKey::from_bytes([n; 32]));
        u.allowed_ips = vec![IpNet::new(std::net::Ipv4Addr::new(10, 99, n, 0).into(), 24).unwrap()];
        u
    }));
    let update = DeviceUpdate {
        private_key: false,
        listen_port: Some(51820),
        peers,
    };
    let msgs = set_device(&iface(), &update, &PrivateKey::generate());
    assert!(msgs.len() > 1);
    assert!(
        msgs.iter()
            .all(|m| m.attributes.as_slice().buffer_len() <= MESSAGE_BUDGET)
    );
    assert!(
        msgs[0]
            .attributes
            .contains(&WireguardAttribute::ListenPort(51820))
    );
    assert!(msgs[1..].iter().all(|m| m.attributes.len() == 2));
    let all: Vec<WireguardPeer> = msgs.iter().flat_map(peers_of).collect();
    // Three fragments of the big peer (128 + 128 + 44 IPs), then 199 small peers.
    assert_eq!(all.len(), 3 + 199);
    let flags = |p: &WireguardPeer| {
        p.0.iter()
            .any(|a| matches!(a, WireguardPeerAttribute::Flags(_)))
    };
    assert!(flags(&all[0]) && !flags(&all[1]) && !flags(&all[2]));
    let parsed = parse_device(&iface(), msgs.clone());
    assert_eq!(parsed.peers.len(), 200);
    assert_eq!(parsed.peers[0].allowed_ips.len(), 300);
}

#[test]
fn parses_a_split_dump_and_round_trips_through_bytes() {
    let k = PrivateKey::generate();
    let part1 = WireguardMessage {
        cmd: WireguardCmd::GetDevice,
        attributes: vec![
            WireguardAttribute::IfIndex(7),
            WireguardAttribute::IfName("kilo0".into()),
            WireguardAttribute::PrivateKey(*k.expose_bytes()),
            WireguardAttribute::ListenPort(51820),
            WireguardAttribute::Peers(vec![WireguardPeer(vec![
                WireguardPeerAttribute::PublicKey([1; 32]),
                WireguardPeerAttribute::PresharedKey([0; 32]),
                WireguardPeerAttribute::Endpoint("[2001:db8::1]:51820".parse().unwrap()),
                WireguardPeerAttribute::PersistentKeepalive(25),
                WireguardPeerAttribute::LastHandshake(WireguardTimeSpec {
                    seconds: 1_700_000_000,
                    nano_seconds: 5,
                }),
                WireguardPeerAttribute::RxBytes(10),
                WireguardPeerAttribute::TxBytes(20),
                WireguardPeerAttribute::AllowedIps(vec![allowed_ip(
                    &"10.4.0.1/32".parse().unwrap(),
                )]),
            ])]),
        ],
    };
    let part2 = WireguardMessage {
        cmd: WireguardCmd::GetDevice,
        attributes: vec![WireguardAttribute::Peers(vec![WireguardPeer(vec![
            WireguardPeerAttribute::PublicKey([1; 32]),
            WireguardPeerAttribute::AllowedIps(vec![allowed_ip(&"fd00::/64".parse().unwrap())]),
        ])])],
    };
    let decoded: Vec<WireguardMessage> = [part1, part2]
        .into_iter()
        .map(|m| {
            let mut g = GenlMessage::from_payload(m);
            g.set_resolved_family_id(30);
            let mut nl = NetlinkMessage::new(NetlinkHeader::default(), NetlinkPayload::from(g));
            nl.finalize();
            let mut buf = vec![0; nl.buffer_len()];
            nl.serialize(&mut buf);
            match NetlinkMessage::<GenlMessage<WireguardMessage>>::deserialize(&buf)
                .unwrap()
                .payload
            {
                NetlinkPayload::InnerMessage(g) => g.payload,
                other => panic!("unexpected {other:?}"),
            }
        })
        .collect();
    let dev = parse_device(&iface(), decoded);
    assert_eq!(dev.public_key, Some(k.public_key()));
    assert_eq!(dev.listen_port, 51820);
    let p = &dev.peers[0];
    assert_eq!(p.public_key, key(1));
    assert_eq!(p.preshared_key, None);
    assert_eq!(p.persistent_keepalive, Some(25));
    assert_eq!(p.endpoint, Some("[2001:db8::1]:51820".parse().unwrap()));
    assert_eq!(
        p.last_handshake,
        Some(SystemTime::UNIX_EPOCH + Duration::new(1_700_000_000, 5))
    );
    assert_eq!((p.rx_bytes, p.tx_bytes), (10, 20));
    let ips: Vec<String> = p.allowed_ips.iter().map(ToString::to_string).collect();
    assert_eq!(ips, ["10.4.0.1/32", "fd00::/64"]);
}
