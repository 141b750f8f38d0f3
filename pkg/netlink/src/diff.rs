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
#[path = "diff_tests.rs"]
mod tests;
