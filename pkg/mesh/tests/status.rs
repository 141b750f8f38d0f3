//! `kgctl status` core: readiness reasons, segments and leaders, and the egress decision per
//! family as kg reported it, checked against the annotation. Expected values are literal.

#[cfg(test)]
#[allow(
    dead_code,
    reason = "shared by several test binaries; each uses a subset"
)]
mod common;

use common::{N, NOW};
use kilo_mesh::Snapshot;
use kilo_mesh::egress::EgressStatus;
use kilo_mesh::types::Granularity;
use kilo_mesh::views::status::cluster_status;

const STATUS_IN_FORCE: &str =
    r#"{"v4":{"reason":"in-force","address":"192.0.2.10"},"v6":{"reason":"not-set"}}"#;

#[cfg(test)]
fn status_of(nodes: Vec<N>) -> kilo_mesh::views::status::ClusterStatus {
    let snapshot = Snapshot {
        nodes: nodes.iter().map(N::build).collect(),
        peers: Vec::new(),
        now: NOW + 5,
    };
    cluster_status(
        &snapshot,
        Granularity::Location,
        "10.4.0.0/16".parse().unwrap(),
    )
}

#[cfg(test)]
fn a1() -> N {
    N::new(
        "a1",
        "loc-a",
        "198.51.100.1:51820",
        "10.0.0.1/24",
        &["10.42.1.0/24", "fd00:42:1::/64"],
    )
}

#[test]
fn egress_status_annotation_round_trips_in_the_documented_form() {
    let s = EgressStatus::from_annotation(STATUS_IN_FORCE).unwrap();
    assert_eq!(s.v4.in_force(), Some("192.0.2.10".parse().unwrap()));
    assert_eq!(s.to_annotation(), STATUS_IN_FORCE);
    assert!(EgressStatus::from_annotation("192.0.2.10").is_err());
}

#[test]
fn segments_leaders_and_readiness_reasons() {
    let st = status_of(vec![
        N::new(
            "b2",
            "loc-b",
            "198.51.100.3:51820",
            "10.1.0.2/24",
            &["10.42.3.0/24"],
        )
        // a key of its own: the name's last byte would give it a2's key
        .ann("key", &common::key(0xb2)),
        a1(),
        N::new(
            "a2",
            "loc-a",
            "198.51.100.2:51820",
            "10.0.0.2/24",
            &["10.42.2.0/24"],
        ),
        N::new(
            "b1",
            "loc-b",
            "198.51.100.4:51820",
            "10.1.0.1/24",
            &["10.42.4.0/24"],
        )
        .ann("last-seen", &(NOW - 300).to_string()),
        N::new(
            "c1",
            "loc-c",
            "198.51.100.5:51820",
            "10.2.0.1/24",
            &["10.42.5.0/24"],
        )
        .ann("key", "")
        .ann("endpoint", ""),
    ]);
    let rows: Vec<(String, Option<String>, bool, Option<String>)> = st
        .nodes
        .iter()
        .map(|n| {
            (
                n.name.to_string(),
                n.segment.clone(),
                n.leader,
                n.not_ready.clone(),
            )
        })
        .collect();
    let s = |v: &str| Some(v.to_owned());
    assert_eq!(
        rows,
        vec![
            ("a1".into(), s("location:loc-a"), true, None),
            ("a2".into(), s("location:loc-a"), false, None),
            (
                "b1".into(),
                None,
                false,
                s("last-seen 305 s ago (kg stopped? the limit is 60 s)")
            ),
            ("b2".into(), s("location:loc-b"), true, None),
            (
                "c1".into(),
                None,
                false,
                s("no WireGuard key published (kg has not run on it)")
            ),
        ]
    );
    assert_eq!(st.nodes[0].last_seen_age, Some(5));
    assert!(st.nodes[0].wireguard_ip.is_some());
    assert_eq!(st.nodes[1].wireguard_ip, None);
}

/// (egress-ip annotation, published egress-ip-status, IPv4 in force, pending, IPv4 summary).
type Case = (
    Option<&'static str>,
    Option<&'static str>,
    Option<&'static str>,
    bool,
    &'static str,
);

#[test]
fn egress_in_force_or_why_not() {
    let cases: &[Case] = &[
        (
            Some("192.0.2.10"),
            Some(STATUS_IN_FORCE),
            Some("192.0.2.10"),
            false,
            "SNAT --to-source 192.0.2.10",
        ),
        (
            Some("192.0.2.11"),
            Some(STATUS_IN_FORCE),
            Some("192.0.2.10"),
            true,
            "SNAT --to-source 192.0.2.10; the annotation has changed since, kg has not caught up yet",
        ),
        (
            Some("192.0.2.10"),
            Some(
                r#"{"v4":{"reason":"not-assigned","address":"192.0.2.10"},"v6":{"reason":"not-set"}}"#,
            ),
            None,
            false,
            "MASQUERADE (192.0.2.10 is not assigned on the node)",
        ),
        (
            Some("192.0.2.10"),
            None,
            None,
            true,
            "unknown: kg has not reported whether 192.0.2.10 is in force",
        ),
        (
            Some("192.0.2.0/24"),
            Some(r#"{"v4":{"reason":"invalid"},"v6":{"reason":"not-set"}}"#),
            None,
            false,
            "MASQUERADE (egress-ip is invalid for this family, see problems)",
        ),
        (
            None,
            None,
            None,
            false,
            "MASQUERADE (no egress-ip for this family)",
        ),
        (
            None,
            Some(STATUS_IN_FORCE),
            Some("192.0.2.10"),
            true,
            "SNAT --to-source 192.0.2.10; the annotation has changed since, kg has not caught up yet",
        ),
    ];
    for (annotation, reported, in_force, pending, summary) in cases {
        let mut n = a1();
        if let Some(v) = annotation {
            n = n.ann("egress-ip", v);
        }
        if let Some(v) = reported {
            n = n.ann("egress-ip-status", v);
        }
        let st = status_of(vec![n]);
        let e = &st.nodes[0].egress_v4;
        let case = format!("{annotation:?} / {reported:?}");
        assert_eq!(
            e.in_force.map(|a| a.to_string()).as_deref(),
            *in_force,
            "{case}"
        );
        assert_eq!(e.pending, *pending, "{case}");
        assert_eq!(e.summary, *summary, "{case}");
        assert_eq!(
            st.nodes[0].egress_v6.summary, "MASQUERADE (no egress-ip for this family)",
            "{case}"
        );
    }
}
