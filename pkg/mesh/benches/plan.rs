//! Topology and plan computation time against cluster size (criterion; pure, no I/O).
//!
//! `cargo bench -p kilo-mesh --bench plan` measures, for 10 / 100 / 1 000 / 5 000 nodes spread
//! over 50 locations plus 1 000 Peers, `Topology::new` alone and `plan::plan` (topology + the
//! whole node plan) for node `n0`. `KILO_BENCH_NODES="10 100"` picks other sizes. The cluster
//! is the one `e2e/bench/lib/fixture.py` writes for `kgctl plan -f`, built here through the real
//! annotation parser. `e2e/bench/scale-plan.sh` runs it and reports criterion's samples.

use std::collections::BTreeMap;
use std::hint::black_box;

use base64::Engine as _;
use criterion::{BenchmarkId, Criterion};
use kilo_mesh::annotations::{RawNode, parse_node};
use kilo_mesh::plan::{LocalFacts, Settings};
use kilo_mesh::types::{Encapsulate, Granularity, TunnelKind, WgKey};
use kilo_mesh::{Node, Peer, Snapshot, Topology};

/// Every node's `last-seen`, and the snapshot's time.
const NOW: i64 = 1_700_000_000;
/// Locations the nodes are spread over.
const LOCATIONS: usize = 50;
/// Peers in every cluster.
const PEERS: usize = 1_000;
/// The topology label the nodes' locations come from.
const LABEL: &str = "topology.kubernetes.io/region";

/// A distinct key: a kind byte, the index, then filler (as fixture.py makes them).
fn key_bytes(kind: u8, i: usize) -> [u8; 32] {
    let mut k = [0x5A_u8; 32];
    k[0] = kind;
    k[1..5].copy_from_slice(&u32::try_from(i).unwrap_or(u32::MAX).to_be_bytes());
    k
}

/// Node `n<i>` as a raw Node object, as fixture.py writes it.
fn raw_node(i: usize) -> RawNode {
    let (hi, mid, lo) = (i >> 16, (i >> 8) & 255, i & 255);
    let key = base64::engine::general_purpose::STANDARD.encode(key_bytes(1, i));
    let annotations = BTreeMap::from([
        ("kilo.squat.ai/key".to_owned(), key),
        (
            "kilo.squat.ai/endpoint".to_owned(),
            format!("198.18.{mid}.{lo}:51820"),
        ),
        (
            "kilo.squat.ai/internal-ip".to_owned(),
            format!("172.{}.{mid}.{lo}/12", 16 + hi),
        ),
        ("kilo.squat.ai/last-seen".to_owned(), NOW.to_string()),
        (
            "kilo.squat.ai/implementation".to_owned(),
            format!("kilo-rs; last-seen={NOW}"),
        ),
    ]);
    RawNode {
        name: format!("n{i}"),
        annotations,
        labels: BTreeMap::from([(LABEL.to_owned(), format!("loc-{}", i % LOCATIONS))]),
        pod_cidrs: vec![format!("10.{}.{lo}.0/24", 64 + (i >> 8))],
        internal_addresses: Vec::new(),
    }
}

/// Peer `peer-<j>` with one /32 in 100.64.0.0/10.
fn peer(j: usize) -> Peer {
    let ip = format!("100.{}.{}.{}/32", 64 + (j >> 16), (j >> 8) & 255, j & 255);
    Peer {
        name: format!("peer-{j}"),
        allowed_ips: ip.parse().into_iter().collect(),
        public_key: WgKey::from_bytes(key_bytes(2, j)),
        endpoint: None,
        persistent_keepalive: None,
        preshared_key: None,
    }
}

/// The cluster of `nodes` nodes and [`PEERS`] Peers (nodes whose name fails to parse are
/// impossible here: `n<i>` is a valid name).
fn snapshot(nodes: usize) -> Snapshot {
    let nodes: Vec<Node> = (0..nodes)
        .filter_map(|i| parse_node(&raw_node(i), LABEL).ok().map(|(n, _)| n))
        .collect();
    Snapshot {
        nodes,
        peers: (0..PEERS).map(peer).collect(),
        now: NOW,
    }
}

/// kg's defaults (`--encapsulate always`, `--cni`, `--local`), for node `n0`.
fn settings() -> Option<Settings> {
    Some(Settings {
        hostname: "n0".parse().ok()?,
        granularity: Granularity::Location,
        subnet: "10.4.0.0/16".parse().ok()?,
        port: 51820,
        interface: "kilo0".parse().ok()?,
        encapsulate: Encapsulate::Always,
        tunnel: TunnelKind::Ipip,
        service_cidrs: vec!["10.43.0.0/16".parse().ok()?],
        forward_rules: false,
        cni: true,
        local: true,
        mtu: 1420,
    })
}

/// The node counts to measure: `KILO_BENCH_NODES`, else 10 100 1000 5000.
fn sizes() -> Vec<usize> {
    let spec = std::env::var("KILO_BENCH_NODES").unwrap_or_else(|_| "10 100 1000 5000".into());
    spec.split_whitespace()
        .filter_map(|s| s.parse().ok())
        .collect()
}

/// The two groups, `topology/<nodes>` and `plan/<nodes>`.
fn bench(c: &mut Criterion) {
    let Some(settings) = settings() else {
        return;
    };
    let facts = LocalFacts::default();
    let mut topo = c.benchmark_group("topology");
    for n in sizes() {
        let snap = snapshot(n);
        topo.bench_with_input(BenchmarkId::from_parameter(n), &snap, |b, s| {
            b.iter(|| {
                Topology::new(
                    black_box(s),
                    &settings.hostname,
                    settings.granularity,
                    settings.subnet,
                )
            });
        });
    }
    topo.finish();
    let mut plan = c.benchmark_group("plan");
    for n in sizes() {
        let snap = snapshot(n);
        plan.bench_with_input(BenchmarkId::from_parameter(n), &snap, |b, s| {
            b.iter(|| kilo_mesh::plan::plan(black_box(s), &settings, &facts));
        });
    }
    plan.finish();
}

/// criterion's command line (`--sample-size`, `--measurement-time`, filters) over [`bench`].
fn main() {
    let mut c = Criterion::default().configure_from_args();
    bench(&mut c);
    c.final_summary();
}
