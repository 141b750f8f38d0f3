//! Unit tests of `range`.

use super::*;

fn set(subnet: &str) -> RangeSet {
    let rc = RangeConf {
        subnet: subnet.parse().unwrap(),
        range_start: None,
        range_end: None,
        gateway: None,
    };
    vec![Range::new(&rc).unwrap()]
}

#[test]
fn v4_defaults_like_host_local() {
    let s = set("10.42.1.0/24");
    let all: Vec<_> = candidates(&s, None).collect();
    assert_eq!(all.first().unwrap().to_string(), "10.42.1.2");
    assert_eq!(all.last().unwrap().to_string(), "10.42.1.254");
    assert_eq!(all.len(), 253);
    assert_eq!(s[0].capacity(), 253);
}

#[test]
fn round_robin_wraps() {
    let s = set("10.42.1.0/24");
    let last = Some("10.42.1.254".parse().unwrap());
    let first: Vec<_> = candidates(&s, last)
        .take(2)
        .map(|i| i.to_string())
        .collect();
    assert_eq!(first, ["10.42.1.2", "10.42.1.3"]);
    let mid = Some("10.42.1.9".parse().unwrap());
    assert_eq!(
        candidates(&s, mid).next().unwrap().to_string(),
        "10.42.1.10"
    );
}

#[test]
fn rejects_host_bits_and_tiny_nets() {
    let bad = RangeConf {
        subnet: "10.0.0.1/24".parse().unwrap(),
        range_start: None,
        range_end: None,
        gateway: None,
    };
    assert!(Range::new(&bad).is_err());
    let tiny = RangeConf {
        subnet: "10.0.0.0/31".parse().unwrap(),
        range_start: None,
        range_end: None,
        gateway: None,
    };
    assert!(Range::new(&tiny).is_err());
}

proptest::proptest! {
    #[test]
    fn candidates_are_unique_and_in_range(prefix in 22u8..30, last in proptest::option::of(0u32..2048)) {
        let s = set(&format!("10.0.0.0/{prefix}"));
        let last = last.map(|n| IpAddr::V4(Ipv4Addr::from(0x0a00_0000 + n)));
        let all: Vec<_> = candidates(&s, last).collect();
        let uniq: std::collections::HashSet<_> = all.iter().collect();
        proptest::prop_assert_eq!(uniq.len(), all.len());
        proptest::prop_assert_eq!(all.len() as u128, s[0].capacity());
        proptest::prop_assert!(all.iter().all(|ip| s[0].contains(*ip) && *ip != s[0].gateway));
    }
}
