//! The nfnetlink messages of a member-only delta, as bytes: ipset `IPSET_CMD_ADD`/`DEL` (one
//! message per member, as `ipset add … -exist` sends it) and one nftables batch of
//! `NFT_MSG_NEWSETELEM`/`DELSETELEM` (an interval set's prefix is a start element and an
//! `INTERVAL_END` element at the address after it, as `nft` 1.0 sends it); and the reading of
//! the kernel's acknowledgements. Pure (no I/O); [`crate::netlink`] sends them.
//!
//! Layouts follow the kernel's `include/uapi/linux/netfilter/{nfnetlink.h,nf_tables.h,
//! ipset/ip_set.h}` and what `ipset` 7.17 and `nft` 1.0.6 put on the wire (checked with strace).

use std::net::IpAddr;

use ipnet::IpNet;
use kilo_mesh::plan::firewall::Family;

/// `NLM_F_REQUEST`.
const F_REQUEST: u16 = 0x1;
/// `NLM_F_ACK`.
const F_ACK: u16 = 0x4;
/// `NLM_F_CREATE`.
const F_CREATE: u16 = 0x400;
/// `NLA_F_NESTED`.
const NESTED: u16 = 0x8000;
/// `NLA_F_NET_BYTEORDER`.
const NET_ORDER: u16 = 0x4000;
/// `NLMSG_ERROR`.
const NLMSG_ERROR: u16 = 2;

/// `NFNL_SUBSYS_IPSET`, `IPSET_CMD_ADD`, `IPSET_CMD_DEL`, `IPSET_PROTOCOL`.
const SUBSYS_IPSET: u16 = 6;
const IPSET_CMD_ADD: u16 = 9;
const IPSET_CMD_DEL: u16 = 10;
const IPSET_PROTOCOL: u8 = 7;
/// `IPSET_ATTR_PROTOCOL`, `_SETNAME`, `_DATA`; inside DATA `_IP`, `_CIDR`, `_LINENO`; inside
/// IP `IPSET_ATTR_IPADDR_IPV4`, `_IPV6`.
const IPSET_ATTR_PROTOCOL: u16 = 1;
const IPSET_ATTR_SETNAME: u16 = 2;
const IPSET_ATTR_DATA: u16 = 7;
const IPSET_ATTR_IP: u16 = 1;
const IPSET_ATTR_CIDR: u16 = 3;
const IPSET_ATTR_LINENO: u16 = 9;
const IPSET_ATTR_IPADDR_IPV4: u16 = 1;
const IPSET_ATTR_IPADDR_IPV6: u16 = 2;

/// `NFNL_MSG_BATCH_BEGIN`/`_END`, `NFNL_SUBSYS_NFTABLES`, `NFT_MSG_NEWSETELEM`/`DELSETELEM`.
const BATCH_BEGIN: u16 = 0x10;
const BATCH_END: u16 = 0x11;
const SUBSYS_NFTABLES: u16 = 10;
const NFT_MSG_NEWSETELEM: u16 = 12;
const NFT_MSG_DELSETELEM: u16 = 14;
/// `NFTA_SET_ELEM_LIST_TABLE`, `_SET`, `_ELEMENTS`; `NFTA_LIST_ELEM`; `NFTA_SET_ELEM_KEY`,
/// `_FLAGS`, `_USERDATA`; `NFTA_DATA_VALUE`; `NFT_SET_ELEM_INTERVAL_END`.
const LIST_TABLE: u16 = 1;
const LIST_SET: u16 = 2;
const LIST_ELEMENTS: u16 = 3;
const LIST_ELEM: u16 = 1;
const ELEM_KEY: u16 = 1;
const ELEM_FLAGS: u16 = 3;
const ELEM_USERDATA: u16 = 6;
const DATA_VALUE: u16 = 1;
const INTERVAL_END: u32 = 1;
/// The element user data `nft` attaches to an interval open at the top of the address space:
/// TLV `NFTNL_UDATA_SET_ELEM_FLAGS` (1), length 4, `NFTNL_SET_ELEM_F_INTERVAL_OPEN` (host u32).
const UDATA_INTERVAL_OPEN: [u8; 6] = [1, 4, 1, 0, 0, 0];

/// A member the netlink path will not write (the process path decides what to do with it).
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum Refused {
    /// A `/0` (`hash:net` holds none; the plans split it in halves).
    #[error("{0} is a /0")]
    Default(IpNet),
    /// An nftables interval starting at the zero address (`nft` keeps its own end marker there).
    #[error("{0} starts at the zero address")]
    ZeroStart(IpNet),
    /// A name that cannot be a netlink string (empty, NUL, longer than the kernel's limit).
    #[error("invalid set name {0:?}")]
    Name(String),
}

/// One member to add or delete.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Change {
    /// Add.
    Add(IpNet),
    /// Delete.
    Del(IpNet),
}

/// A netlink message under construction (native byte order, 4-byte alignment).
struct Msg {
    buf: Vec<u8>,
    start: usize,
}

impl Msg {
    /// Appends an `nlmsghdr` and an `nfgenmsg` to `buf`.
    fn begin(buf: Vec<u8>, kind: u16, flags: u16, seq: u32, family: u8, res_id: u16) -> Self {
        let mut m = Self {
            start: buf.len(),
            buf,
        };
        m.buf.extend_from_slice(&0u32.to_ne_bytes());
        m.buf.extend_from_slice(&kind.to_ne_bytes());
        m.buf.extend_from_slice(&flags.to_ne_bytes());
        m.buf.extend_from_slice(&seq.to_ne_bytes());
        m.buf.extend_from_slice(&0u32.to_ne_bytes());
        m.buf.extend_from_slice(&[family, 0]);
        m.buf.extend_from_slice(&res_id.to_be_bytes());
        m
    }

    fn attr(&mut self, kind: u16, payload: &[u8]) {
        let len = u16::try_from(4 + payload.len()).unwrap_or(u16::MAX);
        self.buf.extend_from_slice(&len.to_ne_bytes());
        self.buf.extend_from_slice(&kind.to_ne_bytes());
        self.buf.extend_from_slice(payload);
        self.pad();
    }

    fn pad(&mut self) {
        while !self.buf.len().is_multiple_of(4) {
            self.buf.push(0);
        }
    }

    fn nest(&mut self, kind: u16) -> usize {
        let at = self.buf.len();
        self.buf.extend_from_slice(&[0, 0]);
        self.buf.extend_from_slice(&(kind | NESTED).to_ne_bytes());
        at
    }

    fn close(&mut self, at: usize) {
        let len = u16::try_from(self.buf.len() - at).unwrap_or(u16::MAX);
        self.buf[at..at + 2].copy_from_slice(&len.to_ne_bytes());
    }

    fn end(mut self) -> Vec<u8> {
        let len = u32::try_from(self.buf.len() - self.start).unwrap_or(u32::MAX);
        self.buf[self.start..self.start + 4].copy_from_slice(&len.to_ne_bytes());
        self.buf
    }
}

/// `IPSET_MAXNAMELEN` and `NFT_NAME_MAXLEN` (with the NUL).
const MAX_NAME: usize = 32;

fn name(n: &str) -> Result<Vec<u8>, Refused> {
    if n.is_empty() || n.len() >= MAX_NAME || n.contains('\0') {
        return Err(Refused::Name(n.to_owned()));
    }
    let mut v = n.as_bytes().to_vec();
    v.push(0);
    Ok(v)
}

const fn nfproto(family: Family) -> u8 {
    match family {
        Family::V4 => 2,
        Family::V6 => 10,
    }
}

fn octets(addr: IpAddr) -> Vec<u8> {
    match addr {
        IpAddr::V4(a) => a.octets().to_vec(),
        IpAddr::V6(a) => a.octets().to_vec(),
    }
}

/// Appends to `buf` the `ipset add|del <set> <net> -exist` request with sequence `seq`.
///
/// # Errors
/// A `/0` or a bad set name.
pub fn ipset(buf: Vec<u8>, seq: u32, set: &str, change: Change) -> Result<Vec<u8>, Refused> {
    let (cmd, net) = match change {
        Change::Add(n) => (IPSET_CMD_ADD, n),
        Change::Del(n) => (IPSET_CMD_DEL, n),
    };
    if net.prefix_len() == 0 {
        return Err(Refused::Default(net));
    }
    let set = name(set)?;
    let family = if net.addr().is_ipv4() {
        Family::V4
    } else {
        Family::V6
    };
    let mut m = Msg::begin(
        buf,
        (SUBSYS_IPSET << 8) | cmd,
        F_REQUEST | F_ACK,
        seq,
        nfproto(family),
        0,
    );
    m.attr(IPSET_ATTR_PROTOCOL, &[IPSET_PROTOCOL]);
    m.attr(IPSET_ATTR_SETNAME, &set);
    let data = m.nest(IPSET_ATTR_DATA);
    let ip = m.nest(IPSET_ATTR_IP);
    let kind = match family {
        Family::V4 => IPSET_ATTR_IPADDR_IPV4,
        Family::V6 => IPSET_ATTR_IPADDR_IPV6,
    };
    m.attr(kind | NET_ORDER, &octets(net.network()));
    m.close(ip);
    if net.prefix_len() < net.max_prefix_len() {
        m.attr(IPSET_ATTR_CIDR, &[net.prefix_len()]);
    }
    m.attr(IPSET_ATTR_LINENO | NET_ORDER, &0u32.to_be_bytes());
    m.close(data);
    Ok(m.end())
}

/// The address right after `net` (`None`: `net` reaches the top of the address space).
fn after(net: &IpNet) -> Option<IpAddr> {
    match net.broadcast() {
        IpAddr::V4(b) => u32::from(b).checked_add(1).map(|a| IpAddr::V4(a.into())),
        IpAddr::V6(b) => u128::from(b).checked_add(1).map(|a| IpAddr::V6(a.into())),
    }
}

/// One list element; like libnftnl, the `n`th carries attribute type `n` (from
/// [`LIST_ELEM`]; the kernel does not look at it).
fn element(m: &mut Msg, n: &mut u16, key: IpAddr, flags: u32, udata: Option<&[u8]>) {
    let elem = m.nest(*n);
    *n = n.wrapping_add(1);
    let k = m.nest(ELEM_KEY);
    m.attr(DATA_VALUE, &octets(key));
    m.close(k);
    if flags != 0 {
        m.attr(ELEM_FLAGS, &flags.to_be_bytes());
    }
    if let Some(u) = udata {
        m.attr(ELEM_USERDATA, u);
    }
    m.close(elem);
}

/// The elements of one `NEWSETELEM`/`DELSETELEM` message of `set` in table `table`.
fn setelem(
    buf: Vec<u8>,
    (seq, family): (u32, Family),
    (table, set): (&[u8], &[u8]),
    add: bool,
    nets: &[IpNet],
) -> Vec<u8> {
    let (kind, flags) = if add {
        (NFT_MSG_NEWSETELEM, F_REQUEST | F_CREATE | F_ACK)
    } else {
        (NFT_MSG_DELSETELEM, F_REQUEST | F_ACK)
    };
    let mut m = Msg::begin(
        buf,
        (SUBSYS_NFTABLES << 8) | kind,
        flags,
        seq,
        nfproto(family),
        0,
    );
    m.attr(LIST_TABLE, table);
    m.attr(LIST_SET, set);
    let list = m.nest(LIST_ELEMENTS);
    let mut n = LIST_ELEM;
    for net in nets {
        match after(net) {
            Some(end) => {
                element(&mut m, &mut n, net.network(), 0, None);
                element(&mut m, &mut n, end, INTERVAL_END, None);
            }
            None => element(&mut m, &mut n, net.network(), 0, Some(&UDATA_INTERVAL_OPEN)),
        }
    }
    m.close(list);
    m.end()
}

/// One set's element changes.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct SetChanges<'a> {
    /// Set name.
    pub set: &'a str,
    /// Members to delete (written first).
    pub del: &'a [IpNet],
    /// Members to add.
    pub add: &'a [IpNet],
}

/// One nftables transaction (`BATCH_BEGIN`, a `DELSETELEM` then a `NEWSETELEM` message per set
/// with changes, `BATCH_END`) on table `table` of `family`, sequence numbers from `seq`.
/// Returns the bytes and the sequence numbers the kernel acknowledges.
///
/// # Errors
/// A `/0`, an interval starting at the zero address, or a bad name.
pub fn nft_batch(
    seq: u32,
    family: Family,
    table: &str,
    sets: &[SetChanges<'_>],
) -> Result<(Vec<u8>, Vec<u32>), Refused> {
    let table = name(table)?;
    let res_id = SUBSYS_NFTABLES;
    let mut buf = Msg::begin(Vec::new(), BATCH_BEGIN, F_REQUEST, seq, 0, res_id).end();
    let mut acked = Vec::new();
    let mut next = seq;
    for s in sets {
        let set = name(s.set)?;
        for (add, nets) in [(false, s.del), (true, s.add)] {
            if nets.is_empty() {
                continue;
            }
            if let Some(n) = nets.iter().find(|n| n.prefix_len() == 0) {
                return Err(Refused::Default(*n));
            }
            if let Some(n) = nets
                .iter()
                .find(|n| octets(n.network()).iter().all(|b| *b == 0))
            {
                return Err(Refused::ZeroStart(*n));
            }
            next = next.wrapping_add(1);
            buf = setelem(buf, (next, family), (&table, &set), add, nets);
            acked.push(next);
        }
    }
    next = next.wrapping_add(1);
    let buf = Msg::begin(buf, BATCH_END, F_REQUEST, next, 0, res_id).end();
    Ok((buf, acked))
}

/// Takes the acknowledgements in `datagram` off `pending`; returns the first error (a negative
/// errno, or an ipset code) carried by a message of the exchange `seqs` (first and last sequence
/// numbers sent; a batch's own header may be refused too).
///
/// # Errors
/// A truncated message.
pub fn acks(
    datagram: &[u8],
    seqs: (u32, u32),
    pending: &mut Vec<u32>,
) -> Result<Option<i32>, String> {
    let mut off = 0;
    let mut first = None;
    let word = |at: usize| -> Option<[u8; 4]> { datagram.get(at..at + 4)?.try_into().ok() };
    let ours = |seq: u32| seq.wrapping_sub(seqs.0) <= seqs.1.wrapping_sub(seqs.0);
    while off + 16 <= datagram.len() {
        let len = word(off).map(u32::from_ne_bytes).unwrap_or_default() as usize;
        let kind = u16::from_ne_bytes([datagram[off + 4], datagram[off + 5]]);
        let seq = word(off + 8).map(u32::from_ne_bytes).unwrap_or_default();
        if len < 16 || off + len > datagram.len() {
            return Err(format!("truncated netlink message of {len} bytes at {off}"));
        }
        if kind == NLMSG_ERROR && ours(seq) {
            let code = word(off + 16)
                .map(i32::from_ne_bytes)
                .ok_or("truncated netlink error")?;
            pending.retain(|s| *s != seq);
            if code != 0 {
                first = first.or(Some(code));
            }
        }
        off += len.next_multiple_of(4);
    }
    Ok(first)
}

#[cfg(test)]
#[path = "nfnl_tests.rs"]
mod tests;
