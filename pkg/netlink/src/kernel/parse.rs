//! Turning kernel messages into the crate's model and back. No I/O.

use std::collections::BTreeMap;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};

use ipnet::IpNet;
use kilo_mesh::plan::network::KILO_ROUTE_PROTOCOL;
use rtnetlink::packet_route::AddressFamily;
use rtnetlink::packet_route::address::{AddressAttribute, AddressMessage};
use rtnetlink::packet_route::link::{
    InfoData, InfoKind, InfoVxlan, LinkAttribute, LinkFlags, LinkInfo, LinkMessage,
};
use rtnetlink::packet_route::route::{
    RouteAddress, RouteAttribute, RouteFlags, RouteHeader, RouteMessage, RouteProtocol, RouteScope,
    RouteType,
};
use rtnetlink::packet_route::rule::{RuleAction, RuleAttribute, RuleMessage};

use crate::model::{Family, Route, Rule};

/// kg's route protocol as the library spells it.
pub(crate) fn kilo_protocol() -> RouteProtocol {
    RouteProtocol::from(KILO_ROUTE_PROTOCOL)
}

/// A link as dumped.
#[derive(Clone, Debug)]
pub(crate) struct KLink {
    pub index: u32,
    pub name: String,
    pub mtu: u32,
    pub up: bool,
    pub kind: Option<InfoKind>,
    pub vxlan: Vec<InfoVxlan>,
}

/// The links of the netns, by index and by name.
#[derive(Clone, Debug, Default)]
pub(crate) struct Links {
    by_index: BTreeMap<u32, KLink>,
}

impl Links {
    pub fn new(links: impl IntoIterator<Item = KLink>) -> Self {
        Self {
            by_index: links.into_iter().map(|l| (l.index, l)).collect(),
        }
    }

    pub fn by_name(&self, name: &str) -> Option<&KLink> {
        self.by_index.values().find(|l| l.name == name)
    }

    pub fn name(&self, index: u32) -> String {
        self.by_index
            .get(&index)
            .map_or_else(|| format!("if{index}"), |l| l.name.clone())
    }
}

pub(crate) fn link(msg: &LinkMessage) -> KLink {
    let mut link = KLink {
        index: msg.header.index,
        name: String::new(),
        mtu: 0,
        up: msg.header.flags.contains(LinkFlags::Up),
        kind: None,
        vxlan: Vec::new(),
    };
    for attr in &msg.attributes {
        match attr {
            LinkAttribute::IfName(n) => link.name.clone_from(n),
            LinkAttribute::Mtu(m) => link.mtu = *m,
            LinkAttribute::LinkInfo(infos) => {
                for info in infos {
                    match info {
                        LinkInfo::Kind(k) => link.kind = Some(k.clone()),
                        LinkInfo::Data(InfoData::Vxlan(v)) => link.vxlan.clone_from(v),
                        _ => {}
                    }
                }
            }
            _ => {}
        }
    }
    link
}

fn ip_of(addr: &RouteAddress) -> Option<IpAddr> {
    match addr {
        RouteAddress::Inet(a) => Some(IpAddr::V4(*a)),
        RouteAddress::Inet6(a) => Some(IpAddr::V6(*a)),
        _ => None,
    }
}

/// The table a route or rule lives in (the attribute wins over the 8-bit header field).
fn table_of(header_table: u8, table_attr: Option<u32>) -> u32 {
    table_attr.unwrap_or(u32::from(header_table))
}

/// A dumped route, if it is kg's (protocol 107) and in one of kg's tables.
pub(crate) fn route(msg: &RouteMessage, links: &Links) -> Option<Route> {
    if msg.header.protocol != kilo_protocol() {
        return None;
    }
    any_route(msg, links)
}

/// A dumped route of another owner (not protocol 107), in the crate's shape.
pub(crate) fn foreign_route(msg: &RouteMessage, links: &Links) -> Option<Route> {
    if msg.header.protocol == kilo_protocol() {
        return None;
    }
    any_route(msg, links)
}

fn any_route(msg: &RouteMessage, links: &Links) -> Option<Route> {
    let unspecified = match msg.header.address_family {
        AddressFamily::Inet => IpAddr::V4(Ipv4Addr::UNSPECIFIED),
        AddressFamily::Inet6 => IpAddr::V6(Ipv6Addr::UNSPECIFIED),
        _ => return None,
    };
    let (mut dst, mut via, mut src, mut oif, mut table) = (unspecified, None, None, None, None);
    for attr in &msg.attributes {
        match attr {
            RouteAttribute::Destination(a) => dst = ip_of(a)?,
            RouteAttribute::Gateway(a) => via = ip_of(a),
            RouteAttribute::PrefSource(a) => src = ip_of(a),
            RouteAttribute::Oif(i) => oif = Some(*i),
            RouteAttribute::Table(t) => table = Some(*t),
            _ => {}
        }
    }
    Some(Route {
        table: table_of(msg.header.table, table),
        dst: IpNet::new(dst, msg.header.destination_prefix_length).ok()?,
        via,
        dev: oif.map_or_else(String::new, |i| links.name(i)),
        src,
        onlink: msg.header.flags.contains(RouteFlags::Onlink),
    })
}

/// The kernel's main routing table.
const MAIN_TABLE: u32 = 254;

/// `(metric, oif)` of an IPv4 default route in the main table that names an output interface.
pub(crate) fn default_route_v4(msg: &RouteMessage) -> Option<(u32, u32)> {
    if msg.header.address_family != AddressFamily::Inet || msg.header.destination_prefix_length != 0
    {
        return None;
    }
    let (mut oif, mut table, mut metric) = (None, None, 0);
    for attr in &msg.attributes {
        match attr {
            RouteAttribute::Oif(i) => oif = Some(*i),
            RouteAttribute::Table(t) => table = Some(*t),
            RouteAttribute::Priority(p) => metric = *p,
            _ => {}
        }
    }
    (table_of(msg.header.table, table) == MAIN_TABLE).then_some((metric, oif?))
}

/// The message that adds (or, for deletion, matches) one of kg's routes.
pub(crate) fn route_message(r: &Route, oif: Option<u32>, for_delete: bool) -> RouteMessage {
    let mut msg = RouteMessage::default();
    let h = &mut msg.header;
    h.address_family = AddressFamily::from(r.dst.addr());
    h.destination_prefix_length = r.dst.prefix_len();
    h.protocol = kilo_protocol();
    h.kind = RouteType::Unicast;
    h.scope = match (for_delete, r.via, r.dst) {
        (true, _, IpNet::V4(_)) => RouteScope::NoWhere,
        (false, None, IpNet::V4(_)) => RouteScope::Link,
        _ => RouteScope::Universe,
    };
    if r.onlink {
        h.flags.insert(RouteFlags::Onlink);
    }
    match u8::try_from(r.table) {
        Ok(t) => h.table = t,
        Err(_) => {
            h.table = RouteHeader::RT_TABLE_UNSPEC;
            msg.attributes.push(RouteAttribute::Table(r.table));
        }
    }
    msg.attributes
        .push(RouteAttribute::Destination(r.dst.addr().into()));
    if let Some(via) = r.via {
        msg.attributes.push(RouteAttribute::Gateway(via.into()));
    }
    if let Some(src) = r.src {
        msg.attributes.push(RouteAttribute::PrefSource(src.into()));
    }
    if let Some(oif) = oif {
        msg.attributes.push(RouteAttribute::Oif(oif));
    }
    msg
}

/// A dumped rule with its priority, if it is kg's (protocol 107).
pub(crate) fn rule(msg: &RuleMessage) -> Option<(Rule, Option<u32>)> {
    let family = match msg.header.family {
        AddressFamily::Inet => Family::V4,
        AddressFamily::Inet6 => Family::V6,
        _ => return None,
    };
    let (mut ours, mut src, mut dst, mut iif, mut table, mut prio) =
        (false, None, None, None, None, None);
    for attr in &msg.attributes {
        match attr {
            RuleAttribute::Protocol(p) => ours = *p == kilo_protocol(),
            RuleAttribute::Source(a) => src = IpNet::new(*a, msg.header.src_len).ok(),
            RuleAttribute::Destination(a) => dst = IpNet::new(*a, msg.header.dst_len).ok(),
            RuleAttribute::Iifname(n) => iif = Some(n.clone()),
            RuleAttribute::Table(t) => table = Some(*t),
            RuleAttribute::Priority(p) => prio = Some(*p),
            _ => {}
        }
    }
    ours.then(|| {
        let table = table_of(msg.header.table, table);
        (
            Rule {
                family,
                src,
                dst,
                iif,
                table,
            },
            prio,
        )
    })
}

/// The message that adds (or, with `priority`, deletes) one of kg's rules.
pub(crate) fn rule_message(r: &Rule, priority: Option<u32>) -> RuleMessage {
    let mut msg = RuleMessage::default();
    msg.header.family = match r.family {
        Family::V4 => AddressFamily::Inet,
        Family::V6 => AddressFamily::Inet6,
    };
    msg.header.action = RuleAction::ToTable;
    match u8::try_from(r.table) {
        Ok(t) => msg.header.table = t,
        Err(_) => msg.attributes.push(RuleAttribute::Table(r.table)),
    }
    msg.attributes
        .push(RuleAttribute::Protocol(kilo_protocol()));
    if let Some(src) = r.src {
        msg.header.src_len = src.prefix_len();
        msg.attributes.push(RuleAttribute::Source(src.addr()));
    }
    if let Some(dst) = r.dst {
        msg.header.dst_len = dst.prefix_len();
        msg.attributes.push(RuleAttribute::Destination(dst.addr()));
    }
    if let Some(iif) = &r.iif {
        msg.attributes.push(RuleAttribute::Iifname(iif.clone()));
    }
    if let Some(p) = priority {
        msg.attributes.push(RuleAttribute::Priority(p));
    }
    msg
}

/// A dumped address: link index and address with prefix.
pub(crate) fn address(msg: &AddressMessage) -> Option<(u32, IpNet)> {
    let mut local = None;
    let mut address = None;
    for attr in &msg.attributes {
        match attr {
            AddressAttribute::Local(a) => local = Some(*a),
            AddressAttribute::Address(a) => address = Some(*a),
            _ => {}
        }
    }
    let ip = local.or(address)?;
    Some((
        msg.header.index,
        IpNet::new(ip, msg.header.prefix_len).ok()?,
    ))
}

/// Whether an address is IPv6 link-local (the kernel's, never kg's).
pub(crate) fn is_link_local(net: &IpNet) -> bool {
    match net.addr() {
        IpAddr::V6(a) => a.segments()[0] & 0xffc0 == 0xfe80,
        IpAddr::V4(_) => false,
    }
}
