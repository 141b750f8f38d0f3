//! What kg knows about its own node: the private IPs and the endpoint it discovers from the
//! node's addresses, and the overlay of those facts onto its Node before planning (Kilo's
//! "handleLocal"). Pure functions over [`Observed`].

use std::net::IpAddr;

use ipnet::IpNet;
use kilo_mesh::Node;
use kilo_mesh::topology::is_public;
use kilo_mesh::types::{Endpoint, Host, IfName, WgKey};

use crate::dataplane::{NodeAddress, Observed};

/// Interfaces that never hold the node's private IP.
fn is_ours_or_virtual(iface: &str, wg: &str) -> bool {
    iface == wg
        || iface == "lo"
        || iface == "kube-bridge"
        || iface == "tunl0"
        || iface.starts_with("kilo")
        || iface.starts_with("veth")
        || iface.starts_with("cni")
        || iface.starts_with("docker")
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

/// Picks the private interface and addresses: inside `--internal-cidr` when given, else on the
/// default-route interface, else on the first candidate interface; the endpoint is the first
/// public IPv4 (unless private addresses are prioritised), else the private IPv4.
#[must_use]
pub fn discover(
    o: &Observed,
    wg: &str,
    internal_cidrs: &[IpNet],
    port: u16,
    prefer_private: bool,
) -> Discovered {
    let candidates: Vec<&NodeAddress> = o
        .addresses
        .iter()
        .filter(|a| !is_ours_or_virtual(a.iface.as_str(), wg))
        .filter(|a| !a.net.addr().is_loopback() && !is_link_local(a.net.addr()))
        .collect();
    let wanted = |a: &&&NodeAddress| {
        internal_cidrs.is_empty() || internal_cidrs.iter().any(|c| c.contains(&a.net.addr()))
    };
    let private4 = candidates
        .iter()
        .filter(wanted)
        .filter(|a| a.net.addr().is_ipv4())
        .min_by_key(|a| {
            (
                Some(&a.iface) != o.default_iface.as_ref(),
                is_public(a.net.addr()),
            )
        })
        .copied();
    let iface = private4.map(|a| a.iface.clone());
    let private6 = candidates
        .iter()
        .filter(|a| a.net.addr().is_ipv6() && Some(&a.iface) == iface.as_ref())
        .min_by_key(|a| is_public(a.net.addr()))
        .copied();
    let public4 = candidates
        .iter()
        .find(|a| a.net.addr().is_ipv4() && is_public(a.net.addr()));
    let host = match (public4, private4) {
        (Some(p), _) if !prefer_private => Some(p.net.addr()),
        (_, Some(p)) => Some(p.net.addr()),
        (Some(p), None) => Some(p.net.addr()),
        (None, None) => None,
    };
    Discovered {
        iface,
        internal: private4
            .into_iter()
            .chain(private6)
            .map(|a| a.net)
            .collect(),
        endpoint: host.map(|ip| Endpoint {
            host: Host::Ip(ip),
            port,
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

#[cfg(test)]
mod tests {
    use super::*;

    fn addr(iface: &str, net: &str) -> NodeAddress {
        NodeAddress {
            iface: iface.parse().unwrap(),
            net: net.parse().unwrap(),
        }
    }

    #[test]
    fn lab_node_discovers_its_underlay() {
        let o = Observed {
            addresses: vec![
                addr("eth0", "192.168.77.11/24"),
                addr("eth0", "192.168.77.101/24"),
                addr("eth0", "fd00:77::11/64"),
                addr("eth0", "fe80::1/64"),
                addr("kilo0", "10.4.0.1/16"),
                addr("kube-bridge", "10.42.1.1/24"),
            ],
            ..Observed::default()
        };
        let d = discover(&o, "kilo0", &[], 51820, false);
        assert_eq!(d.iface.unwrap().as_str(), "eth0");
        let ips: Vec<String> = d.internal.iter().map(ToString::to_string).collect();
        assert_eq!(ips, ["192.168.77.11/24", "fd00:77::11/64"]);
        assert_eq!(d.endpoint.unwrap().to_string(), "192.168.77.11:51820");
    }

    #[test]
    fn public_address_is_the_endpoint_unless_private_is_prioritised() {
        let o = Observed {
            addresses: vec![addr("ens4", "10.0.0.5/24"), addr("ens5", "203.0.113.7/24")],
            default_iface: Some("ens4".parse().unwrap()),
            ..Observed::default()
        };
        assert_eq!(
            discover(&o, "kilo0", &[], 51820, false)
                .endpoint
                .unwrap()
                .to_string(),
            "203.0.113.7:51820"
        );
        assert_eq!(
            discover(&o, "kilo0", &[], 51820, true)
                .endpoint
                .unwrap()
                .to_string(),
            "10.0.0.5:51820"
        );
        let d = discover(
            &o,
            "kilo0",
            &["203.0.113.0/24".parse().unwrap()],
            51820,
            false,
        );
        assert_eq!(d.iface.unwrap().as_str(), "ens5", "--internal-cidr chooses");
    }
}
