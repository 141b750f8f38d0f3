//! Problems worth an Event on a Node or Peer: what they are ([`Notice`]), which ones kg raises
//! after a reconcile ([`notices`]), and raising each only once while it persists
//! ([`NoticeDedup`]). Pure.

use std::collections::BTreeSet;

use crate::annotations::AnnotationProblem;
use crate::guard::{Object, Rejected};
use crate::plan::{EgressState, NodePlan};
use crate::topology::Topology;
use crate::types::NodeName;

/// What an Event is about.
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Target {
    /// A Node.
    Node(String),
    /// A Peer.
    Peer(String),
}

/// An Event kg wants the operator to see.
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Notice {
    /// The object.
    pub target: Target,
    /// PascalCase reason, e.g. `InvalidAnnotation`.
    pub reason: String,
    /// Human message.
    pub message: String,
    /// Warning (true) or Normal.
    pub warning: bool,
}

/// A Peer the mesh refused, and why.
#[derive(Clone, Copy, Debug)]
pub struct Refusal<'a> {
    /// The Peer's name.
    pub name: &'a str,
    /// Why it was refused.
    pub reason: &'a str,
}

/// Emits each distinct [`Notice`] once while it persists: a problem that is still there at the
/// next reconcile is not repeated; one that went away and came back is reported again.
#[derive(Debug, Default)]
pub struct NoticeDedup {
    active: BTreeSet<Notice>,
}

impl NoticeDedup {
    /// Given all current notices, returns the new ones and forgets the resolved ones.
    pub fn fresh(&mut self, current: Vec<Notice>) -> Vec<Notice> {
        let current: BTreeSet<Notice> = current.into_iter().collect();
        let fresh = current.difference(&self.active).cloned().collect();
        self.active = current;
        fresh
    }
}

/// Whether `me` reports cluster-wide problems (rejected Peers), so they are reported once: the
/// leader of the first segment, which every node computes alike.
#[must_use]
pub fn reports_cluster_problems(topo: &Topology, me: &NodeName) -> bool {
    topo.segments
        .first()
        .is_some_and(|s| &s.leader_node().name == me)
}

fn not_assigned<A: std::fmt::Display>(state: &EgressState<A>) -> Option<String> {
    match state {
        EgressState::NotAssigned { address } => Some(address.to_string()),
        _ => None,
    }
}

fn rejected_notice(r: &Rejected) -> Notice {
    let target = match &r.object {
        Object::Node(n) => Target::Node(n.clone()),
        Object::Peer(p) => Target::Peer(p.clone()),
    };
    Notice {
        target,
        reason: "RefusedValue".to_owned(),
        message: r.to_string(),
        warning: true,
    }
}

/// The notices of one reconcile on node `me`: its own annotation problems, its egress decision,
/// and, when `reporter` (see [`reports_cluster_problems`]), every refused Peer and every value
/// the guard refused (`RefusedValue`, on the Node or Peer it came from).
#[must_use]
pub fn notices(
    me: &NodeName,
    problems: &[AnnotationProblem],
    plan: &NodePlan,
    refused: &[Refusal<'_>],
    reporter: bool,
) -> Vec<Notice> {
    let node = |reason: &str, message: String| Notice {
        target: Target::Node(me.to_string()),
        reason: reason.to_owned(),
        message,
        warning: true,
    };
    let mut out: Vec<Notice> = problems
        .iter()
        .map(|p| node("InvalidAnnotation", p.to_string()))
        .collect();
    let unassigned = [
        ("IPv4", not_assigned(&plan.egress.v4)),
        ("IPv6", not_assigned(&plan.egress.v6)),
    ];
    for (family, address) in unassigned {
        if let Some(address) = address {
            out.push(node(
                "EgressIPNotAssigned",
                format!(
                    "egress IP {address} is not assigned on this node; {family} uses MASQUERADE"
                ),
            ));
        }
    }
    if reporter {
        out.extend(plan.rejected.iter().map(rejected_notice));
        out.extend(refused.iter().map(|r| Notice {
            target: Target::Peer(r.name.to_owned()),
            reason: "InvalidPeer".to_owned(),
            message: r.reason.to_owned(),
            warning: true,
        }));
    }
    out
}
