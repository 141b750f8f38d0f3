//! An in-memory [`Firewall`] for kg's tests: keeps the last applied plan, counts one operation
//! per family whose plan changed (as if it swapped that family's table), and can be told to
//! fail. Built for this crate's tests and behind the `fake` feature. No I/O.

use kilo_mesh::plan::firewall::FirewallPlan;

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

impl Firewall for FakeFirewall {
    fn apply(&mut self, plan: &FirewallPlan) -> Result<ApplyReport, FirewallError> {
        self.take_failure("apply")?;
        let mut operations = OpCounts::default();
        let before = self.state.as_ref().map(FirewallPlan::families);
        for (i, new) in plan.families().into_iter().enumerate() {
            if before.is_none_or(|old| old[i] != new) {
                operations.add(
                    Backend::Nftables,
                    new.family,
                    Operation::NewTable,
                    "kilo",
                    1,
                );
            }
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
