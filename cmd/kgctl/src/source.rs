//! Where kgctl's live commands (`status`, `showconf`) read the cluster from: the API server
//! (kubeconfig) or Node and Peer manifests (`-f`). Does I/O.

use std::collections::BTreeMap;
use std::path::PathBuf;

use anyhow::{Context as _, Result};
use clap::{Args, ValueEnum};
use ipnet::Ipv4Net;
use k8s_openapi::api::core::v1::Node as K8sNode;
use kilo_k8s::Peer;
use kilo_mesh::{Granularity, Snapshot};

use crate::manifests::{self, NodeProblem, Objects, Rejected};
use kilo_mesh::flags::{DEFAULT_SUBNET, DEFAULT_TOPOLOGY_LABEL};

/// How to reach the API server, as kubectl would: global flags, given before or after the
/// subcommand (`kgctl --kubeconfig X showconf node n1`).
#[derive(Args, Clone, Debug, Default)]
pub struct ApiArgs {
    /// Kubeconfig [default: $KUBECONFIG, ~/.kube/config, or the in-cluster config].
    #[arg(long, global = true)]
    kubeconfig: Option<PathBuf>,
    /// The kubeconfig context to use [default: its current context].
    #[arg(long, global = true)]
    context: Option<String>,
    /// API server URL, overriding the kubeconfig's.
    #[arg(long, global = true)]
    master: Option<String>,
}

impl ApiArgs {
    /// A client for the API server.
    pub async fn client(&self) -> Result<kube::Client> {
        kilo_k8s::client::client_for(
            self.kubeconfig.as_deref(),
            self.context.as_deref(),
            self.master.as_deref(),
        )
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
    /// The global API server flags (set by `main` from the top-level ones).
    #[arg(skip)]
    pub api: ApiArgs,
    /// WireGuard subnet kg runs with.
    #[arg(long, default_value = DEFAULT_SUBNET)]
    subnet: Ipv4Net,
    /// Mesh granularity: `auto` takes the one the nodes publish (`kilo.squat.ai/granularity`;
    /// `location` when none does), refusing nodes that disagree.
    #[arg(long, value_enum, default_value = "auto")]
    mesh_granularity: GranularityChoice,
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
        self.cluster(&self.objects()?)
    }

    /// Nodes and Peers from `-f` or the API server.
    pub fn objects(&self) -> Result<Objects> {
        self.api.objects(&self.files)
    }

    /// `--now` was given.
    pub fn now_given(&self) -> bool {
        self.now.is_some()
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
    pub fn cluster(&self, objects: &Objects) -> Result<Cluster> {
        let t = manifests::translate(objects, &self.topology_label);
        let granularity = self.mesh_granularity.resolve(&t.nodes)?;
        Ok(Cluster {
            snapshot: Snapshot {
                nodes: t.nodes,
                peers: t.peers,
                now: self.now.unwrap_or_else(unix_now),
            },
            granularity,
            subnet: self.subnet,
            problems: t.problems,
            rejected: t.rejected,
        })
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

/// `--mesh-granularity` of kgctl's cluster commands: Kilo's values, `auto` by default.
#[derive(Clone, Copy, Debug, PartialEq, Eq, ValueEnum)]
pub enum GranularityChoice {
    /// The granularity the nodes publish.
    Auto,
    /// Nodes sharing a location form one segment.
    Location,
    /// Every node is its own segment.
    Full,
}

impl GranularityChoice {
    /// The granularity to compute with. `auto`: the one every node that publishes
    /// `kilo.squat.ai/granularity` publishes (`location`, kg's default, when none does).
    ///
    /// # Errors
    /// `auto` and nodes that publish different granularities (each named).
    pub fn resolve(self, nodes: &[kilo_mesh::Node]) -> Result<Granularity> {
        match self {
            Self::Location => Ok(Granularity::Location),
            Self::Full => Ok(Granularity::Full),
            Self::Auto => published_granularity(nodes),
        }
    }
}

/// The granularity the nodes publish (kg writes it), `location` when none does.
fn published_granularity(nodes: &[kilo_mesh::Node]) -> Result<Granularity> {
    let mut by: BTreeMap<&str, (Granularity, Vec<String>)> = BTreeMap::new();
    for n in nodes {
        if let Some(g) = n.granularity {
            by.entry(g.as_str())
                .or_insert_with(|| (g, Vec::new()))
                .1
                .push(n.name.to_string());
        }
    }
    let mut groups = by.into_iter();
    match (groups.next(), groups.next()) {
        (None, _) => Ok(Granularity::Location),
        (Some((_, (g, _))), None) => Ok(g),
        (Some(first), Some(second)) => {
            let list: Vec<String> = [first, second]
                .into_iter()
                .chain(groups)
                .map(|(name, (_, mut nodes))| {
                    nodes.sort();
                    format!("{name} ({})", nodes.join(", "))
                })
                .collect();
            anyhow::bail!(
                "the nodes publish different mesh granularities (kilo.squat.ai/granularity): {}; pass --mesh-granularity",
                list.join(", ")
            )
        }
    }
}
