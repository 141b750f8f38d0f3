//! The firewall plan of one node, as data: per family, the kernel sets that hold every per-CIDR
//! match, the chains kg owns with their full (static) content, and the few jump rules kg keeps in
//! built-in chains. Also renders it as `iptables-restore` and `ipset restore` text. No I/O.
//!
//! Rules are kept in the exact text `iptables-save` prints, so an adapter can compare them with
//! what it reads back without re-parsing.

use std::collections::BTreeSet;
use std::fmt::Write as _;
use std::net::IpAddr;

use ipnet::IpNet;
use serde::Serialize;

/// Address family of a firewall object.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Family {
    /// IPv4 (`iptables`, ipset `family inet`).
    V4,
    /// IPv6 (`ip6tables`, ipset `family inet6`).
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

    /// The ipset `family` keyword.
    #[must_use]
    pub const fn ipset_family(self) -> &'static str {
        match self {
            Self::V4 => "inet",
            Self::V6 => "inet6",
        }
    }
}

/// The iptables table a chain lives in.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum FwTable {
    /// `nat`.
    Nat,
    /// `filter`.
    Filter,
}

impl FwTable {
    /// The table name as iptables spells it.
    #[must_use]
    pub const fn as_str(self) -> &'static str {
        match self {
            Self::Nat => "nat",
            Self::Filter => "filter",
        }
    }
}

/// What a kernel set is for. Each purpose has one set per family.
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
}

impl SetPurpose {
    /// Every purpose, in rendering order.
    pub const ALL: [Self; 5] = [
        Self::NatSource,
        Self::NatDestination,
        Self::Mesh,
        Self::Forward,
        Self::Ipip,
    ];

    /// The ipset name for this purpose and family (≤ 31 bytes), e.g. `kilo-mesh-v4`.
    #[must_use]
    pub fn set_name(self, family: Family) -> String {
        let stem = match self {
            Self::NatSource => "kilo-nat-src",
            Self::NatDestination => "kilo-nat-dst",
            Self::Mesh => "kilo-mesh",
            Self::Forward => "kilo-forward",
            Self::Ipip => "kilo-ipip",
        };
        format!("{stem}-{}", family.as_str())
    }
}

/// One `hash:net` kernel set and the CIDRs it must hold.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct IpSetPlan {
    /// The set's name, see [`SetPurpose::set_name`].
    pub name: String,
    /// What it is for.
    pub purpose: SetPurpose,
    /// Its family.
    pub family: Family,
    /// Its members (never a /0: those are split into two halves).
    pub entries: BTreeSet<IpNet>,
}

/// A chain kg owns, with its complete content in order.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct ChainPlan {
    /// Table.
    pub table: FwTable,
    /// Chain name (`KILO-NAT`, `KILO-FORWARD`, `KILO-IPIP`).
    pub name: String,
    /// Rule specifications after `-A <chain> `, exactly as `iptables-save` prints them.
    pub rules: Vec<String>,
}

/// Where a jump rule sits in a built-in chain.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Position {
    /// At the top (`-I <chain> 1`): order-insensitive guards and jumps.
    Insert,
    /// At the end (`-A <chain>`).
    Append,
}

/// A rule kg keeps in a chain it does not own (a built-in chain).
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct JumpPlan {
    /// Table.
    pub table: FwTable,
    /// Built-in chain (`POSTROUTING`, `FORWARD`, `INPUT`).
    pub chain: String,
    /// Rule specification after `-A <chain> `, exactly as `iptables-save` prints it.
    pub rule: String,
    /// Where it goes when it is missing.
    pub position: Position,
}

/// The firewall of one family.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct FamilyFirewall {
    /// The family.
    pub family: Family,
    /// Kernel sets, one per [`SetPurpose`] that the rules reference.
    pub sets: Vec<IpSetPlan>,
    /// Chains kg owns.
    pub chains: Vec<ChainPlan>,
    /// Rules in built-in chains.
    pub jumps: Vec<JumpPlan>,
}

/// The firewall plan of one node: both families.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct FirewallPlan {
    /// IPv4 (`iptables`).
    pub v4: FamilyFirewall,
    /// IPv6 (`ip6tables`).
    pub v6: FamilyFirewall,
}

impl FirewallPlan {
    /// Both families, v4 first.
    #[must_use]
    pub fn families(&self) -> [&FamilyFirewall; 2] {
        [&self.v4, &self.v6]
    }
}

impl FamilyFirewall {
    /// The egress address of the `SNAT --to-source` rule in `KILO-NAT`, if there is one (the
    /// rule [`super::firewall_build`] writes when an egress IP is in force).
    #[must_use]
    pub fn snat_address(&self) -> Option<IpAddr> {
        self.chains
            .iter()
            .filter(|c| c.table == FwTable::Nat)
            .flat_map(|c| c.rules.iter())
            .find_map(|r| {
                r.split_once("-j SNAT --to-source ")?
                    .1
                    .split(' ')
                    .next()?
                    .parse()
                    .ok()
            })
    }

    /// The chains and jumps of one table.
    fn table_parts(&self, table: FwTable) -> (Vec<&ChainPlan>, Vec<&JumpPlan>) {
        (
            self.chains.iter().filter(|c| c.table == table).collect(),
            self.jumps.iter().filter(|j| j.table == table).collect(),
        )
    }

    /// The tables this family touches, in rendering order.
    #[must_use]
    pub fn tables(&self) -> Vec<FwTable> {
        [FwTable::Nat, FwTable::Filter]
            .into_iter()
            .filter(|t| {
                let (c, j) = self.table_parts(*t);
                !c.is_empty() || !j.is_empty()
            })
            .collect()
    }

    /// The complete `iptables-restore --noflush` input that creates kg's chains and rules from
    /// nothing: chain declarations, owned-chain content and jump rules (inserted at the top or
    /// appended, as planned). Adapters send only deltas; this is the reference and the dry-run.
    #[must_use]
    pub fn render_iptables_restore(&self) -> String {
        let mut out = String::new();
        for table in self.tables() {
            let (chains, jumps) = self.table_parts(table);
            let _ = writeln!(out, "*{}", table.as_str());
            for c in &chains {
                let _ = writeln!(out, ":{} - [0:0]", c.name);
            }
            for c in &chains {
                for r in &c.rules {
                    let _ = writeln!(out, "-A {} {r}", c.name);
                }
            }
            for j in &jumps {
                match j.position {
                    Position::Insert => {
                        let _ = writeln!(out, "-I {} 1 {}", j.chain, j.rule);
                    }
                    Position::Append => {
                        let _ = writeln!(out, "-A {} {}", j.chain, j.rule);
                    }
                }
            }
            out.push_str("COMMIT\n");
        }
        out
    }

    /// The complete `ipset restore` input that creates every set and fills it.
    #[must_use]
    pub fn render_ipset_restore(&self) -> String {
        let mut out = String::new();
        for s in &self.sets {
            let _ = writeln!(out, "{}", ipset_create_line(&s.name, s.family));
            for e in &s.entries {
                let _ = writeln!(out, "add {} {e} -exist", s.name);
            }
        }
        out
    }
}

/// The `ipset restore` line that creates a set kg owns (idempotent with `-exist`).
#[must_use]
pub fn ipset_create_line(name: &str, family: Family) -> String {
    format!(
        "create {name} hash:net family {} hashsize 1024 maxelem 1048576 -exist",
        family.ipset_family()
    )
}

/// Splits a default route (`/0`), which `hash:net` cannot hold, into its two halves.
#[must_use]
pub fn set_entries(net: IpNet) -> Vec<IpNet> {
    if net.prefix_len() == 0 {
        net.subnets(1).map(Iterator::collect).unwrap_or_default()
    } else {
        vec![net.trunc()]
    }
}
