//! `kgctl check`: what is wrong with the mesh as the nodes published it — nodes whose settings
//! disagree, keys, endpoints or pod CIDRs that two nodes share, nodes left out and why, claims
//! and egress decisions kg has not caught up with, and what the topology had to drop. Pure.

use std::collections::BTreeMap;
use std::fmt::Display;

use ipnet::{IpNet, Ipv4Net};
use serde::Serialize;

use crate::node::{Node, Snapshot};
use crate::types::{Granularity, NodeName};
use crate::views::status::{FamilyEgress, cluster_status};

/// How bad a finding is.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Severity {
    /// The mesh is broken for the nodes involved.
    Error,
    /// Something is left out or not caught up; the rest of the mesh works.
    Warning,
}

/// One problem.
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord, Serialize)]
pub struct Finding {
    /// How bad.
    pub severity: Severity,
    /// What it is about: `node/n1`, `peer/laptop`, `segment/location:a`, or several, comma-separated.
    pub subject: String,
    /// What is wrong, and what follows from it.
    pub message: String,
}

fn finding(severity: Severity, subject: impl Into<String>, message: impl Into<String>) -> Finding {
    Finding {
        severity,
        subject: subject.into(),
        message: message.into(),
    }
}

fn subjects<'a>(names: impl IntoIterator<Item = &'a NodeName>) -> String {
    names
        .into_iter()
        .map(|n| format!("node/{n}"))
        .collect::<Vec<_>>()
        .join(",")
}

/// Every problem found in `snapshot`, errors first, then by subject.
#[must_use]
pub fn check(snapshot: &Snapshot, granularity: Granularity, subnet: Ipv4Net) -> Vec<Finding> {
    let nodes = &snapshot.nodes;
    let mut out = Vec::new();
    granularities(nodes, granularity, &mut out);
    shared(
        nodes,
        |n| n.key.map(|k| k.to_base64()),
        "WireGuard key",
        &mut out,
    );
    shared(
        nodes,
        |n| n.endpoint.as_ref().map(ToString::to_string),
        "endpoint",
        &mut out,
    );
    overlapping_pod_cidrs(nodes, &mut out);
    let status = cluster_status(snapshot, granularity, subnet);
    for n in &status.nodes {
        let subject = format!("node/{}", n.name);
        if let Some(why) = &n.not_ready {
            out.push(finding(
                Severity::Warning,
                &subject,
                format!("not in the mesh: {why}"),
            ));
        }
        egress_pending(&subject, "IPv4", &n.egress_v4, &mut out);
        egress_pending(&subject, "IPv6", &n.egress_v6, &mut out);
    }
    claims(nodes, &status, &mut out);
    for w in &status.warnings {
        out.push(finding(Severity::Warning, &w.subject, &w.message));
    }
    out.sort();
    out.dedup();
    out
}

fn granularities(nodes: &[Node], mesh: Granularity, out: &mut Vec<Finding>) {
    for n in nodes {
        if let Some(g) = n.granularity.filter(|g| *g != mesh) {
            out.push(finding(
                Severity::Error,
                format!("node/{}", n.name),
                format!(
                    "kg runs with --mesh-granularity {} but the mesh is {}: its WireGuard peers \
                     do not match the other nodes'",
                    g.as_str(),
                    mesh.as_str()
                ),
            ));
        }
    }
}

/// Values (keys, endpoints) two or more nodes publish.
fn shared(
    nodes: &[Node],
    value: impl Fn(&Node) -> Option<String>,
    what: &str,
    out: &mut Vec<Finding>,
) {
    let mut by_value: BTreeMap<String, Vec<&NodeName>> = BTreeMap::new();
    for n in nodes {
        if let Some(v) = value(n) {
            by_value.entry(v).or_default().push(&n.name);
        }
    }
    for (v, mut names) in by_value.into_iter().filter(|(_, n)| n.len() > 1) {
        names.sort();
        let shown = if what == "endpoint" {
            v
        } else {
            "the same one".to_owned()
        };
        out.push(finding(
            Severity::Error,
            subjects(names),
            format!("these nodes publish one {what} ({shown}): WireGuard cannot tell them apart"),
        ));
    }
}

fn overlapping_pod_cidrs(nodes: &[Node], out: &mut Vec<Finding>) {
    let mut all: Vec<(IpNet, &NodeName)> = nodes
        .iter()
        .flat_map(|n| n.pod_cidrs.iter().map(move |c| (c.trunc(), &n.name)))
        .collect();
    all.sort_by_key(|(c, _)| (c.network(), c.prefix_len()));
    // CIDRs nest or are disjoint: an open container that holds the next one overlaps it
    let mut open: Vec<(IpNet, &NodeName)> = Vec::new();
    for (cidr, name) in all {
        while open.last().is_some_and(|(c, _)| !c.contains(&cidr)) {
            open.pop();
        }
        if let Some((c, other)) = open.last().filter(|(_, other)| *other != name) {
            let mut pair = [*other, name];
            pair.sort();
            out.push(finding(
                Severity::Error,
                subjects(pair),
                format!(
                    "pod CIDRs {c} and {cidr} overlap: pods of one node are routed to the other"
                ),
            ));
        }
        open.push((cidr, name));
    }
}

fn egress_pending<A: Display>(
    subject: &str,
    family: &str,
    e: &FamilyEgress<A>,
    out: &mut Vec<Finding>,
) {
    if e.pending {
        out.push(finding(
            Severity::Warning,
            subject,
            format!("{family} egress: {}", e.summary),
        ));
    }
}

/// A leader's published `wireguard-ip` that differs from the address the mesh computes.
fn claims(nodes: &[Node], status: &crate::views::status::ClusterStatus, out: &mut Vec<Finding>) {
    for s in status.nodes.iter().filter(|s| s.leader) {
        let published = nodes
            .iter()
            .find(|n| n.name == s.name)
            .and_then(|n| n.wireguard_ip);
        let (Some(p), Some(c)) = (published, s.wireguard_ip) else {
            continue;
        };
        if p != IpNet::V4(c) {
            out.push(finding(
                Severity::Warning,
                format!("node/{}", s.name),
                format!(
                    "publishes wireguard-ip {p} but the mesh computes {c} (kg not caught up, or \
                     running with another --subnet)"
                ),
            ));
        }
    }
}
