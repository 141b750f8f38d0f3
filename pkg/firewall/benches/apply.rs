//! Apply time of a firewall backend in a fresh network namespace, for N extra IPv4 mesh CIDRs: a
//! full apply into an empty namespace, a one-CIDR delta, and a no-op re-apply, each reading the
//! kernel back; then the same delta and no-op as kg runs them between resyncs (`Settings::verify_every`,
//! `NftablesFirewall::trusting`: no read-back). Needs root.
//! `cargo bench -p kilo-firewall --bench apply -- [REPS] [N…]` (default 3 reps, N = 1000 5000
//! 20000) measures iptables + ipset; with `KILO_BENCH_BACKEND=nftables` the nftables backend.
//! Prints one line per N with the median and every run in milliseconds.

#[path = "../tests/common/mod.rs"]
mod common;

use std::io::Write as _;
use std::sync::{Arc, Mutex, PoisonError};
use std::time::Instant;

use common::{NodeSpec, TestNs, node_plan};
use kilo_firewall::{
    CommandRunner as _, Firewall, FirewallMetrics, IptablesFirewall, Ipv6Mode, NetnsRunner,
    NftablesFirewall, RecordingRunner, Settings,
};

/// Milliseconds spent in mutating processes (the restore batches), shared with the runner.
type WriteClock = Arc<Mutex<f64>>;

fn nftables() -> bool {
    std::env::var("KILO_BENCH_BACKEND").is_ok_and(|b| b == "nftables")
}

/// The backend under test, its IPv6 probe already done (not timed); `trusted`: kg's settings
/// between resyncs (what the last apply read back is trusted for 30 s).
fn firewall(ns: &TestNs, trusted: bool) -> (Box<dyn Firewall>, WriteClock) {
    let clock = WriteClock::default();
    let (inner, c) = (NetnsRunner::new(ns.name.clone()), clock.clone());
    let runner = RecordingRunner::new(move |inv| {
        let t = Instant::now();
        let out = inner.run(inv);
        if inv.is_mutating() {
            *c.lock().unwrap_or_else(PoisonError::into_inner) += t.elapsed().as_secs_f64() * 1e3;
        }
        out
    });
    let fw: Box<dyn Firewall> = if nftables() {
        let trust = std::time::Duration::from_secs(if trusted { 30 } else { 0 });
        let mut fw = NftablesFirewall::new(runner, FirewallMetrics::default(), Ipv6Mode::Auto)
            .trusting(trust);
        fw.families();
        Box::new(fw)
    } else {
        let settings = Settings {
            verify_every: std::time::Duration::from_secs(if trusted { 30 } else { 0 }),
            ..Settings::default()
        };
        let mut fw = IptablesFirewall::new(runner, FirewallMetrics::default(), settings);
        fw.families();
        Box::new(fw)
    };
    (fw, clock)
}

/// Milliseconds of (full apply, one-CIDR delta, no-op re-apply, the delta's write batch, the
/// trusted delta, the trusted no-op) in one fresh namespace.
fn run_once(n: usize) -> [f64; 6] {
    let ns = TestNs::new();
    let (mut fw, clock) = firewall(&ns, false);
    let mut spec = NodeSpec {
        nodes: 10,
        extra: n,
        forward: true,
        ..NodeSpec::default()
    };
    let mut timed = |spec: &NodeSpec| {
        let plan = node_plan(spec);
        let t = Instant::now();
        let report = fw
            .apply(&plan)
            .unwrap_or_else(|e| panic!("apply failed: {e}"));
        (t.elapsed().as_secs_f64() * 1000.0, report.total())
    };
    let (full, ops) = timed(&spec);
    assert!(
        ops as usize >= n,
        "full apply performed only {ops} operations"
    );
    spec.extra = n + 1;
    let before = *clock.lock().unwrap_or_else(PoisonError::into_inner);
    let (delta, ops) = timed(&spec);
    let write = *clock.lock().unwrap_or_else(PoisonError::into_inner) - before;
    assert_eq!(ops, 1, "a one-CIDR delta must be one set-add");
    let (noop, ops) = timed(&spec);
    assert_eq!(ops, 0);
    let (mut trusted, _) = firewall(&ns, true);
    trusted
        .apply(&node_plan(&spec))
        .unwrap_or_else(|e| panic!("apply failed: {e}"));
    let mut timed_trusted = |spec: &NodeSpec| {
        let plan = node_plan(spec);
        let t = Instant::now();
        let report = trusted
            .apply(&plan)
            .unwrap_or_else(|e| panic!("apply failed: {e}"));
        (t.elapsed().as_secs_f64() * 1000.0, report.total())
    };
    spec.extra = n + 2;
    let (delta_trusted, ops) = timed_trusted(&spec);
    assert_eq!(ops, 1, "a one-CIDR delta must be one set-add");
    let (noop_trusted, ops) = timed_trusted(&spec);
    assert_eq!(ops, 0);
    [full, delta, noop, write, delta_trusted, noop_trusted]
}

fn median(mut v: Vec<f64>) -> f64 {
    v.sort_by(f64::total_cmp);
    v[v.len() / 2]
}

fn main() {
    let args: Vec<String> = std::env::args()
        .skip(1)
        .filter(|a| !a.starts_with("--"))
        .collect();
    let reps: usize = args.first().and_then(|a| a.parse().ok()).unwrap_or(3);
    let ns: Vec<usize> = args.iter().skip(1).filter_map(|a| a.parse().ok()).collect();
    let ns = if ns.is_empty() {
        vec![1000, 5000, 20000]
    } else {
        ns
    };
    let mut out = std::io::stdout().lock();
    let _ = writeln!(
        out,
        "# {} N  full_ms  delta_ms  noop_ms  delta_write_ms  trusted_delta_ms  trusted_noop_ms  (median of {reps}; runs in brackets)",
        if nftables() {
            "nftables"
        } else {
            "iptables+ipset"
        }
    );
    for n in ns {
        let runs: Vec<[f64; 6]> = (0..reps).map(|_| run_once(n)).collect();
        let col = |i: usize| runs.iter().map(|r| r[i]).collect::<Vec<_>>();
        let fmt = |v: Vec<f64>| {
            v.iter()
                .map(|x| format!("{x:.1}"))
                .collect::<Vec<_>>()
                .join(" ")
        };
        let _ = writeln!(
            out,
            "{n} {:.1} {:.1} {:.1} {:.1} {:.1} {:.1}   full [{}] delta [{}] noop [{}] trusted delta [{}]",
            median(col(0)),
            median(col(1)),
            median(col(2)),
            median(col(3)),
            median(col(4)),
            median(col(5)),
            fmt(col(0)),
            fmt(col(1)),
            fmt(col(2)),
            fmt(col(4)),
        );
    }
}
