//! The mesh's view of Kubernetes objects: a [`Node`] (from a Node and its annotations) and a
//! [`Peer`] (from a Peer resource), plus the [`Snapshot`] a plan is computed from. Pure data.

use std::collections::BTreeMap;

use ipnet::IpNet;
use serde::Serialize;

use crate::egress::{EgressIps, EgressStatus};
use crate::implementation::Implementation;
use crate::types::{Endpoint, Granularity, NodeName, PresharedKey, WgKey};

/// How long a node's `last-seen` heartbeat stays fresh, in seconds.
pub const READY_WINDOW_SECS: i64 = 60;

/// A cluster node as the mesh sees it, after annotation parsing and validation.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct Node {
    /// The node's name.
    pub name: NodeName,
    /// Location: the `location` annotation, else the topology label, else `""`.
    pub location: String,
    /// The `leader` annotation is present.
    pub leader: bool,
    /// Public WireGuard endpoint (`force-endpoint`, else the published `endpoint`).
    pub endpoint: Option<Endpoint>,
    /// Private IPs with their prefix, at most one per family (`force-internal-ip`, else the
    /// published `internal-ip`, plus the other family's `InternalIP` from the Node status).
    pub internal_ips: Vec<IpNet>,
    /// Every `InternalIP` of the Node's status that parses (addresses no other value may claim).
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub status_addresses: Vec<std::net::IpAddr>,
    /// The published WireGuard public key.
    pub key: Option<WgKey>,
    /// The published `wireguard-ip` (a claim that keeps the segment's address stable).
    pub wireguard_ip: Option<IpNet>,
    /// The published `wireguard-ip-since`: since when (unix seconds) the segment has held that
    /// address, so the first publisher keeps a contested one.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub wireguard_ip_since: Option<i64>,
    /// Who runs the node's kg, from the `implementation` marker.
    pub implementation: Implementation,
    /// The published `last-seen`, unix seconds.
    pub last_seen: Option<i64>,
    /// `spec.podCIDRs` (one per family).
    pub pod_cidrs: Vec<IpNet>,
    /// `persistent-keepalive`, seconds.
    pub persistent_keepalive: Option<u16>,
    /// `allowed-location-ips`.
    pub allowed_location_ips: Vec<IpNet>,
    /// `discovered-endpoints`: what this node's WireGuard device observed, by public key.
    pub discovered_endpoints: BTreeMap<WgKey, Endpoint>,
    /// The published `granularity`.
    pub granularity: Option<Granularity>,
    /// The `egress-ip` addresses that parsed (problems are reported separately).
    pub egress: EgressIps,
    /// The published `egress-ip-status`: the egress decision kg last reported for this node.
    pub egress_reported: Option<EgressStatus>,
    /// A valid `force-endpoint` set the endpoint (kg must not replace it with a discovered one).
    pub forced_endpoint: bool,
    /// A valid `force-internal-ip` set the private IPs (kg must not replace them).
    pub forced_internal_ip: bool,
    /// The published `cni-compatibility-ip`: the node's `cilium_host` IPv4 address, the IPIP
    /// gateway other nodes use with `--compatibility=cilium`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub cni_compatibility_ip: Option<std::net::Ipv4Addr>,
}

impl Node {
    /// A node with only a name; every other field empty. Handy for tests and builders.
    #[must_use]
    pub fn named(name: NodeName) -> Self {
        Self {
            name,
            location: String::new(),
            leader: false,
            endpoint: None,
            internal_ips: Vec::new(),
            status_addresses: Vec::new(),
            key: None,
            wireguard_ip: None,
            wireguard_ip_since: None,
            implementation: Implementation::GoKilo,
            last_seen: None,
            pod_cidrs: Vec::new(),
            persistent_keepalive: None,
            allowed_location_ips: Vec::new(),
            discovered_endpoints: BTreeMap::new(),
            granularity: None,
            egress: EgressIps::default(),
            egress_reported: None,
            forced_endpoint: false,
            forced_internal_ip: false,
            cni_compatibility_ip: None,
        }
    }

    /// A node takes part in the mesh when it has a key, an endpoint, a pod CIDR and a
    /// `last-seen` fresher than [`READY_WINDOW_SECS`] at `now` (unix seconds).
    #[must_use]
    pub fn is_ready(&self, now: i64) -> bool {
        self.key.is_some()
            && self.endpoint.is_some()
            && !self.pod_cidrs.is_empty()
            && self
                .last_seen
                .is_some_and(|t| now.saturating_sub(t) < READY_WINDOW_SECS)
    }

    /// The private IP of one family, if any.
    #[must_use]
    pub fn internal_ip(&self, v6: bool) -> Option<IpNet> {
        self.internal_ips
            .iter()
            .copied()
            .find(|n| matches!(n, IpNet::V6(_)) == v6)
    }
}

/// A non-cluster WireGuard peer from a `Peer` resource.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct Peer {
    /// The resource name.
    pub name: String,
    /// `spec.allowedIPs`.
    pub allowed_ips: Vec<IpNet>,
    /// `spec.publicKey`.
    pub public_key: WgKey,
    /// `spec.endpoint`.
    pub endpoint: Option<Endpoint>,
    /// `spec.persistentKeepalive`, seconds.
    pub persistent_keepalive: Option<u16>,
    /// `spec.presharedKey`.
    pub preshared_key: Option<PresharedKey>,
}

/// Everything a plan is computed from.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Snapshot {
    /// All nodes (ready or not), any order.
    pub nodes: Vec<Node>,
    /// All valid peers, any order.
    pub peers: Vec<Peer>,
    /// The current time, unix seconds (for `last-seen` freshness).
    pub now: i64,
}
