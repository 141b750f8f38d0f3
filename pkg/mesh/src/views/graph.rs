//! Graphviz DOT rendering of a topology (`/graph`, `kgctl graph`): one cluster per segment,
//! leaders joined in a full mesh, members attached to their leader, Peers dashed. Pure.

use std::fmt::Write as _;

use crate::topology::Topology;

fn quote(s: &str) -> String {
    format!("\"{}\"", s.replace('\\', "\\\\").replace('"', "\\\""))
}

/// Renders the topology as a `digraph kilo`.
#[must_use]
pub fn to_dot(t: &Topology) -> String {
    let mut out = String::new();
    let _ = writeln!(
        out,
        "digraph kilo {{\n  label={};\n  labelloc=t;\n  outputorder=nodesfirst;\n  overlap=false;",
        quote(&t.subnet.to_string())
    );
    for (i, s) in t.segments.iter().enumerate() {
        let _ = writeln!(
            out,
            "  subgraph cluster_{i} {{\n    label={};\n    style=dashed;",
            quote(&s.key)
        );
        for n in &s.nodes {
            let leader = n.name == s.leader_node().name;
            let mut label = format!("{}\\n{}", s.location, n.name);
            for c in &n.pod_cidrs {
                let _ = write!(label, "\\n{c}");
            }
            for ip in &n.internal_ips {
                let _ = write!(label, "\\n{ip}");
            }
            if leader {
                if let Some(w) = s.wireguard_ip {
                    let _ = write!(label, "\\n{w}");
                }
                if let Some(e) = &s.endpoint {
                    let _ = write!(label, "\\n{e}");
                }
            }
            let shape = if leader {
                "ellipse, style=bold"
            } else {
                "ellipse"
            };
            let _ = writeln!(
                out,
                "    {} [label=\"{label}\", shape={shape}];",
                quote(n.name.as_str())
            );
        }
        out.push_str("  }\n");
    }
    for s in &t.segments {
        let l = s.leader_node().name.as_str();
        for n in s.nodes.iter().filter(|n| n.name.as_str() != l) {
            let _ = writeln!(
                out,
                "  {} -> {} [dir=both];",
                quote(l),
                quote(n.name.as_str())
            );
        }
    }
    for (i, a) in t.segments.iter().enumerate() {
        for b in &t.segments[i + 1..] {
            let _ = writeln!(
                out,
                "  {} -> {} [dir=both, style=bold];",
                quote(a.leader_node().name.as_str()),
                quote(b.leader_node().name.as_str())
            );
        }
    }
    if !t.peers.is_empty() {
        out.push_str("  subgraph cluster_peers {\n    label=\"peers\";\n    style=dashed;\n");
        for p in &t.peers {
            let ips: Vec<String> = p.allowed_ips.iter().map(ToString::to_string).collect();
            let _ = writeln!(
                out,
                "    {} [label=\"{}\\n{}\", shape=box];",
                quote(&format!("peer:{}", p.peer.name)),
                p.peer.name,
                ips.join("\\n")
            );
        }
        out.push_str("  }\n");
        for s in &t.segments {
            for p in &t.peers {
                let _ = writeln!(
                    out,
                    "  {} -> {} [dir=both, style=dashed];",
                    quote(s.leader_node().name.as_str()),
                    quote(&format!("peer:{}", p.peer.name))
                );
            }
        }
    }
    out.push_str("}\n");
    out
}
