//! ipset state and deltas: parses `ipset save` (kg's sets of it), computes the `ipset restore`
//! lines that turn kg's sets into the plan (per-entry `add`/`del`, or a build-then-`swap`
//! re-sync), and counts them. Pure: the backend runs the commands.

use std::collections::{BTreeMap, BTreeSet};
use std::net::IpAddr;

use ipnet::IpNet;
use kilo_mesh::plan::firewall::Family;
use kilo_mesh::plan::firewall::iptables::{IpSetPlan, ipset_create_line};

use crate::error::FirewallError;
use crate::metrics::{Backend, OpCounts, Operation};

/// Suffix of the temporary set a re-sync builds before swapping it in.
pub const TMP_SUFFIX: &str = "-tmp";

/// Whether kg owns a set (`kilo-*`).
#[must_use]
pub fn is_owned_set(name: &str) -> bool {
    name.starts_with("kilo-")
}

/// One set as `ipset save` prints it.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct SetState {
    /// Set type (`hash:net`).
    pub kind: String,
    /// ipset family keyword (`inet`, `inet6`).
    pub family: String,
    /// Members.
    pub entries: BTreeSet<IpNet>,
}

impl SetState {
    /// The family of this set (by header; by name when the header has none).
    #[must_use]
    pub fn family_or(&self, name: &str) -> Family {
        match self.family.as_str() {
            "inet6" => Family::V6,
            "inet" => Family::V4,
            _ if name.contains("-v6") => Family::V6,
            _ => Family::V4,
        }
    }
}

/// Parses `ipset save <name>` output (one set).
///
/// # Errors
/// An entry that is not an address or network.
pub fn parse_save(text: &str) -> Result<SetState, FirewallError> {
    let mut set = SetState::default();
    for line in text.lines() {
        let words: Vec<&str> = line.split_whitespace().collect();
        match words.as_slice() {
            ["create", _, kind, rest @ ..] => {
                set.kind = (*kind).to_owned();
                let family = rest.windows(2).find(|w| w[0] == "family").map(|w| w[1]);
                set.family = family.unwrap_or_default().to_owned();
            }
            ["add", _, entry, ..] => {
                set.entries
                    .insert(parse_entry(entry).ok_or_else(|| FirewallError::Parse {
                        what: "ipset save".to_owned(),
                        line: line.to_owned(),
                    })?);
            }
            _ => {}
        }
    }
    Ok(set)
}

/// Parses `ipset save` of every set, keeping kg's own (`kilo-*`); other sets' lines are skipped
/// unread, whatever their type.
///
/// # Errors
/// An entry of one of kg's sets that is not an address or network.
pub fn parse_save_owned(text: &str) -> Result<BTreeMap<String, SetState>, FirewallError> {
    let mut lines: BTreeMap<&str, String> = BTreeMap::new();
    for line in text.lines() {
        let mut words = line.split_whitespace();
        if let (Some("create" | "add"), Some(name)) = (words.next(), words.next())
            && is_owned_set(name)
        {
            let group = lines.entry(name).or_default();
            group.push_str(line);
            group.push('\n');
        }
    }
    lines
        .into_iter()
        .map(|(name, text)| Ok((name.to_owned(), parse_save(&text)?)))
        .collect()
}

fn parse_entry(s: &str) -> Option<IpNet> {
    s.parse::<IpNet>()
        .ok()
        .or_else(|| s.parse::<IpAddr>().ok().map(IpNet::from))
}

/// One line of an `ipset restore` batch.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum SetOp {
    /// `create … -exist` (see [`ipset_create_line`]).
    Create(String, Family),
    /// `add <set> <entry> -exist`.
    Add(String, Family, IpNet),
    /// `del <set> <entry> -exist`.
    Del(String, Family, IpNet),
    /// `flush <set>`.
    Flush(String, Family),
    /// `swap <from> <to>`.
    Swap(String, String, Family),
    /// `destroy <set>`.
    Destroy(String, Family),
}

impl SetOp {
    fn line(&self) -> String {
        match self {
            Self::Create(n, f) => ipset_create_line(n, *f),
            Self::Add(n, _, e) => format!("add {n} {e} -exist"),
            Self::Del(n, _, e) => format!("del {n} {e} -exist"),
            Self::Flush(n, _) => format!("flush {n}"),
            Self::Swap(a, b, _) => format!("swap {a} {b}"),
            Self::Destroy(n, _) => format!("destroy {n}"),
        }
    }

    fn counted(&self) -> (Operation, &str, Family) {
        match self {
            Self::Create(n, f) => (Operation::SetCreate, n, *f),
            Self::Add(n, f, _) => (Operation::SetAdd, n, *f),
            Self::Del(n, f, _) => (Operation::SetDel, n, *f),
            Self::Flush(n, f) => (Operation::SetFlush, n, *f),
            Self::Swap(_, n, f) => (Operation::SetSwap, n, *f),
            Self::Destroy(n, f) => (Operation::SetDestroy, n, *f),
        }
    }
}

/// Renders an `ipset restore` batch (empty when there is nothing to do).
#[must_use]
pub fn render(ops: &[SetOp]) -> String {
    let mut out = String::new();
    for op in ops {
        out.push_str(&op.line());
        out.push('\n');
    }
    out
}

/// Counts a batch's operations.
#[must_use]
pub fn count(ops: &[SetOp]) -> OpCounts {
    let mut counts = OpCounts::default();
    for op in ops {
        let (operation, target, family) = op.counted();
        counts.add(Backend::Ipset, family, operation, target, 1);
    }
    counts
}

/// The lines that bring kg's planned sets up to date, run before any rule that references them.
/// A set is re-synced by build-then-swap when `resync` is asked or when it is empty although the
/// plan is not (flushed behind kg's back); otherwise only the delta is written.
///
/// # Errors
/// A set with a planned name exists with another type or family.
pub fn sync_ops(
    current: &BTreeMap<String, SetState>,
    planned: &[&IpSetPlan],
    resync: bool,
) -> Result<Vec<SetOp>, FirewallError> {
    let mut ops = Vec::new();
    for p in planned {
        let (name, fam) = (&p.name, p.family);
        let Some(cur) = current.get(name) else {
            ops.push(SetOp::Create(name.clone(), fam));
            ops.extend(p.entries.iter().map(|e| SetOp::Add(name.clone(), fam, *e)));
            continue;
        };
        if cur.kind != "hash:net" || cur.family != fam.ipset_family() {
            return Err(FirewallError::SetMismatch {
                name: name.clone(),
                found: format!("{} family {}", cur.kind, cur.family),
                expected: fam.ipset_family().to_owned(),
            });
        }
        if resync || (cur.entries.is_empty() && !p.entries.is_empty()) {
            let tmp = format!("{name}{TMP_SUFFIX}");
            ops.push(SetOp::Create(tmp.clone(), fam));
            ops.push(SetOp::Flush(tmp.clone(), fam));
            ops.extend(p.entries.iter().map(|e| SetOp::Add(tmp.clone(), fam, *e)));
            ops.push(SetOp::Swap(tmp.clone(), name.clone(), fam));
            ops.push(SetOp::Destroy(tmp, fam));
            continue;
        }
        let dels = cur.entries.difference(&p.entries);
        ops.extend(dels.map(|e| SetOp::Del(name.clone(), fam, *e)));
        let adds = p.entries.difference(&cur.entries);
        ops.extend(adds.map(|e| SetOp::Add(name.clone(), fam, *e)));
    }
    Ok(ops)
}

/// `destroy` lines for kg's sets of `families` that the plan no longer has (run after the rules
/// that referenced them are gone), except those `sync` already destroys (re-sync leftovers).
#[must_use]
pub fn stale_ops(
    current: &BTreeMap<String, SetState>,
    planned: &[&IpSetPlan],
    families: &[Family],
    sync: &[SetOp],
) -> Vec<SetOp> {
    let destroyed = |n: &str| {
        sync.iter()
            .any(|op| matches!(op, SetOp::Destroy(d, _) if d == n))
    };
    current
        .iter()
        .filter(|(n, _)| is_owned_set(n) && !planned.iter().any(|p| &p.name == *n))
        .filter(|(n, _)| !destroyed(n))
        .map(|(n, s)| (n, s.family_or(n)))
        .filter(|(_, f)| families.contains(f))
        .map(|(n, f)| SetOp::Destroy(n.clone(), f))
        .collect()
}

#[cfg(test)]
#[path = "sets_tests.rs"]
mod tests;
