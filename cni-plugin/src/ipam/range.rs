//! host-local compatible ranges: canonicalization and the round-robin candidate order.
//! No I/O.

use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};

use ipnet::IpNet;

use crate::config::{IpamConf, RangeConf};
use crate::error::{CniResult, config_err};

/// A canonical range: inclusive bounds as integers, plus gateway.
#[derive(Debug, Clone, PartialEq)]
pub struct Range {
    /// The subnet.
    pub subnet: IpNet,
    /// First allocatable address.
    pub start: u128,
    /// Last allocatable address.
    pub end: u128,
    /// Gateway (never allocated).
    pub gateway: IpAddr,
}

/// A range set: one lease per set per attachment.
pub type RangeSet = Vec<Range>;

/// An address as an integer.
pub fn ip_to_u128(ip: IpAddr) -> u128 {
    match ip {
        IpAddr::V4(a) => u128::from(u32::from(a)),
        IpAddr::V6(a) => u128::from(a),
    }
}

/// An integer back to an address of the same family as `like`.
pub fn u128_to_ip(n: u128, like: &IpNet) -> IpAddr {
    match like {
        IpNet::V4(_) => IpAddr::V4(Ipv4Addr::from(u32::try_from(n).unwrap_or(0))),
        IpNet::V6(_) => IpAddr::V6(Ipv6Addr::from(n)),
    }
}

impl Range {
    /// Canonicalizes a configured range like host-local does.
    pub fn new(rc: &RangeConf) -> CniResult<Self> {
        let subnet = rc.subnet;
        if subnet.prefix_len() + 2 > subnet.max_prefix_len() {
            return Err(config_err(format!(
                "network {subnet} too small to allocate from"
            )));
        }
        if subnet.addr() != subnet.network() {
            return Err(config_err(format!(
                "network {subnet} has host bits set; the network address is {}",
                subnet.network()
            )));
        }
        let net = ip_to_u128(subnet.network());
        let last = ip_to_u128(subnet.broadcast());
        let inside = |ip: IpAddr, what: &str| -> CniResult<u128> {
            if subnet.contains(&ip) {
                Ok(ip_to_u128(ip))
            } else {
                Err(config_err(format!("{what} {ip} not in network {subnet}")))
            }
        };
        let gateway = match rc.gateway {
            Some(g) => u128_to_ip(inside(g, "gateway")?, &subnet),
            None => u128_to_ip(net + 1, &subnet),
        };
        let start = match rc.range_start {
            Some(s) => inside(s, "rangeStart")?,
            None => net + 1,
        };
        let default_end = if subnet.addr().is_ipv4() {
            last - 1
        } else {
            last
        };
        let end = match rc.range_end {
            Some(e) => inside(e, "rangeEnd")?,
            None => default_end,
        };
        if start > end {
            return Err(config_err(format!(
                "rangeStart is after rangeEnd in {subnet}"
            )));
        }
        Ok(Self {
            subnet,
            start,
            end,
            gateway,
        })
    }

    /// Whether `ip` is inside [start, end].
    pub fn contains(&self, ip: IpAddr) -> bool {
        ip.is_ipv4() == self.subnet.addr().is_ipv4()
            && (self.start..=self.end).contains(&ip_to_u128(ip))
    }

    /// Number of allocatable addresses (gateway excluded when inside).
    pub fn capacity(&self) -> u128 {
        let n = self.end - self.start + 1;
        if self.contains(self.gateway) {
            n - 1
        } else {
            n
        }
    }
}

/// Builds the range sets of an `ipam` section (including the legacy single-subnet form).
pub fn range_sets(ipam: &IpamConf) -> CniResult<Vec<RangeSet>> {
    let mut confs = ipam.ranges.clone();
    if let Some(subnet) = ipam.subnet {
        confs.insert(
            0,
            vec![RangeConf {
                subnet,
                range_start: ipam.range_start,
                range_end: ipam.range_end,
                gateway: ipam.gateway,
            }],
        );
    }
    if confs.is_empty() {
        return Err(config_err("ipam: no ranges configured"));
    }
    let mut sets = Vec::with_capacity(confs.len());
    for set in &confs {
        if set.is_empty() {
            return Err(config_err("ipam: empty range set"));
        }
        let rs = set.iter().map(Range::new).collect::<CniResult<Vec<_>>>()?;
        for (i, a) in rs.iter().enumerate() {
            for b in &rs[i + 1..] {
                if a.subnet.addr().is_ipv4() != b.subnet.addr().is_ipv4() {
                    return Err(config_err("ipam: mixed address families in one range set"));
                }
                if a.start <= b.end && b.start <= a.end {
                    return Err(config_err(format!(
                        "ipam: ranges {} and {} overlap",
                        a.subnet, b.subnet
                    )));
                }
            }
        }
        sets.push(rs);
    }
    Ok(sets)
}

/// Candidates in host-local's order: after `last` (if it is in the set), else from the
/// first range's start, wrapping through every range once; gateways are skipped.
pub fn candidates(set: &RangeSet, last: Option<IpAddr>) -> impl Iterator<Item = IpAddr> + '_ {
    let total: u128 = set.iter().map(|r| r.end - r.start + 1).sum();
    let (mut ri, mut cur) =
        match last.and_then(|ip| set.iter().position(|r| r.contains(ip)).map(|i| (i, ip))) {
            Some((i, ip)) => (i, Some(ip_to_u128(ip))),
            None => (0, None),
        };
    let mut left = total;
    std::iter::from_fn(move || {
        while left > 0 {
            left -= 1;
            let r = &set[ri];
            let next = match cur {
                None => r.start,
                Some(c) if c < r.end => c + 1,
                Some(_) => {
                    ri = (ri + 1) % set.len();
                    set[ri].start
                }
            };
            cur = Some(next);
            let range = &set[ri];
            let ip = u128_to_ip(next, &range.subnet);
            if ip != range.gateway {
                return Some(ip);
            }
        }
        None
    })
}

#[cfg(test)]
#[path = "range_tests.rs"]
mod tests;
