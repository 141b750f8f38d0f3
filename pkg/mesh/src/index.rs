//! Indexes over addresses and ranges that answer "which of these, first in the order they were
//! given, contains this address, lies inside this range or overlaps it" without comparing every
//! pair: what keeps the guard and the Peer checks near-linear at thousands of nodes. Pure.
//!
//! Both families live in one index (they never match each other). A [`NetIndex`] answers
//! "contains" with one binary search per prefix length present and "inside" with a binary
//! search plus a [`RangeTree`] over the ranges' network addresses; its ranges may overlap each
//! other. An [`AddressTable`] finds the values of one address.

use std::net::IpAddr;
use std::ops::Range;

use ipnet::IpNet;

/// An address as one ordered key: the family (IPv4 first), then the address as an integer.
pub(crate) type Key = (bool, u128);

/// The ordered key of an address.
pub(crate) fn key(ip: IpAddr) -> Key {
    match ip {
        IpAddr::V4(a) => (false, u128::from(u32::from(a))),
        IpAddr::V6(a) => (true, u128::from(a)),
    }
}

/// The positions in `sorted` (keys in ascending order) of the addresses inside `net`.
pub(crate) fn span(sorted: &[Key], net: &IpNet) -> Range<usize> {
    let (lo, hi) = (key(net.network()), key(net.broadcast()));
    sorted.partition_point(|k| *k < lo)..sorted.partition_point(|k| *k <= hi)
}

/// What a [`RangeTree`] keeps for a run of positions. `merge` must be associative and
/// commutative, with `EMPTY` as its identity.
pub(crate) trait Summary: Copy {
    /// The summary of no position.
    const EMPTY: Self;
    /// The summary of two runs together.
    #[must_use]
    fn merge(self, other: Self) -> Self;
}

/// The smallest order among the positions of a run (`usize::MAX`: none).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) struct First(pub(crate) usize);

impl Summary for First {
    const EMPTY: Self = Self(usize::MAX);
    fn merge(self, other: Self) -> Self {
        Self(self.0.min(other.0))
    }
}

impl First {
    /// The order, if any position of the run had one.
    pub(crate) fn get(self) -> Option<usize> {
        (self.0 != usize::MAX).then_some(self.0)
    }
}

/// A segment tree over positions `0..n`: the summary of any run of positions in O(log n), and
/// a position's summary merged with a new one in O(log n).
pub(crate) struct RangeTree<S> {
    n: usize,
    tree: Vec<S>,
}

impl<S: Summary> RangeTree<S> {
    /// A tree over `leaves`, position by position (built in O(n)).
    pub(crate) fn new(leaves: Vec<S>) -> Self {
        let n = leaves.len();
        let mut tree = vec![S::EMPTY; n];
        tree.extend(leaves);
        for i in (1..n).rev() {
            tree[i] = tree[2 * i].merge(tree[2 * i + 1]);
        }
        Self { n, tree }
    }

    /// Merges `s` into the summary at `pos` (ignored past the end).
    pub(crate) fn add(&mut self, pos: usize, s: S) {
        let mut i = pos + self.n;
        let Some(leaf) = self.tree.get_mut(i) else {
            return;
        };
        *leaf = leaf.merge(s);
        while i > 1 {
            i /= 2;
            self.tree[i] = self.tree[2 * i].merge(self.tree[2 * i + 1]);
        }
    }

    /// The summary of the positions in `range` (clamped to the tree).
    pub(crate) fn query(&self, range: Range<usize>) -> S {
        let (mut l, mut r) = (
            range.start.min(self.n) + self.n,
            range.end.min(self.n) + self.n,
        );
        let mut acc = S::EMPTY;
        while l < r {
            if l & 1 == 1 {
                acc = acc.merge(self.tree[l]);
                l += 1;
            }
            if r & 1 == 1 {
                r -= 1;
                acc = acc.merge(self.tree[r]);
            }
            l /= 2;
            r /= 2;
        }
        acc
    }
}

/// Addresses with a value each (a node's position, say), sorted for lookup by address.
pub(crate) struct AddressTable<T>(Vec<(Key, T)>);

impl<T: Copy + Ord> AddressTable<T> {
    /// The table of `entries`.
    pub(crate) fn new(entries: impl IntoIterator<Item = (IpAddr, T)>) -> Self {
        let mut v: Vec<(Key, T)> = entries.into_iter().map(|(a, t)| (key(a), t)).collect();
        v.sort_unstable();
        Self(v)
    }

    /// The values of `ip`, smallest first.
    pub(crate) fn get(&self, ip: IpAddr) -> impl Iterator<Item = T> + '_ {
        let k = key(ip);
        let lo = self.0.partition_point(|(e, _)| *e < k);
        self.0[lo..]
            .iter()
            .take_while(move |(e, _)| *e == k)
            .map(|(_, t)| *t)
    }
}

/// Ranges numbered `0..n` in the order they were given, each active or not, answering which
/// active range, first in that order, contains an address, lies inside a range or overlaps it.
pub(crate) struct NetIndex {
    /// The ranges by order.
    nets: Vec<IpNet>,
    /// Which are active, by order.
    active: Vec<bool>,
    /// Every range as (prefix length, network address, order), sorted: the ranges containing an
    /// address are, for each prefix length, those equal to the address truncated to it.
    exact: Vec<(u8, Key, usize)>,
    /// The prefix lengths of the ranges, IPv4 then IPv6, each sorted and without repeats.
    lengths: [Vec<u8>; 2],
    /// Every range's network address, sorted.
    keys: Vec<Key>,
    /// Each range's position in `keys`, by order.
    position: Vec<usize>,
    /// The first active order at each position of `keys`.
    first: RangeTree<First>,
}

impl NetIndex {
    /// An index over `nets` with every range active.
    pub(crate) fn new(nets: impl IntoIterator<Item = IpNet>) -> Self {
        let mut index = Self::inactive(nets);
        let mut leaves = vec![First::EMPTY; index.nets.len()];
        for (order, pos) in index.position.iter().enumerate() {
            leaves[*pos] = First(order);
        }
        index.first = RangeTree::new(leaves);
        index.active.fill(true);
        index
    }

    /// An index over `nets` with no range active yet (see [`Self::activate`]).
    pub(crate) fn inactive(nets: impl IntoIterator<Item = IpNet>) -> Self {
        let nets: Vec<IpNet> = nets.into_iter().collect();
        let mut sorted: Vec<(Key, usize)> = nets
            .iter()
            .enumerate()
            .map(|(order, n)| (key(n.network()), order))
            .collect();
        sorted.sort_unstable();
        let mut position = vec![0; nets.len()];
        for (pos, (_, order)) in sorted.iter().enumerate() {
            position[*order] = pos;
        }
        let mut exact: Vec<(u8, Key, usize)> = nets
            .iter()
            .enumerate()
            .map(|(order, n)| (n.prefix_len(), key(n.network()), order))
            .collect();
        exact.sort_unstable();
        let mut lengths = [Vec::new(), Vec::new()];
        for n in &nets {
            lengths[usize::from(matches!(n, IpNet::V6(_)))].push(n.prefix_len());
        }
        for l in &mut lengths {
            l.sort_unstable();
            l.dedup();
        }
        Self {
            first: RangeTree::new(vec![First::EMPTY; nets.len()]),
            active: vec![false; nets.len()],
            keys: sorted.into_iter().map(|(k, _)| k).collect(),
            position,
            exact,
            lengths,
            nets,
        }
    }

    /// Makes range `order` take part in the answers (ignored past the end).
    pub(crate) fn activate(&mut self, order: usize) {
        let Some(pos) = self.position.get(order).copied() else {
            return;
        };
        self.first.add(pos, First(order));
        self.active[order] = true;
    }

    /// Range `order` as given.
    pub(crate) fn net(&self, order: usize) -> IpNet {
        self.nets[order]
    }

    /// The orders of the active ranges that contain `ip`, smallest first for each prefix
    /// length.
    pub(crate) fn containing(&self, ip: IpAddr) -> impl Iterator<Item = usize> + '_ {
        self.lengths[usize::from(ip.is_ipv6())]
            .iter()
            .filter_map(move |len| Some((*len, key(IpNet::new(ip, *len).ok()?.network()))))
            .flat_map(|(len, k)| {
                let lo = self.exact.partition_point(|(l, e, _)| (*l, *e) < (len, k));
                self.exact[lo..]
                    .iter()
                    .take_while(move |(l, e, _)| (*l, *e) == (len, k))
                    .map(|(_, _, order)| *order)
            })
            .filter(|order| self.active[*order])
    }

    /// The first active range whose network address lies inside `net`.
    pub(crate) fn first_inside(&self, net: &IpNet) -> Option<usize> {
        self.first.query(span(&self.keys, net)).get()
    }

    /// The first active range that overlaps `net` (one contains the other's network address, as
    /// [`crate::topology::overlaps`]).
    pub(crate) fn first_overlapping(&self, net: &IpNet) -> Option<usize> {
        let containing = self.containing(net.network()).min();
        containing.into_iter().chain(self.first_inside(net)).min()
    }
}

#[cfg(test)]
#[path = "index_tests.rs"]
mod tests;
