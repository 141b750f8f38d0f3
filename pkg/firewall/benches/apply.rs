//! The firewall benchmark (needs root): for N extra IPv4 mesh CIDRs, in a fresh network
//! namespace per repetition, every side's full sync (into an empty namespace), one node joining
//! (one more CIDR, the whole apply end to end) and a no-op resync (read the kernel back, write
//! nothing). Sides: kilo-rs iptables+ipset and nftables (`Firewall::apply`; the join as kg runs it
//! between resyncs: trusted state, members over netlink — and, for the profile, by process), Go
//! Kilo 0.7's one-process-per-rule controller and the floor (see `support/kilo07.rs`). Every side
//! runs on a thread inside the namespace and spawns its programs directly. `in-memory` is a
//! trusted apply of an unchanged plan: the rendering and comparison a join does, without a write.
//!
//! `cargo bench -p kilo-firewall --bench apply -- [REPS] [N…]` (default 5 reps, N = 100 1000
//! 5000 20000). `KILO_BENCH_KILO07_FULL_MAX` (default 1000): the largest N whose Kilo 0.7 full
//! sync is run (one `iptables -C` costs ~1 s at 20 000 rules, so 20 000 takes hours); above it
//! Kilo 0.7's state is preloaded and its full sync is not measured. Prints one tab-separated line
//! per side, scenario and N: `side scenario n median min max samples` (milliseconds). Run
//! without `--bench` (as `cargo test --all-targets` does) it is a smoke test: one repetition at
//! N = 100.

#[path = "../tests/common/mod.rs"]
mod common;
#[path = "support/kilo07.rs"]
mod kilo07;

use std::collections::HashSet;
use std::fs::File;
use std::io::Write as _;
use std::path::PathBuf;
use std::time::{Duration, Instant};

use common::{NodeSpec, TestNs, node_plan};
use ipnet::IpNet;
use kilo_firewall::{
    Firewall, FirewallMetrics, IptablesFirewall, Ipv6Mode, NetlinkWriter, NftablesFirewall,
    Settings, SystemRunner,
};
use kilo_mesh::plan::firewall::FirewallPlan;

/// Joins timed per repetition (each one more CIDR).
const JOINS: usize = 5;
const TRUST: Duration = Duration::from_secs(3600);

/// Runs `f` on a thread inside `ns` (its sockets and child processes live there).
fn in_ns<T: Send>(ns: &TestNs, f: impl FnOnce() -> T + Send) -> T {
    let path = PathBuf::from("/run/netns").join(&ns.name);
    let file = File::open(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    std::thread::scope(|s| {
        s.spawn(move || {
            nix::sched::setns(&file, nix::sched::CloneFlags::CLONE_NEWNET)
                .unwrap_or_else(|e| panic!("setns: {e}"));
            f()
        })
        .join()
        .unwrap_or_else(|_| panic!("a benchmark side panicked"))
    })
}

fn plan(n: usize) -> FirewallPlan {
    node_plan(&NodeSpec {
        nodes: 10,
        extra: n,
        forward: true,
        ..NodeSpec::default()
    })
}

fn ms(t: Instant) -> f64 {
    t.elapsed().as_secs_f64() * 1e3
}

#[derive(Clone, Copy, PartialEq, Eq)]
enum Kind {
    Iptables,
    Nftables,
}

/// A kilo-rs backend of `kind` on the host runner; `trusted` as kg between resyncs, `netlink`
/// with the member writer. Its IPv6 probe is done here (not timed).
fn backend(kind: Kind, trusted: bool, netlink: bool) -> Box<dyn Firewall> {
    let trust = if trusted { TRUST } else { Duration::ZERO };
    let writer = || NetlinkWriter::current().unwrap_or_else(|e| panic!("netlink: {e}"));
    let metrics = FirewallMetrics::default();
    match kind {
        Kind::Iptables => {
            let settings = Settings {
                verify_every: trust,
                ..Settings::default()
            };
            let mut fw = IptablesFirewall::new(SystemRunner, metrics, settings);
            fw.families();
            if netlink {
                Box::new(fw.with_writer(writer()))
            } else {
                Box::new(fw)
            }
        }
        Kind::Nftables => {
            let mut fw =
                NftablesFirewall::new(SystemRunner, metrics, Ipv6Mode::Auto).trusting(trust);
            fw.families();
            if netlink {
                Box::new(fw.with_writer(writer()))
            } else {
                Box::new(fw)
            }
        }
    }
}

/// Samples of one repetition, by scenario.
type Samples = Vec<(&'static str, Vec<f64>)>;

fn timed_apply(fw: &mut dyn Firewall, p: &FirewallPlan) -> (f64, u64) {
    let t = Instant::now();
    let r = fw.apply(p).unwrap_or_else(|e| panic!("apply failed: {e}"));
    (ms(t), r.total())
}

/// `JOINS` joins from `n` (plus `offset`) on a trusted backend that has just read back, then as
/// many trusted no-ops (the in-memory part alone: render and compare, nothing to write).
fn joins(kind: Kind, n: usize, offset: usize, netlink: bool) -> (Vec<f64>, Vec<f64>) {
    let mut fw = backend(kind, true, netlink);
    fw.apply(&plan(n + offset))
        .unwrap_or_else(|e| panic!("apply failed: {e}"));
    let joins = (1..=JOINS)
        .map(|k| {
            let (t, ops) = timed_apply(fw.as_mut(), &plan(n + offset + k));
            assert_eq!(ops, 1, "a join must be one set-add");
            t
        })
        .collect();
    let last = plan(n + offset + JOINS);
    let noops = (0..JOINS)
        .map(|_| {
            let (t, ops) = timed_apply(fw.as_mut(), &last);
            assert_eq!(ops, 0, "a trusted no-op wrote");
            t
        })
        .collect();
    (joins, noops)
}

fn kilo_rs(kind: Kind, n: usize) -> Samples {
    let (full, ops) = timed_apply(backend(kind, false, false).as_mut(), &plan(n));
    assert!(
        ops as usize >= n,
        "full sync performed only {ops} operations"
    );
    let (noop, ops) = timed_apply(backend(kind, false, false).as_mut(), &plan(n));
    assert_eq!(ops, 0, "a no-op resync wrote");
    let (join, in_memory) = joins(kind, n, 0, true);
    let (by_process, _) = joins(kind, n, JOINS, false);
    vec![
        ("full", vec![full]),
        ("join", join),
        ("join-process", by_process),
        ("in-memory", in_memory),
        ("noop", vec![noop]),
    ]
}

fn kilo07(n: usize, full_max: usize) -> Samples {
    let (append, prepend) = kilo07::rules(&plan(n));
    let mut out = Vec::new();
    if n <= full_max {
        let t = Instant::now();
        kilo07::full_sync(&append, &prepend);
        out.push(("full", vec![ms(t)]));
    } else {
        kilo07::preload(&append, &prepend);
    }
    let t = Instant::now();
    let missing = kilo07::resync(&append, &prepend);
    out.push(("noop", vec![ms(t)]));
    assert_eq!(missing, 0, "Kilo 0.7's resync found rules missing");
    let mut known: HashSet<kilo07::Rule> = append.iter().chain(&prepend).cloned().collect();
    let join = (1..=JOINS)
        .map(|k| {
            let net = IpNet::from(std::net::IpAddr::from([10, 250, 0, k as u8]));
            let t = Instant::now();
            kilo07::join(&mut known, kilo07::known_ip(net));
            ms(t)
        })
        .collect();
    out.push(("join", join));
    out
}

fn floor(n: usize) -> Samples {
    let p = plan(n);
    let t = Instant::now();
    kilo07::floor_full(&p);
    let full = ms(t);
    let join = (1..=JOINS)
        .map(|k| {
            let net = IpNet::from(std::net::IpAddr::from([10, 250, 0, k as u8]));
            let t = Instant::now();
            kilo07::floor_join("kilo-mesh-v4", net);
            ms(t)
        })
        .collect();
    let t = Instant::now();
    kilo07::floor_read();
    vec![("full", vec![full]), ("join", join), ("noop", vec![ms(t)])]
}

fn stats(mut v: Vec<f64>) -> (f64, f64, f64, usize) {
    v.sort_by(f64::total_cmp);
    let len = v.len();
    (v[len / 2], v[0], v[len - 1], len)
}

fn main() {
    // `cargo bench` passes `--bench`; `cargo test --all-targets` runs this binary without it, and
    // then it is a smoke test (one repetition at 100 entries), not the measurement.
    let benching = std::env::args().any(|a| a == "--bench");
    let args: Vec<String> = std::env::args()
        .skip(1)
        .filter(|a| !a.starts_with("--"))
        .collect();
    let default_reps = if benching { 5 } else { 1 };
    let reps: usize = args
        .first()
        .and_then(|a| a.parse().ok())
        .unwrap_or(default_reps);
    let sizes: Vec<usize> = args.iter().skip(1).filter_map(|a| a.parse().ok()).collect();
    let sizes = match (sizes.is_empty(), benching) {
        (false, _) => sizes,
        (true, true) => vec![100, 1000, 5000, 20000],
        (true, false) => vec![100],
    };
    let full_max: usize = std::env::var("KILO_BENCH_KILO07_FULL_MAX")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(1000);
    let mut out = std::io::stdout().lock();
    let _ = writeln!(
        out,
        "# side\tscenario\tn\tmedian_ms\tmin_ms\tmax_ms\tsamples"
    );
    for n in sizes {
        let sides: [(&str, &(dyn Fn() -> Samples + Sync)); 4] = [
            ("kilo-rs-iptables", &|| kilo_rs(Kind::Iptables, n)),
            ("kilo-rs-nftables", &|| kilo_rs(Kind::Nftables, n)),
            ("kilo-0.7", &|| kilo07(n, full_max)),
            ("floor", &|| floor(n)),
        ];
        for (side, run) in sides {
            // Kilo 0.7 at large N: a single repetition (its resync and joins take seconds)
            let r = if side == "kilo-0.7" && n > full_max {
                1
            } else {
                reps
            };
            let mut all: Vec<(&str, Vec<f64>)> = Vec::new();
            for _ in 0..r {
                let ns = TestNs::new();
                for (scenario, samples) in in_ns(&ns, run) {
                    match all.iter_mut().find(|(s, _)| *s == scenario) {
                        Some((_, v)) => v.extend(samples),
                        None => all.push((scenario, samples)),
                    }
                }
            }
            for (scenario, v) in all {
                let (med, lo, hi, count) = stats(v);
                let _ = writeln!(
                    out,
                    "{side}\t{scenario}\t{n}\t{med:.2}\t{lo:.2}\t{hi:.2}\t{count}"
                );
                let _ = out.flush();
            }
        }
    }
}
