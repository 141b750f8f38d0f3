//! The nftables rendering of the firewall intent: per family a table that kg owns entirely
//! (`ip kilo`, `ip6 kilo`), with interval sets instead of ipsets, base chains instead of jumps
//! from built-in chains, and the same rules as the [`super::iptables`] rendering; and its
//! `nft -f` text. No I/O.
//!
//! Every rule carries a comment that identifies it within its chain (the SNAT rule's comment
//! names its address), so an adapter can compare rules by comment without parsing expressions.

use std::fmt::Write as _;
use std::net::IpAddr;

use ipnet::IpNet;
use serde::Serialize;

use super::{Family, FamilyFirewall, SetPurpose, comments};

/// The table name kg owns in both families.
pub const TABLE: &str = "kilo";

/// How a base chain is hooked.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
pub struct BaseChain {
    /// `nat` or `filter`.
    pub kind: &'static str,
    /// `postrouting`, `forward` or `input`.
    pub hook: &'static str,
    /// Numeric priority (`srcnat` = 100, `filter` = 0).
    pub priority: i32,
}

/// One rule: its identifying comment and its statement text as `nft list` prints it.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct NftRule {
    /// The comment, unique within the chain.
    pub comment: String,
    /// Matches and verdict, without the comment.
    pub body: String,
}

/// A chain of kg's table with its complete content in order.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct NftChain {
    /// Chain name.
    pub name: &'static str,
    /// Hook, for base chains.
    pub base: Option<BaseChain>,
    /// Rules in order.
    pub rules: Vec<NftRule>,
}

/// An interval set and its members, none inside another (nftables refuses overlapping intervals;
/// adjacent ones are fine and are kept as they are, so a new CIDR is one new element).
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct NftSet {
    /// Set name (`mesh`, `nat-src`, …).
    pub name: &'static str,
    /// Non-overlapping members, sorted.
    pub entries: Vec<IpNet>,
}

/// kg's table of one family.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct NftTable {
    /// The family.
    pub family: Family,
    /// Sets.
    pub sets: Vec<NftSet>,
    /// Chains, base chains first.
    pub chains: Vec<NftChain>,
}

impl Family {
    /// The nftables family keyword (`ip`, `ip6`), also the address match prefix.
    #[must_use]
    pub const fn nft_family(self) -> &'static str {
        match self {
            Self::V4 => "ip",
            Self::V6 => "ip6",
        }
    }

    /// The nftables element type of this family's sets.
    #[must_use]
    pub const fn nft_addr_type(self) -> &'static str {
        match self {
            Self::V4 => "ipv4_addr",
            Self::V6 => "ipv6_addr",
        }
    }
}

/// The nftables set name of a purpose (the family is the table's).
#[must_use]
pub const fn nft_set_name(purpose: SetPurpose) -> &'static str {
    match purpose {
        SetPurpose::NatSource => "nat-src",
        SetPurpose::NatDestination => "nat-dst",
        SetPurpose::Mesh => "mesh",
        SetPurpose::Forward => "forward",
        SetPurpose::Ipip => "ipip",
        SetPurpose::AllowedLocation => "location",
    }
}

/// The members that no other member contains, sorted.
#[must_use]
pub fn without_contained(entries: impl IntoIterator<Item = IpNet>) -> Vec<IpNet> {
    let mut all: Vec<IpNet> = entries.into_iter().map(|n| n.trunc()).collect();
    // shorter prefixes first at the same address, so a container precedes what it contains
    all.sort_by_key(|n| (n.network(), n.prefix_len()));
    all.dedup();
    let mut out: Vec<IpNet> = Vec::with_capacity(all.len());
    for n in all {
        if !out.last().is_some_and(|last| last.contains(&n)) {
            out.push(n);
        }
    }
    out
}

/// The comment of the SNAT rule to `ip`.
#[must_use]
pub fn snat_comment(ip: IpAddr) -> String {
    format!("{} ({ip})", comments::SNAT)
}

fn rule(comment: impl Into<String>, body: String) -> NftRule {
    NftRule {
        comment: comment.into(),
        body,
    }
}

/// A base chain with `policy accept` (kg's chains only ever accept, return or NAT).
fn base_chain(
    name: &'static str,
    (kind, hook, priority): (&'static str, &'static str, i32),
    rules: Vec<NftRule>,
) -> NftChain {
    NftChain {
        name,
        base: Some(BaseChain {
            kind,
            hook,
            priority,
        }),
        rules,
    }
}

/// `nat`: mesh destinations return, then SNAT to the egress address (when in force) of what is
/// not bound for an allowed-location IP, then MASQUERADE.
fn nat_chain(ff: &FamilyFirewall) -> NftChain {
    let f = ff.family.nft_family();
    let mut rules = vec![rule(
        comments::MESH_RETURN,
        format!("{f} daddr @mesh return"),
    )];
    if let Some(ip) = ff.snat {
        rules.push(rule(
            snat_comment(ip),
            format!("{f} daddr != @location snat to {ip}"),
        ));
    }
    rules.push(rule(comments::MASQUERADE, "masquerade".to_owned()));
    NftChain {
        name: "nat",
        base: None,
        rules,
    }
}

/// The nftables form of one family's firewall plan.
#[must_use]
pub fn nft_table(ff: &FamilyFirewall) -> NftTable {
    let f = ff.family.nft_family();
    let sets = ff
        .sets()
        .into_iter()
        .map(|(purpose, entries)| NftSet {
            name: nft_set_name(purpose),
            entries: without_contained(entries.iter().copied()),
        })
        .collect();
    let mut chains = vec![base_chain(
        "postrouting",
        ("nat", "postrouting", 100),
        vec![
            rule(comments::JUMP_SRC, format!("{f} saddr @nat-src jump nat")),
            rule(comments::JUMP_DST, format!("{f} daddr @nat-dst jump nat")),
        ],
    )];
    if ff.forward.is_some() {
        chains.push(base_chain(
            "forward",
            ("filter", "forward", 0),
            vec![
                rule(comments::FORWARD_SRC, format!("{f} saddr @forward accept")),
                rule(comments::FORWARD_DST, format!("{f} daddr @forward accept")),
            ],
        ));
    }
    if ff.ipip.is_some() {
        chains.push(base_chain(
            "input",
            ("filter", "input", 0),
            vec![
                rule(
                    comments::ALLOW_IPIP,
                    "ip protocol 4 ip saddr @ipip accept".to_owned(),
                ),
                rule(comments::DROP_IPIP, "ip protocol 4 drop".to_owned()),
            ],
        ));
    }
    chains.push(nat_chain(ff));
    NftTable {
        family: ff.family,
        sets,
        chains,
    }
}

impl NftTable {
    /// The `nft -f` script that creates the table from nothing (the dry-run and the reference;
    /// adapters send only deltas).
    #[must_use]
    pub fn render(&self) -> String {
        let f = self.family.nft_family();
        let mut out = format!("add table {f} {TABLE}\n");
        for s in &self.sets {
            let _ = writeln!(out, "{}", set_declaration(self.family, s.name));
            if !s.entries.is_empty() {
                let _ = writeln!(out, "{}", elements("add", self.family, s.name, &s.entries));
            }
        }
        for c in &self.chains {
            let _ = writeln!(out, "{}", chain_declaration(self.family, c));
        }
        for c in &self.chains {
            for r in &c.rules {
                let _ = writeln!(out, "add rule {f} {TABLE} {} {}", c.name, r.render());
            }
        }
        out
    }
}

impl NftRule {
    /// The rule as `nft` takes it: body then comment.
    #[must_use]
    pub fn render(&self) -> String {
        format!("{} comment \"{}\"", self.body, self.comment)
    }
}

/// `add set …` for one of kg's sets.
#[must_use]
pub fn set_declaration(family: Family, name: &str) -> String {
    format!(
        "add set {} {TABLE} {name} {{ type {}; flags interval; }}",
        family.nft_family(),
        family.nft_addr_type()
    )
}

/// `add chain …` (with its hook for a base chain).
#[must_use]
pub fn chain_declaration(family: Family, c: &NftChain) -> String {
    let f = family.nft_family();
    match c.base {
        Some(b) => format!(
            "add chain {f} {TABLE} {} {{ type {} hook {} priority {}; policy accept; }}",
            c.name, b.kind, b.hook, b.priority
        ),
        None => format!("add chain {f} {TABLE} {}", c.name),
    }
}

/// `add|delete element … { a, b }`.
#[must_use]
pub fn elements(verb: &str, family: Family, set: &str, entries: &[IpNet]) -> String {
    let list: Vec<String> = entries.iter().map(ToString::to_string).collect();
    format!(
        "{verb} element {} {TABLE} {set} {{ {} }}",
        family.nft_family(),
        list.join(", ")
    )
}
