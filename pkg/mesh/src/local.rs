//! Node-local decisions kg makes from what it observes on its own node: which interfaces say
//! something about the node, the private IPs and endpoint it discovers (Kilo's `handleLocal`),
//! the overlay of those facts onto its Node, the WireGuard MTU, and whether its published
//! annotations went stale. Pure: `kgctl plan` replays them from facts given on its command line.

use std::fmt;
use std::net::IpAddr;
use std::str::FromStr;

use ipnet::IpNet;

use crate::node::Node;
use crate::topology::is_public;
use crate::types::{Endpoint, Host, IfName, WgKey};

/// What WireGuard's encapsulation costs: the MTU of `kilo0` is the underlay's minus this (IPv6
/// outer header 40 + UDP 8 + WireGuard 32, as Kilo and wg-quick reserve).
pub const WIREGUARD_OVERHEAD: u32 = 80;

/// The WireGuard MTU when the underlay's is unknown (1500 − 80).
pub const DEFAULT_MTU: u32 = 1420;

/// How often kg refreshes its `last-seen` heartbeat, in seconds.
pub const HEARTBEAT_SECS: i64 = 20;

/// An address on one of the node's interfaces.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct NodeAddress {
    /// The interface.
    pub iface: IfName,
    /// The address with its prefix.
    pub net: IpNet,
}

/// What kg observed on its node that the local decisions depend on.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct HostFacts {
    /// Addresses on the node's own interfaces (see [`is_node_interface`]).
    pub addresses: Vec<NodeAddress>,
    /// The interface of the IPv4 default route, if any.
    pub default_iface: Option<IfName>,
}

/// Whether `iface` can hold the node's own addresses: not loopback, not the WireGuard interface
/// `wg`, not a tunnel, bridge or veth of kg's, the CNI's or a container runtime's. The one
/// filter for both what kg observes and where it looks for its private IP.
#[must_use]
pub fn is_node_interface(iface: &str, wg: &str) -> bool {
    const VIRTUAL_PREFIXES: [&str; 6] = ["kilo", "veth", "cni", "docker", "flannel.", "cilium_"];
    !(iface == wg
        || iface == "lo"
        || iface == "kube-bridge"
        || iface == "tunl0"
        || VIRTUAL_PREFIXES.iter().any(|p| iface.starts_with(p)))
}

/// `--mtu`: a fixed WireGuard MTU, or `auto` (the underlay's minus [`WIREGUARD_OVERHEAD`]).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum MtuSetting {
    /// From the private interface's MTU.
    #[default]
    Auto,
    /// As given.
    Fixed(u32),
}

/// A `--mtu` value that is neither `auto` nor a number in 576–65535.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[error("mtu {0:?} must be auto or a number from 576 to 65535")]
pub struct MtuError(String);

impl FromStr for MtuSetting {
    type Err = MtuError;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        if s == "auto" {
            return Ok(Self::Auto);
        }
        match s.parse::<u32>() {
            Ok(m) if (576..=65535).contains(&m) => Ok(Self::Fixed(m)),
            _ => Err(MtuError(s.to_owned())),
        }
    }
}

impl fmt::Display for MtuSetting {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Auto => f.write_str("auto"),
            Self::Fixed(m) => write!(f, "{m}"),
        }
    }
}

/// The WireGuard MTU in force: the fixed one, else the underlay's minus the overhead, else
/// [`DEFAULT_MTU`].
#[must_use]
pub fn resolve_mtu(setting: MtuSetting, underlay_mtu: Option<u32>) -> u32 {
    match setting {
        MtuSetting::Fixed(m) => m,
        MtuSetting::Auto => {
            underlay_mtu.map_or(DEFAULT_MTU, |m| m.saturating_sub(WIREGUARD_OVERHEAD))
        }
    }
}

/// How kg looks for its private IPs and endpoint (its flags).
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct DiscoverSettings {
    /// The WireGuard interface (never a private one).
    pub wireguard: String,
    /// `--internal-cidr`: only addresses inside these are private IPs (empty: any).
    pub internal_cidrs: Vec<IpNet>,
    /// `--port`, the endpoint's port.
    pub port: u16,
    /// `--prioritise-private-addresses`.
    pub prefer_private: bool,
}

/// The discovered private interface and its addresses (at most one per family).
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Discovered {
    /// The interface holding the private IP.
    pub iface: Option<IfName>,
    /// Private IPs with prefix (IPv4 first).
    pub internal: Vec<IpNet>,
    /// The endpoint to publish.
    pub endpoint: Option<Endpoint>,
}

/// Picks the private interface and addresses: a private (never a public) IPv4, inside
/// `--internal-cidr` when given, on the default-route interface first, else on the first
/// candidate interface, and an IPv6 address of the same interface. A node with only public IPv4
/// addresses has no private IP, as in Kilo (it becomes its own segment). The endpoint is the
/// first public IPv4 (unless private addresses are prioritised), else the private IPv4.
#[must_use]
pub fn discover(host: &HostFacts, s: &DiscoverSettings) -> Discovered {
    let candidates: Vec<&NodeAddress> = host
        .addresses
        .iter()
        .filter(|a| is_node_interface(a.iface.as_str(), &s.wireguard))
        .filter(|a| !a.net.addr().is_loopback() && !is_link_local(a.net.addr()))
        .collect();
    let wanted = |a: &&&NodeAddress| {
        s.internal_cidrs.is_empty() || s.internal_cidrs.iter().any(|c| c.contains(&a.net.addr()))
    };
    let private4 = candidates
        .iter()
        .filter(wanted)
        .filter(|a| a.net.addr().is_ipv4() && !is_public(a.net.addr()))
        .min_by_key(|a| Some(&a.iface) != host.default_iface.as_ref())
        .copied();
    let iface = private4.map(|a| a.iface.clone());
    let private6 = candidates
        .iter()
        .filter(|a| a.net.addr().is_ipv6() && Some(&a.iface) == iface.as_ref())
        .min_by_key(|a| is_public(a.net.addr()))
        .copied();
    let public4 = candidates
        .iter()
        .find(|a| a.net.addr().is_ipv4() && is_public(a.net.addr()))
        .copied();
    let host_ip = match (public4, private4) {
        (Some(p), _) if !s.prefer_private => Some(p.net.addr()),
        (_, Some(p)) | (Some(p), None) => Some(p.net.addr()),
        (None, None) => None,
    };
    Discovered {
        iface,
        internal: private4
            .into_iter()
            .chain(private6)
            .map(|a| a.net)
            .collect(),
        endpoint: host_ip.map(|ip| Endpoint {
            host: Host::Ip(ip),
            port: s.port,
        }),
    }
}

fn is_link_local(ip: IpAddr) -> bool {
    match ip {
        IpAddr::V4(a) => a.is_link_local(),
        IpAddr::V6(a) => (a.segments()[0] & 0xffc0) == 0xfe80,
    }
}

/// Overlays what kg knows about itself onto its Node: key, endpoint (unless forced), private
/// IPs (unless forced), heartbeat.
pub fn overlay(node: &mut Node, key: WgKey, d: &Discovered, now: i64) {
    node.key = Some(key);
    if !node.forced_endpoint {
        node.endpoint.clone_from(&d.endpoint);
    }
    if !node.forced_internal_ip {
        node.internal_ips.clone_from(&d.internal);
    }
    node.last_seen = Some(now);
}

/// Whether the cluster's copy of this node (`published`, `None` when absent) lost what kg
/// publishes: the Node was re-created, an API server came back empty, someone removed the
/// annotations, or the heartbeat is more than two periods old. kg then publishes at once rather
/// than at the next heartbeat.
#[must_use]
pub fn published_is_stale(published: Option<&Node>, key: WgKey, now: i64) -> bool {
    published.is_none_or(|n| {
        n.key != Some(key) || n.last_seen.is_none_or(|t| now - t > 2 * HEARTBEAT_SECS)
    })
}
