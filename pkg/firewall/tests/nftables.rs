//! The nftables backend against real kernels, each test in its own network namespace: the table
//! equals the plan's rendering, re-applies write nothing, a join is element additions only, an
//! egress change touches only the SNAT rule, hand damage is repaired exactly, and nothing outside
//! kg's tables is touched. Needs root and `nft` (fails otherwise).

mod common;

use std::collections::BTreeSet;

use common::{NodeSpec, TestNs, assert_reapply_writes_nothing, node_cidrs, node_plan};
use kilo_firewall::{Firewall as _, Operation};
use kilo_mesh::plan::firewall::nftables::nft_table;
use kilo_mesh::plan::firewall::{Family, FirewallPlan};

#[cfg(test)]
/// `nft list table <family> kilo` (no handles), or "" when the table does not exist.
fn listing(ns: &TestNs, family: &str) -> String {
    let tables = ns.sh("nft", &["list", "tables"], None);
    if !tables.lines().any(|l| l == format!("table {family} kilo")) {
        return String::new();
    }
    ns.sh("nft", &["list", "table", family, "kilo"], None)
}

#[cfg(test)]
/// The whole ruleset without kg's tables.
fn foreign_ruleset(ns: &TestNs) -> String {
    let all = ns.sh("nft", &["list", "ruleset"], None);
    let mut out = String::new();
    let mut skipping = false;
    for line in all.lines() {
        if line.starts_with("table ") {
            skipping = line == "table ip kilo {" || line == "table ip6 kilo {";
        }
        if !skipping {
            out.push_str(line);
            out.push('\n');
        }
    }
    out
}

#[cfg(test)]
fn sorted(v: &[String]) -> Vec<String> {
    let mut v = v.to_vec();
    v.sort();
    v
}

#[cfg(test)]
fn spec(nodes: usize, egress: Option<&str>) -> FirewallPlan {
    node_plan(&NodeSpec {
        nodes,
        egress_v4: egress.map(|e| e.parse().unwrap()),
        forward: true,
        ..NodeSpec::default()
    })
}

#[test]
fn apply_equals_the_rendered_table_and_reapply_writes_nothing() {
    let ns = TestNs::new();
    let reference = TestNs::new();
    let plan = spec(3, Some("192.168.77.101"));
    let (mut fw, registry) = ns.nft_firewall();
    let report = fw.apply(&plan).unwrap();
    assert!(!report.ipv6_skipped);
    for ff in plan.families() {
        reference.sh("nft", &["-f", "-"], Some(&nft_table(ff).render()));
    }
    for family in ["ip", "ip6"] {
        assert_eq!(listing(&ns, family), listing(&reference, family));
    }
    let v4 = listing(&ns, "ip");
    assert!(v4.contains("snat to 192.168.77.101 comment \"Kilo: SNAT to the egress IP of this node (192.168.77.101)\"\n\t\tmasquerade comment"), "{v4}");
    assert!(
        v4.contains("type nat hook postrouting priority srcnat; policy accept;"),
        "{v4}"
    );

    let runner = fw.runner().clone();
    assert_reapply_writes_nothing(&mut fw, &runner, &registry, &plan);
}

#[test]
fn one_node_joining_fifty_is_only_element_additions() {
    let ns = TestNs::new();
    let (mut fw, _registry) = ns.nft_firewall();
    fw.apply(&spec(50, None)).unwrap();
    let before = listing(&ns, "ip");
    let report = fw.apply(&spec(51, None)).unwrap();
    assert_eq!(
        report.operations.lines(),
        sorted(&[
            format!(
                "nftables/v4/set-add/mesh={}",
                node_cidrs(50, Family::V4).len()
            ),
            format!(
                "nftables/v6/set-add/mesh={}",
                node_cidrs(50, Family::V6).len()
            ),
        ])
    );
    let after = listing(&ns, "ip");
    let rules = |s: &str| -> Vec<String> {
        s.lines()
            .filter(|l| l.contains(" comment \""))
            .map(str::to_owned)
            .collect()
    };
    assert_eq!(rules(&after), rules(&before), "rules must not change");
    assert!(after.contains("10.42.50.0/24"), "{after}");
}

#[test]
fn egress_changes_touch_only_the_snat_rule() {
    let ns = TestNs::new();
    let (mut fw, _registry) = ns.nft_firewall();
    fw.apply(&spec(3, None)).unwrap();
    let steps = [
        (Some("192.168.77.101"), vec!["nftables/v4/insert/nat=1"]),
        (
            Some("192.168.77.102"),
            vec!["nftables/v4/delete/nat=1", "nftables/v4/insert/nat=1"],
        ),
        (None, vec!["nftables/v4/delete/nat=1"]),
    ];
    for (egress, want) in steps {
        let before = listing(&ns, "ip");
        let report = fw.apply(&spec(3, egress)).unwrap();
        assert_eq!(report.operations.lines(), want, "egress {egress:?}");
        let after = listing(&ns, "ip");
        let (b, a): (BTreeSet<&str>, BTreeSet<&str>) =
            (before.lines().collect(), after.lines().collect());
        let changed: Vec<&&str> = b.symmetric_difference(&a).collect();
        assert!(
            changed.iter().all(|l| l.contains("snat to")),
            "egress {egress:?}: {changed:?}"
        );
        match egress {
            Some(ip) => assert!(after.contains(&format!("snat to {ip} ")), "{after}"),
            None => assert!(!after.contains("snat to"), "{after}"),
        }
    }
}

#[test]
fn hand_damage_is_repaired_exactly_and_foreign_objects_survive() {
    let ns = TestNs::new();
    ns.sh(
        "nft",
        &["-f", "-"],
        Some("add table inet foreign\nadd chain inet foreign c { type filter hook forward priority 10; policy accept; }\nadd rule inet foreign c counter accept comment \"not kg's\"\n"),
    );
    ns.sh(
        "iptables",
        &[
            "-t",
            "nat",
            "-A",
            "POSTROUTING",
            "-s",
            "10.99.0.0/16",
            "-j",
            "MASQUERADE",
        ],
        None,
    );
    let foreign = foreign_ruleset(&ns);
    let plan = spec(3, Some("192.168.77.101"));
    let (mut fw, _registry) = ns.nft_firewall();
    fw.apply(&plan).unwrap();
    let good = listing(&ns, "ip");
    assert_eq!(foreign_ruleset(&ns), foreign);

    let masq = ns.sh("nft", &["-a", "list", "chain", "ip", "kilo", "nat"], None);
    let handle = masq
        .lines()
        .find(|l| l.contains("masquerade"))
        .and_then(|l| l.rsplit("# handle ").next())
        .unwrap()
        .trim()
        .to_owned();
    ns.sh(
        "nft",
        &["delete", "rule", "ip", "kilo", "nat", "handle", &handle],
        None,
    );
    ns.sh(
        "nft",
        &["add", "element", "ip", "kilo", "mesh", "{ 10.250.0.0/16 }"],
        None,
    );
    let report = fw.apply(&plan).unwrap();
    assert_eq!(
        report.operations.lines(),
        ["nftables/v4/append/nat=1", "nftables/v4/set-del/mesh=1"]
    );
    assert_eq!(listing(&ns, "ip"), good);

    let cleaned = fw.clean_up().unwrap();
    assert_eq!(cleaned.operations.of(Operation::DeleteTable), 2);
    assert_eq!(listing(&ns, "ip"), "");
    assert_eq!(listing(&ns, "ip6"), "");
    assert_eq!(foreign_ruleset(&ns), foreign);
    assert_eq!(
        fw.clean_up().unwrap().total(),
        0,
        "a second clean-up finds nothing"
    );
}

#[test]
fn stale_parts_go_and_a_resync_rewrites_sets_in_one_transaction() {
    let ns = TestNs::new();
    let (mut fw, _registry) = ns.nft_firewall();
    fw.apply(&spec(3, None)).unwrap();
    let mut no_forward = spec(3, None);
    for ff in [&mut no_forward.v4, &mut no_forward.v6] {
        ff.forward = None;
    }
    let report = fw.apply(&no_forward).unwrap();
    let lines = report.operations.lines();
    assert!(
        lines.contains(&"nftables/v4/delete-chain/forward=1".to_owned()),
        "{lines:?}"
    );
    assert!(
        lines.contains(&"nftables/v4/set-destroy/forward=1".to_owned()),
        "{lines:?}"
    );
    assert!(!listing(&ns, "ip").contains("forward"));

    fw.runner().clear();
    fw.request_resync();
    let report = fw.apply(&no_forward).unwrap();
    assert!(report.operations.of(Operation::SetFlush) > 0);
    assert_eq!(
        report.operations.of(Operation::Insert) + report.operations.of(Operation::Append),
        0
    );
    let writes: Vec<_> = fw
        .runner()
        .calls()
        .into_iter()
        .filter(|c| c.is_mutating())
        .collect();
    assert_eq!(writes.len(), 2, "one transaction per family: {writes:?}");
    assert_eq!(fw.apply(&no_forward).unwrap().total(), 0);
}
