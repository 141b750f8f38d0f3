//! Builds the [`FirewallPlan`] of one node from its topology. Pure.
//!
//! Per family: three always-present sets (`kilo-nat-src`, `kilo-nat-dst`, `kilo-mesh`) and a
//! fixed `KILO-NAT` chain — mesh destinations return, then `SNAT --to-source <egress>` when an
//! egress IP is in force, then `MASQUERADE` — reached from `POSTROUTING` through two set
//! matches. A node joining or leaving changes set members only; the rules never move.

use std::collections::BTreeSet;
use std::net::IpAddr;

use ipnet::IpNet;

use super::firewall::{
    ChainPlan, Family, FamilyFirewall, FirewallPlan, FwTable, IpSetPlan, JumpPlan, Position,
    SetPurpose, set_entries,
};
use super::{EgressStatus, Settings};
use crate::topology::Topology;
use crate::types::TunnelKind;

/// Comments kg puts on its rules (no apostrophes: `iptables-restore` quoting stays trivial).
pub mod comments {
    /// `KILO-NAT`: mesh destinations are not NATed.
    pub const MESH_RETURN: &str = "Kilo: do not NAT packets destined for the mesh";
    /// `KILO-NAT`: the egress SNAT rule.
    pub const SNAT: &str = "Kilo: SNAT to the egress IP of this node";
    /// `KILO-NAT`: the final MASQUERADE.
    pub const MASQUERADE: &str = "Kilo: NAT remaining packets";
    /// `POSTROUTING` jump by source.
    pub const JUMP_SRC: &str = "Kilo: jump to KILO-NAT chain";
    /// `POSTROUTING` jump by destination (allowed-location IPs).
    pub const JUMP_DST: &str = "Kilo: jump to KILO-NAT chain for allowed location IPs";
    /// `FORWARD` jump.
    pub const JUMP_FORWARD: &str = "Kilo: jump to KILO-FORWARD chain";
    /// `KILO-FORWARD` by source.
    pub const FORWARD_SRC: &str = "Kilo: forward packets from the location CIDRs";
    /// `KILO-FORWARD` by destination.
    pub const FORWARD_DST: &str = "Kilo: forward packets to the location CIDRs";
    /// `INPUT` jump for IPIP.
    pub const JUMP_IPIP: &str = "Kilo: jump to IPIP chain";
    /// `INPUT` drop of other IPIP.
    pub const DROP_IPIP: &str = "Kilo: reject other IPIP traffic";
    /// `KILO-IPIP` accept.
    pub const ALLOW_IPIP: &str = "Kilo: allow IPIP traffic";
}

/// The owned NAT chain.
pub const NAT_CHAIN: &str = "KILO-NAT";
/// The owned forward chain.
pub const FORWARD_CHAIN: &str = "KILO-FORWARD";
/// The owned IPIP chain.
pub const IPIP_CHAIN: &str = "KILO-IPIP";

fn set_match(purpose: SetPurpose, family: Family, dir: &str) -> String {
    format!("-m set --match-set {} {dir}", purpose.set_name(family))
}

fn rule(matches: &str, comment: &str, target: &str) -> String {
    let sep = if matches.is_empty() { "" } else { " " };
    format!("{matches}{sep}-m comment --comment \"{comment}\" -j {target}")
}

/// The CIDR contents of every set, before splitting by family.
#[derive(Default)]
struct Contents {
    nat_src: Vec<IpNet>,
    nat_dst: Vec<IpNet>,
    mesh: Vec<IpNet>,
    forward: Option<Vec<IpNet>>,
    ipip: Option<Vec<IpNet>>,
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
            .flat_map(crate::topology::Segment::allowed_ips),
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

fn ipset(purpose: SetPurpose, family: Family, cidrs: &[IpNet]) -> IpSetPlan {
    let entries: BTreeSet<IpNet> = cidrs
        .iter()
        .filter(|n| Family::of_net(n) == family)
        .flat_map(|n| set_entries(*n))
        .collect();
    IpSetPlan {
        name: purpose.set_name(family),
        purpose,
        family,
        entries,
    }
}

fn nat_chain(family: Family, egress: Option<IpAddr>) -> ChainPlan {
    let mut rules = vec![rule(
        &set_match(SetPurpose::Mesh, family, "dst"),
        comments::MESH_RETURN,
        "RETURN",
    )];
    if let Some(ip) = egress {
        rules.push(rule("", comments::SNAT, &format!("SNAT --to-source {ip}")));
    }
    rules.push(rule("", comments::MASQUERADE, "MASQUERADE"));
    ChainPlan {
        table: FwTable::Nat,
        name: NAT_CHAIN.to_owned(),
        rules,
    }
}

fn jump(table: FwTable, chain: &str, rule: String, position: Position) -> JumpPlan {
    JumpPlan {
        table,
        chain: chain.to_owned(),
        rule,
        position,
    }
}

fn family_plan(family: Family, c: &Contents, egress: Option<IpAddr>) -> FamilyFirewall {
    let mut sets = vec![
        ipset(SetPurpose::NatSource, family, &c.nat_src),
        ipset(SetPurpose::NatDestination, family, &c.nat_dst),
        ipset(SetPurpose::Mesh, family, &c.mesh),
    ];
    let mut chains = vec![nat_chain(family, egress)];
    let mut jumps = vec![
        jump(
            FwTable::Nat,
            "POSTROUTING",
            rule(
                &set_match(SetPurpose::NatSource, family, "src"),
                comments::JUMP_SRC,
                NAT_CHAIN,
            ),
            Position::Insert,
        ),
        jump(
            FwTable::Nat,
            "POSTROUTING",
            rule(
                &set_match(SetPurpose::NatDestination, family, "dst"),
                comments::JUMP_DST,
                NAT_CHAIN,
            ),
            Position::Insert,
        ),
    ];
    if let Some(fwd) = &c.forward {
        sets.push(ipset(SetPurpose::Forward, family, fwd));
        let m = |dir| set_match(SetPurpose::Forward, family, dir);
        chains.push(ChainPlan {
            table: FwTable::Filter,
            name: FORWARD_CHAIN.to_owned(),
            rules: vec![
                rule(&m("src"), comments::FORWARD_SRC, "ACCEPT"),
                rule(&m("dst"), comments::FORWARD_DST, "ACCEPT"),
            ],
        });
        jumps.push(jump(
            FwTable::Filter,
            "FORWARD",
            rule("", comments::JUMP_FORWARD, FORWARD_CHAIN),
            Position::Insert,
        ));
    }
    if let (Some(ipip), Family::V4) = (&c.ipip, family) {
        sets.push(ipset(SetPurpose::Ipip, family, ipip));
        chains.push(ChainPlan {
            table: FwTable::Filter,
            name: IPIP_CHAIN.to_owned(),
            rules: vec![rule(
                &set_match(SetPurpose::Ipip, family, "src"),
                comments::ALLOW_IPIP,
                "ACCEPT",
            )],
        });
        jumps.push(jump(
            FwTable::Filter,
            "INPUT",
            rule("-p ipencap", comments::JUMP_IPIP, IPIP_CHAIN),
            Position::Append,
        ));
        jumps.push(jump(
            FwTable::Filter,
            "INPUT",
            rule("-p ipencap", comments::DROP_IPIP, "DROP"),
            Position::Append,
        ));
    }
    FamilyFirewall {
        family,
        sets,
        chains,
        jumps,
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
    let ipip = (tunnel == Some(TunnelKind::Ipip)).then_some(tunnel_peers);
    let c = contents(topo, settings, ipip);
    FirewallPlan {
        v4: family_plan(Family::V4, &c, egress.v4.in_force().map(IpAddr::V4)),
        v6: family_plan(Family::V6, &c, egress.v6.in_force().map(IpAddr::V6)),
    }
}
