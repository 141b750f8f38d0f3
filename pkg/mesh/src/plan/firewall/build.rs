//! Builds the [`FirewallPlan`] of one node from its topology: the members of every set, the
//! egress SNAT address and the guards in use. Pure.

use std::collections::BTreeSet;
use std::net::IpAddr;

use ipnet::IpNet;

use super::{Family, FamilyFirewall, FirewallPlan, set_members};
use crate::plan::{EgressStatus, Settings};
use crate::topology::Topology;
use crate::types::TunnelKind;

/// The CIDR contents of every set, before splitting by family.
#[derive(Default)]
struct Contents {
    nat_src: Vec<IpNet>,
    nat_dst: Vec<IpNet>,
    mesh: Vec<IpNet>,
    forward: Option<Vec<IpNet>>,
    ipip: Option<Vec<IpNet>>,
    allowed_location: Vec<IpNet>,
}

fn contents(topo: &Topology, settings: &Settings, ipip_peers: Option<&[IpAddr]>) -> Contents {
    let me = topo.local_node();
    let seg = topo.local_segment();
    let peer_ips = topo
        .peers
        .iter()
        .flat_map(|p| p.allowed_ips.iter().copied());
    let mut c = Contents::default();
    if settings.cni {
        c.nat_src.extend(me.pod_cidrs.iter().copied());
    }
    c.nat_src.extend(peer_ips.clone());
    c.nat_dst.extend(seg.allowed_location_ips.iter().copied());
    c.mesh.extend(
        topo.segments
            .iter()
            .flat_map(crate::topology::Segment::base_allowed_ips),
    );
    c.allowed_location.extend(
        topo.segments
            .iter()
            .flat_map(|s| s.allowed_location_ips.iter().copied()),
    );
    c.mesh.extend(peer_ips);
    c.mesh
        .extend(settings.service_cidrs.iter().map(IpNet::trunc));
    if settings.forward_rules {
        c.forward = Some(if topo.is_leader() {
            seg.pod_cidrs()
                .into_iter()
                .chain(seg.allowed_location_ips.iter().copied())
                .chain(seg.private_ips())
                .collect()
        } else {
            me.pod_cidrs.clone()
        });
    }
    c.ipip = ipip_peers.map(|p| p.iter().map(|ip| IpNet::from(*ip)).collect());
    c
}

fn family_plan(family: Family, c: &Contents, snat: Option<IpAddr>) -> FamilyFirewall {
    let members = |cidrs: &[IpNet]| -> BTreeSet<IpNet> { set_members(family, cidrs) };
    FamilyFirewall {
        family,
        nat_source: members(&c.nat_src),
        nat_destination: members(&c.nat_dst),
        mesh: members(&c.mesh),
        snat,
        forward: c.forward.as_deref().map(members),
        ipip: c
            .ipip
            .as_deref()
            .filter(|_| family == Family::V4)
            .map(members),
        allowed_location: members(&c.allowed_location),
    }
}

/// Builds the firewall plan. `tunnel` and `tunnel_peers` come from the network plan: IPIP guards
/// exist only while IPIP encapsulation is in use.
#[must_use]
pub fn firewall_plan(
    topo: &Topology,
    settings: &Settings,
    egress: &EgressStatus,
    tunnel: Option<TunnelKind>,
    tunnel_peers: &[IpAddr],
) -> FirewallPlan {
    // Cilium's IPIP guard exists only with `--local`, as in Kilo (Cilium may terminate
    // IPIP of its own).
    let ipip = match tunnel {
        Some(TunnelKind::Ipip) => Some(tunnel_peers),
        Some(TunnelKind::Cilium) if settings.local => Some(tunnel_peers),
        _ => None,
    };
    let c = contents(topo, settings, ipip);
    FirewallPlan {
        v4: family_plan(Family::V4, &c, egress.v4.in_force().map(IpAddr::V4)),
        v6: family_plan(Family::V6, &c, egress.v6.in_force().map(IpAddr::V6)),
    }
}
