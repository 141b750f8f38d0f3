//! kg's mesh health: every `--health-interval` (±10 % jitter) it probes up to
//! `--health-targets` other nodes (rotating through them, see [`kilo_mesh::health::rotation`])
//! over the host path (ICMP echo + HTTP `/identity` at the private IP), the pod path (the same
//! at the CNI bridge gateway) and the full-size pod path (an ICMP echo of the mesh MTU with DF
//! set), then publishes the results as metrics and on `/mesh-health`. The reconcile loop feeds
//! it the targets. Does network I/O (in [`icmp`] and [`endpoints`]).

pub mod endpoints;
pub mod icmp;
pub mod metrics;

use std::hash::{BuildHasher as _, Hasher as _};
use std::net::IpAddr;
use std::sync::{Arc, RwLock};
use std::time::Duration;

use clap::{ArgAction, Args};
use kilo_mesh::health::rotation::{Rotation, jittered};
use kilo_mesh::health::state::HealthState;
use kilo_mesh::health::{HealthReport, Identity, Path, PeerReport, ProbeResult, Target};
use kilo_mesh::types::NodeName;
use prometheus_client::registry::Registry;
use tokio::sync::watch;

use self::endpoints::{Prober, Served};
use self::metrics::HealthMetrics;

/// The mesh health flags.
#[derive(Args, Debug, Clone)]
pub struct HealthFlags {
    /// Probe other nodes (ICMP and HTTP over the host and pod paths, and a full-size ICMP echo).
    #[arg(long = "health", env = "KILO_HEALTH", default_value_t = true, action = ArgAction::Set, num_args = 0..=1, require_equals = true, default_missing_value = "true")]
    pub enabled: bool,
    /// How often a batch of nodes is probed (each interval is jittered by ±10 %).
    #[arg(long, env = "KILO_HEALTH_INTERVAL", default_value = "10s", value_parser = parse_interval)]
    pub health_interval: Duration,
    /// At most this many nodes are probed per interval; kg rotates through the others, so
    /// each is probed every ceil(nodes / this) intervals.
    #[arg(long, env = "KILO_HEALTH_TARGETS", default_value_t = 16, value_parser = clap::value_parser!(u16).range(1..))]
    pub health_targets: u16,
    /// How long each probe waits for its answer.
    #[arg(long, env = "KILO_HEALTH_TIMEOUT", default_value = "1s", value_parser = parse_interval)]
    pub health_timeout: Duration,
}

fn parse_interval(s: &str) -> Result<Duration, String> {
    let d = kilo_mesh::types::parse_duration(s)?;
    if d < Duration::from_millis(100) {
        return Err(format!("{s:?} is shorter than 100ms"));
    }
    Ok(d)
}

/// What the reconcile loop tells the prober.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct Feed {
    /// Every other node of the mesh, sorted by name.
    pub targets: Vec<Target>,
    /// The mesh MTU: the full-size probe's size.
    pub mtu: u32,
    /// This node's own pod path address (`/identity` says whether it is up).
    pub own_pod: Option<IpAddr>,
}

/// The reconcile loop's side: a cheap handle that publishes the targets.
#[derive(Clone)]
pub struct FeedHandle(watch::Sender<Feed>);

impl FeedHandle {
    /// Publishes the targets of the latest topology (a no-op when nothing changed).
    pub fn update(&self, feed: Feed) {
        self.0.send_if_modified(|f| {
            let changed = *f != feed;
            *f = feed;
            changed
        });
    }
}

/// The probe loop and what it owns.
pub struct Health {
    me: NodeName,
    flags: HealthFlags,
    feed: watch::Receiver<Feed>,
    prober: Prober,
    metrics: HealthMetrics,
    state: HealthState,
    rotation: Rotation,
    report: Arc<RwLock<HealthReport>>,
}

/// Everything `main` wires up.
pub struct Parts {
    /// Run it with [`Health::run`].
    pub health: Health,
    /// For the reconcile loop.
    pub feed: FeedHandle,
    /// For the HTTP server.
    pub routes: axum::Router,
}

/// Registers the metrics and builds the prober for node `me`, probing kg at `port` elsewhere.
pub fn parts(me: &NodeName, flags: &HealthFlags, port: u16, registry: &mut Registry) -> Parts {
    let (tx, rx) = watch::channel(Feed::default());
    let report = Arc::new(RwLock::new(report(me, flags, 0, Vec::new())));
    let routes = endpoints::routes(Served {
        node: me.clone(),
        feed: rx.clone(),
        report: report.clone(),
    });
    Parts {
        health: Health {
            me: me.clone(),
            flags: flags.clone(),
            feed: rx,
            prober: Prober::new(port),
            metrics: HealthMetrics::register(registry),
            state: HealthState::default(),
            rotation: Rotation::new(me.clone()),
            report,
        },
        feed: FeedHandle(tx),
        routes,
    }
}

fn report(me: &NodeName, flags: &HealthFlags, mtu: u32, peers: Vec<PeerReport>) -> HealthReport {
    HealthReport {
        node: me.clone(),
        version: env!("KILO_VERSION").to_owned(),
        interval_seconds: flags.health_interval.as_secs_f64(),
        targets_per_interval: usize::from(flags.health_targets),
        mtu,
        peers,
    }
}

fn random() -> u64 {
    let mut h = std::hash::RandomState::new().build_hasher();
    h.write_u64(u64::from(std::process::id()));
    h.finish()
}

fn now() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| i64::try_from(d.as_secs()).unwrap_or(i64::MAX))
}

impl Health {
    /// Probes forever (the task is aborted on shutdown).
    pub async fn run(mut self) {
        if !self.flags.enabled {
            return;
        }
        tracing::info!(
            interval = ?self.flags.health_interval,
            targets = self.flags.health_targets,
            "probing the mesh"
        );
        // the first round as soon as the first reconcile published the mesh
        if self.feed.changed().await.is_err() {
            return;
        }
        loop {
            self.round().await;
            tokio::time::sleep(jittered(self.flags.health_interval, random())).await;
        }
    }

    async fn round(&mut self) {
        let feed = self.feed.borrow().clone();
        self.state.set_targets(&feed.targets);
        let batch: Vec<Target> = self
            .rotation
            .next_batch(&feed.targets, usize::from(self.flags.health_targets))
            .into_iter()
            .cloned()
            .collect();
        let probes = batch.iter().map(|t| self.probe_target(t, feed.mtu));
        for (t, results) in batch.iter().zip(futures::future::join_all(probes).await) {
            for (path, r) in results {
                let Some(r) = r else {
                    self.state.forget(&t.node, path);
                    continue;
                };
                if let Some(rtt) = r.rtt.filter(|_| r.ok()) {
                    self.metrics.observe_rtt(t.node.as_str(), path, rtt);
                }
                if let Some(e) = &r.error {
                    tracing::debug!(node = %t.node, %path, error = %e, "probe failed");
                }
                self.state.record(&t.node, path, r);
            }
        }
        let peers = self.state.peers();
        self.metrics.update(&peers);
        let r = report(&self.me, &self.flags, feed.mtu, peers);
        if let Ok(mut slot) = self.report.write() {
            *slot = r;
        }
    }

    /// One target: the host and the pod path concurrently, the full-size probe after the pod
    /// path's small ones. When the node's `/identity` (over the host path)
    /// says it has no pod path yet (no CNI bridge before its first pod), the pod and full-size
    /// results are dropped: `None`, unknown rather than unreachable.
    async fn probe_target(&self, t: &Target, mtu: u32) -> Vec<(Path, Option<ProbeResult>)> {
        let full = usize::try_from(mtu).unwrap_or(usize::MAX);
        let at = now();
        let result = |r: Result<Duration, String>| {
            let (rtt, error) = match r {
                Ok(d) => (Some(d.as_secs_f64()), None),
                Err(e) => (None, Some(e)),
            };
            Some(ProbeResult { at, rtt, error })
        };
        let host = async {
            match t.host {
                Some(addr) => Some(self.echo_and_identity(addr, &t.node).await),
                None => None,
            }
        };
        // the full-size echo after the small pod probes: sent together, WireGuard may batch
        // them into one GSO send, which software links (veth, bridge) pass whatever the MTU
        let pod = async {
            match t.pod {
                Some(addr) => {
                    let small = self.echo_and_identity(addr, &t.node).await;
                    Some((small, self.echo(addr, full).await))
                }
                None => None,
            }
        };
        let (host, pod) = tokio::join!(host, pod);
        let mut out = Vec::new();
        let mut pod_up = true;
        if let Some((r, id)) = host {
            pod_up = id.is_none_or(|id| id.pod_gateway.is_some());
            out.push((Path::Host, result(r)));
        }
        if let Some(((pod, _), mtu)) = pod {
            let keep = |r| if pod_up { result(r) } else { None };
            out.extend([(Path::Pod, keep(pod)), (Path::Mtu, keep(mtu))]);
        }
        out
    }

    async fn echo(&self, addr: IpAddr, size: usize) -> Result<Duration, String> {
        icmp::echo(addr, size, self.flags.health_timeout).await
    }

    /// An ICMP echo and an HTTP `/identity` to `addr`: the echo's round trip when both worked,
    /// and the identity when it answered.
    async fn echo_and_identity(
        &self,
        addr: IpAddr,
        node: &NodeName,
    ) -> (Result<Duration, String>, Option<Identity>) {
        let timeout = self.flags.health_timeout;
        let (echo, http) = tokio::join!(
            self.echo(addr, icmp::SMALL),
            self.prober.identity(addr, node, timeout)
        );
        match (echo, http) {
            (Ok(d), Ok(id)) => (Ok(d), Some(id)),
            (Err(e), Ok(id)) => (Err(e), Some(id)),
            (Ok(_), Err(e)) => (Err(e), None),
            (Err(e), Err(h)) => (Err(format!("{e}; {h}")), None),
        }
    }
}

#[cfg(test)]
#[path = "mod_tests.rs"]
mod tests;
