//! Unit tests of `result`.

use super::*;

#[test]
fn old_versions_carry_ip_version() {
    let r = CniResult {
        ips: vec![IpConfig {
            interface: Some(2),
            address: "10.0.0.2/24".parse().unwrap(),
            gateway: None,
        }],
        ..Default::default()
    };
    let v = r.to_json("0.4.0");
    assert_eq!(v["ips"][0]["version"], "4");
    assert!(r.to_json("1.0.0")["ips"][0].get("version").is_none());
}

#[test]
fn parses_old_results() {
    let v =
        json!({"cniVersion":"0.4.0","ips":[{"version":"6","address":"fd00::2/64","interface":0}]});
    let r = CniResult::from_value(&v).unwrap();
    assert_eq!(r.ips[0].address.to_string(), "fd00::2/64");
}
