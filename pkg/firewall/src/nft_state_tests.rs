//! Unit and property tests of the nftables delta: parsing `nft -j` output, literal transactions,
//! and diff∘apply reaching the plan (applied to a model of the table).

use std::collections::BTreeSet;

use ipnet::IpNet;
use kilo_mesh::plan::firewall::Family;
use kilo_mesh::plan::firewall::nftables::{BaseChain, NftChain, NftRule, NftSet, NftTable};
use proptest::prelude::*;

use super::{ChainState, NftOp, SetState, TableState, parse_list, render, table_ops};

const LISTED: &str = r#"{"nftables": [{"metainfo": {"version": "1.0.6", "json_schema_version": 1}},
{"table": {"family": "ip", "name": "kilo", "handle": 1}},
{"set": {"family": "ip", "name": "mesh", "table": "kilo", "type": "ipv4_addr", "handle": 1, "flags": ["interval"], "elem": ["10.4.0.1", {"prefix": {"addr": "10.42.0.0", "len": 24}}]}},
{"set": {"family": "ip", "name": "nat-src", "table": "kilo", "type": "ipv4_addr", "handle": 2, "flags": ["interval"]}},
{"chain": {"family": "ip", "table": "kilo", "name": "postrouting", "handle": 3, "type": "nat", "hook": "postrouting", "prio": 100, "policy": "accept"}},
{"chain": {"family": "ip", "table": "kilo", "name": "nat", "handle": 4}},
{"rule": {"family": "ip", "table": "kilo", "chain": "nat", "handle": 6, "comment": "A", "expr": []}},
{"rule": {"family": "ip", "table": "kilo", "chain": "nat", "handle": 8, "comment": "C", "expr": []}},
{"rule": {"family": "ip", "table": "kilo", "chain": "nat", "handle": 9, "expr": []}}]}"#;

fn net(s: &str) -> IpNet {
    s.parse().unwrap()
}

fn rule(c: &str) -> NftRule {
    NftRule {
        comment: c.to_owned(),
        body: format!("counter comment-{c}"),
    }
}

fn table(mesh: &[&str], nat: &[&str]) -> NftTable {
    NftTable {
        family: Family::V4,
        sets: vec![
            NftSet {
                name: "nat-src",
                entries: Vec::new(),
            },
            NftSet {
                name: "mesh",
                entries: mesh.iter().map(|s| net(s)).collect(),
            },
        ],
        chains: vec![
            NftChain {
                name: "postrouting",
                base: Some(BaseChain {
                    kind: "nat",
                    hook: "postrouting",
                    priority: 100,
                }),
                rules: Vec::new(),
            },
            NftChain {
                name: "nat",
                base: None,
                rules: nat.iter().map(|c| rule(c)).collect(),
            },
        ],
    }
}

#[test]
fn parses_sets_chains_and_rules_with_handles() {
    let t = parse_list(LISTED).unwrap();
    assert_eq!(
        t.sets["mesh"],
        SetState {
            kind: ("ipv4_addr".to_owned(), true),
            entries: Some(BTreeSet::from([net("10.4.0.1/32"), net("10.42.0.0/24")])),
        }
    );
    assert_eq!(t.sets["nat-src"].entries, Some(BTreeSet::new()));
    assert_eq!(
        t.chains["postrouting"].base,
        Some(("nat".to_owned(), "postrouting".to_owned(), 100))
    );
    assert_eq!(
        t.chains["nat"].rules,
        [
            (6, Some("A".to_owned())),
            (8, Some("C".to_owned())),
            (9, None)
        ]
    );
    assert!(parse_list("not json").is_err());
}

#[test]
fn a_delta_is_written_literally_and_only_the_middle_of_a_chain_changes() {
    let current = parse_list(LISTED).unwrap();
    let ops = table_ops(
        Some(&current),
        &table(&["10.4.0.1/32", "10.42.1.0/24"], &["A", "B", "C"]),
        false,
    );
    assert_eq!(
        render(Family::V4, &ops),
        "delete element ip kilo mesh { 10.42.0.0/24 }\n\
         add element ip kilo mesh { 10.42.1.0/24 }\n\
         delete rule ip kilo nat handle 9\n\
         insert rule ip kilo nat position 8 counter comment-B comment \"B\"\n"
    );
}

#[test]
fn an_insertion_goes_before_the_first_kept_rule_after_it() {
    let mut current = parse_list(LISTED).unwrap();
    current.chains.get_mut("nat").unwrap().rules.pop();
    let ops = table_ops(
        Some(&current),
        &table(&["10.4.0.1/32", "10.42.0.0/24"], &["A", "B", "C"]),
        false,
    );
    assert_eq!(ops, [NftOp::InsertRule("nat", 8, rule("B"))]);
}

#[test]
fn a_changed_hook_rebuilds_the_table_in_the_same_transaction() {
    let mut current = parse_list(LISTED).unwrap();
    current.chains.get_mut("postrouting").unwrap().base =
        Some(("filter".to_owned(), "postrouting".to_owned(), 0));
    let ops = table_ops(Some(&current), &table(&[], &["A"]), false);
    assert_eq!(ops[..2], [NftOp::DeleteTable, NftOp::NewTable]);
    assert!(ops.contains(&NftOp::AppendRule("nat", rule("A"))));
}

/// Applies a transaction to a model of the table, as nft would (handles from a counter).
fn apply(mut t: TableState, ops: &[NftOp], next_handle: &mut u64) -> TableState {
    for op in ops {
        let mut handle = || {
            *next_handle += 1;
            *next_handle
        };
        match op {
            NftOp::NewTable => {}
            NftOp::DeleteTable => t = TableState::default(),
            NftOp::NewSet(s) => {
                t.sets.insert(
                    (*s).to_owned(),
                    SetState {
                        kind: ("ipv4_addr".to_owned(), true),
                        entries: Some(BTreeSet::new()),
                    },
                );
            }
            NftOp::DeleteSet(s) => {
                t.sets.remove(s);
            }
            NftOp::FlushSet(s) => t.sets.get_mut(*s).unwrap().entries = Some(BTreeSet::new()),
            NftOp::AddElements(s, e) => {
                let set = t.sets.get_mut(*s).unwrap().entries.as_mut().unwrap();
                for n in e {
                    assert!(set.insert(*n), "adding {n} twice");
                }
            }
            NftOp::DeleteElements(s, e) => {
                let set = t.sets.get_mut(*s).unwrap().entries.as_mut().unwrap();
                for n in e {
                    assert!(set.remove(n), "deleting missing {n}");
                }
            }
            NftOp::NewChain(c) => {
                t.chains.insert(
                    c.name.to_owned(),
                    ChainState {
                        base: c
                            .base
                            .map(|b| (b.kind.to_owned(), b.hook.to_owned(), i64::from(b.priority))),
                        rules: Vec::new(),
                    },
                );
            }
            NftOp::DeleteChain(c) => {
                t.chains.remove(c);
            }
            NftOp::AppendRule(c, r) => {
                let h = handle();
                t.chains
                    .get_mut(*c)
                    .unwrap()
                    .rules
                    .push((h, Some(r.comment.clone())));
            }
            NftOp::InsertRule(c, before, r) => {
                let h = handle();
                let rules = &mut t.chains.get_mut(*c).unwrap().rules;
                let at = rules
                    .iter()
                    .position(|x| x.0 == *before)
                    .expect("position handle exists");
                rules.insert(at, (h, Some(r.comment.clone())));
            }
            NftOp::DeleteRule(c, h) => {
                let rules = &mut t.chains.get_mut(*c).unwrap().rules;
                let at = rules
                    .iter()
                    .position(|x| x.0 == *h)
                    .expect("deleted handle exists");
                rules.remove(at);
            }
        }
    }
    t
}

fn comments(t: &TableState, chain: &str) -> Vec<String> {
    t.chains[chain]
        .rules
        .iter()
        .filter_map(|r| r.1.clone())
        .collect()
}

proptest! {
    #[test]
    fn diff_then_apply_reaches_the_plan_and_then_writes_nothing(
        first in proptest::sample::subsequence(vec!["A", "B", "C", "D", "E"], 0..=5),
        second in proptest::sample::subsequence(vec!["A", "B", "C", "D", "E"], 0..=5),
        m1 in proptest::sample::subsequence(vec!["10.0.0.0/24", "10.0.1.0/24", "10.1.0.1/32", "10.2.0.0/16"], 0..=4),
        m2 in proptest::sample::subsequence(vec!["10.0.0.0/24", "10.0.1.0/24", "10.1.0.1/32", "10.2.0.0/16"], 0..=4),
        resync in any::<bool>(),
    ) {
        let mut handles = 0;
        let a = table(&m1, &first);
        let t = apply(TableState::default(), &table_ops(None, &a, false), &mut handles);
        let b = table(&m2, &second);
        let ops = table_ops(Some(&t), &b, resync);
        let t = apply(t, &ops, &mut handles);
        prop_assert_eq!(comments(&t, "nat"), second.iter().map(|s| (*s).to_owned()).collect::<Vec<_>>());
        let want: BTreeSet<IpNet> = m2.iter().map(|s| net(s)).collect();
        prop_assert_eq!(t.sets["mesh"].entries.clone(), Some(want));
        prop_assert_eq!(table_ops(Some(&t), &b, false), Vec::<NftOp>::new());
    }
}
