//! The nftables backend: kg's whole firewall lives in its own tables `ip kilo` and `ip6 kilo`,
//! read with `nft -j list table` and changed by one `nft -f` transaction per family holding only
//! the delta. Nothing outside those tables is read or written. Does process I/O through a
//! [`CommandRunner`].

use kilo_mesh::plan::firewall::nftables::{TABLE, nft_table};
use kilo_mesh::plan::firewall::{Family, FamilyFirewall, FirewallPlan};
use tracing::{debug, info};

use crate::backend::Ipv6Mode;
use crate::error::FirewallError;
use crate::metrics::{FirewallMetrics, OpCounts};
use crate::nft_state::{self, NftOp, TableState};
use crate::runner::{CommandRunner, Invocation, failed, probe_ipv6_kernel, run_checked, run_raw};
use crate::{ApplyReport, Firewall, apply_families, resolve_families};

/// The nftables backend.
pub struct NftablesFirewall<R> {
    runner: R,
    metrics: FirewallMetrics,
    ipv6_mode: Ipv6Mode,
    ipv6: Option<bool>,
    resync_next: bool,
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
        }
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

    fn converge(&self, fams: &[&FamilyFirewall], resync: bool) -> Result<OpCounts, FirewallError> {
        let mut counts = OpCounts::default();
        for ff in fams {
            let current = self.read(ff.family)?;
            let ops = nft_state::table_ops(current.as_ref(), &nft_table(ff), resync);
            counts.merge(&self.transact(ff.family, &ops)?);
        }
        Ok(counts)
    }
}

impl<R: CommandRunner> Firewall for NftablesFirewall<R> {
    fn apply(&mut self, plan: &FirewallPlan) -> Result<ApplyReport, FirewallError> {
        let families = self.families();
        let mut resync_next = self.resync_next;
        let report = apply_families(plan, &families, &mut resync_next, |fams, resync| {
            self.converge(fams, resync)
        });
        self.resync_next = resync_next;
        report
    }

    fn clean_up(&mut self) -> Result<ApplyReport, FirewallError> {
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
    }
}
