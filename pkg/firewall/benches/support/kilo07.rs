//! The two reference sides of the firewall benchmark, run on the calling thread's network
//! namespace: Go Kilo 0.7's iptables controller (`pkg/iptables/iptables.go` at tag 0.7.0, driven
//! through go-iptables 0.8: one `iptables` process per check and per rule, the per-CIDR rules
//! prepended) and the floor (one `ipset restore` and one `iptables-restore` per family of the
//! same content kilo-rs writes). Spawns processes.
//!
//! What Kilo 0.7 runs, per `Controller` method, for the same plan:
//! - `Set` on an empty controller (full sync): each append rule in order — a chain is
//!   `ClearChain` (`-N`), a rule `AppendUnique` (`-C`, then `-A`) — then each prepend rule
//!   `InsertUnique` (`-C`, then `-I <chain> 1`);
//! - `Set` with one more prepend rule (a join): the in-memory comparison, then that rule's
//!   `InsertUnique` (`-C`, `-I`);
//! - `reconcile` with everything in place (no-op resync): the rule cache lists each table's
//!   chains once (`-t nat -S`) and each chain once (`-S <chain>`), then looks every rule up in
//!   memory.
//!
//! Every command carries `--wait`, as go-iptables adds it. Kilo's in-memory work (its `Set`
//! compares prepend rules pairwise as strings) is done here with a hash set, so this side is a
//! lower bound of Kilo 0.7.

use std::collections::HashSet;
use std::process::{Command, Stdio};

use ipnet::IpNet;
use kilo_mesh::plan::firewall::iptables::ruleset;
use kilo_mesh::plan::firewall::{Family, FirewallPlan};

/// One rule or chain of the controller, in go-iptables terms.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub enum Rule {
    /// `NewIPv4Chain`/`NewIPv6Chain("nat", name)`.
    Chain(Family, &'static str),
    /// `NewRule(proto, "nat", chain, spec...)`.
    Rule(Family, &'static str, Vec<String>),
}

fn program(f: Family) -> &'static str {
    match f {
        Family::V4 => "iptables",
        Family::V6 => "ip6tables",
    }
}

/// Runs one `iptables`/`ip6tables` command; returns whether it exited 0 (`-C` exits 1 when the
/// rule is missing), panics when it could not run or failed otherwise.
fn iptables(f: Family, args: &[&str]) -> bool {
    let out = Command::new(program(f))
        .args(args)
        .arg("--wait")
        .stdin(Stdio::null())
        .output()
        .unwrap_or_else(|e| panic!("{} could not start: {e}", program(f)));
    match out.status.code() {
        Some(0) => true,
        Some(1) if args.contains(&"-C") || args.contains(&"-N") => false,
        _ => panic!(
            "{} {args:?}: {}",
            program(f),
            String::from_utf8_lossy(&out.stderr)
        ),
    }
}

fn spec(r: &[String]) -> Vec<&str> {
    r.iter().map(String::as_str).collect()
}

/// go-iptables `InsertUnique(table, chain, 1, spec)` / `AppendUnique`: `-C`, then `-I`/`-A`.
fn unique(f: Family, chain: &str, rule: &[String], verb: &str) {
    let mut args = vec!["-t", "nat", "-C", chain];
    args.extend(spec(rule));
    if !iptables(f, &args) {
        args[2] = verb;
        if verb == "-I" {
            args.insert(4, "1");
        }
        iptables(f, &args);
    }
}

/// The rule that keeps traffic to a mesh CIDR from being NATed (Kilo 0.7's per-allowed-IP rule).
pub fn known_ip(net: IpNet) -> Rule {
    let f = if net.addr().is_ipv4() {
        Family::V4
    } else {
        Family::V6
    };
    let spec = [
        "-d",
        &net.to_string(),
        "-m",
        "comment",
        "--comment",
        "Kilo: do not NAT packets destined for known IPs",
        "-j",
        "RETURN",
    ];
    Rule::Rule(
        f,
        "KILO-NAT",
        spec.iter().map(|s| (*s).to_owned()).collect(),
    )
}

/// Kilo 0.7's rules for the NAT part of `plan` (append rules, prepend rules): the chains and the
/// MASQUERADE rules appended; the POSTROUTING jump of each NATed source and one RETURN per
/// mesh CIDR prepended.
pub fn rules(plan: &FirewallPlan) -> (Vec<Rule>, Vec<Rule>) {
    let mut append = vec![
        Rule::Chain(Family::V4, "KILO-NAT"),
        Rule::Chain(Family::V6, "KILO-NAT"),
    ];
    let mut prepend = Vec::new();
    for ff in [&plan.v4, &plan.v6] {
        for src in &ff.nat_source {
            let s = [
                "-s",
                &src.to_string(),
                "-m",
                "comment",
                "--comment",
                "Kilo: jump to KILO-NAT chain",
                "-j",
                "KILO-NAT",
            ];
            let s = s.iter().map(|x| (*x).to_owned()).collect();
            prepend.push(Rule::Rule(ff.family, "POSTROUTING", s));
        }
        prepend.extend(ff.mesh.iter().map(|n| known_ip(*n)));
    }
    for f in [Family::V4, Family::V6] {
        let s = [
            "-m",
            "comment",
            "--comment",
            "Kilo: NAT remaining packets",
            "-j",
            "MASQUERADE",
        ];
        append.push(Rule::Rule(
            f,
            "KILO-NAT",
            s.iter().map(|x| (*x).to_owned()).collect(),
        ));
    }
    (append, prepend)
}

/// `Set` on an empty controller.
pub fn full_sync(append: &[Rule], prepend: &[Rule]) {
    for r in append {
        match r {
            Rule::Chain(f, c) => {
                // ClearChain: -N, and -F when it exists
                if !iptables(*f, &["-t", "nat", "-N", c]) {
                    iptables(*f, &["-t", "nat", "-F", c]);
                }
            }
            Rule::Rule(f, c, s) => unique(*f, c, s, "-A"),
        }
    }
    for r in prepend {
        if let Rule::Rule(f, c, s) = r {
            unique(*f, c, s, "-I");
        }
    }
}

/// `Set` with one more prepend rule than `known` (the controller's memory).
pub fn join(known: &mut HashSet<Rule>, new: Rule) {
    if known.insert(new.clone())
        && let Rule::Rule(f, c, s) = &new
    {
        unique(*f, c, s, "-I");
    }
}

/// The line of `iptables -S` for a rule (go-iptables `rule.String()` minus the table).
fn listed(c: &str, s: &[String]) -> String {
    let mut line = format!("-A {c}");
    for (i, w) in s.iter().enumerate() {
        if i > 0 && s[i - 1] == "--comment" {
            line.push_str(&format!(" \"{w}\""));
        } else {
            line.push_str(&format!(" {w}"));
        }
    }
    line
}

fn list(f: Family, args: &[&str]) -> String {
    let out = Command::new(program(f))
        .args(args)
        .arg("--wait")
        .output()
        .unwrap_or_else(|e| panic!("{} could not start: {e}", program(f)));
    assert!(out.status.success(), "{} {args:?} failed", program(f));
    String::from_utf8_lossy(&out.stdout).into_owned()
}

/// `reconcile` when nothing is missing; returns how many rules it found missing (0 expected).
pub fn resync(append: &[Rule], prepend: &[Rule]) -> usize {
    let mut cache: HashSet<(Family, String)> = HashSet::new();
    let mut populated: HashSet<(Family, String)> = HashSet::new();
    let mut missing = 0;
    for r in append.iter().chain(prepend) {
        let (f, key, chain) = match r {
            Rule::Chain(f, c) => (*f, format!("-N {c}"), None),
            Rule::Rule(f, c, s) => (*f, listed(c, s), Some(*c)),
        };
        let scope = (f, chain.unwrap_or("").to_owned());
        if !cache.contains(&(f, key.clone())) && populated.insert(scope) {
            let text = match chain {
                None => list(f, &["-t", "nat", "-S"]),
                Some(c) => list(f, &["-t", "nat", "-S", c]),
            };
            cache.extend(text.lines().map(|l| (f, l.to_owned())));
        }
        missing += usize::from(!cache.contains(&(f, key)));
    }
    missing
}

/// Loads the state `full_sync` leaves, with one `iptables-restore` per family (prepended rules
/// end up in reverse order), for sizes whose full sync is not run.
pub fn preload(append: &[Rule], prepend: &[Rule]) {
    for f in [Family::V4, Family::V6] {
        let mut text = "*nat\n:KILO-NAT - [0:0]\n".to_owned();
        for r in append.iter().chain(prepend.iter().rev()) {
            if let Rule::Rule(rf, c, s) = r
                && *rf == f
            {
                text.push_str(&listed(c, s));
                text.push('\n');
            }
        }
        text.push_str("COMMIT\n");
        restore(&format!("{}-restore", program(f)), &["--noflush"], &text);
    }
}

/// Runs a `*-restore` program with `stdin`.
pub fn restore(prog: &str, args: &[&str], stdin: &str) {
    use std::io::Write as _;
    let mut child = Command::new(prog)
        .args(args)
        .stdin(Stdio::piped())
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap_or_else(|e| panic!("{prog} could not start: {e}"));
    if let Some(mut pipe) = child.stdin.take() {
        pipe.write_all(stdin.as_bytes())
            .unwrap_or_else(|e| panic!("{prog}: {e}"));
    }
    let out = child
        .wait_with_output()
        .unwrap_or_else(|e| panic!("{prog}: {e}"));
    assert!(
        out.status.success(),
        "{prog}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
}

/// The floor's full sync: every set in one `ipset restore`, then one `iptables-restore` and one
/// `ip6tables-restore` of kg's rules (the same content kilo-rs writes).
pub fn floor_full(plan: &FirewallPlan) {
    let (v4, v6) = (ruleset(&plan.v4), ruleset(&plan.v6));
    let sets = format!("{}{}", v4.render_ipset_restore(), v6.render_ipset_restore());
    restore("ipset", &["restore"], &sets);
    restore(
        "iptables-restore",
        &["--noflush"],
        &v4.render_iptables_restore(),
    );
    restore(
        "ip6tables-restore",
        &["--noflush"],
        &v6.render_iptables_restore(),
    );
}

/// The floor's join: one `ipset restore` of the one member.
pub fn floor_join(set: &str, net: IpNet) {
    restore("ipset", &["restore"], &format!("add {set} {net} -exist\n"));
}

/// The floor's read-back: `ipset save`, `iptables-save`, `ip6tables-save` (no comparison).
pub fn floor_read() {
    for (prog, args) in [
        ("ipset", &["save"][..]),
        ("iptables-save", &[][..]),
        ("ip6tables-save", &[][..]),
    ] {
        let ok = Command::new(prog)
            .args(args)
            .stdout(Stdio::null())
            .status()
            .is_ok_and(|s| s.success());
        assert!(ok, "{prog} failed");
    }
}
