//! `kgctl graph`: the mesh topology as Graphviz DOT, from manifests (`-f`) or the API server, as
//! Kilo's `kgctl graph` draws it: seen from `--hostname`, or from the first ready node by name.

use anyhow::{Context as _, Result};
use clap::Args;
use kilo_mesh::NodeName;
use kilo_mesh::views::showconf::cluster_view;

use crate::plan::{offline_now, wall_clock};
use crate::source::SourceArgs;

/// Arguments of `kgctl graph`.
#[derive(Args)]
pub struct GraphArgs {
    #[command(flatten)]
    pub source: SourceArgs,
    /// The node to see the mesh from [default: the first ready node by name].
    #[arg(long)]
    hostname: Option<String>,
}

/// Runs `kgctl graph` and returns the DOT text.
pub fn run(a: &GraphArgs) -> Result<String> {
    let mut c = a.source.load()?;
    if a.source.uses_files() && !a.source.now_given() {
        // manifests are a moment of the past: judge them at their newest heartbeat, as plan does
        c.snapshot.now = offline_now(&c.snapshot.nodes, wall_clock(), &mut Vec::new());
    }
    let topo = match &a.hostname {
        Some(h) => {
            let hostname: NodeName = h.parse().context("--hostname")?;
            kilo_mesh::Topology::new(&c.snapshot, &hostname, c.granularity, c.subnet)
                .with_context(|| format!("computing the topology from node {hostname}"))?
        }
        None => cluster_view(&c.snapshot, c.granularity, c.subnet)
            .context("did not find any valid Kilo nodes in the cluster")?,
    };
    Ok(kilo_mesh::views::graph::to_dot(&topo))
}
