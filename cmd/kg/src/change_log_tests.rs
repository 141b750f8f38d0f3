use kilo_mesh::types::WgKey;
use kilo_wireguard::{Change, PeerField};

use super::summarize;

fn key() -> WgKey {
    WgKey::from_bytes([7; 32])
}

fn nets(v: &[&str]) -> Vec<ipnet::IpNet> {
    v.iter().map(|s| s.parse().unwrap()).collect()
}

#[test]
fn a_peer_with_thousands_of_networks_is_one_short_line() {
    let from: Vec<String> = (0..5000)
        .map(|i| format!("10.{}.{}.0/24", i / 256, i % 256))
        .collect();
    let mut to = from.clone();
    to.remove(17);
    to.extend(["10.200.0.0/24".to_owned(), "10.200.1.0/24".to_owned()]);
    let from: Vec<&str> = from.iter().map(String::as_str).collect();
    let to: Vec<&str> = to.iter().map(String::as_str).collect();
    let change = Change::UpdatePeer {
        name: "location:loc-01".to_owned(),
        public_key: key(),
        fields: vec![
            PeerField::AllowedIps {
                from: nets(&from),
                to: nets(&to),
            },
            PeerField::Keepalive { from: 0, to: 25 },
        ],
    };
    assert_eq!(
        summarize(&change),
        "update peer location:loc-01 (BwcHBwcH): allowed ips 5000 -> 5001 \
         (+2: 10.200.0.0/24, 10.200.1.0/24; -1: 10.0.17.0/24); keepalive 0 -> 25;"
    );
}

#[test]
fn more_than_three_networks_are_counted_not_listed() {
    let change = Change::UpdatePeer {
        name: "node:n9".to_owned(),
        public_key: key(),
        fields: vec![PeerField::AllowedIps {
            from: nets(&["10.9.0.0/24"]),
            to: nets(&[
                "10.1.0.0/24",
                "10.2.0.0/24",
                "10.3.0.0/24",
                "10.4.0.0/24",
                "10.5.0.0/24",
            ]),
        }],
    };
    assert_eq!(
        summarize(&change),
        "update peer node:n9 (BwcHBwcH): allowed ips 1 -> 5 \
         (+5: 10.1.0.0/24, 10.2.0.0/24, 10.3.0.0/24 and 2 more; -1: 10.9.0.0/24);"
    );
}

#[test]
fn a_reordering_and_other_changes_read_as_before() {
    let reordered = Change::UpdatePeer {
        name: "node:n2".to_owned(),
        public_key: key(),
        fields: vec![
            PeerField::AllowedIps {
                from: nets(&["10.1.0.0/24", "fd00::/64"]),
                to: nets(&["fd00::/64", "10.1.0.0/24"]),
            },
            PeerField::Endpoint {
                from: None,
                to: "192.0.2.1:51820".parse().unwrap(),
            },
        ],
    };
    assert_eq!(
        summarize(&reordered),
        "update peer node:n2 (BwcHBwcH): allowed ips 2 -> 2 (reordered); endpoint (none) -> 192.0.2.1:51820;"
    );
    let add = Change::AddPeer {
        name: "node:n3".to_owned(),
        public_key: key(),
    };
    assert_eq!(summarize(&add), "add peer node:n3 (BwcHBwcH)");
    assert_eq!(
        summarize(&Change::RemovePeer { public_key: key() }),
        "remove peer BwcHBwcH"
    );
}
