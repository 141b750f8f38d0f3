//! Per-node plans: what kg programs on one node, computed from a [`Snapshot`] and [`Settings`].
//! Pure; adapters diff a plan against the observed state and apply the difference.

pub mod cni;
pub mod firewall;
pub mod network;
pub mod wireguard;

use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};

use ipnet::{IpNet, Ipv4Net};
use serde::Serialize;

use crate::types::{Encapsulate, Granularity, IfName, NodeName, TunnelKind};

pub use firewall::FirewallPlan;
pub use network::NetworkPlan;
pub use wireguard::WireGuardPlan;

/// The topology and dataplane settings of one node (kg's flags, validated).
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct Settings {
    /// The node this plan is for (`--hostname`).
    pub hostname: NodeName,
    /// `--mesh-granularity`.
    pub granularity: Granularity,
    /// `--subnet`: where WireGuard IPs come from.
    pub subnet: Ipv4Net,
    /// `--port`: WireGuard listen port (a `force-endpoint` port overrides it).
    pub port: u16,
    /// `--interface`.
    pub interface: IfName,
    /// `--encapsulate`.
    pub encapsulate: Encapsulate,
    /// Which tunnel encapsulation uses.
    pub tunnel: TunnelKind,
    /// `--service-cidr` (repeatable).
    pub service_cidrs: Vec<IpNet>,
    /// `--iptables-forward-rules`.
    pub forward_rules: bool,
    /// `--cni`: kg manages pod networking (NAT jump for local pod CIDRs, CNI config).
    pub cni: bool,
    /// `--local`: route between nodes of the same location over the private network.
    pub local: bool,
    /// WireGuard MTU (`--mtu`, resolved; auto is underlay MTU − 80).
    pub mtu: u32,
}

/// Facts kg observes on its own node that a plan depends on.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize)]
pub struct LocalFacts {
    /// The interface holding the private IP, when known.
    pub private_iface: Option<IfName>,
    /// Addresses assigned on the node; `None` when unknown (offline `kgctl plan`), in which case
    /// egress addresses are taken on trust.
    pub addresses: Option<Vec<IpAddr>>,
    /// `portmap` is installed next to `kilo-cni`.
    pub portmap: bool,
}

/// Why a family has no egress address in force.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
#[serde(tag = "reason", rename_all = "kebab-case")]
pub enum EgressState<A> {
    /// SNAT to this address, ahead of MASQUERADE.
    InForce {
        /// The source address.
        address: A,
    },
    /// No annotation value for this family: MASQUERADE.
    NotSet,
    /// The annotation is invalid for this family: MASQUERADE.
    Invalid,
    /// The address is not assigned on the node: MASQUERADE until it appears.
    NotAssigned {
        /// The annotated address.
        address: A,
    },
}

impl<A: Copy> EgressState<A> {
    /// The address in force, if any.
    #[must_use]
    pub fn in_force(&self) -> Option<A> {
        match self {
            Self::InForce { address } => Some(*address),
            _ => None,
        }
    }
}

/// The egress source addresses in force, per family.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct EgressStatus {
    /// IPv4.
    pub v4: EgressState<Ipv4Addr>,
    /// IPv6.
    pub v6: EgressState<Ipv6Addr>,
}
