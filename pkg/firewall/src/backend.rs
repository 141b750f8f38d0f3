//! The real backend: reads kg's part of the firewall with `iptables-save`/`ip6tables-save` and
//! one `ipset save` of every set (kg's kept), and writes only the delta with one `ipset restore` batch and one
//! `iptables-restore --noflush` batch per table and family. Between read-backs (at most
//! [`Settings::verify_every`] apart) a plan that changes only set members is written from what
//! the last apply left, without reading: the changed members, over netlink when the backend has a
//! [`SetWriter`] (else one `ipset restore`). Does process I/O through a [`CommandRunner`].

use std::collections::BTreeMap;
use std::time::Duration;

use kilo_mesh::plan::firewall::iptables::{FwTable, IpSetPlan, Ruleset, ruleset};
use kilo_mesh::plan::firewall::{Family, FirewallPlan};
use tracing::{debug, info, warn};

use crate::error::FirewallError;
use crate::metrics::{FirewallMetrics, OpCounts};
use crate::netlink::{Change, SetWriter};
use crate::rules::{self, RuleOp, TableState};
use crate::runner::{CommandRunner, Invocation, run_checked};
use crate::sets::{self, SetOp, SetState};
use crate::{
    ApplyReport, Firewall, Known, NETLINK_MAX_CHANGES, apply_families, resolve_families,
    trusted_apply,
};

/// Tables kg reads and cleans.
const TABLES: [FwTable; 2] = [FwTable::Nat, FwTable::Filter];

/// Whether kg programs IPv6.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum Ipv6Mode {
    /// IPv6 unless the host has it disabled or lacks `ip6tables` (then v4 only, logged once).
    #[default]
    Auto,
    /// IPv4 only.
    Disabled,
}

/// Settings of the iptables backend.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Settings {
    /// Seconds `iptables-restore --wait` waits for the xtables lock (`None`: forever).
    pub wait_seconds: Option<u32>,
    /// IPv6 handling.
    pub ipv6: Ipv6Mode,
    /// How long what an apply read back stays trusted: within it, a plan that changes only set
    /// members is written as that delta without reading the kernel (a node joining costs one
    /// `ipset restore` line, whatever the set's size). Zero (the default) reads back on every
    /// apply; kg uses its resync period.
    pub verify_every: Duration,
}

impl Default for Settings {
    fn default() -> Self {
        Self {
            wait_seconds: Some(10),
            ipv6: Ipv6Mode::Auto,
            verify_every: Duration::ZERO,
        }
    }
}

/// The `ipset restore` lines that take the kernel from `known` to `rendered` when only set
/// members differ (same chains, jumps and sets); `None` when the kernel must be read.
fn member_delta(known: &[Ruleset], rendered: &[Ruleset]) -> Option<Vec<SetOp>> {
    let mut ops = Vec::new();
    for (old, new) in known.iter().zip(rendered) {
        let same_sets = old.sets.len() == new.sets.len()
            && old
                .sets
                .iter()
                .zip(&new.sets)
                .all(|(a, b)| a.name == b.name && a.family == b.family);
        if old.family != new.family
            || old.chains != new.chains
            || old.jumps != new.jumps
            || !same_sets
        {
            return None;
        }
        for (a, b) in old.sets.iter().zip(&new.sets) {
            let (name, fam) = (&b.name, b.family);
            ops.extend(
                a.entries
                    .difference(&b.entries)
                    .map(|e| SetOp::Del(name.clone(), fam, *e)),
            );
            ops.extend(
                b.entries
                    .difference(&a.entries)
                    .map(|e| SetOp::Add(name.clone(), fam, *e)),
            );
        }
    }
    Some(ops)
}

/// The iptables + ipset backend.
pub struct IptablesFirewall<R> {
    runner: R,
    metrics: FirewallMetrics,
    settings: Settings,
    ipv6: Option<bool>,
    resync_next: bool,
    known: Option<Known<Ruleset>>,
    writer: Option<Box<dyn SetWriter>>,
}

/// One family's pending `iptables-restore` batches.
struct TableBatch {
    family: Family,
    table: FwTable,
    ops: Vec<RuleOp>,
}

impl<R: CommandRunner> IptablesFirewall<R> {
    /// A backend running its commands through `runner` and counting into `metrics`.
    pub fn new(runner: R, metrics: FirewallMetrics, settings: Settings) -> Self {
        Self {
            runner,
            metrics,
            settings,
            ipv6: None,
            resync_next: false,
            known: None,
            writer: None,
        }
    }

    /// Writes member-only deltas (between read-backs) through `writer` instead of `ipset
    /// restore`; when it fails, the apply reads the kernel back and writes by process.
    #[must_use]
    pub fn with_writer(mut self, writer: impl SetWriter + 'static) -> Self {
        self.writer = Some(Box::new(writer));
        self
    }

    /// The runner (tests inspect a recording one).
    pub fn runner(&self) -> &R {
        &self.runner
    }

    /// The families this host can program, v4 first; probes IPv6 once and logs why it is off.
    pub fn families(&mut self) -> Vec<Family> {
        let runner = &self.runner;
        resolve_families(&mut self.ipv6, self.settings.ipv6, || {
            runner.ipv6_unavailable()
        })
    }

    fn run(
        &self,
        context: &str,
        program: &str,
        args: &[&str],
        stdin: Option<&str>,
    ) -> Result<String, FirewallError> {
        let inv = Invocation {
            program,
            args,
            stdin,
        };
        run_checked(&self.runner, context, &inv)
    }

    fn read_table(&self, family: Family, table: FwTable) -> Result<TableState, FirewallError> {
        let context = format!("reading {} table {}", family.as_str(), table.as_str());
        let text = self.run(
            &context,
            save_program(family),
            &["-t", table.as_str()],
            None,
        )?;
        rules::parse_save(&text)
    }

    /// Reads every `kilo-*` set, with one `ipset save`.
    fn read_sets(&self) -> Result<BTreeMap<String, SetState>, FirewallError> {
        let text = self.run("reading the ipsets", "ipset", &["save"], None)?;
        sets::parse_save_owned(&text)
    }

    fn restore_ipset(&self, ops: &[SetOp], counts: &mut OpCounts) -> Result<(), FirewallError> {
        if ops.is_empty() {
            return Ok(());
        }
        let context = format!("applying an ipset restore batch of {} lines", ops.len());
        self.run(&context, "ipset", &["restore"], Some(&sets::render(ops)))?;
        let c = sets::count(ops);
        self.metrics.record(&c);
        counts.merge(&c);
        Ok(())
    }

    fn restore_table(
        &self,
        batch: &TableBatch,
        counts: &mut OpCounts,
    ) -> Result<(), FirewallError> {
        if batch.ops.is_empty() {
            return Ok(());
        }
        let text = rules::render(batch.table, &batch.ops);
        debug!(family = batch.family.as_str(), table = batch.table.as_str(), batch = %text, "iptables-restore");
        let wait = self.settings.wait_seconds.map(|s| s.to_string());
        let mut args = vec!["--noflush", "--wait"];
        args.extend(wait.as_deref());
        let context = format!(
            "applying the {} {} batch of {} lines",
            batch.family.as_str(),
            batch.table.as_str(),
            batch.ops.len()
        );
        self.run(&context, restore_program(batch.family), &args, Some(&text))?;
        let c = rules::count(batch.family, &batch.ops);
        self.metrics.record(&c);
        self.metrics.record_iptables(batch.table.as_str(), &c);
        counts.merge(&c);
        Ok(())
    }

    /// Reads both tables of each family and computes their batches.
    fn table_batches(&self, fams: &[Ruleset]) -> Result<Vec<TableBatch>, FirewallError> {
        let mut out = Vec::new();
        for ff in fams {
            for table in TABLES {
                let current = self.read_table(ff.family, table)?;
                let chains: Vec<_> = ff.chains.iter().filter(|c| c.table == table).collect();
                let jumps: Vec<_> = ff.jumps.iter().filter(|j| j.table == table).collect();
                let ops = rules::table_ops(&current, &chains, &jumps);
                out.push(TableBatch {
                    family: ff.family,
                    table,
                    ops,
                });
            }
        }
        Ok(out)
    }

    /// Writes a member-only delta: over netlink when there is a writer and the delta is small
    /// (`None` when that fails: the caller reads back), else by `ipset restore`.
    fn write_members(&self, ops: &[SetOp]) -> Result<Option<OpCounts>, FirewallError> {
        let mut counts = OpCounts::default();
        let Some(writer) = self
            .writer
            .as_ref()
            .filter(|_| ops.len() <= NETLINK_MAX_CHANGES)
        else {
            self.restore_ipset(ops, &mut counts)?;
            return Ok(Some(counts));
        };
        let changes: Vec<(&str, Change)> = ops
            .iter()
            .filter_map(|op| match op {
                SetOp::Add(n, _, e) => Some((n.as_str(), Change::Add(*e))),
                SetOp::Del(n, _, e) => Some((n.as_str(), Change::Del(*e))),
                _ => None,
            })
            .collect();
        if changes.len() != ops.len() {
            self.restore_ipset(ops, &mut counts)?;
            return Ok(Some(counts));
        }
        match writer.ipset(&changes) {
            Ok(()) => {
                counts = sets::count(ops);
                self.metrics.record(&counts);
                Ok(Some(counts))
            }
            Err(error) => {
                warn!(%error, "writing ipset members over netlink failed; reading the kernel back");
                Ok(None)
            }
        }
    }

    /// Reads everything, then writes sets, rules and finally removes stale sets.
    fn converge(&self, fams: &[Ruleset], resync: bool) -> Result<OpCounts, FirewallError> {
        let families: Vec<Family> = fams.iter().map(|f| f.family).collect();
        let planned: Vec<&IpSetPlan> = fams.iter().flat_map(|f| f.sets.iter()).collect();
        let current_sets = self.read_sets()?;
        let sync = sets::sync_ops(&current_sets, &planned, resync)?;
        let stale = sets::stale_ops(&current_sets, &planned, &families, &sync);
        let batches = self.table_batches(fams)?;
        let mut counts = OpCounts::default();
        self.restore_ipset(&sync, &mut counts)?;
        for b in &batches {
            self.restore_table(b, &mut counts)?;
        }
        self.restore_ipset(&stale, &mut counts)?;
        Ok(counts)
    }
}

impl<R: CommandRunner> Firewall for IptablesFirewall<R> {
    fn apply(&mut self, plan: &FirewallPlan) -> Result<ApplyReport, FirewallError> {
        let families = self.families();
        let mut resync_next = self.resync_next;
        let known = self.known.take();
        let mut learned = None;
        let report = apply_families(plan, &families, &mut resync_next, |fams, resync| {
            let (counts, now_known) = trusted_apply(
                known.as_ref(),
                fams.iter().map(|f| ruleset(f)).collect(),
                (self.settings.verify_every, resync),
                member_delta,
                |ops: Vec<SetOp>| self.write_members(&ops),
                |r: &[Ruleset], resync| self.converge(r, resync),
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
        let empty: Vec<Ruleset> = families.iter().map(|f| Ruleset::empty(*f)).collect();
        let operations = self.converge(&empty, false)?;
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

const fn save_program(family: Family) -> &'static str {
    match family {
        Family::V4 => "iptables-save",
        Family::V6 => "ip6tables-save",
    }
}

const fn restore_program(family: Family) -> &'static str {
    match family {
        Family::V4 => "iptables-restore",
        Family::V6 => "ip6tables-restore",
    }
}
