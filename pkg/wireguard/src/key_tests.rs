//! Unit tests of `key`.

use super::*;

#[test]
fn base64_round_trip_and_public_key() {
    // RFC 7748 section 6.1, Alice's key pair.
    let sk = "dwdtCnMYpX08FsFyUbJmRd9ML4frwJkqsXf7pR25LCo=";
    let pk = "hSDwCYkwp1R0i33ctD73Wg2/Og0mOBr066SpjqqbTmo=";
    let key = PrivateKey::from_base64(sk).expect("valid key");
    assert_eq!(key.public_key().to_base64(), pk);
    assert_eq!(key.to_base64().as_str(), sk);
    assert!(PrivateKey::from_base64("not a key").is_none());
    assert!(PrivateKey::from_base64("AAAA").is_none());
}

#[test]
fn debug_shows_only_the_public_fingerprint() {
    let key = PrivateKey::generate();
    let dbg = format!("{key:?}");
    let hex = key.expose_hex();
    let b64 = key.to_base64();
    assert!(!dbg.contains(hex.as_str()));
    assert!(!dbg.contains(&b64[..12]));
    assert_eq!(
        dbg,
        format!("PrivateKey(public {})", key.public_key().fingerprint())
    );
}

#[test]
fn generated_keys_differ() {
    assert_ne!(PrivateKey::generate(), PrivateKey::generate());
}
