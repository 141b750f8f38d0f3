//! "kgctl plan shows what kg applies": every planning flag of `kgctl plan` has kg's name, default,
//! value set and environment variable, read from both binaries' `--help` (black box).

use std::collections::BTreeMap;
use std::path::PathBuf;
use std::process::Command;

/// Each `--flag` of a `-h` listing with the bracketed facts of its help line
/// (`[env: …]`, `[default: …]`, `[possible values: …]`).
#[cfg(test)]
fn flags(program: &PathBuf, args: &[&str]) -> BTreeMap<String, String> {
    let out = Command::new(program).args(args).output().unwrap();
    assert!(
        out.status.success(),
        "{} {args:?} failed",
        program.display()
    );
    let text = String::from_utf8(out.stdout).unwrap();
    let mut map = BTreeMap::new();
    let mut current: Option<String> = None;
    for line in text.lines() {
        let t = line.trim_start();
        if let Some(rest) = t.strip_prefix("--") {
            let name: String = rest
                .chars()
                .take_while(|c| c.is_ascii_alphanumeric() || *c == '-')
                .collect();
            current = Some(name);
        } else if let Some(name) = current.take() {
            let facts = t.find(" [").map_or("", |i| &t[i + 1..]).to_owned();
            map.insert(name, facts);
        }
    }
    map
}

/// The kg binary built beside kgctl (`cargo test --workspace` builds both).
#[cfg(test)]
fn kg() -> PathBuf {
    let kg = PathBuf::from(env!("CARGO_BIN_EXE_kgctl")).with_file_name("kg");
    assert!(
        kg.exists(),
        "{} is missing: build kg first (cargo build -p kg) or run the workspace tests",
        kg.display()
    );
    kg
}

#[test]
fn planning_flags_are_kgs_own() {
    let kgctl = PathBuf::from(env!("CARGO_BIN_EXE_kgctl"));
    let ours = flags(&kgctl, &["plan", "-h"]);
    let theirs = flags(&kg(), &["-h"]);
    let shared = [
        "mesh-granularity",
        "subnet",
        "port",
        "interface",
        "encapsulate",
        "tunnel",
        "compatibility",
        "service-cidr",
        "iptables-forward-rules",
        "cni",
        "local",
        "mtu",
        "topology-label",
        "firewall-backend",
        "internal-cidr",
        "prioritise-private-addresses",
    ];
    for name in shared {
        assert!(ours.contains_key(name), "kgctl plan has no --{name}");
        assert_eq!(
            ours.get(name),
            theirs.get(name),
            "--{name}: kgctl plan and kg disagree"
        );
    }
    // and what they agree on is Kilo's
    let expect = [
        (
            "mesh-granularity",
            "[env: KILO_MESH_GRANULARITY=] [default: location] [possible values: location, full]",
        ),
        ("subnet", "[env: KILO_SUBNET=] [default: 10.4.0.0/16]"),
        ("port", "[env: KILO_PORT=] [default: 51820]"),
        ("interface", "[env: KILO_INTERFACE=] [default: kilo0]"),
        (
            "encapsulate",
            "[env: KILO_ENCAPSULATE=] [default: always] [possible values: always, crosssubnet, never]",
        ),
        (
            "tunnel",
            "[env: KILO_TUNNEL=] [default: ipip] [possible values: ipip, vxlan]",
        ),
        (
            "compatibility",
            "[env: KILO_COMPATIBILITY=] [possible values: flannel, cilium]",
        ),
        // true, or false with --compatibility (the help line says so)
        ("cni", "[env: KILO_CNI=] [possible values: true, false]"),
        ("mtu", "[env: KILO_MTU=] [default: auto]"),
        (
            "firewall-backend",
            "[env: KILO_FIREWALL_BACKEND=] [default: iptables] [possible values: iptables, nftables]",
        ),
    ];
    for (name, facts) in expect {
        assert_eq!(ours.get(name).map(String::as_str), Some(facts), "--{name}");
    }
}
