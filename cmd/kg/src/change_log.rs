//! kg's log line for one WireGuard change: as the adapter prints it, except that a peer's
//! allowed IPs are summarized (counts, and at most [`SHOWN`] networks added and removed), so a
//! location peer with thousands of networks never makes a line of kilobytes. Pure.

use std::collections::BTreeSet;
use std::fmt::Write as _;

use ipnet::IpNet;
use kilo_wireguard::{Change, PeerField};

/// How many added (and how many removed) networks a summary names.
pub const SHOWN: usize = 3;

/// The log line of `change`.
#[must_use]
pub fn summarize(change: &Change) -> String {
    let Change::UpdatePeer {
        name,
        public_key,
        fields,
    } = change
    else {
        return change.to_string();
    };
    let mut line = format!("update peer {name} ({}):", public_key.fingerprint());
    for field in fields {
        match field {
            PeerField::AllowedIps { from, to } => {
                let _ = write!(line, " {};", allowed_ips(from, to));
            }
            other => {
                let _ = write!(line, " {other};");
            }
        }
    }
    line
}

/// `allowed ips 3 -> 4 (+2: a, b; -1: c)`, naming at most [`SHOWN`] of each side.
fn allowed_ips(from: &[IpNet], to: &[IpNet]) -> String {
    let before: BTreeSet<&IpNet> = from.iter().collect();
    let after: BTreeSet<&IpNet> = to.iter().collect();
    let added: Vec<&IpNet> = after.difference(&before).copied().collect();
    let removed: Vec<&IpNet> = before.difference(&after).copied().collect();
    let mut parts = Vec::new();
    if !added.is_empty() {
        parts.push(format!("+{}: {}", added.len(), some(&added)));
    }
    if !removed.is_empty() {
        parts.push(format!("-{}: {}", removed.len(), some(&removed)));
    }
    if parts.is_empty() {
        parts.push("reordered".to_owned());
    }
    format!(
        "allowed ips {} -> {} ({})",
        from.len(),
        to.len(),
        parts.join("; ")
    )
}

/// The first [`SHOWN`] networks, then how many more.
fn some(nets: &[&IpNet]) -> String {
    let shown: Vec<String> = nets.iter().take(SHOWN).map(ToString::to_string).collect();
    let mut text = shown.join(", ");
    if nets.len() > SHOWN {
        let _ = write!(text, " and {} more", nets.len() - SHOWN);
    }
    text
}

#[cfg(test)]
#[path = "change_log_tests.rs"]
mod tests;
