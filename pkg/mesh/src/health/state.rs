//! What one node learned from its probes: the latest result and the latest success per target
//! and path, kept across rounds (a target is probed once every few intervals when the rotation
//! is bounded) and dropped when the target leaves the mesh or its address changes. Pure.

use std::collections::BTreeMap;

use super::{Path, PathReport, PeerReport, ProbeResult, Target};
use crate::types::NodeName;

#[derive(Clone, Debug, Default)]
struct PathState {
    last: Option<ProbeResult>,
    last_success: Option<i64>,
}

#[derive(Clone, Debug)]
struct PeerState {
    target: Target,
    paths: BTreeMap<Path, PathState>,
}

/// Probe results per target and path.
#[derive(Clone, Debug, Default)]
pub struct HealthState {
    peers: BTreeMap<NodeName, PeerState>,
}

impl HealthState {
    /// Follows the mesh: targets that left are forgotten, new ones start unprobed, and a
    /// target whose address changed loses that path's results (they were about another
    /// address).
    pub fn set_targets(&mut self, targets: &[Target]) {
        let mut next = BTreeMap::new();
        for t in targets {
            let mut paths = BTreeMap::new();
            if let Some(old) = self.peers.remove(&t.node) {
                paths = old.paths;
                paths.retain(|p, _| old.target.address(*p) == t.address(*p));
            }
            next.insert(
                t.node.clone(),
                PeerState {
                    target: t.clone(),
                    paths,
                },
            );
        }
        self.peers = next;
    }

    /// Records one probe result; results for nodes that are not targets are ignored.
    pub fn record(&mut self, node: &NodeName, path: Path, result: ProbeResult) {
        let Some(peer) = self.peers.get_mut(node) else {
            return;
        };
        let state = peer.paths.entry(path).or_default();
        if result.ok() {
            state.last_success = Some(result.at);
        }
        state.last = Some(result);
    }

    /// Forgets a path's latest result (it was not probed: the node has nothing to answer on
    /// it yet), so it reads as unknown rather than as its older verdict.
    pub fn forget(&mut self, node: &NodeName, path: Path) {
        if let Some(s) = self
            .peers
            .get_mut(node)
            .and_then(|p| p.paths.get_mut(&path))
        {
            s.last = None;
        }
    }

    /// Every target with every path, in name and [`Path::ALL`] order; paths without an
    /// address are left out.
    #[must_use]
    pub fn peers(&self) -> Vec<PeerReport> {
        self.peers
            .values()
            .map(|p| PeerReport {
                node: p.target.node.clone(),
                paths: Path::ALL
                    .iter()
                    .filter_map(|path| {
                        let address = p.target.address(*path)?;
                        let s = p.paths.get(path).cloned().unwrap_or_default();
                        Some(PathReport {
                            path: *path,
                            address: Some(address),
                            reachable: s.last.as_ref().map(ProbeResult::ok),
                            rtt_seconds: s.last.as_ref().and_then(|r| r.rtt),
                            last_probe: s.last.as_ref().map(|r| r.at),
                            last_success: s.last_success,
                            error: s.last.and_then(|r| r.error),
                        })
                    })
                    .collect(),
            })
            .collect()
    }
}

#[cfg(test)]
#[path = "state_tests.rs"]
mod tests;
