//! The `kilo.squat.ai/egress-ip` annotation: parsing per SPEC section 3 and the decision of which
//! address is in force per family. Pure.
//!
//! Rules: plain addresses, never CIDRs; at most one per family is used (the first; the others
//! are warnings); spaces around items are ignored; anything unparsable is an error that leaves the
//! family on MASQUERADE. IPv4-mapped IPv6 addresses (`::ffff:a.b.c.d`) are rejected: they would
//! be ambiguous about the family whose traffic they apply to, and `ip6tables` SNAT to such an
//! address never works on the wire. Zone-scoped addresses (`fe80::1%eth0`) are rejected too.

use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};

use serde::{Deserialize, Serialize};

/// The egress addresses that parsed, at most one per family.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize)]
pub struct EgressIps {
    /// IPv4 source for pod traffic leaving the cluster.
    pub v4: Option<Ipv4Addr>,
    /// IPv6 source for pod traffic leaving the cluster.
    pub v6: Option<Ipv6Addr>,
    /// The value has an error that concerns IPv4 (the family falls back to MASQUERADE).
    pub rejected_v4: bool,
    /// The value has an error that concerns IPv6.
    pub rejected_v6: bool,
}

/// One problem found in an `egress-ip` value.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, thiserror::Error)]
#[serde(tag = "kind", rename_all = "kebab-case")]
pub enum EgressProblem {
    /// The value is empty or only whitespace.
    #[error("value is empty")]
    Empty,
    /// An item is empty (`"a,,b"`, a trailing comma).
    #[error("item {index} is empty")]
    EmptyItem {
        /// Zero-based position.
        index: usize,
    },
    /// An item has a prefix length.
    #[error("{item:?} is a CIDR; egress-ip takes plain addresses")]
    Cidr {
        /// The item.
        item: String,
    },
    /// An item has an IPv6 zone.
    #[error("{item:?} has a zone; egress-ip takes global addresses")]
    Zone {
        /// The item.
        item: String,
    },
    /// An IPv4-mapped IPv6 address.
    #[error("{item:?} is an IPv4-mapped IPv6 address; write the IPv4 address instead")]
    Mapped {
        /// The item.
        item: String,
    },
    /// An address that cannot be used as a source (unspecified, multicast, loopback, broadcast).
    #[error("{item:?} cannot be a source address")]
    Unusable {
        /// The item.
        item: String,
    },
    /// Not an address at all.
    #[error("{item:?} is not an IP address")]
    Garbage {
        /// The item.
        item: String,
    },
    /// A second (or later) address of a family that already has one.
    #[error("{item:?} ignored: {family} already uses {kept}")]
    Duplicate {
        /// The ignored item.
        item: String,
        /// `IPv4` or `IPv6`.
        family: &'static str,
        /// The address in force.
        kept: String,
    },
}

impl EgressProblem {
    /// Warnings leave the annotation usable; errors make a family fall back to MASQUERADE.
    #[must_use]
    pub const fn is_warning(&self) -> bool {
        matches!(self, Self::Duplicate { .. })
    }
}

/// The egress decision for one family: the address in force, or why there is none.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "reason", rename_all = "kebab-case")]
pub enum EgressState<A> {
    /// SNAT to this address, ahead of MASQUERADE.
    InForce {
        /// The source address.
        address: A,
    },
    /// No annotation value for this family: MASQUERADE.
    NotSet,
    /// The annotation is invalid for this family: MASQUERADE.
    Invalid,
    /// The address is not assigned on the node: MASQUERADE until it appears.
    NotAssigned {
        /// The annotated address.
        address: A,
    },
}

impl<A: Copy> EgressState<A> {
    /// The address in force, if any.
    #[must_use]
    pub fn in_force(&self) -> Option<A> {
        match self {
            Self::InForce { address } => Some(*address),
            _ => None,
        }
    }
}

/// The egress source addresses in force, per family.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct EgressStatus {
    /// IPv4.
    pub v4: EgressState<Ipv4Addr>,
    /// IPv6.
    pub v6: EgressState<Ipv6Addr>,
}

impl<A: std::fmt::Display> EgressState<A> {
    /// What the firewall does for this family, and why (`SNAT --to-source 192.0.2.10`,
    /// `MASQUERADE (192.0.2.10 is not assigned on the node)`).
    #[must_use]
    pub fn describe(&self) -> String {
        match self {
            Self::InForce { address } => format!("SNAT --to-source {address}"),
            Self::NotSet => "MASQUERADE (no egress-ip for this family)".to_owned(),
            Self::Invalid => {
                "MASQUERADE (egress-ip is invalid for this family, see problems)".to_owned()
            }
            Self::NotAssigned { address } => {
                format!("MASQUERADE ({address} is not assigned on the node)")
            }
        }
    }
}

impl EgressStatus {
    /// The value kg publishes as `kilo.squat.ai/egress-ip-status` (compact JSON).
    #[must_use]
    pub fn to_annotation(&self) -> String {
        serde_json::to_string(self).unwrap_or_default()
    }

    /// Reads a published `egress-ip-status` value.
    ///
    /// # Errors
    /// A message when the value is not the JSON kg writes.
    pub fn from_annotation(value: &str) -> Result<Self, String> {
        serde_json::from_str(value).map_err(|e| format!("not an egress status kg wrote: {e}"))
    }
}

/// Parses an `egress-ip` value. Returns the addresses in force and every problem found.
///
/// An erroneous item never contributes; if any item of a family is erroneous, that family has
/// no egress address (it falls back to MASQUERADE), because a half-understood value must not
/// silently choose a source address.
#[must_use]
pub fn parse(value: &str) -> (EgressIps, Vec<EgressProblem>) {
    let mut ips = EgressIps::default();
    let mut problems = Vec::new();
    if value.trim().is_empty() {
        ips.rejected_v4 = true;
        ips.rejected_v6 = true;
        return (ips, vec![EgressProblem::Empty]);
    }
    let (mut bad_v4, mut bad_v6) = (false, false);
    for (index, raw) in value.split(',').enumerate() {
        let item = raw.trim();
        match parse_item(item, index) {
            Ok(IpAddr::V4(a)) => match ips.v4 {
                None => ips.v4 = Some(a),
                Some(kept) => problems.push(duplicate(item, "IPv4", kept.to_string())),
            },
            Ok(IpAddr::V6(a)) => match ips.v6 {
                None => ips.v6 = Some(a),
                Some(kept) => problems.push(duplicate(item, "IPv6", kept.to_string())),
            },
            Err(p) => {
                // Attribute the error to the family it looks like; unknown → both.
                match guess_family(item) {
                    Some(false) => bad_v4 = true,
                    Some(true) => bad_v6 = true,
                    None => (bad_v4, bad_v6) = (true, true),
                }
                problems.push(p);
            }
        }
    }
    if bad_v4 {
        ips.v4 = None;
    }
    if bad_v6 {
        ips.v6 = None;
    }
    ips.rejected_v4 = bad_v4;
    ips.rejected_v6 = bad_v6;
    (ips, problems)
}

fn duplicate(item: &str, family: &'static str, kept: String) -> EgressProblem {
    EgressProblem::Duplicate {
        item: item.to_owned(),
        family,
        kept,
    }
}

/// `Some(true)` for things that look like IPv6, `Some(false)` for IPv4-looking, `None` otherwise.
fn guess_family(item: &str) -> Option<bool> {
    let head = item.split(['/', '%']).next().unwrap_or(item);
    if head.parse::<Ipv6Addr>().is_ok() {
        // A mapped address is written with IPv6 syntax but names an IPv4 host.
        return Some(!is_mapped(head));
    }
    if head.parse::<Ipv4Addr>().is_ok() {
        return Some(false);
    }
    None
}

fn is_mapped(s: &str) -> bool {
    s.parse::<Ipv6Addr>()
        .is_ok_and(|a| a.to_ipv4_mapped().is_some())
}

fn parse_item(item: &str, index: usize) -> Result<IpAddr, EgressProblem> {
    let owned = || item.to_owned();
    if item.is_empty() {
        return Err(EgressProblem::EmptyItem { index });
    }
    if let Some((addr, _)) = item.split_once('/') {
        return Err(if addr.parse::<IpAddr>().is_ok() {
            EgressProblem::Cidr { item: owned() }
        } else {
            EgressProblem::Garbage { item: owned() }
        });
    }
    if let Some((addr, _)) = item.split_once('%') {
        return Err(if addr.parse::<Ipv6Addr>().is_ok() {
            EgressProblem::Zone { item: owned() }
        } else {
            EgressProblem::Garbage { item: owned() }
        });
    }
    let ip: IpAddr = item
        .parse()
        .map_err(|_| EgressProblem::Garbage { item: owned() })?;
    if let IpAddr::V6(v6) = ip
        && v6.to_ipv4_mapped().is_some()
    {
        return Err(EgressProblem::Mapped { item: owned() });
    }
    if crate::types::unusable_address(ip).is_some() {
        return Err(EgressProblem::Unusable { item: owned() });
    }
    Ok(ip)
}
