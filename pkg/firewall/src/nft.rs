//! The nftables backend: kg's whole firewall lives in its own tables `ip kilo` and `ip6 kilo`,
//! read with `nft -j list table` and changed by one `nft -f` transaction per family holding only
//! the delta. Nothing outside those tables is read or written. Within its trust
//! ([`NftablesFirewall::trusting`]) a plan that changes only set elements is one transaction of
//! those elements, without a read: over netlink when the backend has a [`SetWriter`]. Does
//! process I/O through a [`CommandRunner`].

use std::collections::BTreeSet;
use std::time::Duration;

use ipnet::IpNet;

use kilo_mesh::plan::firewall::nftables::{NftTable, TABLE, nft_table};
use kilo_mesh::plan::firewall::{Family, FirewallPlan};
use tracing::{debug, info, warn};

use crate::backend::Ipv6Mode;
use crate::error::FirewallError;
use crate::metrics::{FirewallMetrics, OpCounts};
use crate::netlink::{SetChanges, SetWriter};
use crate::nft_state::{self, NftOp, TableState};
use crate::runner::{CommandRunner, Invocation, failed, probe_ipv6_kernel, run_checked, run_raw};
use crate::{
    ApplyReport, Firewall, Known, NETLINK_MAX_CHANGES, apply_families, resolve_families,
    trusted_apply,
};

/// The nftables backend.
pub struct NftablesFirewall<R> {
    runner: R,
    metrics: FirewallMetrics,
    ipv6_mode: Ipv6Mode,
    ipv6: Option<bool>,
    resync_next: bool,
    verify_every: Duration,
    known: Option<Known<NftTable>>,
    writer: Option<Box<dyn SetWriter>>,
}

/// One family's element changes, and whether netlink may write them: every changed set has
/// members before and after (`nft` keeps an end marker at the zero address in a set it has
/// filled; an empty set is left to `nft`).
struct FamilyDelta {
    family: Family,
    ops: Vec<NftOp>,
    netlink_ok: bool,
}

/// The element changes that take `known` to `planned` when only set elements differ (same
/// chains and rules, same sets); `None` when the kernel must be read.
fn element_delta(known: &[NftTable], planned: &[NftTable]) -> Option<Vec<FamilyDelta>> {
    let mut out = Vec::new();
    for (old, new) in known.iter().zip(planned) {
        let same_sets = old.sets.len() == new.sets.len()
            && old
                .sets
                .iter()
                .zip(&new.sets)
                .all(|(a, b)| a.name == b.name);
        if old.family != new.family || old.chains != new.chains || !same_sets {
            return None;
        }
        let mut ops = Vec::new();
        let mut netlink_ok = true;
        for (a, b) in old.sets.iter().zip(&new.sets) {
            let (del, add) = difference(&a.entries, &b.entries);
            if !(del.is_empty() && add.is_empty()) {
                netlink_ok &= !a.entries.is_empty() && !b.entries.is_empty();
            }
            if !del.is_empty() {
                ops.push(NftOp::DeleteElements(b.name, del));
            }
            if !add.is_empty() {
                ops.push(NftOp::AddElements(b.name, add));
            }
        }
        out.push(FamilyDelta {
            family: new.family,
            ops,
            netlink_ok,
        });
    }
    Some(out)
}

/// What `have` holds and `want` does not, and the reverse: one merge pass when both are sorted
/// without repeats (as planned sets are), else through ordered sets.
fn difference(have: &[IpNet], want: &[IpNet]) -> (Vec<IpNet>, Vec<IpNet>) {
    let strictly_sorted = |v: &[IpNet]| v.windows(2).all(|w| w[0] < w[1]);
    if !(strictly_sorted(have) && strictly_sorted(want)) {
        let (h, w): (BTreeSet<IpNet>, BTreeSet<IpNet>) = (
            have.iter().copied().collect(),
            want.iter().copied().collect(),
        );
        return (
            h.difference(&w).copied().collect(),
            w.difference(&h).copied().collect(),
        );
    }
    let (mut del, mut add) = (Vec::new(), Vec::new());
    let (mut i, mut j) = (0, 0);
    loop {
        match (have.get(i), want.get(j)) {
            (Some(h), Some(w)) if h == w => {
                i += 1;
                j += 1;
            }
            (Some(h), Some(w)) if h > w => {
                add.push(*w);
                j += 1;
            }
            (Some(h), _) => {
                del.push(*h);
                i += 1;
            }
            (None, Some(w)) => {
                add.push(*w);
                j += 1;
            }
            (None, None) => return (del, add),
        }
    }
}

impl<R: CommandRunner> NftablesFirewall<R> {
    /// A backend running `nft` through `runner` and counting into `metrics`.
    pub fn new(runner: R, metrics: FirewallMetrics, ipv6: Ipv6Mode) -> Self {
        Self {
            runner,
            metrics,
            ipv6_mode: ipv6,
            ipv6: None,
            resync_next: false,
            verify_every: Duration::ZERO,
            known: None,
            writer: None,
        }
    }

    /// Writes element-only deltas (between read-backs) through `writer` instead of `nft -f`;
    /// when it fails, the apply reads the kernel back and writes by process.
    #[must_use]
    pub fn with_writer(mut self, writer: impl SetWriter + 'static) -> Self {
        self.writer = Some(Box::new(writer));
        self
    }

    /// Trusts what an apply read back for `verify_every` (zero, the default: reads back on
    /// every apply); kg uses its resync period. See [`crate::Settings::verify_every`].
    #[must_use]
    pub fn trusting(mut self, verify_every: Duration) -> Self {
        self.verify_every = verify_every;
        self
    }

    /// The runner (tests inspect a recording one).
    pub fn runner(&self) -> &R {
        &self.runner
    }

    /// The families to program, v4 first; IPv6 unless disabled here or in the kernel.
    pub fn families(&mut self) -> Vec<Family> {
        let runner = &self.runner;
        resolve_families(&mut self.ipv6, self.ipv6_mode, || probe_ipv6_kernel(runner))
    }

    /// kg's table of `family`; `None` when it does not exist.
    fn read(&self, family: Family) -> Result<Option<TableState>, FirewallError> {
        let context = format!("reading nftables table {} {TABLE}", family.nft_family());
        let inv = Invocation {
            program: "nft",
            args: &["-j", "list", "table", family.nft_family(), TABLE],
            stdin: None,
        };
        let out = run_raw(&self.runner, &context, &inv)?;
        if out.success {
            return nft_state::parse_list(&out.stdout).map(Some);
        }
        if out.stderr.contains("No such file or directory") {
            return Ok(None);
        }
        Err(failed(&context, &inv, &out))
    }

    fn transact(&self, family: Family, ops: &[NftOp]) -> Result<OpCounts, FirewallError> {
        if ops.is_empty() {
            return Ok(OpCounts::default());
        }
        let text = nft_state::render(family, ops);
        debug!(family = family.as_str(), batch = %text, "nft -f");
        let context = format!(
            "applying an nftables transaction of {} commands to {} {TABLE}",
            ops.len(),
            family.nft_family()
        );
        let inv = Invocation {
            program: "nft",
            args: &["-f", "-"],
            stdin: Some(&text),
        };
        run_checked(&self.runner, &context, &inv)?;
        let c = nft_state::count(family, ops);
        self.metrics.record(&c);
        Ok(c)
    }

    /// Writes element-only deltas: over netlink when there is a writer and it may (`None` when
    /// that fails: the caller reads back), else one `nft -f` per family.
    fn write_elements(&self, deltas: &[FamilyDelta]) -> Result<Option<OpCounts>, FirewallError> {
        let mut counts = OpCounts::default();
        for d in deltas.iter().filter(|d| !d.ops.is_empty()) {
            let size: usize = d.ops.iter().map(op_len).sum();
            let writer = self.writer.as_ref();
            let Some(w) = writer.filter(|_| d.netlink_ok && size <= NETLINK_MAX_CHANGES) else {
                counts.merge(&self.transact(d.family, &d.ops)?);
                continue;
            };
            if let Err(error) = w.nft(d.family, &set_changes(&d.ops)) {
                warn!(%error, "writing nftables elements over netlink failed; reading the kernel back");
                return Ok(None);
            }
            let c = nft_state::count(d.family, &d.ops);
            self.metrics.record(&c);
            counts.merge(&c);
        }
        Ok(Some(counts))
    }

    fn converge(&self, tables: &[NftTable], resync: bool) -> Result<OpCounts, FirewallError> {
        let mut counts = OpCounts::default();
        for table in tables {
            let current = self.read(table.family)?;
            let ops = nft_state::table_ops(current.as_ref(), table, resync);
            counts.merge(&self.transact(table.family, &ops)?);
        }
        Ok(counts)
    }
}

fn op_len(op: &NftOp) -> usize {
    match op {
        NftOp::AddElements(_, e) | NftOp::DeleteElements(_, e) => e.len(),
        _ => 1,
    }
}

/// The ops of an element delta (deletions before additions per set, as `element_delta` makes
/// them) as the writer takes them.
fn set_changes(ops: &[NftOp]) -> Vec<SetChanges<'_>> {
    let mut out: Vec<SetChanges<'_>> = Vec::new();
    for op in ops {
        match op {
            NftOp::AddElements(s, e) => match out.last_mut().filter(|c| c.set == *s) {
                Some(c) if c.add.is_empty() => c.add = e,
                _ => out.push(SetChanges {
                    set: s,
                    del: &[],
                    add: e,
                }),
            },
            NftOp::DeleteElements(s, e) => out.push(SetChanges {
                set: s,
                del: e,
                add: &[],
            }),
            _ => {}
        }
    }
    out
}

impl<R: CommandRunner> Firewall for NftablesFirewall<R> {
    fn apply(&mut self, plan: &FirewallPlan) -> Result<ApplyReport, FirewallError> {
        let families = self.families();
        let mut resync_next = self.resync_next;
        let known = self.known.take();
        let mut learned = None;
        let report = apply_families(plan, &families, &mut resync_next, |fams, resync| {
            let (counts, now_known) = trusted_apply(
                known.as_ref(),
                fams.iter().map(|f| nft_table(f)).collect(),
                (self.verify_every, resync),
                element_delta,
                |per_family: Vec<FamilyDelta>| self.write_elements(&per_family),
                |t: &[NftTable], resync| self.converge(t, resync),
            )?;
            learned = Some(now_known);
            Ok(counts)
        });
        // after a failure nothing is known: the next apply reads the kernel back
        self.known = learned;
        self.resync_next = resync_next;
        report
    }

    fn clean_up(&mut self) -> Result<ApplyReport, FirewallError> {
        self.known = None;
        let families = self.families();
        let mut operations = OpCounts::default();
        for family in &families {
            if self.read(*family)?.is_some() {
                operations.merge(&self.transact(*family, &[NftOp::DeleteTable])?);
            }
        }
        info!(operations = operations.total(), "firewall cleaned up");
        Ok(ApplyReport {
            operations,
            ipv6_skipped: !families.contains(&Family::V6),
        })
    }

    fn request_resync(&mut self) {
        self.resync_next = true;
        self.known = None;
    }
}

#[cfg(test)]
mod tests {
    use std::collections::BTreeSet;

    use ipnet::{IpNet, Ipv4Net};
    use proptest::prelude::*;

    use super::difference;

    fn nets(v: &[(u32, u8)]) -> Vec<IpNet> {
        v.iter()
            .map(|(a, l)| IpNet::V4(Ipv4Net::new((*a).into(), *l % 33).unwrap().trunc()))
            .collect()
    }

    proptest! {
        /// The merge pass and the ordered-set path agree, sorted input or not.
        #[test]
        fn difference_is_the_set_difference(
            a in proptest::collection::vec((0u32..64, 28u8..33), 0..40),
            b in proptest::collection::vec((0u32..64, 28u8..33), 0..40),
            sort in any::<bool>(),
        ) {
            let (mut have, mut want) = (nets(&a), nets(&b));
            if sort {
                have = have.into_iter().collect::<BTreeSet<_>>().into_iter().collect();
                want = want.into_iter().collect::<BTreeSet<_>>().into_iter().collect();
            }
            let (h, w): (BTreeSet<IpNet>, BTreeSet<IpNet>) =
                (have.iter().copied().collect(), want.iter().copied().collect());
            let (del, add) = difference(&have, &want);
            prop_assert_eq!(del, h.difference(&w).copied().collect::<Vec<_>>());
            prop_assert_eq!(add, w.difference(&h).copied().collect::<Vec<_>>());
        }
    }
}
