//! The internal IP and `cni-compatibility-ip` checks of the guard, over indexes of where every
//! node's addresses are. Pure.

use std::collections::HashMap;
use std::net::IpAddr;

use ipnet::{IpNet, Ipv4Net};

use super::{Rejected, STATUS_ADDRESSES, reject, reserved};
use crate::annotations::keys;
use crate::index::{AddressTable, NetIndex};
use crate::node::Node;
use crate::types::NodeName;

/// The field an internal IP of `n` came from.
fn internal_field(n: &Node, ip: IpAddr) -> &'static str {
    if n.status_addresses.contains(&ip) {
        STATUS_ADDRESSES
    } else if n.forced_internal_ip {
        keys::FORCE_INTERNAL_IP
    } else {
        keys::INTERNAL_IP
    }
}

/// The node (its position) of each pod CIDR, the nodes' pod CIDRs taken in order.
pub(super) fn pod_cidr_nodes(nodes: &[Node]) -> Vec<usize> {
    (0..nodes.len())
        .flat_map(|i| std::iter::repeat_n(i, nodes[i].pod_cidrs.len()))
        .collect()
}

/// Where the nodes' addresses are, for the internal and compatibility IP checks: the pod CIDRs
/// (as accepted), the status addresses and the endpoint IPs, each with its node's position.
pub(super) struct Owners {
    pods: NetIndex,
    pod_node: Vec<usize>,
    status: AddressTable<usize>,
    endpoint: AddressTable<usize>,
}

/// What a node other than the one checked holds of an address: a pod CIDR containing it, or
/// the address itself in one of the tables asked about (by the table's position).
#[derive(Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
enum Held {
    Pod(usize),
    Listed(usize),
}

impl Owners {
    pub(super) fn of(nodes: &[Node]) -> Self {
        let positions = nodes.iter().enumerate();
        Self {
            pods: NetIndex::new(nodes.iter().flat_map(|n| n.pod_cidrs.iter().copied())),
            pod_node: pod_cidr_nodes(nodes),
            status: AddressTable::new(
                positions
                    .clone()
                    .flat_map(|(i, n)| n.status_addresses.iter().map(move |a| (*a, i))),
            ),
            endpoint: AddressTable::new(positions.filter_map(|(i, n)| {
                Some((n.endpoint.as_ref().and_then(crate::types::Endpoint::ip)?, i))
            })),
        }
    }

    /// The first node, in order, not named `name` with a pod CIDR containing `ip` or holding
    /// `ip` in one of `tables` (`None`: not asked); for that node, a pod CIDR (its first)
    /// before the tables, in their order.
    fn first_other(
        &self,
        nodes: &[Node],
        name: &NodeName,
        ip: IpAddr,
        tables: &[Option<&AddressTable<usize>>],
    ) -> Option<(usize, Held)> {
        let pods = self
            .pods
            .containing(ip)
            .map(|k| (self.pod_node[k], Held::Pod(k)));
        let listed = tables.iter().enumerate().flat_map(|(l, table)| {
            table
                .iter()
                .flat_map(move |t| t.get(ip))
                .map(move |o| (o, Held::Listed(l)))
        });
        pods.chain(listed)
            .filter(|(o, _)| nodes[*o].name != *name)
            .min()
    }
}

/// Why node `nodes[i]` may not use internal IP `a`, given every node and the internal IPs
/// accepted so far.
fn internal_ip_problem(
    i: usize,
    a: &IpNet,
    nodes: &[Node],
    owners: &Owners,
    accepted: &HashMap<IpAddr, NodeName>,
) -> Option<String> {
    let (n, ip) = (&nodes[i], a.addr());
    if a.prefix_len() == 0 {
        return Some("a prefix of 0 makes every address local".to_owned());
    }
    if let Some(why) = reserved(&IpNet::from(ip)) {
        return Some(why);
    }
    let own = n.status_addresses.contains(&ip);
    let tables = [Some(&owners.status), (!own).then_some(&owners.endpoint)];
    if let Some((o, held)) = owners.first_other(nodes, &n.name, ip, &tables) {
        let o = &nodes[o].name;
        return Some(match held {
            Held::Pod(k) => format!("inside {}, the pod CIDR of node {o}", owners.pods.net(k)),
            Held::Listed(0) => format!("an InternalIP of node {o}"),
            Held::Listed(_) => format!("the endpoint of node {o}"),
        });
    }
    if let Some(c) = n.pod_cidrs.iter().find(|c| c.contains(&ip)) {
        return Some(format!("inside {c}, its own pod CIDR"));
    }
    accepted
        .get(&ip)
        .map(|o| format!("already the internal IP of node {o}"))
}

/// Internal IPs: see [`internal_ip_problem`].
pub(super) fn internal_ips(nodes: &mut [Node], owners: &Owners, out: &mut Vec<Rejected>) {
    let mut accepted: HashMap<IpAddr, NodeName> = HashMap::new();
    for i in 0..nodes.len() {
        let mut kept = Vec::new();
        for a in nodes[i].internal_ips.clone() {
            let n = &nodes[i];
            match internal_ip_problem(i, &a, nodes, owners, &accepted) {
                Some(why) => out.push(reject(n, internal_field(n, a.addr()), a, why)),
                None => {
                    accepted.entry(a.addr()).or_insert_with(|| n.name.clone());
                    kept.push(a);
                }
            }
        }
        nodes[i].internal_ips = kept;
    }
}

/// Why node `nodes[i]` may not use `ip` as its `cni-compatibility-ip` (an IPIP gateway other
/// nodes route to): in the WireGuard subnet, inside another node's pod CIDR, another node's
/// endpoint, internal IP or status address, or an earlier node's compatibility IP. Inside its
/// own pod CIDR is where Cilium puts `cilium_host`, so that is fine.
fn compatibility_ip_problem(
    i: usize,
    ip: IpAddr,
    nodes: &[Node],
    (owners, internal): (&Owners, &AddressTable<usize>),
    subnet: Ipv4Net,
    accepted: &HashMap<IpAddr, NodeName>,
) -> Option<String> {
    if IpNet::V4(subnet).contains(&ip) {
        return Some(format!("inside the WireGuard subnet {subnet}"));
    }
    let tables = [Some(&owners.endpoint), Some(&owners.status), Some(internal)];
    if let Some((o, held)) = owners.first_other(nodes, &nodes[i].name, ip, &tables) {
        let o = &nodes[o].name;
        return Some(match held {
            Held::Pod(k) => format!("inside {}, the pod CIDR of node {o}", owners.pods.net(k)),
            Held::Listed(0) => format!("the endpoint of node {o}"),
            Held::Listed(_) => format!("an address of node {o}"),
        });
    }
    accepted
        .get(&ip)
        .map(|o| format!("already the cni-compatibility-ip of node {o}"))
}

/// `cni-compatibility-ip`s: see [`compatibility_ip_problem`].
pub(super) fn compatibility_ips(
    nodes: &mut [Node],
    owners: &Owners,
    subnet: Ipv4Net,
    out: &mut Vec<Rejected>,
) {
    if nodes.iter().all(|n| n.cni_compatibility_ip.is_none()) {
        return;
    }
    let internal = AddressTable::new(
        nodes
            .iter()
            .enumerate()
            .flat_map(|(i, n)| n.internal_ips.iter().map(move |a| (a.addr(), i))),
    );
    let mut accepted: HashMap<IpAddr, NodeName> = HashMap::new();
    for i in 0..nodes.len() {
        let Some(v4) = nodes[i].cni_compatibility_ip else {
            continue;
        };
        let ip = IpAddr::V4(v4);
        let n = &nodes[i];
        let ix = (owners, &internal);
        if let Some(why) = compatibility_ip_problem(i, ip, nodes, ix, subnet, &accepted) {
            out.push(reject(n, keys::CNI_COMPATIBILITY_IP, ip, why));
            nodes[i].cni_compatibility_ip = None;
        } else {
            accepted.entry(ip).or_insert_with(|| n.name.clone());
        }
    }
}
