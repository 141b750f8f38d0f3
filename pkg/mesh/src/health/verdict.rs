//! Verdicts over every node's [`HealthReport`]: per node whether every path to it works as its
//! probers see it (the "Mesh health: N/N reachable" line and `-o wide`'s round trips), and the
//! broken paths as findings naming the pair, the path (host, pod, or full-size on the pod path)
//! and the direction. Pure.

use std::collections::{BTreeMap, BTreeSet};

use serde::Serialize;

use super::{HealthReport, Path, PathReport};
use crate::types::NodeName;
use crate::views::check::{Finding, Severity};

/// How the probers see one node.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Reach {
    /// Every probe of every path to it worked.
    Reachable,
    /// At least one path from at least one node failed.
    Unreachable,
    /// No node has probed it yet (or none reported).
    Unknown,
}

/// One node's health.
#[derive(Clone, Debug, PartialEq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct NodeHealth {
    /// The node.
    pub name: NodeName,
    /// The verdict.
    pub reach: Reach,
    /// Nodes whose latest probe of it (any path) has a result.
    pub probed_by: usize,
    /// The broken paths to it: `n1 pod`, … (the prober, then the path).
    pub failing: Vec<String>,
    /// Median host-path round trip over its probers, seconds.
    pub host_rtt_seconds: Option<f64>,
    /// Median pod-path round trip over its probers, seconds.
    pub pod_rtt_seconds: Option<f64>,
}

/// The mesh's health.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct MeshHealth {
    /// Nodes judged.
    pub total: usize,
    /// Of those, [`Reach::Reachable`].
    pub reachable: usize,
    /// Per node, sorted by name.
    pub nodes: Vec<NodeHealth>,
    /// Broken paths (errors) and missing reports (warnings).
    pub findings: Vec<Finding>,
}

/// A node's report, or why it could not be read.
pub type Fetched = Result<HealthReport, String>;

fn lookup<'a>(
    reports: &'a BTreeMap<NodeName, Fetched>,
    from: &NodeName,
    to: &NodeName,
    path: Path,
) -> Option<&'a PathReport> {
    let report = reports.get(from)?.as_ref().ok()?;
    let peer = report.peers.iter().find(|p| &p.node == to)?;
    peer.paths.iter().find(|p| p.path == path)
}

fn median(mut v: Vec<f64>) -> Option<f64> {
    v.sort_by(f64::total_cmp);
    let n = v.len();
    match n {
        0 => None,
        _ if n % 2 == 1 => Some(v[n / 2]),
        _ => Some(f64::midpoint(v[n / 2 - 1], v[n / 2])),
    }
}

fn node_health(
    node: &NodeName,
    nodes: &[NodeName],
    reports: &BTreeMap<NodeName, Fetched>,
) -> NodeHealth {
    let mut failing = Vec::new();
    let mut probed_by = BTreeSet::new();
    let mut rtt: BTreeMap<Path, Vec<f64>> = BTreeMap::new();
    for from in nodes.iter().filter(|f| *f != node) {
        for path in Path::ALL {
            let Some(r) = lookup(reports, from, node, path) else {
                continue;
            };
            match r.reachable {
                Some(false) => failing.push(format!("{from} {path}")),
                Some(true) => rtt.entry(path).or_default().extend(r.rtt_seconds),
                None => continue,
            }
            probed_by.insert(from.clone());
        }
    }
    let reach = if !failing.is_empty() {
        Reach::Unreachable
    } else if probed_by.is_empty() {
        Reach::Unknown
    } else {
        Reach::Reachable
    };
    NodeHealth {
        name: node.clone(),
        reach,
        probed_by: probed_by.len(),
        failing,
        host_rtt_seconds: rtt.remove(&Path::Host).and_then(median),
        pod_rtt_seconds: rtt.remove(&Path::Pod).and_then(median),
    }
}

/// Judges the mesh of `nodes` (those in the mesh) from their reports.
#[must_use]
pub fn mesh_health(nodes: &[NodeName], reports: &BTreeMap<NodeName, Fetched>) -> MeshHealth {
    let mut sorted = nodes.to_vec();
    sorted.sort();
    sorted.dedup();
    let per_node: Vec<NodeHealth> = sorted
        .iter()
        .map(|n| node_health(n, &sorted, reports))
        .collect();
    let mut findings = Vec::new();
    for n in &sorted {
        if let Some(Err(e)) = reports.get(n) {
            findings.push(Finding {
                severity: Severity::Warning,
                subject: format!("node/{n}"),
                message: format!("no mesh health from its kg (its probes are unknown): {e}"),
            });
        }
    }
    for (i, a) in sorted.iter().enumerate() {
        for b in &sorted[i + 1..] {
            for path in Path::ALL {
                findings.extend(pair_finding(reports, a, b, path));
            }
        }
    }
    findings.sort();
    MeshHealth {
        total: sorted.len(),
        reachable: per_node
            .iter()
            .filter(|n| n.reach == Reach::Reachable)
            .count(),
        nodes: per_node,
        findings,
    }
}

fn fails(r: Option<&PathReport>) -> bool {
    r.is_some_and(|r| r.reachable == Some(false))
}

/// `n1 → n3 (10.42.3.1): why`
fn leg(from: &NodeName, to: &NodeName, r: &PathReport) -> String {
    let addr = r.address.map_or_else(|| "-".to_owned(), |a| a.to_string());
    let why = r.error.as_deref().unwrap_or("failed");
    format!("{from} → {to} ({addr}): {why}")
}

/// What the other direction shows, when only one failed.
fn other_way(from: &NodeName, to: &NodeName, r: Option<&PathReport>, what: &str) -> String {
    match r.and_then(|r| r.reachable) {
        Some(_) => format!("{from} → {to} {what}"),
        None => format!("{from} → {to} not probed yet"),
    }
}

/// One finding per pair and path that failed in at least one direction. A full-size failure
/// on a direction whose small pod probe failed too is left to the pod path's finding.
fn pair_finding(
    reports: &BTreeMap<NodeName, Fetched>,
    a: &NodeName,
    b: &NodeName,
    path: Path,
) -> Option<Finding> {
    let ab = lookup(reports, a, b, path);
    let ba = lookup(reports, b, a, path);
    let masked = |from, to, r: Option<&PathReport>| {
        fails(r) && !(path == Path::Mtu && fails(lookup(reports, from, to, Path::Pod)))
    };
    let (fab, fba) = (masked(a, b, ab), masked(b, a, ba));
    let legs: Vec<String> = [(fab, a, b, ab), (fba, b, a, ba)]
        .into_iter()
        .filter_map(|(f, from, to, r)| r.filter(|_| f).map(|r| leg(from, to, r)))
        .collect();
    let message = match (path, fab, fba) {
        (_, false, false) => return None,
        (Path::Mtu, _, _) => {
            let mtu = [a, b]
                .iter()
                .find_map(|n| reports.get(*n)?.as_ref().ok().map(|r| r.mtu))
                .unwrap_or_default();
            format!(
                "full-size packets ({mtu} bytes, DF) are lost while small ones pass on the pod \
                 path (an MTU black hole): {}",
                legs.join("; ")
            )
        }
        (_, true, true) => format!("{path} path broken both ways: {}", legs.join("; ")),
        (_, true, false) => format!(
            "{path} path broken one way: {}; {}",
            legs.join("; "),
            other_way(b, a, ba, "works")
        ),
        (_, false, true) => format!(
            "{path} path broken one way: {}; {}",
            legs.join("; "),
            other_way(a, b, ab, "works")
        ),
    };
    Some(Finding {
        severity: Severity::Error,
        subject: format!("node/{a},node/{b}"),
        message,
    })
}

#[cfg(test)]
#[path = "verdict_tests.rs"]
mod tests;
