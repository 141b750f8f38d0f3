//! An in-memory [`Firewall`] for kg's tests: keeps the last applied plan, counts what would
//! change, and can be told to fail. No I/O.

use std::collections::BTreeSet;

use kilo_mesh::plan::firewall::iptables::{Ruleset, ruleset};
use kilo_mesh::plan::firewall::{FamilyFirewall, FirewallPlan};

use crate::metrics::{Backend, OpCounts, Operation};
use crate::{ApplyReport, Firewall, FirewallError};

/// A fake firewall: state is the last plan applied.
#[derive(Clone, Debug, Default)]
pub struct FakeFirewall {
    /// The plan in force (`None`: nothing programmed).
    pub state: Option<FirewallPlan>,
    /// Every plan passed to `apply`, in order.
    pub applied: Vec<FirewallPlan>,
    /// How many times `clean_up` ran.
    pub cleanups: usize,
    /// Whether a re-sync was requested and not yet consumed.
    pub resync_pending: bool,
    /// When set, the next call fails with this stderr.
    pub fail_next: Option<String>,
}

impl FakeFirewall {
    fn take_failure(&mut self, what: &str) -> Result<(), FirewallError> {
        match self.fail_next.take() {
            Some(stderr) => Err(FirewallError::Command {
                context: format!("fake {what}"),
                command: "fake".to_owned(),
                status: "exit status: 1".to_owned(),
                stderr,
            }),
            None => Ok(()),
        }
    }
}

/// Approximate operations between two family states: set entries and rules of their iptables
/// form that differ.
fn family_delta(old: Option<&FamilyFirewall>, new: &FamilyFirewall, counts: &mut OpCounts) {
    let fam = new.family;
    let (old, new) = (old.map(ruleset), ruleset(new));
    let (old, new) = (old.as_ref(), &new);
    for s in &new.sets {
        let before = old
            .and_then(|o| o.sets.iter().find(|x| x.name == s.name))
            .map(|x| x.entries.clone())
            .unwrap_or_default();
        let added = s.entries.difference(&before).count() as u64;
        let removed = before.difference(&s.entries).count() as u64;
        counts.add(Backend::Ipset, fam, Operation::SetAdd, &s.name, added);
        counts.add(Backend::Ipset, fam, Operation::SetDel, &s.name, removed);
    }
    let rules = |f: &Ruleset| -> BTreeSet<(String, String)> {
        let owned = f
            .chains
            .iter()
            .flat_map(|c| c.rules.iter().map(|r| (c.name.clone(), r.clone())));
        owned
            .chain(f.jumps.iter().map(|j| (j.chain.clone(), j.rule.clone())))
            .collect()
    };
    let (before, after) = (old.map(rules).unwrap_or_default(), rules(new));
    for (chain, _) in after.difference(&before) {
        counts.add(Backend::Iptables, fam, Operation::Insert, chain, 1);
    }
    for (chain, _) in before.difference(&after) {
        counts.add(Backend::Iptables, fam, Operation::Delete, chain, 1);
    }
}

impl Firewall for FakeFirewall {
    fn apply(&mut self, plan: &FirewallPlan) -> Result<ApplyReport, FirewallError> {
        self.take_failure("apply")?;
        let mut operations = OpCounts::default();
        for new in plan.families() {
            let old = self.state.as_ref().map(|s| match new.family {
                kilo_mesh::plan::firewall::Family::V4 => &s.v4,
                kilo_mesh::plan::firewall::Family::V6 => &s.v6,
            });
            family_delta(old, new, &mut operations);
        }
        self.resync_pending = false;
        self.state = Some(plan.clone());
        self.applied.push(plan.clone());
        Ok(ApplyReport {
            operations,
            ipv6_skipped: false,
        })
    }

    fn clean_up(&mut self) -> Result<ApplyReport, FirewallError> {
        self.take_failure("clean-up")?;
        self.cleanups += 1;
        self.state = None;
        Ok(ApplyReport::default())
    }

    fn request_resync(&mut self) {
        self.resync_pending = true;
    }
}
