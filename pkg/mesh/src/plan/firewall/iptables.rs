//! The iptables rendering of the firewall intent: per family, one `hash:net` ipset per set, the
//! chains kg owns (`KILO-NAT`, `KILO-FORWARD`, `KILO-IPIP`) with their full content, and the few
//! jump rules kg keeps in built-in chains; and their `iptables-restore` / `ipset restore` text.
//! No I/O.
//!
//! Rules are kept in the exact text `iptables-save` prints, so the adapter can compare them with
//! what it reads back without re-parsing.

use std::collections::BTreeSet;
use std::fmt::Write as _;

use ipnet::IpNet;
use serde::Serialize;

use super::{Family, FamilyFirewall, SetPurpose, comments};

impl Family {
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

impl SetPurpose {
    /// The ipset name for this purpose and family (≤ 31 bytes), e.g. `kilo-mesh-v4`.
    #[must_use]
    pub fn set_name(self, family: Family) -> String {
        let stem = match self {
            Self::NatSource => "kilo-nat-src",
            Self::NatDestination => "kilo-nat-dst",
            Self::Mesh => "kilo-mesh",
            Self::Forward => "kilo-forward",
            Self::Ipip => "kilo-ipip",
            Self::AllowedLocation => "kilo-location",
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

/// The iptables form of one family's firewall.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct Ruleset {
    /// The family.
    pub family: Family,
    /// Kernel sets, one per [`SetPurpose`] that the rules reference.
    pub sets: Vec<IpSetPlan>,
    /// Chains kg owns.
    pub chains: Vec<ChainPlan>,
    /// Rules in built-in chains.
    pub jumps: Vec<JumpPlan>,
}

impl Ruleset {
    /// No sets, chains or jumps: what clean-up converges to.
    #[must_use]
    pub const fn empty(family: Family) -> Self {
        Self {
            family,
            sets: Vec::new(),
            chains: Vec::new(),
            jumps: Vec::new(),
        }
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

fn jump(table: FwTable, chain: &str, rule: String, position: Position) -> JumpPlan {
    JumpPlan {
        table,
        chain: chain.to_owned(),
        rule,
        position,
    }
}

/// `KILO-NAT`: mesh destinations return, then SNAT to the egress address (when in force) of what
/// is not bound for an allowed-location IP, then MASQUERADE.
fn nat_chain(ff: &FamilyFirewall) -> ChainPlan {
    let mut rules = vec![rule(
        &set_match(SetPurpose::Mesh, ff.family, "dst"),
        comments::MESH_RETURN,
        "RETURN",
    )];
    if let Some(ip) = ff.snat {
        let not_location = format!(
            "-m set ! --match-set {} dst",
            SetPurpose::AllowedLocation.set_name(ff.family)
        );
        rules.push(rule(
            &not_location,
            comments::SNAT,
            &format!("SNAT --to-source {ip}"),
        ));
    }
    rules.push(rule("", comments::MASQUERADE, "MASQUERADE"));
    ChainPlan {
        table: FwTable::Nat,
        name: NAT_CHAIN.to_owned(),
        rules,
    }
}

/// The two `POSTROUTING` jumps to `KILO-NAT`, by source and by destination.
fn nat_jumps(family: Family) -> [JumpPlan; 2] {
    let to_nat = |purpose, dir, comment| {
        let r = rule(&set_match(purpose, family, dir), comment, NAT_CHAIN);
        jump(FwTable::Nat, "POSTROUTING", r, Position::Insert)
    };
    [
        to_nat(SetPurpose::NatSource, "src", comments::JUMP_SRC),
        to_nat(SetPurpose::NatDestination, "dst", comments::JUMP_DST),
    ]
}

/// `KILO-FORWARD` accepting the forward set both ways, and its `FORWARD` jump.
fn forward_rules(family: Family) -> (ChainPlan, JumpPlan) {
    let m = |dir| set_match(SetPurpose::Forward, family, dir);
    let chain = ChainPlan {
        table: FwTable::Filter,
        name: FORWARD_CHAIN.to_owned(),
        rules: vec![
            rule(&m("src"), comments::FORWARD_SRC, "ACCEPT"),
            rule(&m("dst"), comments::FORWARD_DST, "ACCEPT"),
        ],
    };
    let j = rule("", comments::JUMP_FORWARD, FORWARD_CHAIN);
    (chain, jump(FwTable::Filter, "FORWARD", j, Position::Insert))
}

/// `KILO-IPIP` accepting the IPIP set, and the `INPUT` jump to it followed by the drop of any
/// other IPIP.
fn ipip_rules(family: Family) -> (ChainPlan, [JumpPlan; 2]) {
    let chain = ChainPlan {
        table: FwTable::Filter,
        name: IPIP_CHAIN.to_owned(),
        rules: vec![rule(
            &set_match(SetPurpose::Ipip, family, "src"),
            comments::ALLOW_IPIP,
            "ACCEPT",
        )],
    };
    let input = |comment, target| {
        let r = rule("-p ipencap", comment, target);
        jump(FwTable::Filter, "INPUT", r, Position::Append)
    };
    let jumps = [
        input(comments::JUMP_IPIP, IPIP_CHAIN),
        input(comments::DROP_IPIP, "DROP"),
    ];
    (chain, jumps)
}

/// The iptables form of one family's intent.
#[must_use]
pub fn ruleset(ff: &FamilyFirewall) -> Ruleset {
    let sets = ff
        .sets()
        .into_iter()
        .map(|(purpose, entries)| IpSetPlan {
            name: purpose.set_name(ff.family),
            purpose,
            family: ff.family,
            entries: entries.clone(),
        })
        .collect();
    let mut chains = vec![nat_chain(ff)];
    let mut jumps = Vec::from(nat_jumps(ff.family));
    if ff.forward.is_some() {
        let (chain, j) = forward_rules(ff.family);
        chains.push(chain);
        jumps.push(j);
    }
    if ff.ipip.is_some() {
        let (chain, j) = ipip_rules(ff.family);
        chains.push(chain);
        jumps.extend(j);
    }
    Ruleset {
        family: ff.family,
        sets,
        chains,
        jumps,
    }
}
