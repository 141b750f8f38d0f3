//! The addresses, routes and policy rules kg wants on a node, as data. No I/O: the netlink
//! adapter resolves [`Link`]s to interfaces, diffs against the kernel and applies.

use std::fmt;
use std::net::IpAddr;

use ipnet::IpNet;
use serde::Serialize;

use crate::types::{IfName, TunnelKind};

/// Kilo's policy-routing table.
pub const KILO_TABLE: u32 = 1107;

/// The route protocol number kg stamps on every route it creates, so it never touches foreign
/// routes (unassigned in `/etc/iproute2/rt_protos`; 107 mirrors table 1107).
pub const KILO_ROUTE_PROTOCOL: u8 = 107;

/// Which interface a route or address belongs to; resolved to a real link by the adapter.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Link {
    /// The WireGuard device (`--interface`, default `kilo0`).
    WireGuard,
    /// The interface that holds the node's private (internal) IP.
    Private,
    /// The encapsulation tunnel (`tunl0` for IPIP, `kilo.vxlan` for VXLAN).
    Tunnel,
}

/// Concrete names for the [`Link`]s of one node.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct LinkNames {
    /// The WireGuard device.
    pub wireguard: IfName,
    /// The private interface when known (kg discovers it; `kgctl plan` may not know it).
    pub private: Option<IfName>,
    /// The tunnel device name.
    pub tunnel: IfName,
}

impl LinkNames {
    /// The display name of a link (`<private>` when the private interface is unknown).
    #[must_use]
    pub fn name(&self, link: Link) -> String {
        match link {
            Link::WireGuard => self.wireguard.to_string(),
            Link::Private => self
                .private
                .as_ref()
                .map_or_else(|| "<private>".to_owned(), ToString::to_string),
            Link::Tunnel => self.tunnel.to_string(),
        }
    }
}

/// Which routing table a route lives in.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Table {
    /// The main table (254).
    Main,
    /// Kilo's table 1107.
    Kilo,
}

impl Table {
    /// The kernel table id.
    #[must_use]
    pub const fn id(self) -> u32 {
        match self {
            Self::Main => 254,
            Self::Kilo => KILO_TABLE,
        }
    }
}

/// An address kg puts on one of its links.
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize)]
pub struct AddressPlan {
    /// The link.
    pub link: Link,
    /// Address with prefix length, e.g. `10.4.0.1/16`.
    pub address: IpNet,
}

/// A route kg owns (protocol [`KILO_ROUTE_PROTOCOL`]).
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize)]
pub struct RoutePlan {
    /// Destination.
    pub dst: IpNet,
    /// Gateway, same family as `dst`.
    pub via: Option<IpAddr>,
    /// Output link.
    pub dev: Link,
    /// Preferred source address, same family as `dst`.
    pub src: Option<IpAddr>,
    /// Table.
    pub table: Table,
    /// Gateway reachable without a covering route (`onlink`).
    pub onlink: bool,
}

/// A policy rule kg owns, always pointing at table 1107.
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize)]
pub struct RulePlan {
    /// `from` selector.
    pub src: Option<IpNet>,
    /// `to` selector.
    pub dst: Option<IpNet>,
    /// `iif` selector.
    pub iif: Option<Link>,
    /// Target table.
    pub table: Table,
}

/// Everything the netlink adapter programs on a node.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct NetworkPlan {
    /// Link names used when rendering.
    pub links: LinkNames,
    /// Whether the WireGuard link is up (leaders) or down (other nodes).
    pub wireguard_up: bool,
    /// MTU of the WireGuard link.
    pub mtu: u32,
    /// The encapsulation tunnel to maintain, if any.
    pub tunnel: Option<TunnelKind>,
    /// Private IPs of the same-location nodes reached through the tunnel (VXLAN floods to
    /// them; IPIP needs no list), sorted.
    pub tunnel_peers: Vec<IpAddr>,
    /// Addresses, sorted.
    pub addresses: Vec<AddressPlan>,
    /// Routes, sorted.
    pub routes: Vec<RoutePlan>,
    /// Policy rules, sorted.
    pub rules: Vec<RulePlan>,
}

/// Renders a route like `ip route` prints it.
pub struct RouteDisplay<'a>(pub &'a RoutePlan, pub &'a LinkNames);

impl fmt::Display for RouteDisplay<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let RouteDisplay(r, names) = self;
        write!(f, "{}", r.dst)?;
        if let Some(via) = r.via {
            write!(f, " via {via}")?;
        }
        write!(f, " dev {}", names.name(r.dev))?;
        if r.table == Table::Kilo {
            write!(f, " table {KILO_TABLE}")?;
        }
        write!(f, " proto {KILO_ROUTE_PROTOCOL}")?;
        if let Some(src) = r.src {
            write!(f, " src {src}")?;
        }
        if r.onlink {
            write!(f, " onlink")?;
        }
        Ok(())
    }
}

/// Renders a rule like `ip rule` prints it.
pub struct RuleDisplay<'a>(pub &'a RulePlan, pub &'a LinkNames);

impl fmt::Display for RuleDisplay<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let RuleDisplay(r, names) = self;
        match r.src {
            Some(src) => write!(f, "from {src}")?,
            None => write!(f, "from all")?,
        }
        if let Some(dst) = r.dst {
            write!(f, " to {dst}")?;
        }
        if let Some(iif) = r.iif {
            write!(f, " iif {}", names.name(iif))?;
        }
        write!(f, " lookup {}", r.table.id())
    }
}
