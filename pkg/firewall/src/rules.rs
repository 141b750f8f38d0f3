//! iptables state and deltas: parses `iptables-save -t <table>`, computes the minimal edit that
//! turns kg's part of a table into the plan, and renders it as one `iptables-restore --noflush`
//! batch. Pure: the backend runs the commands.

use std::collections::{BTreeMap, BTreeSet};

use kilo_mesh::plan::firewall::Family;
use kilo_mesh::plan::firewall::iptables::{ChainPlan, FwTable, JumpPlan, Position};

use crate::align::align;
use crate::error::FirewallError;
use crate::metrics::{Backend, OpCounts, Operation};

/// One chain as `iptables-save` prints it.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct ChainState {
    /// Built-in chains have a policy; user chains print `-`.
    pub builtin: bool,
    /// Rule specifications after `-A <chain> `, in order.
    pub rules: Vec<String>,
}

/// One table as `iptables-save -t <table>` prints it.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct TableState {
    /// Chains by name.
    pub chains: BTreeMap<String, ChainState>,
}

/// Parses the output of `iptables-save -t <table>` (one table).
///
/// # Errors
/// A line that is neither a comment, a table header, a chain declaration, a rule nor `COMMIT`.
pub fn parse_save(text: &str) -> Result<TableState, FirewallError> {
    let mut state = TableState::default();
    for line in text.lines() {
        let bad = || FirewallError::Parse {
            what: "iptables-save".to_owned(),
            line: line.to_owned(),
        };
        if line.is_empty() || line.starts_with('#') || line.starts_with('*') || line == "COMMIT" {
            continue;
        }
        if let Some(decl) = line.strip_prefix(':') {
            let mut parts = decl.split(' ');
            let name = parts.next().ok_or_else(bad)?;
            let policy = parts.next().ok_or_else(bad)?;
            state.chains.entry(name.to_owned()).or_default().builtin = policy != "-";
        } else if let Some(rule) = line.strip_prefix("-A ") {
            let (chain, spec) = rule.split_once(' ').unwrap_or((rule, ""));
            let chain = state.chains.entry(chain.to_owned()).or_default();
            chain.rules.push(spec.to_owned());
        } else {
            return Err(bad());
        }
    }
    Ok(state)
}

/// Whether kg owns a chain (`KILO-*`).
#[must_use]
pub fn is_owned_chain(name: &str) -> bool {
    name.starts_with("KILO-")
}

/// Whether a rule in a built-in chain is kg's: it jumps to a `KILO-*` chain or carries a
/// `Kilo:` comment (Go Kilo's rules included, so a migration cleans them up).
#[must_use]
pub fn is_owned_rule(spec: &str) -> bool {
    let words: Vec<&str> = spec.split_whitespace().collect();
    let jumps = words
        .windows(2)
        .any(|w| (w[0] == "-j" || w[0] == "-g") && is_owned_chain(w[1]));
    jumps || spec.contains("--comment \"Kilo:") || spec.contains("--comment Kilo:")
}

/// One line of an `iptables-restore` batch.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum RuleOp {
    /// `:<chain> - [0:0]` (only for chains that do not exist: it flushes existing ones).
    NewChain(String),
    /// `-F <chain>`.
    FlushChain(String),
    /// `-X <chain>`.
    DeleteChain(String),
    /// `-D <chain> <spec>`.
    Delete(String, String),
    /// `-I <chain> <pos> <spec>` (1-based).
    Insert(String, usize, String),
    /// `-A <chain> <spec>`.
    Append(String, String),
}

impl RuleOp {
    fn line(&self) -> String {
        match self {
            Self::NewChain(c) => format!(":{c} - [0:0]"),
            Self::FlushChain(c) => format!("-F {c}"),
            Self::DeleteChain(c) => format!("-X {c}"),
            Self::Delete(c, r) => format!("-D {c} {r}"),
            Self::Insert(c, p, r) => format!("-I {c} {p} {r}"),
            Self::Append(c, r) => format!("-A {c} {r}"),
        }
    }

    fn counted(&self) -> (Operation, &str) {
        match self {
            Self::NewChain(c) => (Operation::NewChain, c),
            Self::FlushChain(c) => (Operation::FlushChain, c),
            Self::DeleteChain(c) => (Operation::DeleteChain, c),
            Self::Delete(c, _) => (Operation::Delete, c),
            Self::Insert(c, _, _) => (Operation::Insert, c),
            Self::Append(c, _) => (Operation::Append, c),
        }
    }
}

/// Renders a batch for one table (empty when there is nothing to do).
#[must_use]
pub fn render(table: FwTable, ops: &[RuleOp]) -> String {
    if ops.is_empty() {
        return String::new();
    }
    let mut out = format!("*{}\n", table.as_str());
    for op in ops {
        out.push_str(&op.line());
        out.push('\n');
    }
    out.push_str("COMMIT\n");
    out
}

/// Counts a batch's operations.
#[must_use]
pub fn count(family: Family, ops: &[RuleOp]) -> OpCounts {
    let mut counts = OpCounts::default();
    for op in ops {
        let (operation, target) = op.counted();
        counts.add(Backend::Iptables, family, operation, target, 1);
    }
    counts
}

/// The delta of one chain: deletions first, then additions.
#[derive(Default)]
struct Delta {
    deletes: Vec<RuleOp>,
    adds: Vec<RuleOp>,
}

/// The edit of one owned chain: keep the longest common subsequence, delete the rest by spec,
/// insert each missing rule at its final index (appending at the end).
fn owned_chain(name: &str, current: &[String], planned: &[String], delta: &mut Delta) {
    let cur: Vec<&str> = current.iter().map(String::as_str).collect();
    let plan: Vec<&str> = planned.iter().map(String::as_str).collect();
    let keep = align(&cur, &plan);
    let mut present = vec![false; plan.len()];
    for (i, k) in keep.iter().enumerate() {
        match k {
            Some(j) => present[*j] = true,
            None => delta
                .deletes
                .push(RuleOp::Delete(name.to_owned(), current[i].clone())),
        }
    }
    let mut len = present.iter().filter(|p| **p).count();
    for (j, rule) in planned.iter().enumerate() {
        if present[j] {
            continue;
        }
        delta.adds.push(if j == len {
            RuleOp::Append(name.to_owned(), rule.clone())
        } else {
            RuleOp::Insert(name.to_owned(), j + 1, rule.clone())
        });
        len += 1;
    }
}

/// The edit of kg's rules in one built-in chain. Insert-class rules may sit anywhere (a missing
/// one goes to the top); append-class rules keep their relative order (a missing one goes right
/// before the next kept one, else at the end). Foreign rules are never touched.
fn builtin_chain(name: &str, current: &[String], jumps: &[&JumpPlan], delta: &mut Delta) {
    let rules = |pos| -> Vec<&str> {
        jumps
            .iter()
            .filter(|j| j.position == pos)
            .map(|j| j.rule.as_str())
            .collect()
    };
    let (inserts, appends) = (rules(Position::Insert), rules(Position::Append));
    let mut seen = BTreeSet::new();
    let (mut app_cur, mut deletes) = (Vec::new(), Vec::new());
    for r in current.iter().map(String::as_str) {
        if inserts.contains(&r) {
            if !seen.insert(r) {
                deletes.push(r);
            }
        } else if appends.contains(&r) {
            app_cur.push(r);
        } else if is_owned_rule(r) {
            deletes.push(r);
        }
    }
    let keep = align(&app_cur, &appends);
    let mut present = vec![false; appends.len()];
    for (i, k) in keep.iter().enumerate() {
        match k {
            Some(j) => present[*j] = true,
            None => deletes.push(app_cur[i]),
        }
    }
    let mut sim: Vec<&str> = current.iter().map(String::as_str).collect();
    for d in deletes {
        if let Some(p) = sim.iter().position(|r| *r == d) {
            sim.remove(p);
        }
        delta
            .deletes
            .push(RuleOp::Delete(name.to_owned(), d.to_owned()));
    }
    for r in inserts {
        if !sim.contains(&r) {
            sim.insert(0, r);
            delta
                .adds
                .push(RuleOp::Insert(name.to_owned(), 1, r.to_owned()));
        }
    }
    for (j, r) in appends.iter().enumerate() {
        if present[j] {
            continue;
        }
        let next = (j + 1..appends.len()).find(|k| present[*k]);
        match next.and_then(|k| sim.iter().position(|x| *x == appends[k])) {
            Some(p) => {
                sim.insert(p, r);
                delta
                    .adds
                    .push(RuleOp::Insert(name.to_owned(), p + 1, (*r).to_owned()));
            }
            None => {
                sim.push(r);
                delta
                    .adds
                    .push(RuleOp::Append(name.to_owned(), (*r).to_owned()));
            }
        }
    }
}

/// The batch that turns kg's part of one table into the plan (an empty plan removes it all).
/// Order: new chains, deletions, flush and removal of stale owned chains, additions.
#[must_use]
pub fn table_ops(current: &TableState, chains: &[&ChainPlan], jumps: &[&JumpPlan]) -> Vec<RuleOp> {
    let mut new_chains = Vec::new();
    let mut delta = Delta::default();
    for c in chains {
        let rules = match current.chains.get(&c.name) {
            Some(cur) => cur.rules.as_slice(),
            None => {
                new_chains.push(RuleOp::NewChain(c.name.clone()));
                &[]
            }
        };
        owned_chain(&c.name, rules, &c.rules, &mut delta);
    }
    let stale: Vec<&String> = current
        .chains
        .keys()
        .filter(|n| is_owned_chain(n) && !chains.iter().any(|c| &c.name == *n))
        .collect();
    let mut builtins: BTreeSet<&str> = jumps.iter().map(|j| j.chain.as_str()).collect();
    builtins.extend(
        current
            .chains
            .iter()
            .filter(|(_, c)| c.builtin)
            .map(|(n, _)| n.as_str()),
    );
    for b in builtins {
        let mine: Vec<&JumpPlan> = jumps.iter().copied().filter(|j| j.chain == b).collect();
        let rules = current
            .chains
            .get(b)
            .map_or(&[][..], |c| c.rules.as_slice());
        builtin_chain(b, rules, &mine, &mut delta);
    }
    let mut ops = new_chains;
    ops.append(&mut delta.deletes);
    ops.extend(stale.iter().map(|n| RuleOp::FlushChain((*n).clone())));
    ops.extend(stale.iter().map(|n| RuleOp::DeleteChain((*n).clone())));
    ops.append(&mut delta.adds);
    ops
}

#[cfg(test)]
#[path = "rules_tests.rs"]
mod tests;
