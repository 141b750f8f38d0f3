use kilo_mesh::health::verdict::{MeshHealth, NodeHealth, Reach};
use kilo_mesh::views::check::{Finding, Severity};

use super::health_text;

fn node(name: &str, reach: Reach, failing: &[&str], rtt: Option<f64>) -> NodeHealth {
    NodeHealth {
        name: name.parse().unwrap(),
        reach,
        probed_by: 2,
        failing: failing.iter().map(|s| (*s).to_owned()).collect(),
        host_rtt_seconds: rtt,
        pod_rtt_seconds: rtt.map(|r| r * 2.0),
    }
}

fn mesh() -> MeshHealth {
    MeshHealth {
        total: 3,
        reachable: 1,
        nodes: vec![
            node(
                "n1",
                Reach::Unreachable,
                &["n3 host", "n3 pod"],
                Some(0.000_42),
            ),
            node("n2", Reach::Reachable, &[], Some(0.001)),
            node("n3", Reach::Unknown, &[], None),
        ],
        findings: vec![Finding {
            severity: Severity::Error,
            subject: "node/n1,node/n3".to_owned(),
            message: "host path broken one way: n3 → n1 (192.168.77.11): no reply; n1 → n3 works"
                .to_owned(),
        }],
    }
}

#[test]
fn the_summary_line_and_the_broken_paths() {
    assert_eq!(
        health_text(&mesh(), false),
        "\nMesh health: 1/3 reachable\n\
         node/n1,node/n3: host path broken one way: n3 → n1 (192.168.77.11): no reply; n1 → n3 works\n"
    );
}

#[test]
fn wide_adds_a_row_per_node_with_round_trips() {
    assert_eq!(
        health_text(&mesh(), true),
        "\nMesh health: 1/3 reachable\n\
         NODE  HEALTH       PROBED-BY  HOST-RTT  POD-RTT  FAILING\n\
         n1    unreachable  2          0.42ms    0.84ms   from n3 host, n3 pod\n\
         n2    reachable    2          1.00ms    2.00ms   -\n\
         n3    unknown      2          -         -        -\n\
         node/n1,node/n3: host path broken one way: n3 → n1 (192.168.77.11): no reply; n1 → n3 works\n"
    );
}
