//! The iptables + ipset backend against real kernels, each test in its own network namespace.
//! Needs root, `ip`, `iptables-restore`, `ip6tables-restore` and `ipset` (fails otherwise).

mod common;

use std::collections::BTreeSet;

use common::{
    NodeSpec, TestNs, apply_reference, assert_reapply_writes_nothing, counters, node_cidrs,
    node_plan,
};
use kilo_firewall::{Firewall as _, Operation};
use kilo_mesh::plan::firewall::Family;

/// Lines of `after` not in `before` and of `before` not in `after` (as multisets are not needed:
/// every line of a save is unique here).
/// Sorted owned strings, to compare with [`kilo_firewall::OpCounts::lines`].
fn sorted<S: AsRef<str>>(v: &[S]) -> Vec<String> {
    let mut out: Vec<String> = v.iter().map(|s| s.as_ref().to_owned()).collect();
    out.sort();
    out
}

/// A save without tables that hold nothing but built-in chains (nft creates them on first use).
fn nonempty_tables(save: &str) -> String {
    let mut out = String::new();
    for block in save.split_inclusive("COMMIT\n") {
        if block
            .lines()
            .any(|l| l.starts_with("-A") || (l.starts_with(':') && l.contains(" - [")))
        {
            out.push_str(block);
        }
    }
    out
}

fn diff(before: &str, after: &str) -> (Vec<String>, Vec<String>) {
    let b: BTreeSet<&str> = before.lines().collect();
    let a: BTreeSet<&str> = after.lines().collect();
    let added = a.difference(&b).map(|s| (*s).to_owned()).collect();
    let removed = b.difference(&a).map(|s| (*s).to_owned()).collect();
    (added, removed)
}

#[test]
fn apply_to_empty_netns_matches_plan_and_second_apply_is_a_no_op() {
    let ns = TestNs::new();
    let reference = TestNs::new();
    let plan = node_plan(&NodeSpec {
        nodes: 3,
        egress_v4: Some("192.168.77.101".parse().unwrap()),
        egress_v6: Some("fd77::101".parse().unwrap()),
        forward: true,
        ..NodeSpec::default()
    });
    let (mut fw, registry) = ns.firewall();
    let report = fw.apply(&plan).unwrap();
    assert!(!report.ipv6_skipped);
    assert!(
        report.operations.of(Operation::Delete) == 0,
        "{:?}",
        report.operations.lines()
    );
    apply_reference(&reference, &plan);
    assert_eq!(ns.save_all(), reference.save_all());
    assert_eq!(ns.sets(), reference.sets());
    let v4 = ns.save(Family::V4);
    assert!(v4.contains(
        "-A KILO-NAT -m set ! --match-set kilo-location-v4 dst -m comment --comment \"Kilo: SNAT to the egress IP of this node\" -j SNAT --to-source 192.168.77.101\n-A KILO-NAT -m comment --comment \"Kilo: NAT remaining packets\" -j MASQUERADE\n"
    ), "{v4}");
    assert!(v4.contains("-A INPUT -p ipencap -m comment --comment \"Kilo: jump to IPIP chain\" -j KILO-IPIP\n-A INPUT -p ipencap -m comment --comment \"Kilo: reject other IPIP traffic\" -j DROP\n"), "{v4}");

    let runner = fw.runner().clone();
    assert_reapply_writes_nothing(&mut fw, &runner, &registry, &plan);
}

#[test]
fn one_node_joining_fifty_is_only_set_additions() {
    let ns = TestNs::new();
    let mut spec = NodeSpec {
        nodes: 50,
        forward: true,
        ..NodeSpec::default()
    };
    let (mut fw, registry) = ns.firewall();
    fw.apply(&node_plan(&spec)).unwrap();
    let rules_before = ns.save_all();
    let sets_before = ns.sets();
    let counters_before = counters(&registry);

    spec.nodes = 51;
    let report = fw.apply(&node_plan(&spec)).unwrap();
    let new_v4 = node_cidrs(50, Family::V4);
    let new_v6 = node_cidrs(50, Family::V6);
    assert_eq!(
        report.operations.lines(),
        sorted(&[
            format!("ipset/v4/set-add/kilo-mesh-v4={}", new_v4.len()),
            format!("ipset/v6/set-add/kilo-mesh-v6={}", new_v6.len()),
        ])
    );
    assert_eq!(ns.save_all(), rules_before, "rules must be byte-identical");
    let after = counters(&registry);
    let changed: Vec<_> = after
        .iter()
        .filter(|(k, v)| counters_before.get(*k) != Some(v))
        .collect();
    assert_eq!(changed.len(), 2, "{changed:?}");
    assert!(
        changed
            .iter()
            .all(|(k, _)| k.contains("operation=\"set-add\"")),
        "{changed:?}"
    );
    let sets_after = ns.sets();
    for (name, new) in [("kilo-mesh-v4", &new_v4), ("kilo-mesh-v6", &new_v6)] {
        let added: BTreeSet<String> = sets_after[name]
            .1
            .difference(&sets_before[name].1)
            .cloned()
            .collect();
        // ipset prints host routes without their prefix.
        let want: BTreeSet<String> = new
            .iter()
            .map(|c| {
                c.trim_end_matches("/32")
                    .trim_end_matches("/128")
                    .to_owned()
            })
            .collect();
        assert_eq!(added, want);
    }
}

/// Asserts that `after` differs from `before` only by `added`/`removed` SNAT lines, and that a
/// SNAT line, when present, sits immediately before MASQUERADE.
fn assert_only_snat_changed(before: &str, after: &str, added: &[&str], removed: &[&str]) {
    let (a, r) = diff(before, after);
    assert_eq!(
        a,
        added.iter().map(|s| (*s).to_owned()).collect::<Vec<_>>(),
        "added lines"
    );
    assert_eq!(
        r,
        removed.iter().map(|s| (*s).to_owned()).collect::<Vec<_>>(),
        "removed lines"
    );
    let lines: Vec<&str> = after.lines().collect();
    for (i, l) in lines.iter().enumerate() {
        if l.contains("-j SNAT") {
            assert!(lines[i + 1].ends_with("-j MASQUERADE"), "{after}");
        }
    }
    let strip = |s: &str| -> Vec<String> {
        s.lines()
            .filter(|l| !l.contains("-j SNAT"))
            .map(str::to_owned)
            .collect()
    };
    assert_eq!(strip(before), strip(after), "only the SNAT line may move");
}

#[test]
fn egress_snat_appears_changes_and_disappears_alone() {
    let ns = TestNs::new();
    let mut spec = NodeSpec {
        nodes: 3,
        ..NodeSpec::default()
    };
    let (mut fw, _registry) = ns.firewall();
    fw.apply(&node_plan(&spec)).unwrap();
    let snat = |ip: &str| {
        let family = if ip.contains(':') { "v6" } else { "v4" };
        format!(
            "-A KILO-NAT -m set ! --match-set kilo-location-{family} dst -m comment --comment \"{}\" -j SNAT --to-source {ip}",
            common::SNAT
        )
    };
    let steps: [(Option<&str>, Option<&str>, &[&str]); 3] = [
        (
            Some("192.168.77.101"),
            Some("fd77::101"),
            &[
                "iptables/v4/insert/KILO-NAT=1",
                "iptables/v6/insert/KILO-NAT=1",
            ],
        ),
        (
            Some("192.168.77.102"),
            Some("fd77::102"),
            &[
                "iptables/v4/delete/KILO-NAT=1",
                "iptables/v4/insert/KILO-NAT=1",
                "iptables/v6/delete/KILO-NAT=1",
                "iptables/v6/insert/KILO-NAT=1",
            ],
        ),
        (
            None,
            None,
            &[
                "iptables/v4/delete/KILO-NAT=1",
                "iptables/v6/delete/KILO-NAT=1",
            ],
        ),
    ];
    let mut prev = (None::<&str>, None::<&str>);
    for (v4, v6, ops) in steps {
        let before = (ns.save(Family::V4), ns.save(Family::V6));
        spec.egress_v4 = v4.map(|s| s.parse().unwrap());
        spec.egress_v6 = v6.map(|s| s.parse().unwrap());
        fw.runner().clear();
        let report = fw.apply(&node_plan(&spec)).unwrap();
        assert_eq!(report.operations.lines(), sorted(ops));
        for (family, was, now, (b, _)) in [
            (Family::V4, prev.0, v4, (&before.0, ())),
            (Family::V6, prev.1, v6, (&before.1, ())),
        ] {
            let added: Vec<String> = now.map(snat).into_iter().collect();
            let removed: Vec<String> = was.map(snat).into_iter().collect();
            let added: Vec<&str> = added.iter().map(String::as_str).collect();
            let removed: Vec<&str> = removed.iter().map(String::as_str).collect();
            assert_only_snat_changed(b, &ns.save(family), &added, &removed);
        }
        let batches: Vec<String> = fw
            .runner()
            .calls()
            .into_iter()
            .filter(|c| c.is_mutating())
            .filter_map(|c| c.stdin)
            .collect();
        assert!(
            batches.iter().all(|b| b
                .lines()
                .filter(|l| l.starts_with('-'))
                .all(|l| l.contains("-j SNAT"))),
            "{batches:?}"
        );
        prev = (v4, v6);
    }
}

/// Plants foreign rules, chains and sets in both families.
fn plant_foreign(ns: &TestNs) {
    ns.sh("ipset", &["restore"], Some("create foreign-set hash:ip family inet\nadd foreign-set 10.9.9.9\ncreate foreign6 hash:net family inet6\nadd foreign6 fd09::/64\n"));
    for prog in ["iptables-restore", "ip6tables-restore"] {
        ns.sh(prog, &["--noflush"], Some("*nat\n-A POSTROUTING -o eth0 -j MASQUERADE\nCOMMIT\n*filter\n:FOREIGN - [0:0]\n-A FOREIGN -p tcp --dport 22 -j ACCEPT\n-A FORWARD -j FOREIGN\n-A INPUT -p udp --dport 53 -j ACCEPT\nCOMMIT\n"));
    }
    ns.sh(
        "iptables",
        &[
            "-t",
            "filter",
            "-A",
            "FORWARD",
            "-m",
            "set",
            "--match-set",
            "foreign-set",
            "src",
            "-j",
            "DROP",
        ],
        None,
    );
}

#[test]
fn foreign_objects_survive_apply_reapply_and_clean_up() {
    let ns = TestNs::new();
    plant_foreign(&ns);
    let pristine = (ns.save_all(), ns.sets());
    let plan = node_plan(&NodeSpec {
        nodes: 5,
        forward: true,
        egress_v4: Some("192.168.77.101".parse().unwrap()),
        ..NodeSpec::default()
    });
    let (mut fw, _registry) = ns.firewall();
    fw.apply(&plan).unwrap();
    let applied = ns.save_all();
    for line in pristine
        .0
        .lines()
        .filter(|l| l.starts_with("-A") || l.starts_with(":FOREIGN"))
    {
        assert!(
            applied.contains(line),
            "foreign line {line:?} lost:\n{applied}"
        );
    }
    let foreign_sets = |s: &std::collections::BTreeMap<String, _>| -> Vec<String> {
        s.keys()
            .filter(|k: &&String| !k.starts_with("kilo-"))
            .cloned()
            .collect()
    };
    assert_eq!(foreign_sets(&ns.sets()), foreign_sets(&pristine.1));
    assert_eq!(ns.sets()["foreign-set"], pristine.1["foreign-set"]);
    assert_eq!(fw.apply(&plan).unwrap().total(), 0);
    assert_eq!(ns.save_all(), applied);

    let report = fw.clean_up().unwrap();
    assert!(report.operations.of(Operation::SetDestroy) > 0);
    assert_eq!(
        ns.save_all(),
        pristine.0,
        "clean-up must restore the pristine rules"
    );
    assert_eq!(
        ns.sets(),
        pristine.1,
        "clean-up must leave only foreign sets"
    );
    assert_eq!(
        fw.clean_up().unwrap().total(),
        0,
        "a second clean-up has nothing to do"
    );
}

#[test]
fn hand_damage_is_repaired_exactly() {
    let ns = TestNs::new();
    let plan = node_plan(&NodeSpec {
        nodes: 10,
        forward: true,
        ..NodeSpec::default()
    });
    let (mut fw, _registry) = ns.firewall();
    fw.apply(&plan).unwrap();
    let (rules, sets) = (ns.save_all(), ns.sets());
    let mesh_return = format!(
        "-m set --match-set kilo-mesh-v4 dst -m comment --comment \"{}\" -j RETURN",
        common::MESH_RETURN
    );
    ns.sh(
        "iptables-restore",
        &["--noflush"],
        Some(&format!("*nat\n-D KILO-NAT {mesh_return}\nCOMMIT\n")),
    );
    ns.sh("ip6tables-restore", &["--noflush"], Some("*filter\n-D FORWARD -m comment --comment \"Kilo: jump to KILO-FORWARD chain\" -j KILO-FORWARD\nCOMMIT\n"));
    ns.sh("ipset", &["flush", "kilo-mesh-v4"], None);

    let report = fw.apply(&plan).unwrap();
    let entries = plan.v4.mesh.len();
    assert_eq!(
        report.operations.lines(),
        sorted(&[
            "iptables/v4/insert/KILO-NAT=1".to_owned(),
            "iptables/v6/insert/FORWARD=1".to_owned(),
            format!("ipset/v4/set-add/kilo-mesh-v4-tmp={entries}"),
            "ipset/v4/set-create/kilo-mesh-v4-tmp=1".to_owned(),
            "ipset/v4/set-destroy/kilo-mesh-v4-tmp=1".to_owned(),
            "ipset/v4/set-flush/kilo-mesh-v4-tmp=1".to_owned(),
            "ipset/v4/set-swap/kilo-mesh-v4=1".to_owned(),
        ])
    );
    assert_eq!(ns.save_all(), rules);
    assert_eq!(ns.sets(), sets);
    assert_eq!(fw.apply(&plan).unwrap().total(), 0);
}

#[test]
fn stale_parts_go_and_a_requested_resync_swaps_every_set() {
    let ns = TestNs::new();
    let mut spec = NodeSpec {
        nodes: 4,
        forward: true,
        ..NodeSpec::default()
    };
    let (mut fw, _registry) = ns.firewall();
    fw.apply(&node_plan(&spec)).unwrap();
    spec.forward = false;
    let report = fw.apply(&node_plan(&spec)).unwrap();
    for line in [
        "iptables/v4/delete-chain/KILO-FORWARD=1",
        "iptables/v4/delete/FORWARD=1",
        "ipset/v6/set-destroy/kilo-forward-v6=1",
    ] {
        assert!(
            report.operations.lines().contains(&line.to_owned()),
            "{:?}",
            report.operations.lines()
        );
    }
    let reference = TestNs::new();
    apply_reference(&reference, &node_plan(&spec));
    assert_eq!(
        nonempty_tables(&ns.save_all()),
        nonempty_tables(&reference.save_all())
    );
    assert_eq!(ns.sets(), reference.sets());

    let rules = ns.save_all();
    fw.request_resync();
    let report = fw.apply(&node_plan(&spec)).unwrap();
    let sets = node_plan(&spec)
        .families()
        .iter()
        .map(|f| f.sets().len())
        .sum::<usize>() as u64;
    assert_eq!(report.operations.of(Operation::SetSwap), sets);
    assert_eq!(
        report.operations.of(Operation::Insert) + report.operations.of(Operation::Delete),
        0
    );
    assert_eq!(ns.save_all(), rules);
    assert_eq!(ns.sets(), reference.sets());
}

#[test]
fn ipv6_disabled_degrades_to_ipv4_only() {
    let ns = TestNs::new();
    ns.sh(
        "sysctl",
        &["-q", "-w", "net.ipv6.conf.all.disable_ipv6=1"],
        None,
    );
    let (mut fw, _registry) = ns.firewall();
    let report = fw
        .apply(&node_plan(&NodeSpec {
            nodes: 2,
            ..NodeSpec::default()
        }))
        .unwrap();
    assert!(report.ipv6_skipped);
    assert!(report.operations.0.keys().all(|k| k.family == Family::V4));
    assert!(!ns.save(Family::V6).contains("KILO"));
    assert!(ns.save(Family::V4).contains("KILO-NAT"));
}
