//! The DOT of `kgctl graph` and kg's `/graph`, judged by the real `dot` (graphviz): hostile
//! locations and Peer names stay inside their labels, so the graph has exactly the expected
//! nodes and no attribute a value tried to add.

#[cfg(test)]
#[allow(
    dead_code,
    reason = "shared by several test binaries; each uses a subset"
)]
mod common;

use std::io::Write as _;
use std::process::{Command, Stdio};

use common::*;
use kilo_mesh::Topology;
use kilo_mesh::types::Granularity;
use kilo_mesh::views::graph::to_dot;

/// Runs `dot -Tjson` on `text`; fails clearly when graphviz is missing or rejects the text.
#[cfg(test)]
fn dot_json(text: &str) -> serde_json::Value {
    let mut child = Command::new("dot")
        .arg("-Tjson")
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("`dot` (graphviz) must be installed for this test: apt-get install graphviz");
    child
        .stdin
        .take()
        .unwrap()
        .write_all(text.as_bytes())
        .unwrap();
    let out = child.wait_with_output().unwrap();
    assert!(
        out.status.success(),
        "dot rejected the graph: {}\n{text}",
        String::from_utf8_lossy(&out.stderr)
    );
    serde_json::from_slice(&out.stdout).unwrap()
}

const HOSTILE: &str = "x\" image=\"/etc/shadow\"];\n  evil [label=\"pwn\"];\n  y [x=\"\\N";

#[test]
fn hostile_locations_and_peer_names_render_to_exactly_the_expected_nodes() {
    let nodes = kilo_example();
    let mut s = snap(&nodes.iter().collect::<Vec<_>>(), vec![]);
    // Past the parser (which refuses such locations) straight into the topology.
    s.nodes[2].location = HOSTILE.to_owned();
    s.peers.push(peer(HOSTILE, 0x70, &["10.99.0.0/16"]));
    let t = Topology::new(
        &s,
        &"node-a".parse().unwrap(),
        Granularity::Location,
        "10.4.0.0/16".parse().unwrap(),
    )
    .unwrap();
    let g = dot_json(&to_dot(&t));
    let objects = g["objects"].as_array().unwrap();
    let mut names: Vec<&str> = objects
        .iter()
        .filter(|o| o.get("nodes").is_none())
        .map(|o| o["name"].as_str().unwrap())
        .collect();
    names.sort_unstable();
    // graphviz keeps a DOT string's `\\` as written (it is an escString); the newlines became
    // spaces
    let peer_node = format!("peer:{HOSTILE}")
        .replace('\n', " ")
        .replace('\\', "\\\\");
    let mut want = vec!["node-a", "node-b", "node-c", peer_node.as_str()];
    want.sort_unstable();
    assert_eq!(names, want);
    for o in objects {
        assert!(o.get("image").is_none(), "an injected attribute: {o}");
        assert!(o.get("x").is_none(), "an injected attribute: {o}");
    }
    let c = objects.iter().find(|o| o["name"] == "node-c").unwrap();
    let label = c["label"].as_str().unwrap();
    assert!(
        label.starts_with("x\" image=\"/etc/shadow\"];   evil [label=\"pwn\"];   y [x=\"\\\\N\\n"),
        "the location is one literal line of the label: {label:?}"
    );
}
