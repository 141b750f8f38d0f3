//! Which implementation runs a node's kg — Go Kilo or kilo-rs — told from what the node
//! publishes. Pure.
//!
//! Go Kilo and kilo-rs publish the same `kilo.squat.ai/*` annotations, so kilo-rs adds one of its
//! own, `kilo.squat.ai/implementation`, with the value `kilo-rs; last-seen=<unix seconds>`. kg
//! writes it in the same patch as `last-seen`, with the same time. A node counts as kilo-rs only
//! while both agree: when a node goes back to Go Kilo (a rollback, with the DaemonSet's
//! `KILO_CLEAN_UP=false` keeping the old annotations), Go kg's first heartbeat rewrites
//! `last-seen` without touching the marker, and from then on the node counts as Go Kilo. A node
//! without the marker (Go Kilo, or anything else) counts as Go Kilo: the safe side, since Go Kilo
//! cannot adapt to anyone.

use serde::Serialize;

/// The marker's implementation name.
const NAME: &str = "kilo-rs";
/// What separates the name from the heartbeat it was written with.
const SEPARATOR: &str = "; last-seen=";

/// Who runs a node's kg.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, PartialOrd, Ord, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum Implementation {
    /// Go Kilo, or any node without a current kilo-rs marker.
    #[default]
    GoKilo,
    /// kilo-rs: the marker is present and was written with the published `last-seen`.
    KiloRs,
}

/// The marker value kg publishes together with `last-seen` = `last_seen`.
#[must_use]
pub fn marker(last_seen: i64) -> String {
    format!("{NAME}{SEPARATOR}{last_seen}")
}

/// Reads a marker value against the node's published `last-seen`.
///
/// A well-formed marker written with another heartbeat means another kg (Go Kilo) has published
/// `last-seen` since: [`Implementation::GoKilo`], no error.
///
/// # Errors
/// A message when the value is not a marker kg writes (the node then counts as Go Kilo).
pub fn from_marker(value: &str, last_seen: Option<i64>) -> Result<Implementation, String> {
    let written = value
        .strip_prefix(NAME)
        .and_then(|rest| rest.strip_prefix(SEPARATOR))
        .filter(|t| !t.is_empty() && t.bytes().all(|b| b.is_ascii_digit()))
        .and_then(|t| t.parse::<i64>().ok())
        .ok_or_else(|| format!("not a marker kg writes (\"{NAME}{SEPARATOR}<unix seconds>\")"))?;
    Ok(if last_seen == Some(written) {
        Implementation::KiloRs
    } else {
        Implementation::GoKilo
    })
}
