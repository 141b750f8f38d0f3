//! kg's firewall adapter: a small [`Firewall`] trait, the iptables + ipset backend
//! ([`IptablesFirewall`]), the nftables backend ([`NftablesFirewall`], kg's own tables
//! `ip kilo` and `ip6 kilo`, one `nft -f` transaction per family) and, behind the `fake`
//! feature (for tests), an in-memory `FakeFirewall`.
//!
//! The backend touches only what kg owns — chains `KILO-*`, sets `kilo-*` and the planned jump
//! rules (any `Kilo:`-commented rule or jump to `KILO-*`) in built-in chains — and writes only the
//! delta: one `ipset restore` batch, then one `iptables-restore --noflush --wait` batch per table
//! and family, then the removal of stale sets. A rule that is already right is never rewritten;
//! applying the same plan twice performs no mutating operation and starts no mutating process.
//! Every mutating operation is counted in `kilo_firewall_operations_total`.

mod align;
mod backend;
mod error;
#[cfg(any(test, feature = "fake"))]
mod fake;
mod metrics;
pub mod netlink;
mod nfnl;
mod nft;
mod nft_state;
mod rules;
mod runner;
mod sets;

pub use backend::{IptablesFirewall, Ipv6Mode, Settings};
pub use error::FirewallError;
#[cfg(any(test, feature = "fake"))]
pub use fake::FakeFirewall;
pub use metrics::{
    Backend, FirewallMetrics, IptablesOpLabels, OpCounts, OpKey, OpLabels, Operation,
};
pub use netlink::{NetlinkWriter, SetWriter};
pub use nft::NftablesFirewall;
pub use runner::{
    CommandRunner, Invocation, NetnsRunner, RawOutput, Recorded, RecordingRunner, SystemRunner,
    probe_ipv6, probe_ipv6_kernel, which,
};

use std::time::{Duration, Instant};

use kilo_mesh::plan::firewall::{Family, FamilyFirewall, FirewallPlan};

/// What the kernel holds of kg's firewall after the last successful apply (the rendering that
/// converged, per family), and when it was last read back. Within a backend's trust, a plan
/// that changes only set members is written from this, without reading the kernel.
struct Known<T> {
    state: Vec<T>,
    verified: Instant,
}

impl<T> Known<T> {
    /// Whether it may stand in for a read of `families` families within `trusted`.
    fn usable(&self, families: usize, trusted: Duration) -> bool {
        self.verified.elapsed() < trusted && self.state.len() == families
    }
}

/// One apply given what is `known`: when it is usable within `trust` (and no resync is due) and
/// `delta` finds only set members changed, `write` writes that delta without reading the kernel;
/// otherwise, or when `write` gives up (`None`: its netlink write failed), `converge` reads the
/// kernel back and writes what differs. Returns the counts and what is known afterwards.
fn trusted_apply<T, D>(
    known: Option<&Known<T>>,
    rendered: Vec<T>,
    (trust, resync): (Duration, bool),
    delta: impl FnOnce(&[T], &[T]) -> Option<D>,
    write: impl FnOnce(D) -> Result<Option<OpCounts>, FirewallError>,
    converge: impl FnOnce(&[T], bool) -> Result<OpCounts, FirewallError>,
) -> Result<(OpCounts, Known<T>), FirewallError> {
    let usable = known.filter(|k| !resync && k.usable(rendered.len(), trust));
    let written = match usable.and_then(|k| Some((delta(&k.state, &rendered)?, k.verified))) {
        Some((d, verified)) => write(d)?.map(|c| (c, verified)),
        None => None,
    };
    let (counts, verified) = match written {
        Some(w) => w,
        None => (converge(&rendered, resync)?, Instant::now()),
    };
    Ok((
        counts,
        Known {
            state: rendered,
            verified,
        },
    ))
}

/// The largest member delta written over netlink; a bigger one goes through the process path.
const NETLINK_MAX_CHANGES: usize = 256;

/// What an apply or clean-up did.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct ApplyReport {
    /// Mutating operations performed, by labels (empty: nothing changed).
    pub operations: OpCounts,
    /// IPv6 was skipped because the host has it disabled or lacks `ip6tables`.
    pub ipv6_skipped: bool,
}

impl ApplyReport {
    /// Number of mutating operations.
    #[must_use]
    pub fn total(&self) -> u64 {
        self.operations.total()
    }
}

/// kg's firewall.
pub trait Firewall: Send {
    /// Makes kg's chains, rules and sets match `plan`, writing only the difference.
    ///
    /// # Errors
    /// Reading the current state or a batch failed (the message carries the tool's stderr).
    fn apply(&mut self, plan: &FirewallPlan) -> Result<ApplyReport, FirewallError>;

    /// Removes every chain, rule and set kg owns (rules before the sets they reference).
    ///
    /// # Errors
    /// As for [`Firewall::apply`].
    fn clean_up(&mut self) -> Result<ApplyReport, FirewallError>;

    /// Makes the next apply rebuild every set by build-then-swap, whatever it reads.
    fn request_resync(&mut self);
}

/// What both backends do around their own `converge`: program the families the host supports,
/// consume a pending resync (kept pending when the apply fails), log and report.
fn apply_families(
    plan: &FirewallPlan,
    families: &[Family],
    resync_next: &mut bool,
    converge: impl FnOnce(&[&FamilyFirewall], bool) -> Result<OpCounts, FirewallError>,
) -> Result<ApplyReport, FirewallError> {
    let fams: Vec<&FamilyFirewall> = plan
        .families()
        .into_iter()
        .filter(|f| families.contains(&f.family))
        .collect();
    let resync = std::mem::take(resync_next);
    let operations = converge(&fams, resync).inspect_err(|_| *resync_next |= resync)?;
    if operations.total() > 0 {
        tracing::info!(operations = operations.total(), "firewall updated");
    }
    Ok(ApplyReport {
        operations,
        ipv6_skipped: !families.contains(&Family::V6),
    })
}

/// The families a backend programs, v4 first. IPv6 is decided once (`cache`): off when
/// configured so, else off when `probe` gives a reason; either way logged once.
fn resolve_families(
    cache: &mut Option<bool>,
    mode: Ipv6Mode,
    probe: impl FnOnce() -> Option<String>,
) -> Vec<Family> {
    let v6 = *cache.get_or_insert_with(|| match mode {
        Ipv6Mode::Disabled => {
            tracing::info!("IPv6 firewall disabled by configuration; programming IPv4 only");
            false
        }
        Ipv6Mode::Auto => match probe() {
            Some(reason) => {
                tracing::warn!(%reason, "IPv6 is unavailable; programming the IPv4 firewall only");
                false
            }
            None => true,
        },
    });
    if v6 {
        vec![Family::V4, Family::V6]
    } else {
        vec![Family::V4]
    }
}
