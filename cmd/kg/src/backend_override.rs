//! The per-node firewall backend override: the Node annotation `kilo.squat.ai/firewall-backend`
//! (`iptables` or `nftables`) wins over `--firewall-backend` on that node, and changing it
//! switches the running kg make-before-break: the new backend applies the plan first, and only
//! once that succeeded does the old one remove its chains, rules, sets or tables. The firewall
//! plan is the same for both backends, so nothing else changes. Does I/O through the backends.

use clap::ValueEnum as _;
use kilo_firewall::{
    ApplyReport, Firewall, FirewallError, FirewallMetrics, IptablesFirewall, Ipv6Mode,
    NftablesFirewall, SystemRunner,
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

/// A new backend of that kind on the host's tools.
#[must_use]
pub fn open(kind: FirewallBackend, metrics: FirewallMetrics) -> Box<dyn Firewall> {
    match kind {
        FirewallBackend::Iptables => Box::new(IptablesFirewall::new(
            SystemRunner,
            metrics,
            kilo_firewall::Settings::default(),
        )),
        FirewallBackend::Nftables => {
            Box::new(NftablesFirewall::new(SystemRunner, metrics, Ipv6Mode::Auto))
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
mod tests {
    use std::sync::{Arc, Mutex};

    use kilo_mesh::plan::firewall::{Family, FamilyFirewall};

    use super::*;

    fn empty_plan() -> FirewallPlan {
        let family = |family| FamilyFirewall {
            family,
            nat_source: Default::default(),
            nat_destination: Default::default(),
            mesh: Default::default(),
            snat: None,
            forward: None,
            ipip: None,
        };
        FirewallPlan {
            v4: family(Family::V4),
            v6: family(Family::V6),
        }
    }

    /// A backend that logs "KIND apply" / "KIND clean_up", failing applies when told to.
    struct Logged {
        kind: FirewallBackend,
        log: Arc<Mutex<Vec<String>>>,
        fail: bool,
    }

    impl Firewall for Logged {
        fn apply(&mut self, _: &FirewallPlan) -> Result<ApplyReport, FirewallError> {
            self.log
                .lock()
                .unwrap()
                .push(format!("{:?} apply", self.kind));
            if self.fail {
                return Err(FirewallError::Command {
                    context: "test".to_owned(),
                    command: "nft -f -".to_owned(),
                    status: "exit status: 1".to_owned(),
                    stderr: "refused".to_owned(),
                });
            }
            Ok(ApplyReport::default())
        }
        fn clean_up(&mut self) -> Result<ApplyReport, FirewallError> {
            self.log
                .lock()
                .unwrap()
                .push(format!("{:?} clean_up", self.kind));
            Ok(ApplyReport::default())
        }
        fn request_resync(&mut self) {}
    }

    fn switching(fail: Option<FirewallBackend>) -> (SwitchingFirewall, Arc<Mutex<Vec<String>>>) {
        let log = Arc::new(Mutex::new(Vec::new()));
        let l = Arc::clone(&log);
        let open: Opener = Box::new(move |kind| {
            Box::new(Logged {
                kind,
                log: Arc::clone(&l),
                fail: fail == Some(kind),
            })
        });
        (SwitchingFirewall::new(FirewallBackend::Iptables, open), log)
    }

    #[test]
    fn parse_takes_exactly_the_two_names() {
        assert_eq!(parse("iptables"), Ok(FirewallBackend::Iptables));
        assert_eq!(parse("nftables"), Ok(FirewallBackend::Nftables));
        for bad in [
            "",
            "nft",
            "NFTABLES",
            " nftables",
            "nftables ",
            "iptables,nftables",
            "ipset",
        ] {
            assert!(parse(bad).is_err(), "{bad:?} accepted");
        }
        assert_eq!(
            parse("nft"),
            Err("kilo.squat.ai/firewall-backend=\"nft\": expected \"iptables\" or \"nftables\"; keeping --firewall-backend".to_owned())
        );
    }

    #[test]
    fn switching_applies_the_new_backend_before_the_old_one_cleans_up() {
        let (mut fw, log) = switching(None);
        let plan = empty_plan();
        fw.apply(&plan).unwrap();
        fw.want(FirewallBackend::Nftables);
        fw.apply(&plan).unwrap();
        fw.apply(&plan).unwrap();
        fw.want(FirewallBackend::Iptables);
        fw.apply(&plan).unwrap();
        assert_eq!(fw.kind(), FirewallBackend::Iptables);
        assert_eq!(
            *log.lock().unwrap(),
            [
                "Iptables apply",
                "Nftables apply",
                "Iptables clean_up",
                "Nftables apply",
                "Iptables apply",
                "Nftables clean_up",
            ]
        );
    }

    #[test]
    fn a_failed_switch_keeps_the_old_backend_in_force() {
        let (mut fw, log) = switching(Some(FirewallBackend::Nftables));
        let plan = empty_plan();
        fw.want(FirewallBackend::Nftables);
        assert!(fw.apply(&plan).is_err());
        assert_eq!(fw.kind(), FirewallBackend::Iptables);
        assert_eq!(
            *log.lock().unwrap(),
            ["Nftables apply", "Nftables clean_up"]
        );
    }
}
