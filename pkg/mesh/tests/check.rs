//! `kgctl check` core: every kind of finding on a small cluster, with literal expected text.

#[cfg(test)]
#[allow(
    dead_code,
    reason = "shared by several test binaries; each uses a subset"
)]
mod common;

use common::{N, NOW, kilo_example, snap};
use kilo_mesh::types::Granularity;
use kilo_mesh::views::check::{Finding, Severity, check};

#[cfg(test)]
fn findings(nodes: &[N]) -> Vec<(Severity, String, String)> {
    let s = snap(&nodes.iter().collect::<Vec<_>>(), vec![]);
    check(&s, Granularity::Location, "10.4.0.0/16".parse().unwrap())
        .into_iter()
        .map(
            |Finding {
                 severity,
                 subject,
                 message,
             }| (severity, subject, message),
        )
        .collect()
}

#[test]
fn a_healthy_cluster_has_no_findings() {
    assert_eq!(findings(&kilo_example()), []);
}

#[test]
fn shared_keys_endpoints_overlaps_and_mismatched_settings_are_errors() {
    let mut nodes = kilo_example();
    // node-a and a second "…-a" share a key (keys come from the last letter of the name)
    nodes.push(N::new(
        "extra-a",
        "aws",
        "203.0.113.1:51820",
        "172.31.0.9/24",
        &["10.42.0.128/25"],
    ));
    nodes[2] = nodes[2].clone().ann("granularity", "full");
    nodes[1] = nodes[1].clone().ann("wireguard-ip", "10.4.9.9/16");
    let got = findings(&nodes);
    let reversed: Vec<N> = nodes.iter().rev().cloned().collect();
    assert_eq!(findings(&reversed), got, "independent of input order");
    let want = [
        (
            Severity::Error,
            "node/extra-a,node/node-a",
            "pod CIDRs 10.42.0.0/24 and 10.42.0.128/25 overlap: pods of one node are routed to the other",
        ),
        (
            Severity::Error,
            "node/extra-a,node/node-a",
            "these nodes publish one WireGuard key (the same one): WireGuard cannot tell them apart",
        ),
        (
            Severity::Error,
            "node/extra-a,node/node-a",
            "these nodes publish one endpoint (203.0.113.1:51820): WireGuard cannot tell them apart",
        ),
        (
            Severity::Error,
            "node/node-c",
            "kg runs with --mesh-granularity full but the mesh is location: its WireGuard peers do not match the other nodes'",
        ),
    ];
    let errors: Vec<_> = got.iter().filter(|f| f.0 == Severity::Error).collect();
    assert_eq!(
        errors,
        want.iter()
            .map(|(s, a, b)| (*s, (*a).to_owned(), (*b).to_owned()))
            .collect::<Vec<_>>()
            .iter()
            .collect::<Vec<_>>()
    );
}

#[test]
fn stale_nodes_claims_and_pending_egress_are_warnings() {
    let mut nodes = kilo_example();
    nodes[1] = nodes[1].clone().ann("last-seen", &(NOW - 120).to_string());
    // a claim outside --subnet cannot be honoured
    nodes[2] = nodes[2].clone().ann("wireguard-ip", "10.9.9.9/16").ann(
        "egress-ip-status",
        r#"{"v4":{"reason":"not-set"},"v6":{"reason":"not-set"}}"#,
    );
    nodes[2] = nodes[2].clone().ann("egress-ip", "198.51.100.3");
    assert_eq!(
        findings(&nodes),
        [
            (
                Severity::Warning,
                "node/node-b".to_owned(),
                "not in the mesh: last-seen 120 s ago (kg stopped? the limit is 60 s)".to_owned()
            ),
            (
                Severity::Warning,
                "node/node-c".to_owned(),
                "IPv4 egress: MASQUERADE (no egress-ip for this family); the annotation has changed since, kg has not caught up yet".to_owned()
            ),
            (
                Severity::Warning,
                "node/node-c".to_owned(),
                "publishes wireguard-ip 10.9.9.9/16 but the mesh computes 10.4.25.174/16 (kg not caught up, or running with another --subnet)".to_owned()
            ),
        ]
    );
}

// Issue #12: a contested wireguard-ip is a finding on the node that lost it (the first publisher,
// node-c's aws since 1699990000, keeps it), and the loser's published address differs from the
// one the mesh computes.
#[test]
fn a_contested_wireguard_ip_is_a_finding() {
    let mut nodes = kilo_example();
    nodes[2] = nodes[2].clone().claims("10.4.0.7/16", "1699990000");
    nodes[0] = nodes[0].clone().claims("10.4.0.7/16", "1699999999");
    assert_eq!(
        findings(&nodes),
        [
            (
                Severity::Warning,
                "node/node-a".to_owned(),
                "kilo.squat.ai/wireguard-ip 10.4.0.7 is held by segment location:aws, which claimed it first; segment location:gcp gets another address".to_owned()
            ),
            (
                Severity::Warning,
                "node/node-a".to_owned(),
                "publishes wireguard-ip 10.4.0.7/16 but the mesh computes 10.4.11.93/16 (kg not caught up, or running with another --subnet)".to_owned()
            ),
        ]
    );
}
