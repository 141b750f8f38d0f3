//! The bounded rotation through the probe targets: each interval a node probes at most `bound`
//! targets, continuing after the last one it probed (in name order, wrapping), so the cost per
//! node stays flat however large the mesh grows. Each node starts just after itself, which
//! spreads the probers over the targets: in a round every node is probed about `bound` times.
//! Also the interval's jitter. Pure.

use std::time::Duration;

use super::Target;
use crate::types::NodeName;

/// Where a node is in its rotation.
#[derive(Clone, Debug)]
pub struct Rotation {
    cursor: NodeName,
}

impl Rotation {
    /// A rotation for node `me`: its first batch starts at the first name after its own.
    #[must_use]
    pub fn new(me: NodeName) -> Self {
        Self { cursor: me }
    }

    /// The next batch: up to `bound` targets (at least one when there are any) after the last
    /// one probed, wrapping around; no target twice. `targets` must be sorted by name (as
    /// [`super::targets`] returns them); targets that came or went since the last batch are
    /// taken into account by name.
    pub fn next_batch<'a>(&mut self, targets: &'a [Target], bound: usize) -> Vec<&'a Target> {
        if targets.is_empty() {
            return Vec::new();
        }
        let start = targets.partition_point(|t| t.node <= self.cursor) % targets.len();
        let batch: Vec<&Target> = targets
            .iter()
            .cycle()
            .skip(start)
            .take(bound.clamp(1, targets.len()))
            .collect();
        if let Some(last) = batch.last() {
            self.cursor = last.node.clone();
        }
        batch
    }
}

/// Intervals a node needs to probe every target once: `ceil(targets / bound)`.
#[must_use]
pub fn rounds(targets: usize, bound: usize) -> usize {
    targets.div_ceil(bound.max(1))
}

/// `interval` scaled into [90 %, 110 %) by `random` (any `u64`, uniformly drawn), so nodes
/// started together do not probe in lockstep.
#[must_use]
pub fn jittered(interval: Duration, random: u64) -> Duration {
    #[allow(
        clippy::cast_precision_loss,
        reason = "a fraction of the range is enough"
    )]
    let unit = random as f64 / u64::MAX as f64;
    interval.mul_f64(0.9 + 0.2 * unit.min(0.999_999))
}

#[cfg(test)]
#[path = "rotation_tests.rs"]
mod tests;
