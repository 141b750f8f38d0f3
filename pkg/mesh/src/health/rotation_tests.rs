use std::collections::BTreeMap;
use std::time::Duration;

use proptest::prelude::*;

use super::*;

fn targets(names: &[&str]) -> Vec<Target> {
    names
        .iter()
        .map(|n| Target {
            node: n.parse().unwrap(),
            host: None,
            pod: None,
        })
        .collect()
}

fn names(batch: &[&Target]) -> Vec<String> {
    batch.iter().map(|t| t.node.to_string()).collect()
}

#[test]
fn batches_start_after_the_prober_and_wrap() {
    let t = targets(&["a", "b", "d", "e", "f"]);
    let mut r = Rotation::new("c".parse().unwrap());
    assert_eq!(names(&r.next_batch(&t, 2)), ["d", "e"]);
    assert_eq!(names(&r.next_batch(&t, 2)), ["f", "a"]);
    assert_eq!(names(&r.next_batch(&t, 2)), ["b", "d"]);
}

#[test]
fn a_bound_above_the_target_count_probes_each_once() {
    let t = targets(&["a", "b", "d"]);
    let mut r = Rotation::new("c".parse().unwrap());
    assert_eq!(names(&r.next_batch(&t, 16)), ["d", "a", "b"]);
    assert_eq!(names(&r.next_batch(&t, 16)), ["d", "a", "b"]);
}

#[test]
fn a_zero_bound_still_probes_one() {
    let t = targets(&["a", "b"]);
    let mut r = Rotation::new("c".parse().unwrap());
    assert_eq!(names(&r.next_batch(&t, 0)), ["a"]);
    assert!(r.next_batch(&[], 3).is_empty());
}

#[test]
fn a_target_that_left_does_not_reset_the_rotation() {
    let mut r = Rotation::new("a".parse().unwrap());
    assert_eq!(
        names(&r.next_batch(&targets(&["b", "c", "d", "e"]), 2)),
        ["b", "c"]
    );
    // c (the last one probed) left and x joined: continue after c's place
    assert_eq!(
        names(&r.next_batch(&targets(&["b", "d", "e", "x"]), 2)),
        ["d", "e"]
    );
    assert_eq!(
        names(&r.next_batch(&targets(&["b", "d", "e", "x"]), 2)),
        ["x", "b"]
    );
}

#[test]
fn rounds_to_cover_every_target() {
    assert_eq!(rounds(0, 16), 0);
    assert_eq!(rounds(16, 16), 1);
    assert_eq!(rounds(17, 16), 2);
    assert_eq!(rounds(4999, 16), 313);
    assert_eq!(rounds(3, 0), 3);
}

#[test]
fn jitter_stays_within_ten_percent() {
    let i = Duration::from_secs(10);
    assert_eq!(jittered(i, 0), Duration::from_secs(9));
    assert_eq!(jittered(i, u64::MAX / 2).as_millis(), 10_000);
    assert!(jittered(i, u64::MAX) < Duration::from_secs(11));
    assert!(jittered(i, u64::MAX) > Duration::from_millis(10_999));
}

proptest! {
    /// Within `rounds` batches a prober probes every target; each batch is at most `bound`
    /// distinct targets.
    #[test]
    fn every_target_is_probed_within_its_rounds(n in 1usize..60, bound in 1usize..20, me in 0usize..60) {
        let all: Vec<String> = (0..n).map(|i| format!("n{i:03}")).collect();
        let refs: Vec<&str> = all.iter().map(String::as_str).collect();
        let t = targets(&refs);
        let mut r = Rotation::new(format!("n{me:03}x").parse().unwrap());
        let mut seen = BTreeMap::new();
        for _ in 0..rounds(n, bound) {
            let batch = names(&r.next_batch(&t, bound));
            prop_assert!(batch.len() <= bound);
            let distinct: std::collections::BTreeSet<_> = batch.iter().collect();
            prop_assert_eq!(distinct.len(), batch.len());
            for b in batch {
                *seen.entry(b).or_insert(0) += 1;
            }
        }
        prop_assert_eq!(seen.len(), n);
    }

    /// Probers that each start after themselves spread their first batches: over one batch of
    /// the whole mesh, no node is probed more than `bound` times (the cost per probed node
    /// stays flat too).
    #[test]
    fn probers_spread_over_the_targets(n in 2usize..60, bound in 1usize..20) {
        let all: Vec<String> = (0..n).map(|i| format!("n{i:03}")).collect();
        let mut probed = BTreeMap::new();
        for me in &all {
            let others: Vec<&str> = all.iter().filter(|x| *x != me).map(String::as_str).collect();
            let mut r = Rotation::new(me.parse().unwrap());
            for b in names(&r.next_batch(&targets(&others), bound)) {
                *probed.entry(b).or_insert(0usize) += 1;
            }
        }
        prop_assert!(probed.values().all(|c| *c <= bound));
    }
}
