//! Loads Node and Peer manifests from files or directories: YAML (multi-document) or JSON, single
//! objects or `List`s — exactly what `kubectl get nodes -o yaml` prints — and translates them
//! into the mesh's types with the problems found. Reads files only.

use std::path::{Path, PathBuf};

use anyhow::{Context as _, Result, bail};
use k8s_openapi::api::core::v1::Node;
use kilo_k8s::{Peer, PeerRejection};
use kilo_mesh::annotations::AnnotationProblem;
use serde::Serialize;
use serde_json::Value;

/// The objects found.
#[derive(Default)]
pub struct Objects {
    /// Nodes.
    pub nodes: Vec<Node>,
    /// Peers, each decoded on its own: one that does not decode is rejected alone.
    pub peers: Vec<Result<Peer, PeerRejection>>,
}

fn files(path: &Path) -> Result<Vec<PathBuf>> {
    if !path.is_dir() {
        return Ok(vec![path.to_path_buf()]);
    }
    let mut out: Vec<PathBuf> = std::fs::read_dir(path)
        .with_context(|| format!("reading directory {}", path.display()))?
        .filter_map(|e| e.ok().map(|e| e.path()))
        .filter(|p| {
            p.extension()
                .is_some_and(|e| e == "yaml" || e == "yml" || e == "json")
        })
        .collect();
    out.sort();
    Ok(out)
}

fn documents(text: &str, path: &Path) -> Result<Vec<Value>> {
    if text.trim_start().starts_with('{') {
        let v: Value = serde_json::from_str(text)
            .with_context(|| format!("parsing JSON in {}", path.display()))?;
        return Ok(vec![v]);
    }
    let docs: Vec<Value> = serde_saphyr::from_multiple(text)
        .with_context(|| format!("parsing YAML in {}", path.display()))?;
    Ok(docs.into_iter().filter(|d| !d.is_null()).collect())
}

fn add(objects: &mut Objects, mut v: Value, path: &Path) -> Result<()> {
    let kind = v
        .get("kind")
        .and_then(Value::as_str)
        .unwrap_or_default()
        .to_owned();
    match kind.as_str() {
        "List" | "NodeList" | "PeerList" => {
            // Taken out of the list, not copied: a 5 000-node List is megabytes of values.
            let items = match v.get_mut("items") {
                Some(Value::Array(items)) => std::mem::take(items),
                _ => Vec::new(),
            };
            for item in items {
                add(objects, item, path)?;
            }
        }
        "Node" => objects.nodes.push(
            serde_json::from_value(v)
                .with_context(|| format!("decoding a Node in {}", path.display()))?,
        ),
        "Peer" => objects.peers.push(kilo_k8s::decode_peer(v)),
        other => bail!(
            "{}: unsupported kind {other:?} (expected Node, Peer or a List)",
            path.display()
        ),
    }
    Ok(())
}

/// Reads every manifest under `paths`.
pub fn load(paths: &[PathBuf]) -> Result<Objects> {
    let mut objects = Objects::default();
    for p in paths {
        for f in files(p)? {
            let text =
                std::fs::read_to_string(&f).with_context(|| format!("reading {}", f.display()))?;
            for doc in documents(&text, &f)? {
                add(&mut objects, doc, &f)?;
            }
        }
    }
    Ok(objects)
}

/// An annotation problem with the node it belongs to.
#[derive(Serialize)]
pub struct NodeProblem {
    /// The node (`""` when its name itself is invalid).
    pub node: String,
    /// The problem.
    #[serde(flatten)]
    pub problem: AnnotationProblem,
}

/// A Peer that was rejected, and why.
#[derive(Serialize)]
pub struct Rejected {
    /// The Peer's name.
    pub name: String,
    /// Why.
    pub reason: String,
}

/// Objects translated into the mesh's types.
pub struct Translated {
    /// Nodes that parsed (with defaults where an annotation was rejected).
    pub nodes: Vec<kilo_mesh::Node>,
    /// Valid Peers.
    pub peers: Vec<kilo_mesh::Peer>,
    /// Annotation problems, per node.
    pub problems: Vec<NodeProblem>,
    /// Rejected Peers.
    pub rejected: Vec<Rejected>,
}

/// Translates Nodes and Peers as kg does, keeping every problem found.
pub fn translate(objects: &Objects, topology_label: &str) -> Translated {
    let mut out = Translated {
        nodes: Vec::new(),
        peers: Vec::new(),
        problems: Vec::new(),
        rejected: Vec::new(),
    };
    for n in &objects.nodes {
        match kilo_k8s::node_from_k8s(n, topology_label) {
            Ok((node, ps)) => {
                out.problems.extend(ps.into_iter().map(|p| NodeProblem {
                    node: node.name.to_string(),
                    problem: p,
                }));
                out.nodes.push(node);
            }
            Err(p) => out.problems.push(NodeProblem {
                node: String::new(),
                problem: p,
            }),
        }
    }
    for p in &objects.peers {
        match p.as_ref().map_err(Clone::clone).and_then(Peer::to_mesh) {
            Ok(peer) => out.peers.push(peer),
            Err(r) => out.rejected.push(Rejected {
                name: r.name,
                reason: r.reason,
            }),
        }
    }
    out
}

/// One line per problem: `node/n1 [Error] …`, `peer/laptop rejected: …`.
pub fn render_problems(out: &mut String, problems: &[NodeProblem], rejected: &[Rejected]) {
    use std::fmt::Write as _;
    for p in problems {
        let _ = writeln!(
            out,
            "node/{} [{:?}] {}",
            p.node, p.problem.severity, p.problem
        );
    }
    for r in rejected {
        let _ = writeln!(out, "peer/{} rejected: {}", r.name, r.reason);
    }
}
