//! Unit tests of the health `metrics`: which series exist after each update.

use kilo_mesh::health::PathReport;

use super::*;

fn exposition(registry: &Registry) -> Vec<String> {
    let mut text = String::new();
    prometheus_client::encoding::text::encode(&mut text, registry).unwrap();
    let mut lines: Vec<String> = text
        .lines()
        .filter(|l| !l.starts_with('#') && !l.contains("_bucket"))
        .map(str::to_owned)
        .collect();
    lines.sort();
    lines
}

fn peer(node: &str, path: Path, reachable: Option<bool>, last_success: Option<i64>) -> PeerReport {
    PeerReport {
        node: node.parse().unwrap(),
        paths: vec![PathReport {
            path,
            address: None,
            reachable,
            rtt_seconds: None,
            last_probe: None,
            last_success,
            error: None,
        }],
    }
}

#[test]
fn only_probed_paths_have_series_and_a_forgotten_verdict_keeps_its_series_until_the_node_leaves() {
    let mut registry = Registry::default();
    let mut m = HealthMetrics::register(&mut registry);
    m.observe_rtt("n2", Path::Host, 0.002);
    m.update(&[
        peer("n2", Path::Host, Some(true), Some(100)),
        peer("n3", Path::Host, None, None),
        peer("n4", Path::Pod, Some(false), None),
    ]);
    assert_eq!(
        exposition(&registry),
        [
            r#"kilo_peer_last_success_timestamp_seconds{node="n2",path="host"} 100"#,
            r#"kilo_peer_reachable{node="n2",path="host"} 1"#,
            r#"kilo_peer_reachable{node="n4",path="pod"} 0"#,
            r#"kilo_peer_rtt_seconds_count{node="n2",path="host"} 1"#,
            r#"kilo_peer_rtt_seconds_sum{node="n2",path="host"} 0.002"#,
        ]
    );
    assert_eq!(m.known.len(), 2, "n3 was never probed: nothing tracked");
    // n4's pod path forgotten (nothing to answer on it): its gauge stays as it was; n2 left
    m.update(&[
        peer("n3", Path::Host, None, None),
        peer("n4", Path::Pod, None, None),
    ]);
    assert_eq!(
        exposition(&registry),
        [r#"kilo_peer_reachable{node="n4",path="pod"} 0"#]
    );
    m.update(&[peer("n3", Path::Host, None, None)]);
    assert_eq!(exposition(&registry), Vec::<String>::new());
    assert!(m.known.is_empty());
}
