//! Mesh health, the pure part: which nodes kg probes and at which addresses ([`targets`]), the
//! bounded rotation through them ([`rotation`]), what one node learned ([`state`], the
//! [`HealthReport`] its `/mesh-health` serves) and the verdicts over every node's report
//! ([`verdict`], what `kgctl status` and `kgctl check --probe` print). No I/O: kg sends the
//! probes and feeds the results in.

pub mod rotation;
pub mod state;
pub mod verdict;

use std::fmt;
use std::net::IpAddr;

use ipnet::IpNet;
use serde::{Deserialize, Serialize};

use crate::node::Node;
use crate::topology::Topology;
use crate::types::NodeName;

/// The path a probe takes to a node, as real traffic would.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Path {
    /// To the node's private IP: what host-network traffic (kubelet, hostNetwork pods) takes.
    Host,
    /// To the CNI bridge gateway inside the node's pod CIDR: what pod traffic takes (through
    /// the WireGuard tunnel between locations).
    Pod,
    /// The pod path with a full-size packet (the mesh MTU, DF set): an MTU black hole fails
    /// here while [`Path::Pod`] passes.
    Mtu,
}

impl Path {
    /// Every path, in report order.
    pub const ALL: [Self; 3] = [Self::Host, Self::Pod, Self::Mtu];

    /// The label value (`host`, `pod`, `mtu`).
    #[must_use]
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Host => "host",
            Self::Pod => "pod",
            Self::Mtu => "mtu",
        }
    }
}

impl fmt::Display for Path {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// One node to probe and where.
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize)]
pub struct Target {
    /// The node.
    pub node: NodeName,
    /// Its private IP (IPv4 preferred), the host path's address.
    pub host: Option<IpAddr>,
    /// The first address of its first pod CIDR (IPv4 preferred): the CNI bridge gateway.
    pub pod: Option<IpAddr>,
}

impl Target {
    /// The address a path probes (the full-size probe takes the pod path).
    #[must_use]
    pub fn address(&self, path: Path) -> Option<IpAddr> {
        match path {
            Path::Host => self.host,
            Path::Pod | Path::Mtu => self.pod,
        }
    }
}

/// The CNI bridge gateway of a pod CIDR: its first host address.
#[must_use]
pub fn pod_gateway(cidr: IpNet) -> Option<IpAddr> {
    match cidr.trunc() {
        IpNet::V4(n) if n.prefix_len() < 31 => {
            Some(IpAddr::V4((u32::from(n.network()) + 1).into()))
        }
        IpNet::V6(n) if n.prefix_len() < 127 => {
            Some(IpAddr::V6((u128::from(n.network()) + 1).into()))
        }
        _ => None,
    }
}

fn prefer_v4(addrs: impl Iterator<Item = IpAddr>) -> Option<IpAddr> {
    addrs.min_by_key(IpAddr::is_ipv6)
}

fn target(n: &Node) -> Target {
    Target {
        node: n.name.clone(),
        host: prefer_v4(n.internal_ips.iter().map(IpNet::addr)),
        pod: prefer_v4(n.pod_cidrs.iter().copied().filter_map(pod_gateway)),
    }
}

/// Every node of the mesh but the local one, sorted by name, with its probe addresses.
#[must_use]
pub fn targets(topo: &Topology) -> Vec<Target> {
    let mut out: Vec<Target> = topo
        .segments
        .iter()
        .flat_map(|s| s.nodes.iter())
        .filter(|n| n.name != topo.local)
        .map(target)
        .collect();
    out.sort();
    out
}

/// The local node's pod path address (where other nodes probe it).
#[must_use]
pub fn local_pod_gateway(topo: &Topology) -> Option<IpAddr> {
    topo.segments
        .iter()
        .flat_map(|s| s.nodes.iter())
        .find(|n| n.name == topo.local)
        .and_then(|n| target(n).pod)
}

/// What kg's `/identity` answers: who it is. No secrets.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Identity {
    /// The node kg runs on.
    pub node: String,
    /// kg's version.
    pub version: String,
    /// Its pod path address when the node has it (its CNI bridge is up, which it is from the
    /// first pod on); `None` tells probers the pod path has nothing to answer yet.
    #[serde(rename = "podGateway", default)]
    pub pod_gateway: Option<IpAddr>,
}

/// The outcome of one probe of one path.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct ProbeResult {
    /// Unix seconds the probe was sent.
    pub at: i64,
    /// Round-trip time of the ICMP echo, seconds, when it came back.
    pub rtt: Option<f64>,
    /// Why the path failed; `None` when it worked.
    pub error: Option<String>,
}

impl ProbeResult {
    /// The path answered.
    #[must_use]
    pub fn ok(&self) -> bool {
        self.error.is_none()
    }
}

/// One path to one node, as the reporting node last saw it.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct PathReport {
    /// Which path.
    pub path: Path,
    /// The address probed.
    pub address: Option<IpAddr>,
    /// `None` until the first probe; then whether the latest one worked.
    pub reachable: Option<bool>,
    /// The latest round trip, seconds.
    pub rtt_seconds: Option<f64>,
    /// Unix seconds of the latest probe.
    pub last_probe: Option<i64>,
    /// Unix seconds of the latest probe that worked.
    pub last_success: Option<i64>,
    /// Why the latest probe failed.
    pub error: Option<String>,
}

/// One probed node in a [`HealthReport`].
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct PeerReport {
    /// The probed node.
    pub node: NodeName,
    /// Its paths, in [`Path::ALL`] order.
    pub paths: Vec<PathReport>,
}

/// What one kg serves on `/mesh-health`.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct HealthReport {
    /// The reporting node.
    pub node: NodeName,
    /// kg's version.
    pub version: String,
    /// The probe interval, seconds (before jitter).
    pub interval_seconds: f64,
    /// At most this many nodes are probed per interval.
    pub targets_per_interval: usize,
    /// The full-size probe's size in bytes (the mesh MTU).
    pub mtu: u32,
    /// Every other node of the mesh, sorted by name.
    pub peers: Vec<PeerReport>,
}

#[cfg(test)]
#[path = "mod_tests.rs"]
mod tests;
