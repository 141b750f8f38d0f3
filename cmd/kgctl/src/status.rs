//! `kgctl status`: the mesh as it stands — per node its location, role, readiness, endpoint,
//! WireGuard IP, pod CIDRs, heartbeat and the egress source address in force per family (or why
//! there is none) — from the API server (kubeconfig) or from manifests (`-f`).

use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::path::PathBuf;

use anyhow::{Context as _, Result};
use clap::Args;
use ipnet::{IpNet, Ipv4Net};
use k8s_openapi::api::core::v1::Node as K8sNode;
use kilo_k8s::Peer;
use kilo_mesh::status::{ClusterStatus, FamilyEgress, NodeStatus, cluster_status};
use kilo_mesh::{Granularity, Snapshot};
use serde_json::json;

use crate::manifests::{self, NodeProblem, Objects, Rejected};
use crate::plan::{GranularityArg, Output};

/// Arguments of `kgctl status`.
#[derive(Args)]
pub struct StatusArgs {
    /// Read Node and Peer manifests (files or directories) instead of asking the API server.
    #[arg(short = 'f', long = "filename")]
    files: Vec<PathBuf>,
    /// Kubeconfig [default: $KUBECONFIG, ~/.kube/config, or the in-cluster config].
    #[arg(long)]
    kubeconfig: Option<PathBuf>,
    /// API server URL, overriding the kubeconfig's.
    #[arg(long)]
    master: Option<String>,
    /// WireGuard subnet kg runs with.
    #[arg(long, default_value = "10.4.0.0/16")]
    subnet: Ipv4Net,
    /// Mesh granularity [default: the one the nodes publish, else location].
    #[arg(long, value_enum)]
    mesh_granularity: Option<GranularityArg>,
    /// Label holding a node's location.
    #[arg(long, default_value = "topology.kubernetes.io/region")]
    topology_label: String,
    /// Judge `last-seen` freshness at this unix time [default: now].
    #[arg(long)]
    now: Option<i64>,
    /// Output format.
    #[arg(short = 'o', long, value_enum, default_value = "text")]
    output: Output,
}

/// Runs `kgctl status` and returns what to print.
pub fn run(a: &StatusArgs) -> Result<String> {
    let objects = if a.files.is_empty() {
        fetch(a)?
    } else {
        manifests::load(&a.files)?
    };
    let t = manifests::translate(&objects, &a.topology_label);
    let granularity = a.mesh_granularity.map_or_else(
        || published_granularity(&t.nodes),
        |g| match g {
            GranularityArg::Location => Granularity::Location,
            GranularityArg::Full => Granularity::Full,
        },
    );
    let now = a.now.unwrap_or_else(unix_now);
    let snapshot = Snapshot {
        nodes: t.nodes,
        peers: t.peers,
        now,
    };
    let status = cluster_status(&snapshot, granularity, a.subnet);
    Ok(match a.output {
        Output::Text => text(&status, &t.problems, &t.rejected),
        Output::Json => json(&status, &t.problems, &t.rejected)?,
    })
}

fn unix_now() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_secs().cast_signed())
}

/// The granularity most nodes publish (kg writes it), else `location` (kg's default).
fn published_granularity(nodes: &[kilo_mesh::Node]) -> Granularity {
    let mut counts: BTreeMap<&str, (usize, Granularity)> = BTreeMap::new();
    for g in nodes.iter().filter_map(|n| n.granularity) {
        counts.entry(g.as_str()).or_insert((0, g)).0 += 1;
    }
    counts
        .into_values()
        .max_by_key(|(count, _)| *count)
        .map_or(Granularity::Location, |(_, g)| g)
}

/// Nodes and Peers from the API server. A missing Peer CRD means no Peers, not a failure.
fn fetch(a: &StatusArgs) -> Result<Objects> {
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .context("starting the async runtime")?;
    rt.block_on(async {
        let client = kilo_k8s::client::client(a.kubeconfig.as_deref(), a.master.as_deref()).await?;
        let params = kube::api::ListParams::default();
        let nodes = kube::Api::<K8sNode>::all(client.clone())
            .list(&params)
            .await
            .context("listing Nodes")?
            .items;
        let peers = match kube::Api::<Peer>::all(client).list(&params).await {
            Ok(list) => list.items,
            Err(kube::Error::Api(s)) if s.code == 404 => Vec::new(),
            Err(e) => return Err(anyhow::Error::new(e).context("listing Peers")),
        };
        Ok(Objects { nodes, peers })
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
