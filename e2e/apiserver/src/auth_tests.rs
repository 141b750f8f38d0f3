//! Unit tests of `auth`.

use super::*;

#[test]
fn tokens_verify_only_unaltered_and_unexpired() {
    let signer = Signer::random().unwrap();
    let mut user = User::service_account("kube-system", "kilo", "u1");
    user.extra.insert(NODE_NAME.into(), vec!["n1".into()]);
    user.exp = 100;
    let token = signer.issue(&user);
    assert_eq!(signer.verify(&token, 99), Some(user.clone()));
    assert_eq!(signer.verify(&token, 100), None, "expired");
    let other = Signer::random().unwrap();
    assert_eq!(other.verify(&token, 0), None, "another server's key");
    let (head, tag) = token.rsplit_once('.').unwrap();
    let forged = B64.encode(br#"{"name":"x","groups":["system:masters"]}"#);
    assert_eq!(signer.verify(&format!("kts1.{forged}.{tag}"), 0), None);
    assert_eq!(signer.verify(&format!("{head}.AAAA"), 0), None);
    assert_eq!(signer.verify("garbage", 0), None);
    assert_eq!(
        user.service_account_of(),
        Some(("kube-system", "kilo")),
        "the ServiceAccount of the user"
    );
}

#[test]
fn a_key_file_is_created_and_reused() {
    let dir = std::env::temp_dir().join(format!("kilo-auth-test-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let path = dir.join("key");
    let _ = std::fs::remove_file(&path);
    let token = Signer::from_file(&path).unwrap().issue(&User::admin());
    assert_eq!(
        Signer::from_file(&path).unwrap().verify(&token, 0),
        Some(User::admin())
    );
    std::fs::write(&path, "short").unwrap();
    assert!(matches!(
        Signer::from_file(&path),
        Err(KeyError::Malformed(_))
    ));
    std::fs::remove_dir_all(&dir).unwrap();
}
