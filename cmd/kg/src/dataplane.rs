//! The seam between kg's reconcile loop and the node: what kg observes locally and how a plan is
//! applied. The real implementation composes the WireGuard, netlink and firewall adapters
//! (`crate::node_dataplane`); tests use a recording fake.

use std::future::Future;
use std::net::{IpAddr, SocketAddr};

use kilo_mesh::local::HostFacts;
use kilo_mesh::plan::NodePlan;
use kilo_mesh::types::{IfName, WgKey};

pub use kilo_mesh::local::NodeAddress;

/// A WireGuard peer as the device reports it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct PeerStatus {
    /// Its key.
    pub key: WgKey,
    /// The endpoint the device currently uses.
    pub endpoint: Option<SocketAddr>,
    /// Unix seconds of the latest handshake, if any.
    pub last_handshake: Option<i64>,
    /// Bytes received.
    pub rx_bytes: u64,
    /// Bytes sent.
    pub tx_bytes: u64,
}

/// What kg observes on its node before planning.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Observed {
    /// Addresses on the node's own interfaces ([`kilo_mesh::local::is_node_interface`]).
    pub addresses: Vec<NodeAddress>,
    /// The interface of the default route, if any.
    pub default_iface: Option<IfName>,
    /// MTU of `default_iface` (or of the private interface).
    pub underlay_mtu: Option<u32>,
    /// WireGuard peers (leaders only; empty otherwise).
    pub peers: Vec<PeerStatus>,
    /// The first IPv4 address of `cilium_host`, with its prefix (the `cni-compatibility-ip` kg
    /// publishes with `--compatibility=cilium`).
    pub cilium_host: Option<ipnet::Ipv4Net>,
    /// Cilium renamed `tunl0` to `cilium_tunl`.
    pub cilium_tunl: bool,
}

impl Observed {
    /// All addresses, without prefixes.
    #[must_use]
    pub fn ips(&self) -> Vec<IpAddr> {
        self.addresses.iter().map(|a| a.net.addr()).collect()
    }

    /// What the node-local decisions of the core ([`kilo_mesh::local`]) need.
    #[must_use]
    pub fn host_facts(&self) -> HostFacts {
        HostFacts {
            addresses: self.addresses.clone(),
            default_iface: self.default_iface.clone(),
        }
    }
}

/// How many mutating operations an apply performed, per part.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Applied {
    /// WireGuard changes (peers added/changed/removed, key, port).
    pub wireguard: usize,
    /// Netlink changes (addresses, routes, rules, link state).
    pub network: usize,
    /// Firewall operations.
    pub firewall: usize,
}

/// Something on the node changed that the next reconcile must look at.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum NodeEvent {
    /// One of kg's routes or rules went away.
    Drift,
    /// An address appeared or disappeared (egress IPs, internal IP).
    Addresses,
}

/// What kg needs from its node.
pub trait Dataplane: Send + 'static {
    /// The node's public WireGuard key.
    fn public_key(&self) -> WgKey;
    /// Reads addresses, the default interface, MTU and WireGuard peer status.
    fn observe(&mut self) -> impl Future<Output = anyhow::Result<Observed>> + Send;
    /// Reads only the WireGuard peers' status (leaders only; empty otherwise): the cheap read
    /// behind the peer metrics between reconciles.
    fn peer_status(&mut self) -> impl Future<Output = Vec<PeerStatus>> + Send;
    /// Applies a plan as a diff.
    fn apply(&mut self, plan: &NodePlan) -> impl Future<Output = anyhow::Result<Applied>> + Send;
    /// Removes everything kg programmed (firewall, routes, rules; the interface when asked).
    fn clean_up(&mut self, interface: bool) -> impl Future<Output = anyhow::Result<()>> + Send;
    /// Waits for the next node event; never resolves when the dataplane cannot watch.
    fn next_event(&mut self) -> impl Future<Output = NodeEvent> + Send;
    /// The firewall backend the next apply must leave in force (the per-node override,
    /// `crate::backend_override`); dataplanes without a firewall ignore it.
    fn want_firewall(&mut self, _backend: kilo_mesh::types::FirewallBackend) {}
}
