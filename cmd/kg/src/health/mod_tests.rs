use clap::Parser as _;

use crate::flags::Flags;

#[test]
fn health_defaults_and_bounds() {
    let f = Flags::try_parse_from(["kg", "--hostname", "n1"]).unwrap();
    assert!(f.health.enabled);
    assert_eq!(f.health.health_interval, std::time::Duration::from_secs(10));
    assert_eq!(f.health.health_targets, 16);
    assert_eq!(f.health.health_timeout, std::time::Duration::from_secs(1));
    let f = Flags::try_parse_from([
        "kg",
        "--health=false",
        "--health-interval",
        "500ms",
        "--health-targets",
        "3",
    ])
    .unwrap();
    assert!(!f.health.enabled);
    assert_eq!(
        f.health.health_interval,
        std::time::Duration::from_millis(500)
    );
    assert_eq!(f.health.health_targets, 3);
}

#[test]
fn health_flags_refuse_nonsense() {
    for bad in [
        &["kg", "--health-targets", "0"][..],
        &["kg", "--health-targets", "-1"],
        &["kg", "--health-targets", "70000"],
        &["kg", "--health-interval", "10ms"],
        &["kg", "--health-interval", "0"],
        &["kg", "--health-interval", "1d"],
        &["kg", "--health-timeout", ""],
        &["kg", "--health", "maybe"],
    ] {
        assert!(Flags::try_parse_from(bad).is_err(), "{bad:?} accepted");
    }
}
