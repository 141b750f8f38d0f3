//! Unit tests of `diff`.

use super::*;
use proptest::prelude::*;

#[test]
fn unchanged_entries_are_left_alone() {
    let d = diff(&[(1, 'a'), (2, 'b')], &[(2, 'b'), (1, 'a')], |t| t.0);
    assert!(d.is_empty());
}

#[test]
fn same_slot_is_replaced_others_added_and_deleted() {
    let d = diff(
        &[(1, 'a'), (2, 'b'), (3, 'c')],
        &[(1, 'a'), (2, 'x'), (4, 'd')],
        |t| t.0,
    );
    assert_eq!(d.delete, vec![(3, 'c')]);
    assert_eq!(d.replace, vec![((2, 'b'), (2, 'x'))]);
    assert_eq!(d.add, vec![(4, 'd')]);
}

#[test]
fn diff_sets_never_replaces() {
    let d = diff_sets(&[1, 2], &[2, 3]);
    assert_eq!((d.delete, d.replace, d.add), (vec![1], vec![], vec![3]));
}

fn apply(have: &[(u8, u8)], d: &Diff<(u8, u8)>) -> BTreeSet<(u8, u8)> {
    let mut set: BTreeSet<_> = have.iter().copied().collect();
    for t in &d.delete {
        set.remove(t);
    }
    for (old, new) in &d.replace {
        set.remove(old);
        set.insert(*new);
    }
    set.extend(d.add.iter().copied());
    set
}

proptest! {
    #[test]
    fn applying_the_diff_yields_want_and_touches_only_the_difference(
        have in proptest::collection::vec((0u8..6, 0u8..3), 0..10),
        want in proptest::collection::vec((0u8..6, 0u8..3), 0..10),
    ) {
        let d = diff(&have, &want, |t| t.0);
        prop_assert_eq!(apply(&have, &d), want.iter().copied().collect::<BTreeSet<_>>());
        let kept: BTreeSet<_> = have.iter().filter(|h| want.contains(h)).collect();
        for t in d.delete.iter().chain(d.replace.iter().map(|(o, _)| o)) {
            prop_assert!(!kept.contains(t));
        }
        prop_assert!(diff(&want, &want, |t| t.0).is_empty());
    }
}
