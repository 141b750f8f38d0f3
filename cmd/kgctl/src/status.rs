//! `kgctl status`: the mesh as it stands — per node its location, role, readiness, endpoint,
//! WireGuard IP, pod CIDRs, heartbeat and the egress source address in force per family (or why
//! there is none) — from the API server (kubeconfig) or from manifests (`-f`).

use std::fmt::Write as _;

use anyhow::Result;
use clap::Args;
use ipnet::IpNet;
use kilo_mesh::views::status::{ClusterStatus, FamilyEgress, NodeStatus, cluster_status};
use serde_json::json;

use crate::manifests::{self, NodeProblem, Rejected};
use crate::plan::Output;
use crate::source::SourceArgs;

/// Arguments of `kgctl status`.
#[derive(Args)]
pub struct StatusArgs {
    #[command(flatten)]
    source: SourceArgs,
    /// Output format.
    #[arg(short = 'o', long, value_enum, default_value = "text")]
    output: Output,
}

/// Runs `kgctl status` and returns what to print.
pub fn run(a: &StatusArgs) -> Result<String> {
    let c = a.source.load()?;
    let status = cluster_status(&c.snapshot, c.granularity, c.subnet);
    Ok(match a.output {
        Output::Text => text(&status, &c.problems, &c.rejected),
        Output::Json => json(&status, &c.problems, &c.rejected)?,
    })
}

fn text(status: &ClusterStatus, problems: &[NodeProblem], rejected: &[Rejected]) -> String {
    let mut rows = vec![
        [
            "NODE",
            "LOCATION",
            "ROLE",
            "MESH",
            "ENDPOINT",
            "WIREGUARD-IP",
            "POD-CIDRS",
            "LAST-SEEN",
        ]
        .map(str::to_owned)
        .to_vec(),
    ];
    rows.extend(status.nodes.iter().map(node_row));
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

fn json(status: &ClusterStatus, problems: &[NodeProblem], rejected: &[Rejected]) -> Result<String> {
    let doc = json!({
        "apiVersion": "kgctl.kilo.squat.ai/v1alpha1",
        "kind": "ClusterStatus",
        "status": status,
        "annotationProblems": problems,
        "rejectedPeers": rejected,
    });
    let mut s = serde_json::to_string_pretty(&doc)?;
    s.push('\n');
    Ok(s)
}
