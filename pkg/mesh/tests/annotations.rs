//! Parsing of every node annotation: good values, and bad values reported with the annotation,
//! the value and why, never breaking the node.

#[cfg(test)]
#[allow(
    dead_code,
    reason = "shared by several test binaries; each uses a subset"
)]
mod common;

use common::*;
use kilo_mesh::annotations::{AnnotationProblem, Severity, parse_node};
use kilo_mesh::implementation::Implementation;

#[cfg(test)]
fn parse(n: &N) -> (kilo_mesh::Node, Vec<AnnotationProblem>) {
    parse_node(&n.0, "topology.kubernetes.io/region").unwrap()
}

#[cfg(test)]
fn base() -> N {
    N::new(
        "n1",
        "label-loc",
        "192.168.77.11:51820",
        "192.168.77.11/24",
        &["10.42.1.0/24"],
    )
}

#[test]
fn good_values() {
    let n = base()
        .ann("location", "override")
        .ann("leader", "false")
        .ann("force-endpoint", "[2001:db8::1]:51821")
        .ann("persistent-keepalive", " 25 ")
        .ann("allowed-location-ips", "192.168.10.0/24, 192.168.20.1/24")
        .ann("wireguard-ip", "10.4.0.1/16")
        .ann("granularity", "full")
        .status_ip("fd00:77::11")
        .status_ip("192.168.77.99");
    let (node, problems) = parse(&n);
    assert_eq!(problems, []);
    assert_eq!(node.location, "override");
    assert!(node.leader, "presence counts, whatever the value");
    assert_eq!(node.endpoint.unwrap().to_string(), "[2001:db8::1]:51821");
    assert_eq!(node.persistent_keepalive, Some(25));
    let alips: Vec<String> = node
        .allowed_location_ips
        .iter()
        .map(ToString::to_string)
        .collect();
    assert_eq!(alips, ["192.168.10.0/24", "192.168.20.0/24"]);
    assert_eq!(node.wireguard_ip.unwrap().to_string(), "10.4.0.1/16");
    let ips: Vec<String> = node.internal_ips.iter().map(ToString::to_string).collect();
    assert_eq!(
        ips,
        ["192.168.77.11/24", "fd00:77::11/128"],
        "status adds only the missing family"
    );
    assert_eq!(node.granularity, Some(kilo_mesh::Granularity::Full));
}

#[test]
fn the_topology_label_gives_the_location() {
    assert_eq!(parse(&base()).0.location, "label-loc");
}

#[test]
fn force_internal_ip_none_disables_every_private_ip() {
    for v in ["", "-"] {
        let (node, problems) = parse(&base().ann("force-internal-ip", v).status_ip("fd00:77::11"));
        assert_eq!(problems, []);
        assert!(node.internal_ips.is_empty(), "{v:?}");
    }
}

#[test]
fn bad_values_are_reported_and_fall_back() {
    let cases = [
        (
            "persistent-keepalive",
            "abc",
            "must be a whole number of seconds from 0 to 65535",
        ),
        (
            "persistent-keepalive",
            "-1",
            "must be a whole number of seconds from 0 to 65535",
        ),
        (
            "force-endpoint",
            "::::",
            "invalid endpoint \"::::\": IPv6 addresses must be written as [address]:port",
        ),
        (
            "force-endpoint",
            "1.2.3.4:0",
            "invalid endpoint \"1.2.3.4:0\": port must be 1-65535",
        ),
        (
            "force-endpoint",
            "1.2.3.4",
            "invalid endpoint \"1.2.3.4\": expected host:port",
        ),
        (
            "force-endpoint",
            "Bad_Host:51820",
            "invalid endpoint \"Bad_Host:51820\": host is neither an IP address nor a DNS name",
        ),
        (
            "force-internal-ip",
            "10.0.0.1",
            "not a CIDR (address/prefix)",
        ),
        ("key", "short", "invalid WireGuard key: not valid base64"),
        (
            "key",
            "c2hvcnQ=",
            "invalid WireGuard key: must decode to exactly 32 bytes",
        ),
        ("last-seen", "yesterday", "not a unix timestamp in seconds"),
        ("granularity", "cross", "must be location or full"),
        (
            "discovered-endpoints",
            "nope",
            "not a JSON object: expected ident at line 1 column 2",
        ),
    ];
    for (k, v, reason) in cases {
        let (node, problems) = parse(&base().ann(k, v));
        assert_eq!(
            problems,
            [AnnotationProblem {
                annotation: format!("kilo.squat.ai/{k}"),
                value: v.to_owned(),
                reason: reason.to_owned(),
                severity: Severity::Error,
            }],
            "{k}={v}"
        );
        assert_eq!(node.name.as_str(), "n1");
    }
}

#[test]
fn a_bad_force_endpoint_keeps_the_published_endpoint() {
    let (node, _) = parse(&base().ann("force-endpoint", "::::"));
    assert_eq!(node.endpoint.unwrap().to_string(), "192.168.77.11:51820");
}

#[test]
fn bad_allowed_location_ips_are_warnings_and_the_rest_is_kept() {
    let (node, problems) = parse(&base().ann("allowed-location-ips", "192.168.10.0/24,nope"));
    assert_eq!(node.allowed_location_ips.len(), 1);
    assert_eq!(problems.len(), 1);
    assert_eq!(problems[0].severity, Severity::Warning);
    assert_eq!(problems[0].reason, "\"nope\" is not a CIDR; it is ignored");
}

#[test]
fn second_pod_cidr_of_a_family_is_a_warning() {
    let mut n = base();
    n.0.pod_cidrs = vec![
        "10.42.1.0/24".into(),
        "10.42.9.0/24".into(),
        "fd00:10:42:1::/64".into(),
    ];
    let (node, problems) = parse(&n);
    let cidrs: Vec<String> = node.pod_cidrs.iter().map(ToString::to_string).collect();
    assert_eq!(cidrs, ["10.42.1.0/24", "fd00:10:42:1::/64"]);
    assert_eq!(problems.len(), 1);
}

#[test]
fn discovered_endpoints_round_trip_in_kilo_format() {
    let k = key(7);
    let v = format!(r#"{{"{k}":{{"IP":"198.51.100.1","Port":51820,"Zone":""}}}}"#);
    let (node, problems) = parse(&base().ann("discovered-endpoints", &v));
    assert_eq!(problems, []);
    assert_eq!(
        kilo_mesh::annotations::render_discovered(&node.discovered_endpoints),
        v
    );
}

#[test]
fn an_invalid_node_name_is_the_only_hard_failure() {
    let mut n = base();
    n.0.name = "Not_A_Name".into();
    assert!(parse_node(&n.0, "topology.kubernetes.io/region").is_err());
}

// The kilo-rs marker: exact form only; anything else is a problem and the node counts as Go Kilo.
#[test]
fn the_implementation_marker_is_exact() {
    const MARKER: &str = "not a marker kg writes (\"kilo-rs; last-seen=<unix seconds>\")";
    let bad = [
        "kilo-rs",
        "kilo-rs; last-seen=",
        "kilo-rs; last-seen=yesterday",
        "kilo-rs; last-seen=-1700000000",
        "kilo-rs; last-seen=+1700000000",
        "kilo-rs; last-seen= 1700000000",
        "kilo-rs; last-seen=1700000000 ",
        "kilo-rs;last-seen=1700000000",
        "Kilo-rs; last-seen=1700000000",
        "kilo-go; last-seen=1700000000",
        "kilo-rs; last-seen=99999999999999999999",
        "kilo-rs; last-seen=1700000000\n",
        "",
    ];
    for v in bad {
        let (node, problems) = parse(&base().ann("implementation", v));
        assert_eq!(node.implementation, Implementation::GoKilo, "{v:?}");
        assert_eq!(problems.len(), 1, "{v:?}: {problems:?}");
        assert_eq!(problems[0].reason, MARKER, "{v:?}");
    }
    // Well-formed but written with another heartbeat, or with no last-seen at all: Go Kilo, no
    // problem (the node went back to Go Kilo).
    for (marker, last_seen) in [
        ("kilo-rs; last-seen=1699999970", Some("1700000000")),
        ("kilo-rs; last-seen=1700000000", None),
    ] {
        let mut n = base().ann("implementation", marker);
        if last_seen.is_none() {
            n.0.annotations.remove("kilo.squat.ai/last-seen");
        }
        let (node, problems) = parse(&n);
        assert_eq!(node.implementation, Implementation::GoKilo, "{marker}");
        assert!(problems.is_empty(), "{problems:?}");
    }
    let (node, problems) = parse(&base());
    assert_eq!(node.implementation, Implementation::KiloRs);
    assert!(problems.is_empty());
    let (node, _) = parse(&base().go_kilo());
    assert_eq!(node.implementation, Implementation::GoKilo);
}

#[test]
fn wireguard_ip_since_is_unix_seconds_or_empty() {
    for v in ["-5", "soon", "1e9", " 1700000000", "99999999999999999999"] {
        let (node, problems) = parse(&base().ann("wireguard-ip-since", v));
        assert_eq!(node.wireguard_ip_since, None, "{v:?}");
        assert_eq!(
            problems,
            [AnnotationProblem {
                annotation: "kilo.squat.ai/wireguard-ip-since".to_owned(),
                value: v.to_owned(),
                reason: "not a unix timestamp in seconds".to_owned(),
                severity: Severity::Error,
            }],
            "{v:?}"
        );
    }
    let (node, problems) = parse(&base().ann("wireguard-ip-since", ""));
    assert_eq!(node.wireguard_ip_since, None);
    assert!(problems.is_empty());
    let (node, _) = parse(&base().ann("wireguard-ip-since", "1699999000"));
    assert_eq!(node.wireguard_ip_since, Some(1_699_999_000));
}
