//! Rendering and parsing of the UAPI text protocol.

use kilo_mesh::plan::wireguard::PresharedKey;

use super::*;
use crate::model::PeerUpdate;

fn iface() -> IfName {
    "kilo0".parse().unwrap()
}

fn key(n: u8) -> WgKey {
    WgKey::from_bytes([n; 32])
}

fn hex(n: u8) -> String {
    format!("{n:02x}").repeat(32)
}

#[test]
fn renders_only_what_the_update_holds() {
    let mut add = PeerUpdate::new(key(1));
    add.endpoint = Some("[2001:db8::1]:51820".parse().unwrap());
    add.persistent_keepalive = Some(25);
    add.preshared_key = Some(Some(PresharedKey(key(9))));
    add.allowed_ips = vec!["10.4.0.1/32".parse().unwrap(), "fd00::/64".parse().unwrap()];
    let mut remove = PeerUpdate::new(key(2));
    remove.remove = true;
    let mut change = PeerUpdate::new(key(3));
    change.replace_allowed_ips = true;
    change.allowed_ips = vec!["10.4.0.3/32".parse().unwrap()];
    change.preshared_key = Some(None);
    let update = DeviceUpdate {
        private_key: false,
        listen_port: Some(51820),
        peers: vec![remove, add, change],
    };
    let text = render_set(&update, &PrivateKey::generate());
    let want = format!(
        "set=1\nlisten_port=51820\n\
         public_key={}\nremove=true\n\
         public_key={}\npreshared_key={}\nendpoint=[2001:db8::1]:51820\n\
         persistent_keepalive_interval=25\nallowed_ip=10.4.0.1/32\nallowed_ip=fd00::/64\n\
         public_key={}\npreshared_key={}\nreplace_allowed_ips=true\nallowed_ip=10.4.0.3/32\n\n",
        hex(2),
        hex(1),
        hex(9),
        hex(3),
        hex(0)
    );
    assert_eq!(text.as_str(), want);
}

#[test]
fn the_private_key_is_written_only_when_asked() {
    let k = PrivateKey::generate();
    let update = DeviceUpdate {
        private_key: true,
        ..DeviceUpdate::default()
    };
    let text = render_set(&update, &k);
    assert_eq!(
        text.as_str(),
        format!("set=1\nprivate_key={}\n\n", k.expose_hex().as_str())
    );
}

const GET_ANSWER: &str = "private_key=7707ada0ebf7c2ff2d2f41b2f9c1fe1d60cbe9f2ccd0c3f4b54d7d3a5d8a7b6f\n\
listen_port=51820\n\
public_key=0202020202020202020202020202020202020202020202020202020202020202\n\
preshared_key=0000000000000000000000000000000000000000000000000000000000000000\n\
protocol_version=1\n\
endpoint=[2001:db8::2]:51820\n\
last_handshake_time_sec=1700000000\n\
last_handshake_time_nsec=500\n\
tx_bytes=92\n\
rx_bytes=148\n\
persistent_keepalive_interval=0\n\
allowed_ip=10.4.0.2/32\n\
allowed_ip=10.42.2.0/24\n\
public_key=0101010101010101010101010101010101010101010101010101010101010101\n\
preshared_key=0909090909090909090909090909090909090909090909090909090909090909\n\
last_handshake_time_sec=0\n\
last_handshake_time_nsec=0\n\
persistent_keepalive_interval=25\n\
errno=0\n\n";

#[test]
fn parses_a_get_answer() {
    let dev = parse_get(&iface(), GET_ANSWER.as_bytes()).unwrap();
    let sk =
        decode_hex("7707ada0ebf7c2ff2d2f41b2f9c1fe1d60cbe9f2ccd0c3f4b54d7d3a5d8a7b6f").unwrap();
    assert_eq!(
        dev.public_key,
        Some(PrivateKey::from_bytes(*sk).public_key())
    );
    assert_eq!(dev.listen_port, 51820);
    assert_eq!(dev.peers.len(), 2);
    let (p1, p2) = (&dev.peers[0], &dev.peers[1]);
    assert_eq!(p1.public_key, key(1));
    assert_eq!(p1.preshared_key, Some(PresharedKey(key(9))));
    assert_eq!(p1.persistent_keepalive, Some(25));
    assert_eq!(p1.last_handshake, None);
    assert_eq!(p1.endpoint, None);
    assert_eq!(p2.public_key, key(2));
    assert_eq!(p2.preshared_key, None);
    assert_eq!(p2.endpoint, Some("[2001:db8::2]:51820".parse().unwrap()));
    assert_eq!(
        p2.last_handshake,
        Some(SystemTime::UNIX_EPOCH + Duration::new(1_700_000_000, 500))
    );
    assert_eq!((p2.rx_bytes, p2.tx_bytes), (148, 92));
    assert_eq!(p2.persistent_keepalive, None);
    let ips: Vec<String> = p2.allowed_ips.iter().map(ToString::to_string).collect();
    assert_eq!(ips, ["10.4.0.2/32", "10.42.2.0/24"]);
}

#[test]
fn an_unconfigured_device_has_no_key() {
    let dev = parse_get(&iface(), b"listen_port=0\nerrno=0\n\n").unwrap();
    assert_eq!(dev, DeviceState::empty(iface()));
}

#[test]
fn errors_never_echo_a_private_key() {
    let bad =
        "private_key=zz07ada0ebf7c2ff2d2f41b2f9c1fe1d60cbe9f2ccd0c3f4b54d7d3a5d8a7b6f\nerrno=0\n\n";
    let err = parse_get(&iface(), bad.as_bytes()).unwrap_err().to_string();
    assert_eq!(
        err,
        "unexpected answer from kilo0: invalid private_key value: not 64 hex digits"
    );
    let err = parse_get(&iface(), b"errno=19\n\n")
        .unwrap_err()
        .to_string();
    assert_eq!(
        err,
        "get on kilo0 refused by the userspace daemon: errno 19"
    );
}

#[test]
fn errno_of_a_set_answer() {
    assert_eq!(errno(&iface(), b"errno=0\n\n").unwrap(), 0);
    assert_eq!(errno(&iface(), b"errno=22\n\n").unwrap(), 22);
    assert!(errno(&iface(), b"").is_err());
}
