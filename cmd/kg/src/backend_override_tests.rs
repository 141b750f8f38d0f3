//! Unit tests of `backend_override`.

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
        allowed_location: Default::default(),
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
