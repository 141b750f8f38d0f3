//! The annotations kg publishes about its own node (SPEC section 3). Pure: the adapter sends
//! them with server-side apply under one field manager, so keys it stops sending disappear.

use std::collections::BTreeMap;

use ipnet::IpNet;
use kilo_mesh::annotations::{keys, render_discovered};
use kilo_mesh::egress::EgressStatus;
use kilo_mesh::implementation;
use kilo_mesh::types::{Endpoint, Granularity, WgKey};

/// The facts kg knows about its own node.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct OwnFacts {
    /// Public key.
    pub key: WgKey,
    /// The endpoint kg listens on (its public or chosen address and port).
    pub endpoint: Option<Endpoint>,
    /// The discovered private IP with prefix, if any.
    pub internal_ip: Option<IpNet>,
    /// The segment's WireGuard IP, when this node leads it.
    pub wireguard_ip: Option<IpNet>,
    /// Since when the segment has held it (unix seconds), published with it.
    pub wireguard_ip_since: Option<i64>,
    /// Heartbeat, unix seconds.
    pub last_seen: i64,
    /// Endpoints observed by the WireGuard device.
    pub discovered: BTreeMap<WgKey, Endpoint>,
    /// The granularity kg runs with.
    pub granularity: Granularity,
    /// The egress decision per family (published for `kgctl status`).
    pub egress: EgressStatus,
    /// `cilium_host`'s IPv4 with `--compatibility=cilium` (Kilo's `cni-compatibility-ip`).
    pub cni_compatibility_ip: Option<IpNet>,
}

/// The complete annotation set kg owns on its node. Values kg has nothing for are written as
/// `""`, as Kilo does, so Go and Rust readers agree. `egress-ip-status`, `implementation` (written
/// with the same time as `last-seen`) and `wireguard-ip-since` are kilo-rs's own additions (Kilo
/// ignores annotations it does not know).
#[must_use]
pub fn own_annotations(f: &OwnFacts) -> BTreeMap<String, String> {
    let text = |o: Option<String>| o.unwrap_or_default();
    [
        (keys::KEY, f.key.to_base64()),
        (
            keys::ENDPOINT,
            text(f.endpoint.as_ref().map(ToString::to_string)),
        ),
        (
            keys::INTERNAL_IP,
            text(f.internal_ip.map(|n| n.to_string())),
        ),
        (
            keys::WIREGUARD_IP,
            text(f.wireguard_ip.map(|n| n.to_string())),
        ),
        (
            keys::WIREGUARD_IP_SINCE,
            text(
                f.wireguard_ip_since
                    .filter(|_| f.wireguard_ip.is_some())
                    .map(|t| t.to_string()),
            ),
        ),
        (keys::LAST_SEEN, f.last_seen.to_string()),
        (keys::IMPLEMENTATION, implementation::marker(f.last_seen)),
        (keys::DISCOVERED_ENDPOINTS, render_discovered(&f.discovered)),
        (keys::GRANULARITY, f.granularity.as_str().to_owned()),
        (keys::EGRESS_IP_STATUS, f.egress.to_annotation()),
        (
            keys::CNI_COMPATIBILITY_IP,
            text(f.cni_compatibility_ip.map(|n| n.to_string())),
        ),
    ]
    .into_iter()
    .map(|(k, v)| (k.to_owned(), v))
    .collect()
}
