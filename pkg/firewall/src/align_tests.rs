//! Unit tests of `align`.

use super::align;
use proptest::prelude::*;

/// The list left after deleting non-kept rules by spec (first occurrence) in order.
fn after_deletes(current: &[&str], keep: &[Option<usize>]) -> Vec<String> {
    let mut sim: Vec<&str> = current.to_vec();
    for (i, k) in keep.iter().enumerate() {
        if k.is_none()
            && let Some(pos) = sim.iter().position(|r| *r == current[i])
        {
            sim.remove(pos);
        }
    }
    sim.iter().map(|s| (*s).to_owned()).collect()
}

#[test]
fn snat_change_keeps_everything_else() {
    let cur = ["ret", "snat a", "masq"];
    let plan = ["ret", "snat b", "masq"];
    assert_eq!(align(&cur, &plan), vec![Some(0), None, Some(2)]);
}

#[test]
fn late_duplicate_drops_every_copy() {
    let cur = ["x", "y", "x"];
    let plan = ["x", "y"];
    assert_eq!(align(&cur, &plan), vec![None, Some(1), None]);
}

proptest! {
    #[test]
    fn kept_rules_are_a_common_subsequence_in_order(
        cur in proptest::collection::vec("[a-d]", 0..12),
        plan in proptest::collection::vec("[a-d]", 0..12),
    ) {
        let c: Vec<&str> = cur.iter().map(String::as_str).collect();
        let p: Vec<&str> = plan.iter().map(String::as_str).collect();
        let keep = align(&c, &p);
        let kept: Vec<usize> = keep.iter().flatten().copied().collect();
        prop_assert!(kept.windows(2).all(|w| w[0] < w[1]));
        for (i, k) in keep.iter().enumerate() {
            if let Some(j) = k { prop_assert_eq!(c[i], p[*j]); }
        }
        let expected: Vec<String> = kept.iter().map(|j| p[*j].to_owned()).collect();
        prop_assert_eq!(after_deletes(&c, &keep), expected);
    }
}
