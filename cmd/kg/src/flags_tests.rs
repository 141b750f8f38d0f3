//! Unit tests of `flags`.

use super::*;

#[test]
fn durations() {
    assert_eq!(
        kilo_mesh::types::parse_duration("30s"),
        Ok(Duration::from_secs(30))
    );
    assert_eq!(
        kilo_mesh::types::parse_duration("250ms"),
        Ok(Duration::from_millis(250))
    );
    assert_eq!(
        kilo_mesh::types::parse_duration("2m"),
        Ok(Duration::from_secs(120))
    );
    assert_eq!(
        kilo_mesh::types::parse_duration("45"),
        Ok(Duration::from_secs(45))
    );
    assert!(kilo_mesh::types::parse_duration("1d").is_err());
}

#[test]
fn defaults_match_kilo() {
    let f = Flags::try_parse_from(["kg", "--hostname", "n1"]).unwrap();
    assert!(f.clean_up && f.mesh.cni && f.mesh.local && f.create_interface);
    assert!(!f.mesh.iptables_forward_rules && !f.clean_up_interface);
    assert_eq!(f.mesh.port, 51820);
    assert_eq!(f.listen, ":1107");
    assert_eq!(f.mesh.subnet.to_string(), "10.4.0.0/16");
    assert_eq!(f.resync_period, Duration::from_secs(30));
    let c = f.into_config().unwrap();
    assert_eq!(c.listen, crate::listen::Listen::Any(1107));
    assert_eq!(c.flags.mesh.mtu, kilo_mesh::local::MtuSetting::Auto);
    assert_eq!(c.mesh.mtu, 1420);
}

#[test]
fn booleans_take_go_flag_forms() {
    let f = Flags::try_parse_from([
        "kg",
        "--hostname=n1",
        "--clean-up-interface",
        "--clean-up=false",
        "--iptables-forward-rules=true",
    ])
    .unwrap();
    assert!(f.clean_up_interface && !f.clean_up && f.mesh.iptables_forward_rules);
    assert!(Flags::try_parse_from(["kg", "--hostname=n1", "--cni=maybe"]).is_err());
}
