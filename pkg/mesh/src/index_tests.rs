//! The indexes: literal cases (empty, `/0`, host routes of both families, overlapping ranges,
//! the other family, inactive ranges) and a property test against a scan over every range.

use std::net::IpAddr;

use ipnet::IpNet;
use proptest::prelude::*;

use super::{First, NetIndex, RangeTree, Summary};
use crate::topology::overlaps;

fn net(s: &str) -> IpNet {
    s.parse().unwrap()
}

fn ip(s: &str) -> IpAddr {
    s.parse().unwrap()
}

fn index(nets: &[&str]) -> NetIndex {
    NetIndex::new(nets.iter().map(|n| net(n)))
}

fn sorted_containing(ix: &NetIndex, a: &str) -> Vec<usize> {
    let mut v: Vec<usize> = ix.containing(ip(a)).collect();
    v.sort_unstable();
    v
}

#[test]
fn an_empty_index_finds_nothing() {
    let ix = index(&[]);
    assert_eq!(sorted_containing(&ix, "10.0.0.1"), Vec::<usize>::new());
    assert_eq!(ix.first_inside(&net("0.0.0.0/0")), None);
    assert_eq!(ix.first_overlapping(&net("::/0")), None);
}

#[test]
fn a_default_route_contains_and_overlaps_everything_of_its_family_only() {
    let ix = index(&["0.0.0.0/0"]);
    assert_eq!(sorted_containing(&ix, "10.0.0.1"), [0]);
    assert_eq!(sorted_containing(&ix, "255.255.255.255"), [0]);
    assert_eq!(sorted_containing(&ix, "::1"), Vec::<usize>::new());
    assert_eq!(ix.first_overlapping(&net("192.168.0.0/16")), Some(0));
    assert_eq!(ix.first_overlapping(&net("::/0")), None);
    // Its network address 0.0.0.0 lies inside 0.0.0.0/8, not inside 1.0.0.0/8.
    assert_eq!(ix.first_inside(&net("0.0.0.0/8")), Some(0));
    assert_eq!(ix.first_inside(&net("1.0.0.0/8")), None);
}

#[test]
fn host_routes_of_both_families_match_only_their_address() {
    let ix = index(&["10.0.0.1/32", "fd00::1/128"]);
    assert_eq!(sorted_containing(&ix, "10.0.0.1"), [0]);
    assert_eq!(sorted_containing(&ix, "10.0.0.2"), Vec::<usize>::new());
    assert_eq!(sorted_containing(&ix, "fd00::1"), [1]);
    assert_eq!(sorted_containing(&ix, "fd00::2"), Vec::<usize>::new());
    assert_eq!(ix.first_inside(&net("10.0.0.1/32")), Some(0));
    assert_eq!(ix.first_inside(&net("10.0.0.2/32")), None);
    assert_eq!(ix.first_inside(&net("fd00::/64")), Some(1));
    assert_eq!(ix.first_overlapping(&net("fd00::1/128")), Some(1));
    assert_eq!(ix.first_overlapping(&net("::/0")), Some(1));
    assert_eq!(ix.first_overlapping(&net("0.0.0.0/0")), Some(0));
}

#[test]
fn overlapping_ranges_answer_with_the_first_given() {
    // Given out of address order: the answers follow the order given, not the addresses.
    let ix = index(&["10.0.1.0/24", "10.0.0.0/16", "10.0.0.0/24", "10.0.0.0/8"]);
    assert_eq!(sorted_containing(&ix, "10.0.0.7"), [1, 2, 3]);
    assert_eq!(sorted_containing(&ix, "10.0.1.7"), [0, 1, 3]);
    assert_eq!(sorted_containing(&ix, "10.9.0.1"), [3]);
    assert_eq!(ix.first_inside(&net("10.0.0.0/16")), Some(0));
    assert_eq!(ix.first_inside(&net("10.0.0.0/24")), Some(1));
    assert_eq!(ix.first_overlapping(&net("10.0.0.128/25")), Some(1));
    assert_eq!(ix.first_overlapping(&net("10.2.0.0/16")), Some(3));
    assert_eq!(ix.first_overlapping(&net("11.0.0.0/8")), None);
}

#[test]
fn a_range_with_host_bits_is_matched_by_its_network() {
    let ix = index(&["10.0.0.5/24"]);
    assert_eq!(sorted_containing(&ix, "10.0.0.200"), [0]);
    assert_eq!(ix.first_inside(&net("10.0.0.0/30")), Some(0));
    assert_eq!(ix.net(0), net("10.0.0.5/24"));
}

#[test]
fn the_other_family_never_matches() {
    let ix = index(&["::ffff:10.0.0.0/120", "10.0.0.0/8"]);
    assert_eq!(sorted_containing(&ix, "10.0.0.1"), [1]);
    assert_eq!(sorted_containing(&ix, "::ffff:10.0.0.1"), [0]);
    assert_eq!(ix.first_overlapping(&net("10.0.0.0/24")), Some(1));
    assert_eq!(ix.first_overlapping(&net("::/0")), Some(0));
}

#[test]
fn only_active_ranges_answer() {
    let mut ix = NetIndex::inactive([net("10.0.0.0/8"), net("10.0.0.0/24"), net("10.1.0.0/16")]);
    assert_eq!(ix.first_overlapping(&net("10.0.0.0/24")), None);
    ix.activate(2);
    assert_eq!(ix.first_overlapping(&net("10.0.0.0/24")), None);
    assert_eq!(ix.first_overlapping(&net("10.0.0.0/8")), Some(2));
    ix.activate(1);
    assert_eq!(ix.first_overlapping(&net("10.0.0.0/8")), Some(1));
    assert_eq!(sorted_containing(&ix, "10.0.0.1"), [1]);
    ix.activate(7);
    assert_eq!(sorted_containing(&ix, "10.1.2.3"), [2]);
}

#[test]
fn a_range_tree_clamps_its_queries() {
    let mut t = RangeTree::new(vec![First(5), First(2), First(9)]);
    assert_eq!(t.query(0..3), First(2));
    assert_eq!(t.query(2..10), First(9));
    assert_eq!(t.query(3..3), First::EMPTY);
    t.add(2, First(1));
    t.add(5, First(0));
    assert_eq!(t.query(0..3), First(1));
    assert_eq!(
        RangeTree::<First>::new(Vec::new()).query(0..1),
        First::EMPTY
    );
}

/// Ranges of both families over a small space, so they overlap often.
fn any_net() -> impl Strategy<Value = IpNet> {
    prop_oneof![
        (0_u32..64, 24_u8..=32).prop_map(|(a, p)| {
            IpNet::new(IpAddr::from((0x0a00_0000 | (a << 3)).to_be_bytes()), p).unwrap()
        }),
        (0_u32..4, 0_u8..24).prop_map(|(a, p)| {
            IpNet::new(IpAddr::from((0x0a00_0000 | (a << 8)).to_be_bytes()), p).unwrap()
        }),
        (0_u128..64, 120_u8..=128).prop_map(|(a, p)| {
            IpNet::new(
                IpAddr::from((0xfd00_u128 << 112 | (a << 2)).to_be_bytes()),
                p,
            )
            .unwrap()
        }),
        (0_u8..8).prop_map(|p| IpNet::new(IpAddr::from([0xfd, 0, 0, 0, 0, 0, 0, 0]), p).unwrap()),
    ]
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(1024))]

    #[test]
    fn the_index_answers_as_a_scan_does(
        nets in prop::collection::vec(any_net(), 0..24),
        active in prop::collection::vec(any::<bool>(), 24),
        queries in prop::collection::vec(any_net(), 1..12),
    ) {
        let mut ix = NetIndex::inactive(nets.iter().copied());
        for (i, on) in active.iter().enumerate().take(nets.len()) {
            if *on {
                ix.activate(i);
            }
        }
        let live: Vec<(usize, IpNet)> = nets.iter().copied().enumerate()
            .filter(|(i, _)| active[*i])
            .collect();
        for q in &queries {
            let a = q.network();
            let mut want: Vec<usize> = live.iter().filter(|(_, n)| n.contains(&a)).map(|(i, _)| *i).collect();
            let mut got: Vec<usize> = ix.containing(a).collect();
            got.sort_unstable();
            want.sort_unstable();
            prop_assert_eq!(got, want);
            let inside = live.iter().find(|(_, n)| q.contains(&n.network())).map(|(i, _)| *i);
            prop_assert_eq!(ix.first_inside(q), inside);
            let overlapping = live.iter().find(|(_, n)| overlaps(n, q)).map(|(i, _)| *i);
            prop_assert_eq!(ix.first_overlapping(q), overlapping);
        }
    }
}
