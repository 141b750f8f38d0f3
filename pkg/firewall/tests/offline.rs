//! Backend and fake without root: a recording runner answers with an empty firewall.

mod common;

use common::{NodeSpec, node_plan};
use kilo_firewall::{
    FakeFirewall, Firewall as _, FirewallMetrics, IptablesFirewall, Ipv6Mode, RawOutput,
    RecordingRunner, Settings,
};

fn empty_host() -> RecordingRunner {
    RecordingRunner::new(|inv| {
        Ok(match inv.program {
            "iptables-save" => RawOutput::ok(format!(
                "*{}\n:INPUT ACCEPT [0:0]\n:FORWARD ACCEPT [0:0]\n:POSTROUTING ACCEPT [0:0]\nCOMMIT\n",
                inv.args[1]
            )),
            _ => RawOutput::ok(""),
        })
    })
}

#[test]
fn sets_are_written_before_the_rules_that_use_them_one_batch_each() {
    let runner = empty_host();
    let settings = Settings {
        ipv6: Ipv6Mode::Disabled,
        ..Settings::default()
    };
    let mut fw = IptablesFirewall::new(runner.clone(), FirewallMetrics::default(), settings);
    let report = fw
        .apply(&node_plan(&NodeSpec {
            nodes: 2,
            forward: true,
            ..NodeSpec::default()
        }))
        .unwrap();
    assert!(report.ipv6_skipped);
    let batches: Vec<String> = runner
        .calls()
        .into_iter()
        .filter(|c| c.is_mutating())
        .map(|c| {
            format!(
                "{} {}: {}",
                c.program,
                c.args.join(" "),
                c.stdin
                    .unwrap_or_default()
                    .lines()
                    .next()
                    .unwrap_or_default()
            )
        })
        .collect();
    insta::assert_debug_snapshot!(batches, @r#"
    [
        "ipset restore: create kilo-nat-src-v4 hash:net family inet hashsize 1024 maxelem 1048576 -exist",
        "iptables-restore --noflush --wait 10: *nat",
        "iptables-restore --noflush --wait 10: *filter",
    ]
    "#);
}

#[test]
fn a_failing_batch_reports_its_stderr() {
    let runner = RecordingRunner::new(|inv| {
        Ok(
            if inv.program == "ipset" && inv.args.first() == Some(&"restore") {
                RawOutput { success: false, status: "exit status: 1".into(), stdout: String::new(), stderr: "ipset v7.17: Error in line 1: Kernel error received: Operation not permitted\n".into() }
            } else {
                RawOutput::ok("")
            },
        )
    });
    let settings = Settings {
        ipv6: Ipv6Mode::Disabled,
        ..Settings::default()
    };
    let mut fw = IptablesFirewall::new(runner, FirewallMetrics::default(), settings);
    let err = fw
        .apply(&node_plan(&NodeSpec {
            nodes: 1,
            ..NodeSpec::default()
        }))
        .unwrap_err();
    assert!(
        err.to_string()
            .starts_with("applying an ipset restore batch of "),
        "{err}"
    );
    assert!(err.to_string().ends_with("ipset restore exited with exit status: 1: ipset v7.17: Error in line 1: Kernel error received: Operation not permitted"), "{err}");
}

#[test]
fn fake_counts_only_the_families_that_changed() {
    let mut fw = FakeFirewall::default();
    let mut spec = NodeSpec {
        nodes: 3,
        ..NodeSpec::default()
    };
    assert!(fw.apply(&node_plan(&spec)).unwrap().total() > 0);
    assert_eq!(fw.apply(&node_plan(&spec)).unwrap().total(), 0);
    spec.nodes = 4;
    assert_eq!(
        fw.apply(&node_plan(&spec)).unwrap().operations.lines(),
        [
            "nftables/v4/new-table/kilo=1",
            "nftables/v6/new-table/kilo=1"
        ]
    );
    fw.fail_next = Some("boom".into());
    assert!(fw.apply(&node_plan(&spec)).is_err());
    fw.clean_up().unwrap();
    assert_eq!(fw.state, None);
}

#[test]
fn iptables_operations_are_counted_as_go_kilo_names_them() {
    let mut registry = prometheus_client::registry::Registry::default();
    let metrics = FirewallMetrics::register(&mut registry);
    let settings = Settings {
        ipv6: Ipv6Mode::Disabled,
        ..Settings::default()
    };
    let mut fw = IptablesFirewall::new(empty_host(), metrics, settings);
    fw.apply(&node_plan(&NodeSpec {
        nodes: 2,
        forward: true,
        ..NodeSpec::default()
    }))
    .unwrap();
    let mut text = String::new();
    prometheus_client::encoding::text::encode(&mut text, &registry).unwrap();
    let mut lines: Vec<&str> = text
        .lines()
        .filter(|l| l.contains("kilo_iptables_operations"))
        .collect();
    lines.sort_unstable();
    insta::assert_debug_snapshot!(lines, @r##"
    [
        "# HELP kilo_iptables_operations Number of iptables operations.",
        "# TYPE kilo_iptables_operations counter",
        "kilo_iptables_operations_total{protocol=\"IPv4\",operation=\"AppendUnique\",table=\"filter\",chain=\"INPUT\"} 2",
        "kilo_iptables_operations_total{protocol=\"IPv4\",operation=\"AppendUnique\",table=\"filter\",chain=\"KILO-FORWARD\"} 2",
        "kilo_iptables_operations_total{protocol=\"IPv4\",operation=\"AppendUnique\",table=\"filter\",chain=\"KILO-IPIP\"} 1",
        "kilo_iptables_operations_total{protocol=\"IPv4\",operation=\"AppendUnique\",table=\"nat\",chain=\"KILO-NAT\"} 2",
        "kilo_iptables_operations_total{protocol=\"IPv4\",operation=\"InsertUnique\",table=\"filter\",chain=\"FORWARD\"} 1",
        "kilo_iptables_operations_total{protocol=\"IPv4\",operation=\"InsertUnique\",table=\"nat\",chain=\"POSTROUTING\"} 2",
        "kilo_iptables_operations_total{protocol=\"IPv4\",operation=\"NewChain\",table=\"filter\",chain=\"KILO-FORWARD\"} 1",
        "kilo_iptables_operations_total{protocol=\"IPv4\",operation=\"NewChain\",table=\"filter\",chain=\"KILO-IPIP\"} 1",
        "kilo_iptables_operations_total{protocol=\"IPv4\",operation=\"NewChain\",table=\"nat\",chain=\"KILO-NAT\"} 1",
    ]
    "##);
}
