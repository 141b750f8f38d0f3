//! Builds the [`NetworkPlan`] (addresses, routes, policy rules) of one node from its topology,
//! following Kilo's routing with dual-stack added. Pure.
//!
//! IPv6 destinations are routed natively (never through the IPv4 tunnel) and, inside a
//! location, need the gateway's IPv6 private address; without one they are skipped with a warning.

use std::collections::BTreeSet;
use std::net::IpAddr;

use ipnet::IpNet;

use super::Settings;
use super::network::{AddressPlan, Link, LinkNames, NetworkPlan, RoutePlan, RulePlan, Table};
use crate::node::Node;
use crate::plan::LocalFacts;
use crate::topology::{Topology, Warning};
use crate::types::{Encapsulate, TunnelKind};

struct Builder<'a> {
    topo: &'a Topology,
    settings: &'a Settings,
    me: &'a Node,
    /// Sorted and without repeats once built.
    routes: Vec<RoutePlan>,
    rules: BTreeSet<RulePlan>,
    tunnel_peers: BTreeSet<IpAddr>,
    warnings: Vec<Warning>,
}

fn is_v6(n: &IpNet) -> bool {
    matches!(n, IpNet::V6(_))
}

impl Builder<'_> {
    /// The local private address of `dst`'s family, as a route source.
    fn src(&self, dst: &IpNet) -> Option<IpAddr> {
        self.me.internal_ip(is_v6(dst)).map(|n| n.addr())
    }

    /// Whether traffic to `peer` inside the location is encapsulated (IPv4 only).
    fn encapsulated(&self, peer: &Node) -> bool {
        let (Some(mine), Some(theirs)) = (self.me.internal_ip(false), peer.internal_ip(false))
        else {
            return false;
        };
        match self.settings.encapsulate {
            Encapsulate::Always => true,
            Encapsulate::Never => false,
            Encapsulate::CrossSubnet => !mine.contains(&theirs.addr()),
        }
    }

    fn route(&mut self, dst: IpNet, via: Option<IpAddr>, dev: Link, onlink: bool, table: Table) {
        let src = self.src(&dst);
        self.routes.push(RoutePlan {
            dst,
            via,
            dev,
            src,
            table,
            onlink,
        });
    }

    /// The `--compatibility` tunnel in use, unless `--encapsulate=never`.
    fn compat(&self) -> Option<TunnelKind> {
        let t = self.settings.tunnel;
        (t.is_compat() && self.settings.encapsulate != Encapsulate::Never).then_some(t)
    }

    /// A node's gateway inside the CNI's overlay, as Kilo's encapsulators name it: its
    /// `cni-compatibility-ip` (Cilium only), else its IPv4 pod subnet's network address.
    fn compat_gateway(kind: TunnelKind, n: &Node) -> Option<IpAddr> {
        let cni = n
            .cni_compatibility_ip
            .filter(|_| kind == TunnelKind::Cilium)
            .map(IpAddr::V4);
        cni.or_else(|| n.pod_cidrs.iter().find(|c| !is_v6(c)).map(|c| c.network()))
    }

    /// Routes IPv4 `dst` through node `gw` over the CNI's overlay (`dev <tunnel> onlink`).
    fn via_compat(&mut self, kind: TunnelKind, dst: IpNet, gw: &Node) {
        let Some(via) = Self::compat_gateway(kind, gw) else {
            self.warnings.push(Warning {
                subject: format!("node/{}", gw.name),
                message: format!("has no IPv4 pod CIDR; {dst} cannot be routed through it"),
            });
            return;
        };
        self.tunnel_peers.insert(via);
        if let Some(p) = gw.internal_ip(false) {
            self.tunnel_peers.insert(p.addr());
        }
        self.route(dst, Some(via), Link::Tunnel, true, Table::Main);
    }

    /// Routes `dst` through `gw` (a node of this location), encapsulated when needed; always
    /// `onlink`.
    fn via_node(&mut self, dst: IpNet, gw: &Node) {
        if let (Some(kind), false) = (self.compat(), is_v6(&dst)) {
            self.via_compat(kind, dst, gw);
            return;
        }
        let Some(via) = gw.internal_ip(is_v6(&dst)).map(|n| n.addr()) else {
            self.warnings.push(Warning {
                subject: format!("node/{}", gw.name),
                message: format!(
                    "has no {} private IP; {dst} cannot be routed through it",
                    if is_v6(&dst) { "IPv6" } else { "IPv4" }
                ),
            });
            return;
        };
        if !is_v6(&dst) && self.encapsulated(gw) {
            self.tunnel_peers.insert(via);
            self.route(dst, Some(via), Link::Tunnel, true, Table::Main);
        } else {
            // onlink, as in Kilo: with a /32 private address the gateway is never on a
            // connected subnet, and the kernel refuses the route without it.
            self.route(dst, Some(via), Link::Private, true, Table::Main);
        }
    }

    /// Other nodes of the location: their pod CIDRs via their private IPs (`--local`), plus
    /// Kilo's table-1107 detour so pod traffic to their private IPs is encapsulated.
    fn location_routes(&mut self, from_wireguard: bool) {
        if !self.settings.local {
            return;
        }
        let seg = self.topo.local_segment();
        let compat = self.compat();
        for n in seg.nodes.iter().filter(|n| n.name != self.me.name) {
            for c in &n.pod_cidrs {
                // flannel routes its own location's pod CIDRs; kg never takes them over.
                if compat != Some(TunnelKind::Flannel) || is_v6(c) {
                    self.via_node(*c, n);
                }
            }
            if !self.encapsulated(n) {
                continue;
            }
            let Some(priv4) = n.internal_ip(false).map(|i| i.addr()) else {
                continue;
            };
            let host = IpNet::from(priv4);
            let gw = compat.map_or(Some(priv4), |k| Self::compat_gateway(k, n));
            let Some(gw) = gw else { continue };
            self.route(host, Some(gw), Link::Tunnel, true, Table::Kilo);
            for c in self.me.pod_cidrs.iter().filter(|c| !is_v6(c)) {
                self.rules.insert(RulePlan {
                    src: Some(*c),
                    dst: Some(host),
                    iif: None,
                    table: Table::Kilo,
                });
            }
            if from_wireguard {
                self.rules.insert(RulePlan {
                    src: None,
                    dst: Some(host),
                    iif: Some(Link::WireGuard),
                    table: Table::Kilo,
                });
            }
        }
    }

    /// Destinations behind other segments: pod CIDRs, private IPs (except a leader's endpoint
    /// IP, which must stay on the underlay) and allowed-location IPs.
    fn remote_destinations(&self) -> Vec<(IpNet, Option<IpAddr>)> {
        let mut out = Vec::new();
        for s in self.topo.other_segments() {
            let wg = s.wireguard_ip.map(|w| IpAddr::V4(w.addr()));
            let endpoint_ip = s.endpoint.as_ref().and_then(crate::types::Endpoint::ip);
            let privs = s
                .private_ips()
                .into_iter()
                .filter(|p| Some(p.addr()) != endpoint_ip);
            for dst in s
                .pod_cidrs()
                .into_iter()
                .chain(privs)
                .chain(s.allowed_location_ips.iter().copied())
            {
                out.push((dst, wg));
            }
        }
        out
    }

    /// `--local=false` on a leader with a `--compatibility` tunnel: WireGuard traffic for a
    /// node of the location goes back over the CNI's overlay (Kilo's return path for
    /// non-leaders that reach the leader through it), in table 1107 for packets from the
    /// WireGuard link.
    fn overlay_return_routes(&mut self) {
        let Some(kind) = self.compat() else { return };
        if self.settings.local || self.me.internal_ip(false).is_none() {
            return;
        }
        let seg = self.topo.local_segment();
        for n in seg.nodes.iter().filter(|n| n.name != self.me.name) {
            let Some(priv4) = n.internal_ip(false).map(|i| i.addr()) else {
                continue;
            };
            let Some(gw) = Self::compat_gateway(kind, n).filter(|g| *g != priv4) else {
                continue;
            };
            let host = IpNet::from(priv4);
            self.tunnel_peers.extend([gw, priv4]);
            self.route(host, Some(gw), Link::Tunnel, true, Table::Kilo);
            self.rules.insert(RulePlan {
                src: None,
                dst: Some(host),
                iif: Some(Link::WireGuard),
                table: Table::Kilo,
            });
        }
    }

    fn leader_routes(&mut self) {
        for (dst, wg) in self.remote_destinations() {
            match (is_v6(&dst), wg) {
                (false, Some(gw)) => self.route(dst, Some(gw), Link::WireGuard, true, Table::Main),
                _ => self.route(dst, None, Link::WireGuard, false, Table::Main),
            }
        }
        for p in &self.topo.peers {
            for dst in &p.allowed_ips {
                self.route(*dst, None, Link::WireGuard, false, Table::Main);
            }
        }
        self.location_routes(true);
        self.overlay_return_routes();
    }

    fn follower_routes(&mut self) {
        let leader = self.topo.local_segment().leader_node().clone();
        let wg_ips = self
            .topo
            .segments
            .iter()
            .filter_map(|s| s.wireguard_ip.map(|w| IpNet::from(IpAddr::V4(w.addr()))));
        let remote = self.remote_destinations().into_iter().map(|(d, _)| d);
        let peers = self
            .topo
            .peers
            .iter()
            .flat_map(|p| p.allowed_ips.iter().copied());
        let all: BTreeSet<IpNet> = wg_ips.chain(remote).chain(peers).collect();
        for dst in all {
            self.via_node(dst, &leader);
        }
        self.location_routes(false);
    }
}

/// Builds the network plan. Returns it with the warnings raised on the way.
#[must_use]
pub fn network_plan(
    topo: &Topology,
    settings: &Settings,
    facts: &LocalFacts,
) -> (NetworkPlan, Vec<Warning>) {
    let leader = topo.is_leader();
    let mut b = Builder {
        topo,
        settings,
        me: topo.local_node(),
        routes: Vec::new(),
        rules: BTreeSet::new(),
        tunnel_peers: BTreeSet::new(),
        warnings: Vec::new(),
    };
    if leader {
        b.leader_routes();
    } else {
        b.follower_routes();
    }
    let addresses = match (leader, topo.local_segment().wireguard_ip) {
        (true, Some(w)) => vec![AddressPlan {
            link: Link::WireGuard,
            address: IpNet::V4(w),
        }],
        _ => Vec::new(),
    };
    // flannel's device is always there and always routed over by flannel: kg checks for it
    // and takes over flannel's routes to other locations even with no tunnel route of its own.
    let flannel = settings.tunnel == TunnelKind::Flannel;
    let tunnel = (flannel || !b.tunnel_peers.is_empty()).then_some(settings.tunnel);
    let plan = NetworkPlan {
        links: LinkNames {
            wireguard: settings.interface.clone(),
            private: facts.private_iface.clone(),
            tunnel: settings.tunnel.device_on(facts.cilium_tunl),
        },
        wireguard_up: leader,
        mtu: settings.mtu,
        tunnel,
        tunnel_peers: b.tunnel_peers.into_iter().collect(),
        addresses,
        routes: {
            b.routes.sort_unstable();
            b.routes.dedup();
            b.routes
        },
        rules: b.rules.into_iter().collect(),
    };
    (plan, b.warnings)
}
