//! Mesh health as kg measured it: every node's `/mesh-health` (at its private IP), judged by
//! [`kilo_mesh::health::verdict`]. Used by `kgctl status` and `kgctl check --probe`. Does
//! network I/O (HTTP GETs with a timeout).

use std::collections::BTreeMap;
use std::time::Duration;

use anyhow::Result;
use hyper_util::client::legacy::Client;
use hyper_util::rt::TokioExecutor;
use kilo_mesh::health::HealthReport;
use kilo_mesh::health::verdict::{Fetched, MeshHealth, mesh_health};
use kilo_mesh::types::NodeName;
use kilo_mesh::views::status::cluster_status;

use crate::probe::{HttpClient, get, kg_addr, runtime};
use crate::source::Cluster;

async fn fetch_one(client: &HttpClient, addr: Option<String>, timeout: Duration) -> Fetched {
    let addr = addr.ok_or("no private IP to reach its kg at")?;
    match get(client, &format!("http://{addr}/mesh-health"), timeout).await {
        Ok((200, body)) => serde_json::from_str::<HealthReport>(&body)
            .map_err(|e| format!("kg at {addr}: /mesh-health is not a report: {e}")),
        Ok((code, body)) => Err(format!(
            "kg at {addr}: /mesh-health answered {code}: {}",
            body.trim()
        )),
        Err(e) => Err(format!("kg at {addr} did not answer: {e:#}")),
    }
}

/// Asks every node in the mesh for its report (concurrently) and judges them.
pub fn fetch(c: &Cluster, port: u16, timeout: Duration) -> Result<MeshHealth> {
    let status = cluster_status(&c.snapshot, c.granularity, c.subnet);
    let nodes: Vec<(NodeName, Option<String>)> = status
        .nodes
        .iter()
        .filter(|n| n.not_ready.is_none() && n.segment.is_some())
        .map(|n| (n.name.clone(), kg_addr(n, port)))
        .collect();
    let client: HttpClient = Client::builder(TokioExecutor::new()).build_http();
    let reports: BTreeMap<NodeName, Fetched> = runtime()?.block_on(async {
        let mut set = tokio::task::JoinSet::new();
        for (name, addr) in nodes.iter().cloned() {
            let client = client.clone();
            set.spawn(async move { (name, fetch_one(&client, addr, timeout).await) });
        }
        let mut out = BTreeMap::new();
        while let Some(Ok((name, r))) = set.join_next().await {
            out.insert(name, r);
        }
        out
    });
    let names: Vec<NodeName> = nodes.into_iter().map(|(n, _)| n).collect();
    Ok(mesh_health(&names, &reports))
}
