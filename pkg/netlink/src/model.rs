//! kg's routes, rules and addresses with link names resolved, in the shape the kernel reports
//! them, plus their `ip`-style rendering. No I/O.

use std::fmt;
use std::net::IpAddr;

use ipnet::IpNet;
use kilo_mesh::plan::network::{Link, LinkNames, NetworkPlan, RoutePlan, RulePlan};
use kilo_mesh::types::TunnelKind;

use crate::NetlinkError;

/// An address family.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Family {
    /// IPv4.
    V4,
    /// IPv6.
    V6,
}

impl Family {
    /// The family of an address.
    #[must_use]
    pub fn of(ip: IpAddr) -> Self {
        if ip.is_ipv4() { Self::V4 } else { Self::V6 }
    }
}

/// A route as kg wants it or found it (protocol 107 implied).
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Route {
    /// Routing table id.
    pub table: u32,
    /// Destination.
    pub dst: IpNet,
    /// Gateway.
    pub via: Option<IpAddr>,
    /// Output device name.
    pub dev: String,
    /// Preferred source.
    pub src: Option<IpAddr>,
    /// `onlink` flag.
    pub onlink: bool,
}

impl Route {
    /// The slot a route occupies: two routes in one slot cannot coexist, so a change of
    /// gateway, device or source is a replace.
    #[must_use]
    pub fn slot(&self) -> (u32, IpNet) {
        (self.table, self.dst)
    }
}

impl fmt::Display for Route {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}", self.dst)?;
        if let Some(via) = self.via {
            write!(f, " via {via}")?;
        }
        write!(f, " dev {}", self.dev)?;
        if self.table != 254 {
            write!(f, " table {}", self.table)?;
        }
        if let Some(src) = self.src {
            write!(f, " src {src}")?;
        }
        if self.onlink {
            write!(f, " onlink")?;
        }
        Ok(())
    }
}

/// A policy rule as kg wants it or found it (protocol 107 implied).
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Rule {
    /// Family (a rule with neither `from` nor `to` exists once per family).
    pub family: Family,
    /// `from`.
    pub src: Option<IpNet>,
    /// `to`.
    pub dst: Option<IpNet>,
    /// `iif`.
    pub iif: Option<String>,
    /// `lookup`.
    pub table: u32,
}

impl fmt::Display for Rule {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.family == Family::V6 {
            write!(f, "-6 ")?;
        }
        match self.src {
            Some(src) => write!(f, "from {src}")?,
            None => write!(f, "from all")?,
        }
        if let Some(dst) = self.dst {
            write!(f, " to {dst}")?;
        }
        if let Some(iif) = &self.iif {
            write!(f, " iif {iif}")?;
        }
        write!(f, " lookup {}", self.table)
    }
}

/// An address on a link.
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Address {
    /// Link name.
    pub link: String,
    /// Address and prefix length.
    pub address: IpNet,
}

impl fmt::Display for Address {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{} dev {}", self.address, self.link)
    }
}

/// The name of a planned link; `Err` when it is the unknown private interface.
pub fn link_name(names: &LinkNames, link: Link) -> Result<String, NetlinkError> {
    match link {
        Link::WireGuard => Ok(names.wireguard.to_string()),
        Link::Tunnel => Ok(names.tunnel.to_string()),
        Link::Private => names
            .private
            .as_ref()
            .map(ToString::to_string)
            .ok_or(NetlinkError::NoPrivateLink),
    }
}

/// Resolves a planned route.
pub fn resolve_route(names: &LinkNames, r: &RoutePlan) -> Result<Route, NetlinkError> {
    Ok(Route {
        table: r.table.id(),
        dst: r.dst.trunc(),
        via: r.via,
        dev: link_name(names, r.dev)?,
        src: r.src,
        onlink: r.onlink,
    })
}

/// Resolves a planned rule (two rules when it names no address).
pub fn resolve_rules(names: &LinkNames, r: &RulePlan) -> Result<Vec<Rule>, NetlinkError> {
    let iif = r.iif.map(|l| link_name(names, l)).transpose()?;
    let families = match r.src.or(r.dst) {
        Some(net) => vec![Family::of(net.addr())],
        None => vec![Family::V4, Family::V6],
    };
    Ok(families
        .into_iter()
        .map(|family| Rule {
            family,
            src: r.src.map(|n| n.trunc()),
            dst: r.dst.map(|n| n.trunc()),
            iif: iif.clone(),
            table: r.table.id(),
        })
        .collect())
}

/// Everything a plan asks for, resolved to names, sorted.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Desired {
    /// Addresses.
    pub addresses: Vec<Address>,
    /// Routes.
    pub routes: Vec<Route>,
    /// Rules.
    pub rules: Vec<Rule>,
}

impl Desired {
    /// Resolves a whole plan.
    pub fn from_plan(plan: &NetworkPlan) -> Result<Self, NetlinkError> {
        let names = &plan.links;
        let mut addresses = plan
            .addresses
            .iter()
            .map(|a| {
                Ok(Address {
                    link: link_name(names, a.link)?,
                    address: a.address,
                })
            })
            .collect::<Result<Vec<_>, NetlinkError>>()?;
        let mut routes = plan
            .routes
            .iter()
            .map(|r| resolve_route(names, r))
            .collect::<Result<Vec<_>, _>>()?;
        let mut rules = Vec::new();
        for r in &plan.rules {
            rules.extend(resolve_rules(names, r)?);
        }
        addresses.sort();
        addresses.dedup();
        routes.sort();
        routes.dedup();
        rules.sort();
        rules.dedup();
        Ok(Self {
            addresses,
            routes,
            rules,
        })
    }
}

/// The links whose addresses are all kg's: the WireGuard link and the VXLAN device.
pub(crate) fn owned_links(links: &LinkNames, tunnel: Option<TunnelKind>) -> Vec<String> {
    let mut owned = vec![links.wireguard.to_string()];
    if tunnel == Some(TunnelKind::Vxlan) {
        owned.push(links.tunnel.to_string());
    }
    owned
}
