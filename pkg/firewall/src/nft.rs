//! The nftables backend: kg's whole firewall lives in its own tables `ip kilo` and `ip6 kilo`,
//! read with `nft -j list table` and changed by one `nft -f` transaction per family holding only
//! the delta. Nothing outside those tables is read or written. Within its trust
//! ([`NftablesFirewall::trusting`]) a plan that changes only set elements is one transaction of
//! those elements, without a read. Does process I/O through a [`CommandRunner`].

use std::collections::BTreeSet;
use std::time::Duration;

use ipnet::IpNet;

use kilo_mesh::plan::firewall::nftables::{NftTable, TABLE, nft_table};
use kilo_mesh::plan::firewall::{Family, FirewallPlan};
use tracing::{debug, info};

use crate::backend::Ipv6Mode;
use crate::error::FirewallError;
use crate::metrics::{FirewallMetrics, OpCounts};
use crate::nft_state::{self, NftOp, TableState};
use crate::runner::{CommandRunner, Invocation, failed, probe_ipv6_kernel, run_checked, run_raw};
use crate::{ApplyReport, Firewall, Known, apply_families, resolve_families, trusted_apply};

/// The nftables backend.
pub struct NftablesFirewall<R> {
    runner: R,
    metrics: FirewallMetrics,
    ipv6_mode: Ipv6Mode,
    ipv6: Option<bool>,
    resync_next: bool,
    verify_every: Duration,
    known: Option<Known<NftTable>>,
}

/// The element changes that take `known` to `planned` when only set elements differ (same
/// chains and rules, same sets); `None` when the kernel must be read.
fn element_delta(known: &[NftTable], planned: &[NftTable]) -> Option<Vec<(Family, Vec<NftOp>)>> {
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
        for (a, b) in old.sets.iter().zip(&new.sets) {
            let (have, want): (BTreeSet<IpNet>, BTreeSet<IpNet>) = (
                a.entries.iter().copied().collect(),
                b.entries.iter().copied().collect(),
            );
            let del: Vec<IpNet> = have.difference(&want).copied().collect();
            let add: Vec<IpNet> = want.difference(&have).copied().collect();
            if !del.is_empty() {
                ops.push(NftOp::DeleteElements(b.name, del));
            }
            if !add.is_empty() {
                ops.push(NftOp::AddElements(b.name, add));
            }
        }
        out.push((new.family, ops));
    }
    Some(out)
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
        }
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
                |per_family: Vec<(Family, Vec<NftOp>)>| {
                    let mut counts = OpCounts::default();
                    for (family, ops) in &per_family {
                        counts.merge(&self.transact(*family, ops)?);
                    }
                    Ok(counts)
                },
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
