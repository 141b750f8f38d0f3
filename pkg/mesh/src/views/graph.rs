//! Graphviz DOT rendering of a topology (`/graph`, `kgctl graph`): one cluster per segment,
//! leaders joined in a full mesh, members attached to their leader, Peers dashed. Pure.

use std::fmt::Write as _;

use crate::topology::Topology;

/// One line of text, escaped for a DOT double-quoted string: backslashes and quotes escaped, so
/// no value can end the string or start a graphviz escape (`\N`, `\l`); control characters
/// (newlines, NUL) become spaces, so a value is always one line.
fn escape(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for c in s.chars() {
        match c {
            '\\' => out.push_str("\\\\"),
            '"' => out.push_str("\\\""),
            c if c.is_control() => out.push(' '),
            c => out.push(c),
        }
    }
    out
}

/// A DOT ID: a double-quoted, escaped string.
fn quote(s: &str) -> String {
    format!("\"{}\"", escape(s))
}

/// A multi-line label: each line escaped, joined by DOT's `\n` line break.
fn label(lines: &[String]) -> String {
    let escaped: Vec<String> = lines.iter().map(|l| escape(l)).collect();
    format!("\"{}\"", escaped.join("\\n"))
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
            let mut lines = vec![s.location.clone(), n.name.to_string()];
            lines.extend(n.pod_cidrs.iter().map(ToString::to_string));
            lines.extend(n.internal_ips.iter().map(ToString::to_string));
            if leader {
                lines.extend(s.wireguard_ip.iter().map(ToString::to_string));
                lines.extend(s.endpoint.iter().map(ToString::to_string));
            }
            let shape = if leader {
                "ellipse, style=bold"
            } else {
                "ellipse"
            };
            let _ = writeln!(
                out,
                "    {} [label={}, shape={shape}];",
                quote(n.name.as_str()),
                label(&lines)
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
            let mut lines = vec![p.peer.name.clone()];
            lines.extend(p.allowed_ips.iter().map(ToString::to_string));
            let _ = writeln!(
                out,
                "    {} [label={}, shape=box];",
                quote(&format!("peer:{}", p.peer.name)),
                label(&lines)
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
