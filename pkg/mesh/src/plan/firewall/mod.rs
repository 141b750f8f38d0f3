//! The firewall plan of one node as backend-neutral intent: per family, the CIDRs of every
//! kernel set, the egress SNAT address or none, and whether the forward and IPIP guards are
//! wanted. [`iptables`] and [`nftables`] are its two pure renderings; [`build`] computes it from
//! the topology. No I/O.
//!
//! Every rule of both renderings is fixed by this intent: a node joining or leaving changes set
//! members only, and only the SNAT rule ever appears, disappears or changes.

pub mod build;
pub mod iptables;
pub mod nftables;

use std::collections::BTreeSet;
use std::net::IpAddr;

use ipnet::IpNet;
use serde::Serialize;

pub use build::firewall_plan;

/// Address family of a firewall object.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Family {
    /// IPv4 (`iptables`, ipset `family inet`, nft `ip`).
    V4,
    /// IPv6 (`ip6tables`, ipset `family inet6`, nft `ip6`).
    V6,
}

impl Family {
    /// The family of an address.
    #[must_use]
    pub const fn of(ip: IpAddr) -> Self {
        match ip {
            IpAddr::V4(_) => Self::V4,
            IpAddr::V6(_) => Self::V6,
        }
    }

    /// The family of a network.
    #[must_use]
    pub const fn of_net(net: &IpNet) -> Self {
        match net {
            IpNet::V4(_) => Self::V4,
            IpNet::V6(_) => Self::V6,
        }
    }

    /// `v4` / `v6`, used in set names and metric labels.
    #[must_use]
    pub const fn as_str(self) -> &'static str {
        match self {
            Self::V4 => "v4",
            Self::V6 => "v6",
        }
    }
}

/// What a kernel set is for. Each purpose has at most one set per family.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum SetPurpose {
    /// Sources whose traffic goes through `KILO-NAT` (local pod CIDRs, peers).
    NatSource,
    /// Destinations whose traffic goes through `KILO-NAT` (the location's allowed IPs).
    NatDestination,
    /// Mesh destinations that are never NATed (pods, nodes, WireGuard IPs, peers, services).
    Mesh,
    /// CIDRs accepted in `FORWARD` (`--iptables-forward-rules`).
    Forward,
    /// Private IPs allowed to send IPIP to this node.
    Ipip,
    /// Every location's allowed-location IPs: never SNATed to the egress IP (MASQUERADEd).
    AllowedLocation,
}

impl SetPurpose {
    /// Every purpose, in rendering order.
    pub const ALL: [Self; 6] = [
        Self::NatSource,
        Self::NatDestination,
        Self::Mesh,
        Self::AllowedLocation,
        Self::Forward,
        Self::Ipip,
    ];
}

/// Comments kg puts on its rules, shared by both renderings (no quotes or apostrophes, so no
/// rendering ever needs to escape them).
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

/// What kg wants of one family's firewall. Set members are truncated to their network and are
/// never a `/0` (a default route is held as its two halves, which every kernel set takes).
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct FamilyFirewall {
    /// The family.
    pub family: Family,
    /// Sources NATed on the way out (local pod CIDRs with `--cni`, Peers' allowed IPs).
    pub nat_source: BTreeSet<IpNet>,
    /// Destinations NATed on the way out (the location's allowed-location IPs).
    pub nat_destination: BTreeSet<IpNet>,
    /// Destinations never NATed (the mesh: pods, nodes, WireGuard IPs, Peers, services; not
    /// allowed-location IPs, which are MASQUERADEd as in Kilo so a LAN host can answer).
    pub mesh: BTreeSet<IpNet>,
    /// The egress address NATed traffic leaves with (`SNAT` ahead of `MASQUERADE`), when an
    /// egress IP of this family is in force.
    pub snat: Option<IpAddr>,
    /// `--iptables-forward-rules`: the CIDRs accepted in `FORWARD` in either direction.
    pub forward: Option<BTreeSet<IpNet>>,
    /// IPIP encapsulation in use (IPv4 only): the private IPs allowed to send IPIP, every other
    /// IPIP packet dropped.
    pub ipip: Option<BTreeSet<IpNet>>,
    /// Every location's allowed-location IPs, which the egress SNAT skips (they are
    /// MASQUERADEd: a LAN host answers the address of the interface facing it, and a remote
    /// location's leader routes the answer back into the mesh, which the egress IP is not in).
    pub allowed_location: BTreeSet<IpNet>,
}

impl FamilyFirewall {
    /// The sets the rules reference, with their members, in [`SetPurpose::ALL`] order.
    #[must_use]
    pub fn sets(&self) -> Vec<(SetPurpose, &BTreeSet<IpNet>)> {
        let mut out = vec![
            (SetPurpose::NatSource, &self.nat_source),
            (SetPurpose::NatDestination, &self.nat_destination),
            (SetPurpose::Mesh, &self.mesh),
            (SetPurpose::AllowedLocation, &self.allowed_location),
        ];
        out.extend(self.forward.as_ref().map(|f| (SetPurpose::Forward, f)));
        out.extend(self.ipip.as_ref().map(|i| (SetPurpose::Ipip, i)));
        out
    }
}

/// The firewall plan of one node: both families.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct FirewallPlan {
    /// IPv4.
    pub v4: FamilyFirewall,
    /// IPv6.
    pub v6: FamilyFirewall,
}

impl FirewallPlan {
    /// Both families, v4 first.
    #[must_use]
    pub fn families(&self) -> [&FamilyFirewall; 2] {
        [&self.v4, &self.v6]
    }
}

/// The members of `cidrs` of `family` as a set holds them: truncated, a `/0` split in halves.
#[must_use]
pub fn set_members<'a>(
    family: Family,
    cidrs: impl IntoIterator<Item = &'a IpNet>,
) -> BTreeSet<IpNet> {
    cidrs
        .into_iter()
        .filter(|n| Family::of_net(n) == family)
        .flat_map(|n| set_entries(*n))
        .collect()
}

/// Splits a default route (`/0`), which `hash:net` cannot hold, into its two halves; any other
/// range is one entry, truncated. An iterator: no allocation per range.
pub fn set_entries(net: IpNet) -> impl Iterator<Item = IpNet> {
    let zero = net.prefix_len() == 0;
    let whole = (!zero).then(|| net.trunc());
    let halves = zero.then(|| net.subnets(1).ok()).flatten();
    whole.into_iter().chain(halves.into_iter().flatten())
}
