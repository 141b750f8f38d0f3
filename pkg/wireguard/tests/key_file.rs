//! The private key file: created 0600 with its directory, loaded unchanged, a loose mode is
//! fixed, garbage is refused without echoing it, and no key-holding type prints key material.

use std::fs;
use std::os::unix::fs::PermissionsExt as _;

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD as B64;
use kilo_mesh::plan::wireguard::PresharedKey;
use kilo_mesh::types::WgKey;
use kilo_wireguard::model::{DeviceUpdate, PeerUpdate};
use kilo_wireguard::{DeviceState, PeerState, PrivateKey, WgError, load_or_create};

#[cfg(test)]
fn mode(p: &std::path::Path) -> u32 {
    fs::metadata(p).expect("metadata").permissions().mode() & 0o777
}

#[test]
fn created_0600_then_loaded_unchanged() {
    let dir = tempfile::tempdir().expect("tempdir");
    let path = dir.path().join("var/lib/kilo/key");
    let key = load_or_create(&path).expect("create");
    assert_eq!(mode(&path), 0o600);
    let text = fs::read_to_string(&path).expect("read");
    assert_eq!(text.trim().len(), 44, "wg genkey format");
    let again = load_or_create(&path).expect("load");
    assert_eq!(again.public_key(), key.public_key());
    assert_eq!(
        fs::read_to_string(&path).expect("read"),
        text,
        "file unchanged"
    );
    let entries: Vec<_> = fs::read_dir(path.parent().expect("dir"))
        .expect("ls")
        .collect();
    assert_eq!(entries.len(), 1, "no temporary file left behind");
}

#[test]
fn a_world_readable_key_gets_mode_0600() {
    let dir = tempfile::tempdir().expect("tempdir");
    let path = dir.path().join("key");
    // RFC 7748 section 6.1, Alice's key pair.
    fs::write(&path, "dwdtCnMYpX08FsFyUbJmRd9ML4frwJkqsXf7pR25LCo=\n").expect("write");
    fs::set_permissions(&path, fs::Permissions::from_mode(0o644)).expect("chmod");
    let key = load_or_create(&path).expect("load");
    assert_eq!(mode(&path), 0o600);
    assert_eq!(
        key.public_key().to_base64(),
        "hSDwCYkwp1R0i33ctD73Wg2/Og0mOBr066SpjqqbTmo="
    );
}

#[test]
fn garbage_is_refused_without_echoing_it() {
    let dir = tempfile::tempdir().expect("tempdir");
    let path = dir.path().join("key");
    fs::write(&path, "c2VjcmV0LW1hdGVyaWFs\n").expect("write");
    fs::set_permissions(&path, fs::Permissions::from_mode(0o600)).expect("chmod");
    let err = load_or_create(&path).expect_err("not a key");
    assert!(matches!(err, WgError::KeyFormat { .. }));
    let msg = format!("{err} {err:?}");
    assert!(!msg.contains("c2VjcmV0"), "{msg}");
    let err = load_or_create(dir.path()).expect_err("a directory");
    assert!(matches!(err, WgError::KeyNotFile { .. }), "{err}");
}

#[test]
fn debug_output_holds_no_key_material() {
    let dir = tempfile::tempdir().expect("tempdir");
    let path = dir.path().join("key");
    let key = load_or_create(&path).expect("create");
    let secret_b64 = fs::read_to_string(&path).expect("read").trim().to_owned();
    let secret = B64.decode(&secret_b64).expect("base64");
    let secret_hex: String = secret.iter().map(|b| format!("{b:02x}")).collect();
    let psk = WgKey::from_bytes([0x5a; 32]);

    let mut dev = DeviceState::empty("kilo0".parse().expect("ifname"));
    dev.public_key = Some(key.public_key());
    let mut peer = PeerState::new(key.public_key());
    peer.preshared_key = Some(PresharedKey(psk));
    dev.peers.push(peer);
    let mut pu = PeerUpdate::new(key.public_key());
    pu.preshared_key = Some(Some(PresharedKey(psk)));
    let update = DeviceUpdate {
        private_key: true,
        listen_port: Some(51820),
        peers: vec![pu],
    };
    let printed = format!("{key:?} {dev:?} {dev:#?} {update:?} {update:#?}");
    for needle in [
        secret_b64.as_str(),
        &secret_b64[..16],
        &secret_hex,
        &secret_hex[..16],
        &psk.to_base64()[..16],
        &psk.to_hex()[..16],
    ] {
        assert!(
            !printed.contains(needle),
            "key material in Debug output: {printed}"
        );
    }
    assert!(printed.contains(&key.public_key().fingerprint()));
    drop(PrivateKey::generate());
}
