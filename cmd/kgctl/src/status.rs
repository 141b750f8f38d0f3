//! `kgctl status`: the mesh as it stands — per node its location, role, readiness, endpoint,
//! WireGuard IP, pod CIDRs, heartbeat and the egress source address in force per family (or why
//! there is none) — from the API server (kubeconfig) or from manifests (`-f`); from the API
//! server also the mesh health every kg measured ("Mesh health: N/N reachable"; `-o wide`: per node round trips).

use std::fmt::Write as _;

use anyhow::Result;
use clap::{Args, ValueEnum};
use ipnet::IpNet;
use kilo_mesh::health::verdict::{MeshHealth, Reach};
use kilo_mesh::views::status::{ClusterStatus, FamilyEgress, NodeStatus, cluster_status};
use serde_json::json;

use crate::manifests::{self, NodeProblem, Rejected};
use crate::source::SourceArgs;

/// `-o` of `kgctl status`.
#[derive(Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum StatusOutput {
    /// Readable tables.
    Text,
    /// The tables with each node's segment and private IPs too.
    Wide,
    /// Stable JSON.
    Json,
    /// The JSON document as YAML.
    Yaml,
}

/// Arguments of `kgctl status`.
#[derive(Args)]
pub struct StatusArgs {
    #[command(flatten)]
    pub source: SourceArgs,
    /// Output format.
    #[arg(short = 'o', long, value_enum, default_value = "text")]
    output: StatusOutput,
    /// Do not ask the nodes' kg for their mesh health (it is never asked with `-f`).
    #[arg(long)]
    no_mesh_health: bool,
    /// kg's HTTP port (its `--listen`).
    #[arg(long, default_value_t = 1107)]
    metrics_port: u16,
    /// Seconds to wait for each node's kg.
    #[arg(long, default_value_t = 3)]
    timeout: u64,
}

/// Runs `kgctl status` and returns what to print.
pub fn run(a: &StatusArgs) -> Result<String> {
    let c = a.source.load()?;
    let status = cluster_status(&c.snapshot, c.granularity, c.subnet);
    let health = if a.no_mesh_health || a.source.uses_files() {
        None
    } else {
        let timeout = std::time::Duration::from_secs(a.timeout);
        Some(crate::health::fetch(&c, a.metrics_port, timeout)?)
    };
    Ok(match a.output {
        StatusOutput::Text | StatusOutput::Wide => {
            let wide = a.output == StatusOutput::Wide;
            let mut out = text(&status, &c.problems, &c.rejected, wide);
            if let Some(h) = &health {
                out.push_str(&health_text(h, wide));
            }
            out
        }
        StatusOutput::Json | StatusOutput::Yaml => {
            let mut doc = json(&status, &c.problems, &c.rejected);
            if let Some(h) = &health {
                doc["meshHealth"] = serde_json::to_value(h)?;
            }
            crate::output::document(&doc, a.output == StatusOutput::Yaml)?
        }
    })
}

fn ms(seconds: Option<f64>) -> String {
    seconds.map_or_else(|| "-".to_owned(), |s| format!("{:.2}ms", s * 1000.0))
}

/// "Mesh health: N/N reachable", the broken paths, and with `wide` a row per node.
fn health_text(h: &MeshHealth, wide: bool) -> String {
    let mut out = format!("\nMesh health: {}/{} reachable\n", h.reachable, h.total);
    if wide {
        let mut rows = vec![
            [
                "NODE",
                "HEALTH",
                "PROBED-BY",
                "HOST-RTT",
                "POD-RTT",
                "FAILING",
            ]
            .map(str::to_owned)
            .to_vec(),
        ];
        rows.extend(h.nodes.iter().map(|n| {
            vec![
                n.name.to_string(),
                match n.reach {
                    Reach::Reachable => "reachable",
                    Reach::Unreachable => "unreachable",
                    Reach::Unknown => "unknown",
                }
                .to_owned(),
                n.probed_by.to_string(),
                ms(n.host_rtt_seconds),
                ms(n.pod_rtt_seconds),
                if n.failing.is_empty() {
                    "-".to_owned()
                } else {
                    format!("from {}", n.failing.join(", "))
                },
            ]
        }));
        out.push_str(&table(&rows));
    }
    for f in &h.findings {
        let _ = writeln!(out, "{}: {}", f.subject, f.message);
    }
    out
}

fn text(
    status: &ClusterStatus,
    problems: &[NodeProblem],
    rejected: &[Rejected],
    wide: bool,
) -> String {
    let mut header = vec![
        "NODE",
        "LOCATION",
        "ROLE",
        "MESH",
        "ENDPOINT",
        "WIREGUARD-IP",
        "POD-CIDRS",
        "LAST-SEEN",
    ];
    if wide {
        header.extend(["SEGMENT", "INTERNAL-IPS"]);
    }
    let mut rows = vec![header.into_iter().map(str::to_owned).collect()];
    rows.extend(status.nodes.iter().map(|n| {
        let mut row = node_row(n);
        if wide {
            row.push(n.segment.clone().unwrap_or_else(|| "-".to_owned()));
            row.push(join(&n.internal_ips));
        }
        row
    }));
    let mut out = table(&rows);
    if let Some(line) = status.allocation.as_ref().and_then(|a| a.describe()) {
        let _ = writeln!(out, "\n{line}");
    }
    out.push_str("\nEGRESS (source address of pod traffic leaving the cluster)\n");
    let mut egress = Vec::new();
    for n in &status.nodes {
        egress.push(egress_row(n, "IPv4", &n.egress_v4));
        egress.push(egress_row(n, "IPv6", &n.egress_v6));
    }
    out.push_str(&table(&egress));
    let outside: Vec<&NodeStatus> = status
        .nodes
        .iter()
        .filter(|n| n.not_ready.is_some())
        .collect();
    if !outside.is_empty() {
        out.push_str("\nNOT IN THE MESH\n");
        for n in outside {
            let _ = writeln!(
                out,
                "{}: {}",
                n.name,
                n.not_ready.as_deref().unwrap_or_default()
            );
        }
    }
    if !status.peers.is_empty() || !rejected.is_empty() {
        out.push_str("\nPEERS\n");
        let rows: Vec<Vec<String>> = status
            .peers
            .iter()
            .map(|p| {
                vec![
                    p.peer.name.clone(),
                    join(&p.allowed_ips),
                    p.endpoint
                        .as_ref()
                        .map_or_else(|| "-".to_owned(), ToString::to_string),
                ]
            })
            .collect();
        out.push_str(&table(&rows));
    }
    if !problems.is_empty() || !rejected.is_empty() || !status.warnings.is_empty() {
        out.push_str("\nPROBLEMS\n");
        manifests::render_problems(&mut out, problems, rejected);
        for w in &status.warnings {
            let _ = writeln!(out, "{}: {}", w.subject, w.message);
        }
    }
    out
}

fn node_row(n: &NodeStatus) -> Vec<String> {
    let role = match (&n.segment, n.leader) {
        (None, _) => "-",
        (Some(_), true) => "leader",
        (Some(_), false) => "follower",
    };
    vec![
        n.name.to_string(),
        if n.location.is_empty() {
            "-".to_owned()
        } else {
            n.location.clone()
        },
        role.to_owned(),
        if n.not_ready.is_none() { "ready" } else { "no" }.to_owned(),
        n.endpoint
            .as_ref()
            .map_or_else(|| "-".to_owned(), ToString::to_string),
        n.wireguard_ip
            .map_or_else(|| "-".to_owned(), |w| w.to_string()),
        join(&n.pod_cidrs),
        n.last_seen_age
            .map_or_else(|| "-".to_owned(), |s| format!("{s}s")),
    ]
}

fn egress_row<A>(n: &NodeStatus, family: &str, e: &FamilyEgress<A>) -> Vec<String> {
    vec![n.name.to_string(), family.to_owned(), e.summary.clone()]
}

fn join(nets: &[IpNet]) -> String {
    if nets.is_empty() {
        return "-".to_owned();
    }
    nets.iter()
        .map(ToString::to_string)
        .collect::<Vec<_>>()
        .join(",")
}

/// Left-aligned columns separated by two spaces; the last column is not padded.
fn table(rows: &[Vec<String>]) -> String {
    let columns = rows.iter().map(Vec::len).max().unwrap_or(0);
    let widths: Vec<usize> = (0..columns)
        .map(|c| {
            rows.iter()
                .filter_map(|r| r.get(c))
                .map(|s| s.chars().count())
                .max()
                .unwrap_or(0)
        })
        .collect();
    let mut out = String::new();
    for r in rows {
        let mut line = String::new();
        for (c, cell) in r.iter().enumerate() {
            if c + 1 == r.len() {
                line.push_str(cell);
            } else {
                let _ = write!(line, "{cell:<w$}  ", w = widths[c]);
            }
        }
        out.push_str(line.trim_end());
        out.push('\n');
    }
    out
}

fn json(
    status: &ClusterStatus,
    problems: &[NodeProblem],
    rejected: &[Rejected],
) -> serde_json::Value {
    json!({
        "apiVersion": "kgctl.kilo.squat.ai/v1alpha1",
        "kind": "ClusterStatus",
        "status": status,
        "annotationProblems": problems,
        "rejectedPeers": rejected,
    })
}

#[cfg(test)]
#[path = "status_tests.rs"]
mod tests;
