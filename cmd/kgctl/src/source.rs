//! Where kgctl's live commands (`status`, `showconf`) read the cluster from: the API server
//! (kubeconfig) or Node and Peer manifests (`-f`). Does I/O.

use std::collections::BTreeMap;
use std::path::PathBuf;

use anyhow::{Context as _, Result};
use clap::Args;
use ipnet::Ipv4Net;
use k8s_openapi::api::core::v1::Node as K8sNode;
use kilo_k8s::Peer;
use kilo_mesh::{Granularity, Snapshot};

use crate::manifests::{self, NodeProblem, Objects, Rejected};
use kilo_mesh::flags::{DEFAULT_SUBNET, DEFAULT_TOPOLOGY_LABEL};

/// How to reach the API server, as kubectl would.
#[derive(Args)]
pub struct ApiArgs {
    /// Kubeconfig [default: $KUBECONFIG, ~/.kube/config, or the in-cluster config].
    #[arg(long)]
    kubeconfig: Option<PathBuf>,
    /// API server URL, overriding the kubeconfig's.
    #[arg(long)]
    master: Option<String>,
}

impl ApiArgs {
    /// A client for the API server.
    pub async fn client(&self) -> Result<kube::Client> {
        kilo_k8s::client::client(self.kubeconfig.as_deref(), self.master.as_deref())
            .await
            .map_err(Into::into)
    }

    /// Nodes and Peers from the manifests in `files`, or from the API server when there are none.
    pub fn objects(&self, files: &[PathBuf]) -> Result<Objects> {
        if !files.is_empty() {
            return manifests::load(files);
        }
        let rt = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .context("starting the async runtime")?;
        rt.block_on(async { fetch_with(&self.client().await?).await })
    }
}

/// Where the cluster comes from and how kg was configured to see it.
#[derive(Args)]
pub struct SourceArgs {
    /// Read Node and Peer manifests (files or directories) instead of asking the API server.
    #[arg(short = 'f', long = "filename")]
    files: Vec<PathBuf>,
    #[command(flatten)]
    api: ApiArgs,
    /// WireGuard subnet kg runs with.
    #[arg(long, default_value = DEFAULT_SUBNET)]
    subnet: Ipv4Net,
    /// Mesh granularity [default: the one the nodes publish, else location].
    #[arg(long, value_enum)]
    mesh_granularity: Option<Granularity>,
    /// Label holding a node's location.
    #[arg(long, default_value = DEFAULT_TOPOLOGY_LABEL)]
    topology_label: String,
    /// Judge `last-seen` freshness at this unix time [default: now].
    #[arg(long)]
    now: Option<i64>,
}

/// The cluster as read, translated into the mesh's terms.
pub struct Cluster {
    /// Nodes and valid Peers at the chosen time.
    pub snapshot: Snapshot,
    /// The granularity asked for, else the published one.
    pub granularity: Granularity,
    /// `--subnet`.
    pub subnet: Ipv4Net,
    /// Annotation problems found on the Nodes.
    pub problems: Vec<NodeProblem>,
    /// Peers that were rejected, and why.
    pub rejected: Vec<Rejected>,
}

impl SourceArgs {
    /// Reads the cluster from `-f` or the API server.
    pub fn load(&self) -> Result<Cluster> {
        Ok(self.cluster(&self.api.objects(&self.files)?))
    }

    /// Manifests were given with `-f`.
    pub fn uses_files(&self) -> bool {
        !self.files.is_empty()
    }

    /// A client for the API server these arguments name.
    pub async fn client(&self) -> Result<kube::Client> {
        self.api.client().await
    }

    /// Nodes and Peers in the mesh's terms, with the granularity and time these arguments ask for.
    pub fn cluster(&self, objects: &Objects) -> Cluster {
        let t = manifests::translate(objects, &self.topology_label);
        let granularity = self
            .mesh_granularity
            .unwrap_or_else(|| published_granularity(&t.nodes));
        Cluster {
            snapshot: Snapshot {
                nodes: t.nodes,
                peers: t.peers,
                now: self.now.unwrap_or_else(unix_now),
            },
            granularity,
            subnet: self.subnet,
            problems: t.problems,
            rejected: t.rejected,
        }
    }
}

/// Nodes and Peers through `client`. A missing Peer CRD means no Peers, not a failure.
pub async fn fetch_with(client: &kube::Client) -> Result<Objects> {
    let params = kube::api::ListParams::default();
    let nodes = kube::Api::<K8sNode>::all(client.clone())
        .list(&params)
        .await
        .context("listing Nodes")?
        .items;
    // Untyped, then one object at a time: a Peer that does not decode is rejected alone.
    let resource = kube::api::ApiResource::erase::<Peer>(&());
    let peers = match kube::Api::<kube::api::DynamicObject>::all_with(client.clone(), &resource)
        .list(&params)
        .await
    {
        Ok(list) => list
            .items
            .into_iter()
            .map(|o| kilo_k8s::decode_dynamic_peer(&o))
            .collect(),
        Err(kube::Error::Api(s)) if s.code == 404 => Vec::new(),
        Err(e) => return Err(anyhow::Error::new(e).context("listing Peers")),
    };
    Ok(Objects { nodes, peers })
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
