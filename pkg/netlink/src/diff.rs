//! Reconciliation as a pure function: what to delete, replace and add so that `have` becomes
//! `want` with the fewest changes. No I/O.

use std::collections::BTreeSet;

/// The changes that turn one set into another.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Diff<T> {
    /// Entries to remove.
    pub delete: Vec<T>,
    /// Entries to replace in place: `(old, new)` share a slot (e.g. table and destination).
    pub replace: Vec<(T, T)>,
    /// Entries to create.
    pub add: Vec<T>,
}

impl<T> Diff<T> {
    /// Whether nothing needs to change.
    #[must_use]
    pub fn is_empty(&self) -> bool {
        self.delete.is_empty() && self.replace.is_empty() && self.add.is_empty()
    }
}

/// Diffs `have` against `want`. Entries in both are left alone. A missing entry that shares a
/// slot with a stale one replaces it; other stale entries are deleted and other missing ones
/// added. Duplicates are ignored; output is sorted.
pub fn diff<T, S>(have: &[T], want: &[T], slot: impl Fn(&T) -> S) -> Diff<T>
where
    T: Ord + Clone,
    S: Eq,
{
    let have: BTreeSet<&T> = have.iter().collect();
    let want: BTreeSet<&T> = want.iter().collect();
    let mut stale: Vec<&T> = have.difference(&want).copied().collect();
    let mut replace = Vec::new();
    let mut add = Vec::new();
    for missing in want.difference(&have) {
        let key = slot(missing);
        match stale.iter().position(|old| slot(old) == key) {
            Some(i) => replace.push((stale.remove(i).clone(), (*missing).clone())),
            None => add.push((*missing).clone()),
        }
    }
    Diff {
        delete: stale.into_iter().cloned().collect(),
        replace,
        add,
    }
}

/// Diffs without in-place replacement: every stale entry is deleted, every missing one added.
pub fn diff_sets<T: Ord + Clone>(have: &[T], want: &[T]) -> Diff<T> {
    let have_set: BTreeSet<&T> = have.iter().collect();
    let want_set: BTreeSet<&T> = want.iter().collect();
    Diff {
        delete: have_set
            .difference(&want_set)
            .map(|t| (*t).clone())
            .collect(),
        replace: Vec::new(),
        add: want_set
            .difference(&have_set)
            .map(|t| (*t).clone())
            .collect(),
    }
}

#[cfg(test)]
mod tests {
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
}
