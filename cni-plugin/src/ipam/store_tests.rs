//! Unit tests of `store`: the on-disk format host-local shares with kilo-cni.

use std::net::IpAddr;

use super::{Store, overwrite};

fn scratch(name: &str) -> std::path::PathBuf {
    let dir = std::env::temp_dir().join(format!("kilo-cni-store-{}-{name}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    dir
}

#[test]
fn overwrite_leaves_exactly_the_new_content() {
    let dir = scratch("overwrite");
    let f = dir.join("last_reserved_ip.0");
    overwrite(&f, b"fd00:91::1234").unwrap();
    overwrite(&f, b"10.0.0.1").unwrap();
    assert_eq!(std::fs::read_to_string(&f).unwrap(), "10.0.0.1");
    overwrite(&f, b"10.0.0.200").unwrap();
    assert_eq!(std::fs::read_to_string(&f).unwrap(), "10.0.0.200");
    std::fs::remove_dir_all(&dir).unwrap();
}

#[test]
fn reserve_writes_host_locals_files() {
    let dir = scratch("reserve");
    let store = Store::open(&dir, "net").unwrap();
    let v6: IpAddr = "fd00:91::1234".parse().unwrap();
    let v4: IpAddr = "10.0.0.1".parse().unwrap();
    assert!(store.reserve(v6, "c1", "eth0", 0).unwrap());
    assert!(store.reserve(v4, "c2", "eth0", 0).unwrap());
    assert!(!store.reserve(v4, "c3", "eth0", 0).unwrap());
    assert_eq!(store.last_reserved(0), Some(v4));
    let net = dir.join("net");
    assert_eq!(
        std::fs::read_to_string(net.join("last_reserved_ip.0")).unwrap(),
        "10.0.0.1"
    );
    assert_eq!(
        std::fs::read_to_string(net.join("10.0.0.1")).unwrap(),
        "c2\r\neth0"
    );
    std::fs::remove_dir_all(&dir).unwrap();
}
