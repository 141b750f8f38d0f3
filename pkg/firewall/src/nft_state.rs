//! kg's nftables table as read back (`nft -j list table`), and the delta that turns it into a
//! planned [`NftTable`] as one `nft -f` transaction. Pure.
//!
//! Rules are identified by their comment within a chain (a longest common subsequence is kept);
//! sets by name, their members compared as prefixes. A set or base chain of the wrong type or hook means the table was changed by
//! hand: it is rebuilt in the same transaction (delete table, create everything).

use std::collections::{BTreeMap, BTreeSet};
use std::fmt::Write as _;

use ipnet::IpNet;
use kilo_mesh::plan::firewall::Family;
use kilo_mesh::plan::firewall::nftables::{
    NftChain, NftRule, NftTable, TABLE, chain_declaration, elements, set_declaration,
};
use serde_json::Value;

use crate::error::FirewallError;
use crate::metrics::{Backend, OpCounts, Operation};

/// One set of kg's table as found.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct SetState {
    /// `ipv4_addr` / `ipv6_addr`, and whether it has the `interval` flag.
    pub kind: (String, bool),
    /// Members; `None` when one could not be read as a prefix (a range): resynced.
    pub entries: Option<BTreeSet<IpNet>>,
}

/// One chain of kg's table as found.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct ChainState {
    /// `(type, hook, priority)` of a base chain.
    pub base: Option<(String, String, i64)>,
    /// `(handle, comment)` of each rule, in order.
    pub rules: Vec<(u64, Option<String>)>,
}

/// kg's table as found.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct TableState {
    /// Sets by name.
    pub sets: BTreeMap<String, SetState>,
    /// Chains by name.
    pub chains: BTreeMap<String, ChainState>,
}

fn bad(line: impl Into<String>) -> FirewallError {
    FirewallError::Parse {
        what: "nft -j list table".to_owned(),
        line: line.into(),
    }
}

fn element(v: &Value) -> Option<IpNet> {
    match v {
        Value::String(s) => s.parse::<std::net::IpAddr>().ok().map(IpNet::from),
        Value::Object(o) => {
            let p = o.get("prefix")?;
            let addr: std::net::IpAddr = p.get("addr")?.as_str()?.parse().ok()?;
            let len = u8::try_from(p.get("len")?.as_u64()?).ok()?;
            IpNet::new(addr, len).ok()
        }
        _ => None,
    }
}

fn parse_set(o: &Value) -> SetState {
    let kind = o.get("type").and_then(Value::as_str).unwrap_or_default();
    let interval = o
        .get("flags")
        .and_then(Value::as_array)
        .is_some_and(|f| f.iter().any(|x| x == "interval"));
    let entries = match o.get("elem").and_then(Value::as_array) {
        None => Some(BTreeSet::new()),
        Some(elems) => elems.iter().map(element).collect(),
    };
    SetState {
        kind: (kind.to_owned(), interval),
        entries,
    }
}

/// Parses `nft -j list table <family> kilo`.
///
/// # Errors
/// The output is not the JSON nft prints.
pub fn parse_list(json: &str) -> Result<TableState, FirewallError> {
    let doc: Value = serde_json::from_str(json).map_err(|e| bad(e.to_string()))?;
    let items = doc
        .get("nftables")
        .and_then(Value::as_array)
        .ok_or_else(|| bad("no nftables array"))?;
    let mut t = TableState::default();
    for item in items {
        let name = |o: &Value| o.get("name").and_then(Value::as_str).map(str::to_owned);
        if let Some(o) = item.get("set") {
            let n = name(o).ok_or_else(|| bad(o.to_string()))?;
            t.sets.insert(n, parse_set(o));
        } else if let Some(o) = item.get("chain") {
            let n = name(o).ok_or_else(|| bad(o.to_string()))?;
            let base = o.get("hook").map(|h| {
                let s = |k: &str| o.get(k).and_then(Value::as_str).unwrap_or_default();
                let prio = o.get("prio").and_then(Value::as_i64).unwrap_or_default();
                (
                    s("type").to_owned(),
                    h.as_str().unwrap_or_default().to_owned(),
                    prio,
                )
            });
            t.chains.entry(n).or_default().base = base;
        } else if let Some(o) = item.get("rule") {
            let chain = o
                .get("chain")
                .and_then(Value::as_str)
                .ok_or_else(|| bad(o.to_string()))?;
            let handle = o
                .get("handle")
                .and_then(Value::as_u64)
                .ok_or_else(|| bad(o.to_string()))?;
            let comment = o.get("comment").and_then(Value::as_str).map(str::to_owned);
            t.chains
                .entry(chain.to_owned())
                .or_default()
                .rules
                .push((handle, comment));
        }
    }
    Ok(t)
}

/// One command of the transaction.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum NftOp {
    /// `add table`.
    NewTable,
    /// `delete table` (clean-up, or a rebuild after a change by hand).
    DeleteTable,
    /// `add set`.
    NewSet(&'static str),
    /// `delete set`.
    DeleteSet(String),
    /// `flush set` (a resync; members are re-added in the same transaction).
    FlushSet(&'static str),
    /// `add element`.
    AddElements(&'static str, Vec<IpNet>),
    /// `delete element`.
    DeleteElements(&'static str, Vec<IpNet>),
    /// `add chain`.
    NewChain(NftChain),
    /// `flush chain` then `delete chain`.
    DeleteChain(String),
    /// `add rule` (at the end).
    AppendRule(&'static str, NftRule),
    /// `insert rule … position H` (before the rule with handle H).
    InsertRule(&'static str, u64, NftRule),
    /// `delete rule … handle H`.
    DeleteRule(&'static str, u64),
}

/// Whether the table has something kg would have created differently (types, hooks).
fn mismatched(current: &TableState, plan: &NftTable) -> bool {
    let want_type = plan.family.nft_addr_type();
    let set_bad = plan.sets.iter().any(|s| {
        current
            .sets
            .get(s.name)
            .is_some_and(|c| c.kind != (want_type.to_owned(), true))
    });
    let chain_bad = plan.chains.iter().any(|c| {
        current.chains.get(c.name).is_some_and(|cur| {
            let want = c
                .base
                .map(|b| (b.kind.to_owned(), b.hook.to_owned(), i64::from(b.priority)));
            cur.base != want
        })
    });
    set_bad || chain_bad
}

fn set_ops(current: &TableState, plan: &NftTable, resync: bool, ops: &mut Vec<NftOp>) {
    for s in &plan.sets {
        let want: BTreeSet<IpNet> = s.entries.iter().copied().collect();
        let have = current.sets.get(s.name);
        if have.is_none() {
            ops.push(NftOp::NewSet(s.name));
        }
        match have.and_then(|h| h.entries.as_ref()).filter(|_| !resync) {
            Some(have) => {
                let del: Vec<IpNet> = have.difference(&want).copied().collect();
                let add: Vec<IpNet> = want.difference(have).copied().collect();
                if !del.is_empty() {
                    ops.push(NftOp::DeleteElements(s.name, del));
                }
                if !add.is_empty() {
                    ops.push(NftOp::AddElements(s.name, add));
                }
            }
            None => {
                if have.is_some() {
                    ops.push(NftOp::FlushSet(s.name));
                }
                if !want.is_empty() {
                    ops.push(NftOp::AddElements(s.name, want.into_iter().collect()));
                }
            }
        }
    }
}

/// Pairs `(have index, want index)` of a longest common subsequence of the two comment lists.
fn common_rules(have: &[Option<&str>], want: &[&str]) -> Vec<(usize, usize)> {
    let (n, m) = (have.len(), want.len());
    // lcs[i][j]: length of the LCS of have[i..] and want[j..]
    let mut lcs = vec![vec![0_usize; m + 1]; n + 1];
    for i in (0..n).rev() {
        for j in (0..m).rev() {
            lcs[i][j] = if have[i] == Some(want[j]) {
                lcs[i + 1][j + 1] + 1
            } else {
                lcs[i + 1][j].max(lcs[i][j + 1])
            };
        }
    }
    let (mut i, mut j, mut out) = (0, 0, Vec::new());
    while i < n && j < m {
        if have[i] == Some(want[j]) {
            out.push((i, j));
            i += 1;
            j += 1;
        } else if lcs[i + 1][j] >= lcs[i][j + 1] {
            i += 1;
        } else {
            j += 1;
        }
    }
    out
}

/// Rules of one chain: keep a longest common subsequence (by comment), delete the other rules
/// by handle, insert each missing rule before the next kept one (or append it).
fn rule_ops(current: Option<&ChainState>, chain: &NftChain, ops: &mut Vec<NftOp>) {
    let have: &[(u64, Option<String>)] = current.map_or(&[], |c| &c.rules);
    let have_comments: Vec<Option<&str>> = have.iter().map(|h| h.1.as_deref()).collect();
    let want: Vec<&str> = chain.rules.iter().map(|r| r.comment.as_str()).collect();
    let kept = common_rules(&have_comments, &want);
    let kept_have: BTreeSet<usize> = kept.iter().map(|k| k.0).collect();
    for (i, (handle, _)) in have.iter().enumerate() {
        if !kept_have.contains(&i) {
            ops.push(NftOp::DeleteRule(chain.name, *handle));
        }
    }
    for (j, r) in chain.rules.iter().enumerate() {
        if kept.iter().any(|k| k.1 == j) {
            continue;
        }
        let next_kept = kept.iter().find(|k| k.1 > j).map(|k| have[k.0].0);
        ops.push(match next_kept {
            Some(h) => NftOp::InsertRule(chain.name, h, r.clone()),
            None => NftOp::AppendRule(chain.name, r.clone()),
        });
    }
}

/// The transaction that makes `current` (`None`: no table) equal to `plan`; empty when it is.
/// `resync` rewrites every set's members (flush and add, atomically).
#[must_use]
pub fn table_ops(current: Option<&TableState>, plan: &NftTable, resync: bool) -> Vec<NftOp> {
    let mut ops = Vec::new();
    let empty = TableState::default();
    let current = match current {
        Some(c) if mismatched(c, plan) => {
            ops.extend([NftOp::DeleteTable, NftOp::NewTable]);
            &empty
        }
        Some(c) => c,
        None => {
            ops.push(NftOp::NewTable);
            &empty
        }
    };
    set_ops(current, plan, resync, &mut ops);
    for c in plan
        .chains
        .iter()
        .filter(|c| !current.chains.contains_key(c.name))
    {
        ops.push(NftOp::NewChain(c.clone()));
    }
    for c in &plan.chains {
        rule_ops(current.chains.get(c.name), c, &mut ops);
    }
    let planned_chains: BTreeSet<&str> = plan.chains.iter().map(|c| c.name).collect();
    for name in current
        .chains
        .keys()
        .filter(|n| !planned_chains.contains(n.as_str()))
    {
        ops.push(NftOp::DeleteChain(name.clone()));
    }
    let planned_sets: BTreeSet<&str> = plan.sets.iter().map(|s| s.name).collect();
    for name in current
        .sets
        .keys()
        .filter(|n| !planned_sets.contains(n.as_str()))
    {
        ops.push(NftOp::DeleteSet(name.clone()));
    }
    ops
}

/// The `nft -f` text of a transaction.
#[must_use]
pub fn render(family: Family, ops: &[NftOp]) -> String {
    let f = family.nft_family();
    let mut out = String::new();
    for op in ops {
        let _ = match op {
            NftOp::NewTable => writeln!(out, "add table {f} {TABLE}"),
            NftOp::DeleteTable => writeln!(out, "delete table {f} {TABLE}"),
            NftOp::NewSet(s) => writeln!(out, "{}", set_declaration(family, s)),
            NftOp::DeleteSet(s) => writeln!(out, "delete set {f} {TABLE} {s}"),
            NftOp::FlushSet(s) => writeln!(out, "flush set {f} {TABLE} {s}"),
            NftOp::AddElements(s, e) => writeln!(out, "{}", elements("add", family, s, e)),
            NftOp::DeleteElements(s, e) => writeln!(out, "{}", elements("delete", family, s, e)),
            NftOp::NewChain(c) => writeln!(out, "{}", chain_declaration(family, c)),
            NftOp::DeleteChain(c) => writeln!(
                out,
                "flush chain {f} {TABLE} {c}\ndelete chain {f} {TABLE} {c}"
            ),
            NftOp::AppendRule(c, r) => writeln!(out, "add rule {f} {TABLE} {c} {}", r.render()),
            NftOp::InsertRule(c, h, r) => writeln!(
                out,
                "insert rule {f} {TABLE} {c} position {h} {}",
                r.render()
            ),
            NftOp::DeleteRule(c, h) => writeln!(out, "delete rule {f} {TABLE} {c} handle {h}"),
        };
    }
    out
}

/// The operations a transaction performs, for `kilo_firewall_operations_total`.
#[must_use]
pub fn count(family: Family, ops: &[NftOp]) -> OpCounts {
    let mut c = OpCounts::default();
    let b = Backend::Nftables;
    for op in ops {
        let (operation, target, n): (Operation, &str, usize) = match op {
            NftOp::NewTable => (Operation::NewTable, TABLE, 1),
            NftOp::DeleteTable => (Operation::DeleteTable, TABLE, 1),
            NftOp::NewSet(s) => (Operation::SetCreate, s, 1),
            NftOp::DeleteSet(s) => (Operation::SetDestroy, s, 1),
            NftOp::FlushSet(s) => (Operation::SetFlush, s, 1),
            NftOp::AddElements(s, e) => (Operation::SetAdd, s, e.len()),
            NftOp::DeleteElements(s, e) => (Operation::SetDel, s, e.len()),
            NftOp::NewChain(ch) => (Operation::NewChain, ch.name, 1),
            NftOp::DeleteChain(ch) => (Operation::DeleteChain, ch, 1),
            NftOp::AppendRule(ch, _) => (Operation::Append, ch, 1),
            NftOp::InsertRule(ch, _, _) => (Operation::Insert, ch, 1),
            NftOp::DeleteRule(ch, _) => (Operation::Delete, ch, 1),
        };
        c.add(b, family, operation, target, n as u64);
    }
    c
}

#[cfg(test)]
#[path = "nft_state_tests.rs"]
mod tests;
