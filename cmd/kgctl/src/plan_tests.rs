//! Unit tests of `plan`.

use super::*;

fn seen(name: &str, t: i64) -> Node {
    let mut n = Node::named(name.parse().unwrap());
    n.last_seen = Some(t);
    n
}

#[test]
fn a_last_seen_in_the_future_is_reported_and_not_used_as_now() {
    let nodes = [
        seen("a", 1_700_000_000),
        seen("b", 1_700_000_030),
        seen("evil", 9_999_999_999),
    ];
    let mut problems = Vec::new();
    let now = offline_now(&nodes, 1_700_000_100, &mut problems);
    assert_eq!(now, 1_700_000_030);
    assert_eq!(problems.len(), 1);
    assert_eq!(problems[0].node, "evil");
    assert_eq!(
        problems[0].problem.to_string(),
        "annotation kilo.squat.ai/last-seen=\"9999999999\": 8299999899 s in the future of \
         this machine's clock; not used to judge the other nodes' freshness (pass --now to \
         choose)"
    );
}

#[test]
fn a_clock_a_little_behind_the_nodes_keeps_their_heartbeats() {
    let nodes = [seen("a", 1_700_000_050)];
    let mut problems = Vec::new();
    assert_eq!(
        offline_now(&nodes, 1_700_000_000, &mut problems),
        1_700_000_050
    );
    assert!(problems.is_empty());
}
