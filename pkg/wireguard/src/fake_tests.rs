//! Unit tests of `fake`.

use kilo_mesh::plan::wireguard::WgPeer;

use super::*;

fn plan(n: u8) -> WireGuardPlan {
    WireGuardPlan {
        interface: "kilo0".parse().unwrap(),
        listen_port: 51820,
        peers: (1..=n)
            .map(|i| WgPeer {
                name: format!("node:n{i}"),
                public_key: WgKey::from_bytes([i; 32]),
                endpoint: Some(format!("192.0.2.{i}:51820").parse().unwrap()),
                allowed_ips: vec![format!("10.4.0.{i}/32").parse().unwrap()],
                persistent_keepalive: None,
                preshared_key: None,
            })
            .collect(),
    }
}

#[test]
fn creates_records_and_settles() {
    let mut fake = Fake::new();
    let key = PrivateKey::generate();
    let report = fake.apply(&plan(2), &key).unwrap();
    assert!(report.created);
    assert_eq!(report.changes.len(), 4);
    assert!(fake.apply(&plan(2), &key).unwrap().is_empty());
    let report = fake.apply(&plan(3), &key).unwrap();
    assert_eq!(report.lines(), ["add peer node:n3 (AwMDAwMD)"]);
    assert_eq!(fake.writes.len(), 2);
    assert_eq!(fake.writes[1].1.peers.len(), 1);
    let dev = fake.read(&"kilo0".parse().unwrap()).unwrap();
    assert_eq!(dev.peers.len(), 3);
    assert_eq!(dev.public_key, Some(key.public_key()));
    assert_eq!(fake.reads.load(Ordering::Relaxed), 1);
}

#[test]
fn unsupported_and_missing_devices_fail_clearly() {
    let mut fake = Fake::new();
    assert!(fake.read(&"kilo0".parse().unwrap()).is_err());
    fake.unsupported = true;
    let err = fake.apply(&plan(1), &PrivateKey::generate()).unwrap_err();
    assert!(matches!(err, WgError::KernelUnsupported { .. }));
}
