//! Unit tests of `flags`.

use super::*;

#[test]
fn resync_period_takes_a_go_duration_from_the_flag_and_the_environment() {
    let f = Flags::try_parse_from(["kg", "--hostname", "n1", "--resync-period", "1m30s"]).unwrap();
    assert_eq!(f.resync_period, Duration::from_secs(90));
    let f = Flags::try_parse_from(["kg", "--hostname", "n1", "--resync-period=45"]).unwrap();
    assert_eq!(f.resync_period, Duration::from_secs(45));
    assert!(Flags::try_parse_from(["kg", "--resync-period", "soon"]).is_err());
}

#[test]
fn defaults_match_kilo() {
    let f = Flags::try_parse_from(["kg", "--hostname", "n1"]).unwrap();
    assert!(f.clean_up && f.mesh.cni() && f.mesh.local && f.create_interface);
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

#[test]
fn compatibility_selects_the_tunnel_and_turns_cni_off_unless_asked() {
    use kilo_mesh::types::{Compatibility, TunnelKind};
    let f = Flags::try_parse_from(["kg", "--hostname=n1", "--compatibility=flannel"]).unwrap();
    assert_eq!(f.mesh.compatibility, Some(Compatibility::Flannel));
    let c = f.into_config().unwrap();
    assert_eq!(c.mesh.tunnel, TunnelKind::Flannel);
    assert!(!c.mesh.cni);
    let f = Flags::try_parse_from([
        "kg",
        "--hostname=n1",
        "--compatibility=cilium",
        "--tunnel=vxlan",
        "--cni",
    ])
    .unwrap();
    let c = f.into_config().unwrap();
    assert_eq!(c.mesh.tunnel, TunnelKind::Cilium);
    assert!(c.mesh.cni);
    let f = Flags::try_parse_from(["kg", "--hostname=n1"]).unwrap();
    assert_eq!(f.mesh.compatibility, None);
    assert_eq!(f.into_config().unwrap().mesh.tunnel, TunnelKind::Ipip);
    for bad in [
        "--compatibility=calico",
        "--compatibility=",
        "--tunnel=flannel",
    ] {
        assert!(
            Flags::try_parse_from(["kg", "--hostname=n1", bad]).is_err(),
            "{bad}"
        );
    }
}
