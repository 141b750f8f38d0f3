//! Both backends between read-backs (needs root, iptables, ipset): within
//! `Settings::verify_every` a plan that changes only set members is written from what the last
//! apply left — one `ipset restore` of the changed members, no read — while a rule change, a
//! requested resync or an expired trust reads the kernel back and repairs what drifted.

#[cfg(test)]
mod common;

use std::time::Duration;

use common::{NodeSpec, TestNs, node_plan};
use kilo_firewall::{Firewall as _, Settings};

#[cfg(test)]
fn trusting(seconds: u64) -> Settings {
    Settings {
        verify_every: Duration::from_secs(seconds),
        ..Settings::default()
    }
}

#[cfg(test)]
fn programs(fw: &kilo_firewall::IptablesFirewall<kilo_firewall::RecordingRunner>) -> Vec<String> {
    fw.runner()
        .calls()
        .iter()
        .map(|c| format!("{} {}", c.program, c.args.join(" ")))
        .collect()
}

#[test]
fn a_join_within_the_trust_is_one_ipset_batch_of_its_members_and_no_read() {
    let ns = TestNs::new();
    let mut spec = NodeSpec {
        nodes: 50,
        forward: true,
        ..NodeSpec::default()
    };
    let (mut fw, _registry) = ns.firewall_with(trusting(3600));
    fw.apply(&node_plan(&spec)).unwrap();
    let rules_before = ns.save_all();
    fw.runner().clear();

    spec.nodes = 51;
    let report = fw.apply(&node_plan(&spec)).unwrap();
    assert_eq!(programs(&fw), ["ipset restore"]);
    assert_eq!(
        fw.runner().calls()[0].stdin.as_deref(),
        Some(
            "add kilo-mesh-v4 10.4.0.51/32 -exist\nadd kilo-mesh-v4 10.42.50.0/24 -exist\nadd kilo-mesh-v4 192.168.0.51/32 -exist\n\
             add kilo-mesh-v6 fd00::32:1/128 -exist\nadd kilo-mesh-v6 fd42:0:0:32::/64 -exist\n"
        )
    );
    assert_eq!(report.total(), 5);
    assert_eq!(ns.save_all(), rules_before, "rules must be byte-identical");
    assert!(ns.sets()["kilo-mesh-v4"].1.contains("10.42.50.0/24"));

    // The same plan again: nothing to write, and nothing is read either.
    fw.runner().clear();
    assert_eq!(fw.apply(&node_plan(&spec)).unwrap().total(), 0);
    assert!(programs(&fw).is_empty(), "{:?}", programs(&fw));

    // A node leaving is its members' deletion, the same way.
    fw.runner().clear();
    spec.nodes = 50;
    fw.apply(&node_plan(&spec)).unwrap();
    assert_eq!(programs(&fw), ["ipset restore"]);
    assert!(!ns.sets()["kilo-mesh-v4"].1.contains("10.42.50.0/24"));
}

#[test]
fn a_rule_change_a_resync_or_an_expired_trust_reads_the_kernel_back() {
    let ns = TestNs::new();
    let mut spec = NodeSpec {
        nodes: 5,
        ..NodeSpec::default()
    };
    let (mut fw, _registry) = ns.firewall_with(trusting(3600));
    fw.apply(&node_plan(&spec)).unwrap();

    // SNAT appears: a rule changes, so the kernel is read first.
    fw.runner().clear();
    spec.egress_v4 = Some("192.0.2.10".parse().unwrap());
    fw.apply(&node_plan(&spec)).unwrap();
    assert!(
        programs(&fw).contains(&"iptables-save -t nat".to_owned()),
        "{:?}",
        programs(&fw)
    );

    // Drift behind kg's back is not seen within the trust, and is repaired on a resync.
    ns.sh("ipset", &["flush", "kilo-mesh-v4"], None);
    fw.runner().clear();
    assert_eq!(fw.apply(&node_plan(&spec)).unwrap().total(), 0);
    assert!(programs(&fw).is_empty());
    fw.request_resync();
    fw.apply(&node_plan(&spec)).unwrap();
    assert!(
        !ns.sets()["kilo-mesh-v4"].1.is_empty(),
        "the flushed set was refilled"
    );

    // With no trust at all (the default) every apply reads back and repairs.
    let (mut strict, _registry) = ns.firewall_with(trusting(0));
    strict.apply(&node_plan(&spec)).unwrap();
    ns.sh("ipset", &["flush", "kilo-mesh-v4"], None);
    strict.apply(&node_plan(&spec)).unwrap();
    assert!(
        !ns.sets()["kilo-mesh-v4"].1.is_empty(),
        "the flushed set was refilled"
    );
}

#[test]
fn nftables_within_the_trust_writes_a_join_as_one_element_transaction_and_no_read() {
    let ns = TestNs::new();
    let mut spec = NodeSpec {
        nodes: 50,
        ..NodeSpec::default()
    };
    let (fw, _registry) = ns.nft_firewall();
    let mut fw = fw.trusting(Duration::from_secs(3600));
    fw.apply(&node_plan(&spec)).unwrap();
    fw.runner().clear();
    spec.nodes = 51;
    fw.apply(&node_plan(&spec)).unwrap();
    let calls: Vec<String> = fw
        .runner()
        .calls()
        .iter()
        .map(|c| format!("{} {}", c.program, c.args.join(" ")))
        .collect();
    assert_eq!(
        calls,
        ["nft -f -", "nft -f -"],
        "one transaction per family, no read"
    );
    assert_eq!(
        fw.runner().calls()[0].stdin.as_deref(),
        Some("add element ip kilo mesh { 10.4.0.51/32, 10.42.50.0/24, 192.168.0.51/32 }\n")
    );
    let listed = ns.sh("nft", &["list", "set", "ip", "kilo", "mesh"], None);
    assert!(listed.contains("10.42.50.0/24"), "{listed}");
    fw.runner().clear();
    assert_eq!(fw.apply(&node_plan(&spec)).unwrap().total(), 0);
    assert!(fw.runner().calls().is_empty());
    // A rule change reads the table back.
    spec.egress_v4 = Some("192.0.2.10".parse().unwrap());
    fw.apply(&node_plan(&spec)).unwrap();
    assert!(
        fw.runner()
            .calls()
            .iter()
            .any(|c| c.args.first().is_some_and(|a| a == "-j")),
        "no read before a rule change"
    );
}
