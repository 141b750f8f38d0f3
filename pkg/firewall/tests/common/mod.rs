//! Shared by the netns tests and the benchmark: a throwaway network namespace (deleted on drop),
//! prerequisite checks, hand-built node plans, and readers of the namespace's firewall state.
#![allow(
    dead_code,
    reason = "shared by several test binaries, each using a subset"
)]
#![allow(
    clippy::unwrap_used,
    reason = "test helpers: a failure is a test failure"
)]

use std::collections::{BTreeMap, BTreeSet};
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};
use std::os::unix::fs::MetadataExt as _;
use std::process::{Command, Stdio};
use std::sync::atomic::{AtomicUsize, Ordering};

use ipnet::IpNet;
use kilo_firewall::{
    Firewall, FirewallMetrics, IptablesFirewall, Ipv6Mode, NetnsRunner, NftablesFirewall,
    RecordingRunner, Settings, which,
};
use kilo_mesh::plan::firewall::iptables::ruleset;
use kilo_mesh::plan::firewall::{Family, FamilyFirewall, FirewallPlan};
use prometheus_client::registry::Registry;

static COUNTER: AtomicUsize = AtomicUsize::new(0);

/// Panics (fails the test) unless we are root and every tool is installed.
pub fn require_prerequisites() {
    let uid = std::fs::metadata("/proc/self")
        .map(|m| m.uid())
        .unwrap_or(u32::MAX);
    assert_eq!(
        uid, 0,
        "kilo-firewall netns tests need root (CI runs them as root)"
    );
    for tool in [
        "ip",
        "iptables-save",
        "iptables-restore",
        "ip6tables-save",
        "ip6tables-restore",
        "ipset",
        "nft",
    ] {
        assert!(
            which(tool).is_some(),
            "kilo-firewall netns tests need `{tool}` in PATH (Debian: iproute2, iptables, ipset, nftables)"
        );
    }
}

/// A fresh network namespace `kfw<pid>-<n>`, deleted when dropped (also on panic).
pub struct TestNs {
    /// Its name.
    pub name: String,
}

impl TestNs {
    pub fn new() -> Self {
        require_prerequisites();
        let n = COUNTER.fetch_add(1, Ordering::SeqCst);
        let name = format!("kfw{}-{n}", std::process::id());
        let st = Command::new("ip")
            .args(["netns", "add", &name])
            .status()
            .unwrap();
        assert!(st.success(), "ip netns add {name} failed");
        Self { name }
    }

    /// Runs a program inside the namespace; panics with its stderr on failure.
    pub fn sh(&self, program: &str, args: &[&str], stdin: Option<&str>) -> String {
        let mut child = Command::new("ip")
            .args(["netns", "exec", &self.name, program])
            .args(args)
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap();
        if let Some(text) = stdin {
            use std::io::Write as _;
            child
                .stdin
                .take()
                .unwrap()
                .write_all(text.as_bytes())
                .unwrap();
        }
        drop(child.stdin.take());
        let out = child.wait_with_output().unwrap();
        assert!(
            out.status.success(),
            "{program} {args:?} in {}: {}",
            self.name,
            String::from_utf8_lossy(&out.stderr)
        );
        String::from_utf8(out.stdout).unwrap()
    }

    /// A recording runner on this namespace and metrics registered in a fresh registry.
    fn parts(&self) -> (RecordingRunner, FirewallMetrics, Registry) {
        let mut registry = Registry::default();
        let metrics = FirewallMetrics::register(&mut registry);
        let runner = RecordingRunner::wrapping(NetnsRunner::new(self.name.clone()));
        (runner, metrics, registry)
    }

    /// An iptables backend on this namespace with a recording runner and registered metrics.
    pub fn firewall(&self) -> (IptablesFirewall<RecordingRunner>, Registry) {
        self.firewall_with(Settings::default())
    }

    /// As [`TestNs::firewall`], with `settings`.
    pub fn firewall_with(
        &self,
        settings: Settings,
    ) -> (IptablesFirewall<RecordingRunner>, Registry) {
        let (runner, metrics, registry) = self.parts();
        (IptablesFirewall::new(runner, metrics, settings), registry)
    }

    /// An nftables backend on this namespace with a recording runner and registered metrics.
    pub fn nft_firewall(&self) -> (NftablesFirewall<RecordingRunner>, Registry) {
        let (runner, metrics, registry) = self.parts();
        (
            NftablesFirewall::new(runner, metrics, Ipv6Mode::Auto),
            registry,
        )
    }

    /// `iptables-save`/`ip6tables-save` of every table, without `#` lines.
    pub fn save(&self, family: Family) -> String {
        let prog = match family {
            Family::V4 => "iptables-save",
            Family::V6 => "ip6tables-save",
        };
        let text = self.sh(prog, &[], None);
        text.lines()
            .filter(|l| !l.starts_with('#'))
            .map(|l| format!("{l}\n"))
            .collect()
    }

    /// Both families' saves.
    pub fn save_all(&self) -> String {
        format!("{}{}", self.save(Family::V4), self.save(Family::V6))
    }

    /// Every set: create line without `initval`, and its entries.
    pub fn sets(&self) -> BTreeMap<String, (String, BTreeSet<String>)> {
        let mut out: BTreeMap<String, (String, BTreeSet<String>)> = BTreeMap::new();
        for line in self.sh("ipset", &["list", "-o", "save"], None).lines() {
            let w: Vec<&str> = line.split_whitespace().collect();
            match w.as_slice() {
                ["create", name, rest @ ..] => {
                    let head: Vec<&str> = rest
                        .iter()
                        .copied()
                        .take_while(|t| *t != "initval")
                        .collect();
                    out.entry((*name).to_owned()).or_default().0 = head.join(" ");
                }
                ["add", name, entry, ..] => {
                    out.entry((*name).to_owned())
                        .or_default()
                        .1
                        .insert((*entry).to_owned());
                }
                _ => {}
            }
        }
        out
    }
}

impl Drop for TestNs {
    fn drop(&mut self) {
        let _ = Command::new("ip")
            .args(["netns", "del", &self.name])
            .status();
    }
}

/// `kilo_firewall_operations_total` samples by label text.
pub fn counters(registry: &Registry) -> BTreeMap<String, u64> {
    let mut text = String::new();
    prometheus_client::encoding::text::encode(&mut text, registry).unwrap();
    text.lines()
        .filter_map(|l| l.strip_prefix("kilo_firewall_operations_total"))
        .filter_map(|l| l.rsplit_once(' '))
        .map(|(labels, v)| (labels.to_owned(), v.parse().unwrap()))
        .collect()
}

/// Applies `plan` once more and asserts that nothing was written: no operation reported, the
/// counters unchanged, no mutating process started (`runner` records `fw`'s commands).
pub fn assert_reapply_writes_nothing(
    fw: &mut dyn Firewall,
    runner: &RecordingRunner,
    registry: &Registry,
    plan: &FirewallPlan,
) {
    let before = counters(registry);
    runner.clear();
    let again = fw.apply(plan).unwrap();
    assert_eq!(again.total(), 0, "{:?}", again.operations.lines());
    assert_eq!(counters(registry), before);
    let mutating: Vec<_> = runner
        .calls()
        .into_iter()
        .filter(|c| c.is_mutating())
        .collect();
    assert!(mutating.is_empty(), "{mutating:?}");
}

/// What a hand-built node plan contains.
#[derive(Clone, Debug, Default)]
pub struct NodeSpec {
    /// Nodes in the mesh (node 0 is the local one).
    pub nodes: usize,
    /// Extra IPv4 mesh CIDRs (/32s in 10.128.0.0/9), for the benchmark.
    pub extra: usize,
    pub egress_v4: Option<Ipv4Addr>,
    pub egress_v6: Option<Ipv6Addr>,
    /// `--iptables-forward-rules`.
    pub forward: bool,
}

pub const MESH_RETURN: &str = "Kilo: do not NAT packets destined for the mesh";
pub const SNAT: &str = "Kilo: SNAT to the egress IP of this node";

fn cidrs<'a>(entries: impl IntoIterator<Item = &'a str>) -> BTreeSet<IpNet> {
    entries.into_iter().map(|e| e.parse().unwrap()).collect()
}

/// CIDRs of node `i` in a family: pod CIDR, private IP, WireGuard IP.
pub fn node_cidrs(i: usize, family: Family) -> Vec<String> {
    let (hi, lo) = (i / 256, i % 256);
    match family {
        Family::V4 => vec![
            format!("10.{}.{lo}.0/24", 42 + hi),
            format!("192.168.{hi}.{}/32", lo + 1),
            format!("10.4.{hi}.{}/32", lo + 1),
        ],
        Family::V6 => vec![
            format!("fd42:0:{hi:x}:{lo:x}::/64"),
            format!("fd00::{i:x}:1/128"),
        ],
    }
}

fn extra_cidrs(n: usize) -> Vec<String> {
    (0..n)
        .map(|i| format!("10.{}.{}.{}/32", 128 + i / 65536, (i / 256) % 256, i % 256))
        .collect()
}

fn family_plan(spec: &NodeSpec, family: Family) -> FamilyFirewall {
    let (nat_src, nat_dst, service, peer) = match family {
        Family::V4 => (
            node_cidrs(0, family)[0].clone(),
            "192.168.100.0/24",
            "10.43.0.0/16",
            "10.5.0.1/32",
        ),
        Family::V6 => (
            node_cidrs(0, family)[0].clone(),
            "fd77::/64",
            "fd43::/112",
            "fd05::1/128",
        ),
    };
    let mut mesh: Vec<String> = (0..spec.nodes)
        .flat_map(|i| node_cidrs(i, family))
        .collect();
    mesh.extend([service.to_owned(), peer.to_owned()]);
    if family == Family::V4 {
        mesh.extend(extra_cidrs(spec.extra));
    }
    let snat = match family {
        Family::V4 => spec.egress_v4.map(IpAddr::V4),
        Family::V6 => spec.egress_v6.map(IpAddr::V6),
    };
    FamilyFirewall {
        family,
        nat_source: cidrs([nat_src.as_str(), peer]),
        nat_destination: cidrs([nat_dst]),
        mesh: cidrs(mesh.iter().map(String::as_str)),
        snat,
        forward: spec.forward.then(|| cidrs([nat_src.as_str()])),
        ipip: (family == Family::V4).then(|| cidrs(["192.168.0.2/32"])),
        allowed_location: cidrs([nat_dst]),
    }
}

/// A realistic plan of node 0.
pub fn node_plan(spec: &NodeSpec) -> FirewallPlan {
    FirewallPlan {
        v4: family_plan(spec, Family::V4),
        v6: family_plan(spec, Family::V6),
    }
}

/// Programs `plan` into `ns` the reference way (the plan's own full renderings), for comparison.
pub fn apply_reference(ns: &TestNs, plan: &FirewallPlan) {
    for (ff, prog) in [
        (&plan.v4, "iptables-restore"),
        (&plan.v6, "ip6tables-restore"),
    ] {
        let rules = ruleset(ff);
        ns.sh("ipset", &["restore"], Some(&rules.render_ipset_restore()));
        ns.sh(prog, &["--noflush"], Some(&rules.render_iptables_restore()));
    }
}
