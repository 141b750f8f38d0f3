//! The per-node firewall backend override: the Node annotation `kilo.squat.ai/firewall-backend`
//! (`iptables` or `nftables`) wins over `--firewall-backend` on that node, and changing it
//! switches the running kg make-before-break: the new backend applies the plan first, and only
//! once that succeeded does the old one remove its chains, rules, sets or tables. The firewall
//! plan is the same for both backends, so nothing else changes. Does I/O through the backends.

use clap::ValueEnum as _;
use kilo_firewall::{
    ApplyReport, Firewall, FirewallError, FirewallMetrics, IptablesFirewall, Ipv6Mode,
    NetlinkWriter, NftablesFirewall, SystemRunner,
};
use kilo_k8s::cluster::ClusterView;
use kilo_mesh::plan::firewall::FirewallPlan;
use kilo_mesh::types::NodeName;

use kilo_mesh::types::FirewallBackend;

/// The Node annotation that overrides `--firewall-backend` on its node.
pub use kilo_k8s::FIREWALL_BACKEND_ANNOTATION as ANNOTATION;

/// The backend this node must run: its annotation when valid, else `flag` (a bad value is logged).
#[must_use]
pub fn wanted(view: &ClusterView, hostname: &NodeName, flag: FirewallBackend) -> FirewallBackend {
    let value = view
        .nodes
        .iter()
        .find(|e| &e.node.name == hostname)
        .and_then(|e| e.firewall_backend.as_deref());
    match value.map(parse) {
        Some(Ok(kind)) => kind,
        Some(Err(problem)) => {
            tracing::warn!(%problem, "ignoring the firewall backend override");
            flag
        }
        None => flag,
    }
}

/// The backend an annotation value names; `Err` carries the problem to report.
///
/// # Errors
/// The value is not `iptables` or `nftables` (exactly; no case folding, no spaces).
pub fn parse(value: &str) -> Result<FirewallBackend, String> {
    FirewallBackend::from_str(value, false).map_err(|_| {
        format!("{ANNOTATION}={value:?}: expected \"iptables\" or \"nftables\"; keeping --firewall-backend")
    })
}

/// A new backend of that kind on the host's tools; `verify_every` bounds how long it trusts
/// what it last read back (see [`kilo_firewall::Settings::verify_every`]). Between read-backs
/// it writes set members over netlink; without a netfilter netlink socket, by process.
#[must_use]
pub fn open(
    kind: FirewallBackend,
    metrics: FirewallMetrics,
    verify_every: std::time::Duration,
) -> Box<dyn Firewall> {
    let writer = NetlinkWriter::current()
        .inspect_err(|error| {
            tracing::warn!(%error, "no netfilter netlink socket; set members are written by process");
        })
        .ok();
    match kind {
        FirewallBackend::Iptables => {
            let fw = IptablesFirewall::new(
                SystemRunner,
                metrics,
                kilo_firewall::Settings {
                    verify_every,
                    ..kilo_firewall::Settings::default()
                },
            );
            match writer {
                Some(w) => Box::new(fw.with_writer(w)),
                None => Box::new(fw),
            }
        }
        FirewallBackend::Nftables => {
            let fw =
                NftablesFirewall::new(SystemRunner, metrics, Ipv6Mode::Auto).trusting(verify_every);
            match writer {
                Some(w) => Box::new(fw.with_writer(w)),
                None => Box::new(fw),
            }
        }
    }
}

/// A firewall that can be asked to move to another backend (the per-node override). Firewalls
/// that are one backend for good ignore the request.
pub trait BackendSwitch {
    /// The backend the next apply must leave in force.
    fn want(&mut self, _kind: FirewallBackend) {}
}

impl BackendSwitch for SwitchingFirewall {
    fn want(&mut self, kind: FirewallBackend) {
        self.wanted = kind;
    }
}

#[cfg(test)]
impl BackendSwitch for kilo_firewall::FakeFirewall {}

/// Builds a backend of a kind (the real one opens [`open`]; tests record).
pub type Opener = Box<dyn Fn(FirewallBackend) -> Box<dyn Firewall> + Send>;

/// A firewall that is one backend at a time and moves to another on request.
pub struct SwitchingFirewall {
    active: Box<dyn Firewall>,
    kind: FirewallBackend,
    wanted: FirewallBackend,
    open: Opener,
}

impl SwitchingFirewall {
    /// Starts with a backend of kind `kind`.
    #[must_use]
    pub fn new(kind: FirewallBackend, open: Opener) -> Self {
        Self {
            active: open(kind),
            kind,
            wanted: kind,
            open,
        }
    }

    /// The backend in force.
    #[cfg(test)]
    #[must_use]
    pub fn kind(&self) -> FirewallBackend {
        self.kind
    }

    /// New backend applies, then the old one cleans up; on a failed apply the new backend's
    /// partial state is removed and the old one stays in force.
    fn switch(&mut self, plan: &FirewallPlan) -> Result<ApplyReport, FirewallError> {
        let mut next = (self.open)(self.wanted);
        let report = match next.apply(plan) {
            Ok(r) => r,
            Err(e) => {
                if let Err(undo) = next.clean_up() {
                    tracing::warn!(error = %undo, "removing the half-applied new firewall backend");
                }
                return Err(e);
            }
        };
        let old = std::mem::replace(&mut self.active, next);
        let from = std::mem::replace(&mut self.kind, self.wanted);
        tracing::info!(from = ?from, to = ?self.kind, "firewall backend switched; removing the old one's rules");
        let mut old = old;
        if let Err(e) = old.clean_up() {
            tracing::warn!(error = %e, backend = ?from, "removing the old firewall backend's rules");
        }
        Ok(report)
    }
}

impl Firewall for SwitchingFirewall {
    fn apply(&mut self, plan: &FirewallPlan) -> Result<ApplyReport, FirewallError> {
        if self.wanted == self.kind {
            self.active.apply(plan)
        } else {
            self.switch(plan)
        }
    }

    fn clean_up(&mut self) -> Result<ApplyReport, FirewallError> {
        self.active.clean_up()
    }

    fn request_resync(&mut self) {
        self.active.request_resync();
    }
}

#[cfg(test)]
#[path = "backend_override_tests.rs"]
mod tests;
