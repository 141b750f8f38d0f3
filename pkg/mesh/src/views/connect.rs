//! `kgctl connect`: what a host outside the cluster (a laptop) programs to join the mesh as a
//! Peer — its WireGuard device (one peer per segment and per other Peer, as `showconf peer`) and
//! its address and routes. Pure.

use std::net::IpAddr;

use ipnet::{IpNet, Ipv4Net};

use crate::node::Snapshot;
use crate::plan::network::{AddressPlan, Link, LinkNames, NetworkPlan, RoutePlan, Table};
use crate::plan::wireguard::WireGuardPlan;
use crate::types::{Granularity, Host, IfName, TunnelKind};
use crate::views::showconf::{ShowconfError, peer_conf};

/// How the connecting host is set up.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ConnectSettings {
    /// The Peer resource's name.
    pub name: String,
    /// Its WireGuard device.
    pub interface: IfName,
    /// Its WireGuard listen port.
    pub port: u16,
    /// Its own address on the device (one of the Peer's AllowedIPs).
    pub address: IpNet,
    /// The device's MTU.
    pub mtu: u32,
    /// The mesh's granularity.
    pub granularity: Granularity,
    /// The mesh's `--subnet`.
    pub subnet: Ipv4Net,
}

/// The device and the network plan of a connecting Peer. Every AllowedIP of every WireGuard
/// peer is routed through the device, except those that hold a peer's endpoint: packets to an
/// endpoint must leave through the underlay, or the tunnel would carry itself.
pub fn connect_plan(
    snapshot: &Snapshot,
    s: &ConnectSettings,
) -> Result<(WireGuardPlan, NetworkPlan), ShowconfError> {
    let peers = peer_conf(snapshot, s.granularity, s.subnet, &s.name)?;
    let endpoints: Vec<IpAddr> = peers
        .iter()
        .filter_map(|p| match p.endpoint.as_ref()?.host {
            Host::Ip(ip) => Some(ip),
            Host::Dns(_) => None,
        })
        .collect();
    let own = s.address.addr();
    let mut routes: Vec<RoutePlan> = peers
        .iter()
        .flat_map(|p| p.allowed_ips.iter().map(IpNet::trunc))
        .filter(|dst| !endpoints.iter().any(|e| dst.contains(e)) && !dst.contains(&own))
        .map(|dst| RoutePlan {
            dst,
            via: None,
            dev: Link::WireGuard,
            src: (own.is_ipv4() == dst.addr().is_ipv4()).then_some(own),
            table: Table::Main,
            onlink: false,
        })
        .collect();
    routes.sort();
    routes.dedup();
    let device = WireGuardPlan {
        interface: s.interface.clone(),
        listen_port: s.port,
        peers,
    };
    let network = NetworkPlan {
        links: LinkNames {
            wireguard: s.interface.clone(),
            private: None,
            tunnel: TunnelKind::Ipip.device(),
        },
        wireguard_up: true,
        mtu: s.mtu,
        tunnel: None,
        tunnel_peers: Vec::new(),
        addresses: vec![AddressPlan {
            link: Link::WireGuard,
            address: s.address,
        }],
        routes,
        rules: Vec::new(),
    };
    Ok((device, network))
}
