//! The plugin's rtnetlink requests (netlink-packet-route messages over `kilo-nlsock`'s
//! synchronous socket): links, addresses and routes of the network namespace the socket was
//! opened in. Does I/O.

use std::net::IpAddr;
use std::os::fd::RawFd;

use ipnet::IpNet;
use kilo_nlsock::{Route, Socket};
use netlink_packet_core::{NLM_F_CREATE, NLM_F_DUMP, NLM_F_ECHO, NLM_F_EXCL};
use netlink_packet_route::AddressFamily;
use netlink_packet_route::RouteNetlinkMessage as Msg;
use netlink_packet_route::address::{AddressAttribute, AddressFlags, AddressMessage};
use netlink_packet_route::link::{
    AfSpecInet6, AfSpecUnspec, In6AddrGenMode, InfoBridgePort, InfoData, InfoKind, InfoPortData,
    InfoPortKind, InfoVeth, LinkAttribute, LinkFlags, LinkInfo, LinkMessage,
};
use netlink_packet_route::route::{
    RouteAddress, RouteAttribute, RouteMessage, RouteProtocol, RouteScope, RouteType,
};

/// A netlink failure: the kernel's errno or a local socket, decoding or sequence problem.
pub use kilo_nlsock::Error as NlError;

/// The receive buffer. The largest reply the plugin reads is one link (a bridge or a veth,
/// under 4 KiB); dump datagrams are sized by the kernel to the reader's buffer. The socket
/// clears its whole buffer after every exchange, so a buffer larger than needed costs time
/// on every request (128 KiB, the socket's default, was ~0.5 ms of an ADD).
const RECV_BUFFER: usize = 16 * 1024;

/// Basic facts about a link.
#[derive(Debug, Clone, Default)]
pub struct Link {
    /// Interface index.
    pub index: u32,
    /// MAC address as `aa:bb:..`.
    pub mac: String,
    /// MTU.
    pub mtu: u32,
    /// Index of the controller (bridge), if any.
    pub master: Option<u32>,
    /// Whether the link is administratively up.
    pub up: bool,
}

/// A route (main table) as read back.
#[derive(Debug, Clone, PartialEq)]
pub struct RouteEntry {
    /// Destination.
    pub dst: IpNet,
    /// Gateway.
    pub gw: Option<IpAddr>,
    /// Output interface.
    pub oif: Option<u32>,
}

/// A synchronous rtnetlink socket, bound to the netns it was created in.
pub struct Netlink {
    sock: Socket<Route>,
}

/// Formats a MAC address.
pub fn fmt_mac(b: &[u8]) -> String {
    b.iter()
        .map(|x| format!("{x:02x}"))
        .collect::<Vec<_>>()
        .join(":")
}

impl Netlink {
    /// Opens a socket in the calling thread's network namespace.
    pub fn new() -> Result<Self, NlError> {
        Ok(Self {
            sock: Socket::with_buffer(RECV_BUFFER)?,
        })
    }

    fn request(&mut self, msg: Msg, flags: u16) -> Result<Vec<Msg>, NlError> {
        self.sock.request(msg, flags)
    }

    fn ack(&mut self, msg: Msg, flags: u16) -> Result<(), NlError> {
        self.request(msg, flags).map(|_| ())
    }

    /// Looks a link up by name; `None` when it does not exist.
    pub fn link(&mut self, name: &str) -> Result<Option<Link>, NlError> {
        let mut m = LinkMessage::default();
        m.attributes.push(LinkAttribute::IfName(name.to_owned()));
        match self.request(Msg::GetLink(m), 0) {
            Ok(replies) => Ok(replies.into_iter().find_map(|r| match r {
                Msg::NewLink(l) => Some(to_link(&l)),
                _ => None,
            })),
            Err(NlError::Kernel(nix::errno::Errno::ENODEV)) => Ok(None),
            Err(e) => Err(e),
        }
    }

    /// Creates an up bridge with a fixed MAC (so it never changes when ports join).
    pub fn add_bridge(&mut self, name: &str, mtu: u32, mac: [u8; 6]) -> Result<(), NlError> {
        let mut m = LinkMessage::default();
        m.header.flags = LinkFlags::Up;
        m.header.change_mask = LinkFlags::Up;
        m.attributes.push(LinkAttribute::IfName(name.to_owned()));
        m.attributes.push(LinkAttribute::Address(mac.to_vec()));
        if mtu > 0 {
            m.attributes.push(LinkAttribute::Mtu(mtu));
        }
        m.attributes
            .push(LinkAttribute::LinkInfo(vec![LinkInfo::Kind(
                InfoKind::Bridge,
            )]));
        self.ack(Msg::NewLink(m), NLM_F_CREATE | NLM_F_EXCL)
    }

    /// Sets a link up.
    pub fn set_up(&mut self, index: u32) -> Result<(), NlError> {
        let mut m = LinkMessage::default();
        m.header.index = index;
        m.header.flags = LinkFlags::Up;
        m.header.change_mask = LinkFlags::Up;
        self.ack(Msg::SetLink(m), 0)
    }

    /// Creates a veth pair: `host` up and attached to `master`, `peer` (down) in `netns_fd`.
    /// Asks the kernel to echo the new host link (`NLM_F_ECHO`, Linux 6.2+), whose `IFLA_LINK`
    /// is the peer's index in its netns: returns `(host index, peer index)` when the echo came,
    /// `None` when the kernel did not echo (the caller looks them up).
    pub fn add_veth(&mut self, v: &VethSpec<'_>) -> Result<Option<(u32, u32)>, NlError> {
        // The peer cannot be created up (ENOTCONN): it is set up from inside its netns.
        let mut peer = LinkMessage::default();
        peer.attributes
            .push(LinkAttribute::IfName(v.peer.to_owned()));
        peer.attributes
            .push(LinkAttribute::Address(v.peer_mac.to_vec()));
        peer.attributes.push(LinkAttribute::NetNsFd(v.netns_fd));
        let mut m = LinkMessage::default();
        m.header.flags = LinkFlags::Up;
        m.header.change_mask = LinkFlags::Up;
        m.attributes.push(LinkAttribute::IfName(v.host.to_owned()));
        m.attributes
            .push(LinkAttribute::Address(v.host_mac.to_vec()));
        if v.mtu > 0 {
            m.attributes.push(LinkAttribute::Mtu(v.mtu));
            peer.attributes.push(LinkAttribute::Mtu(v.mtu));
        }
        // One queue each way on both ends, which is what a veth uses unless told otherwise:
        // asked for at creation, the kernel allocates one instead of one per CPU and then
        // cutting the count down, which costs two RCU grace periods (`veth_init_queues`).
        for link in [&mut m, &mut peer] {
            link.attributes.push(LinkAttribute::NumTxQueues(1));
            link.attributes.push(LinkAttribute::NumRxQueues(1));
        }
        m.attributes.push(LinkAttribute::Controller(v.master));
        m.attributes.push(LinkAttribute::LinkInfo(vec![
            LinkInfo::Kind(InfoKind::Veth),
            LinkInfo::Data(InfoData::Veth(InfoVeth::Peer(peer))),
        ]));
        let replies = self.request(Msg::NewLink(m), NLM_F_CREATE | NLM_F_EXCL | NLM_F_ECHO)?;
        Ok(replies.iter().find_map(|r| match r {
            Msg::NewLink(l) if has_name(l, v.host) => {
                let peer = l.attributes.iter().find_map(|a| match a {
                    LinkAttribute::Link(i) => Some(*i),
                    _ => None,
                })?;
                Some((l.header.index, peer))
            }
            _ => None,
        }))
    }

    /// Configures a new bridge port in one request: hairpin mode when asked, and when `no_ll`
    /// no IPv6 link-local address of its own (`IFLA_INET6_ADDR_GEN_MODE` none; a bridge port
    /// needs no address, and without one it sends no DAD, router solicitation or MLD from
    /// it, whose leftovers made its delete wait for a second RCU barrier).
    pub fn set_port(&mut self, index: u32, hairpin: bool, no_ll: bool) -> Result<(), NlError> {
        let mut m = LinkMessage::default();
        m.header.index = index;
        if hairpin {
            m.attributes.push(LinkAttribute::LinkInfo(vec![
                LinkInfo::PortKind(InfoPortKind::Bridge),
                LinkInfo::PortData(InfoPortData::BridgePort(vec![InfoBridgePort::HairpinMode(
                    true,
                )])),
            ]));
        }
        if no_ll {
            m.attributes
                .push(LinkAttribute::AfSpecUnspec(vec![AfSpecUnspec::Inet6(
                    vec![AfSpecInet6::AddrGenMode(In6AddrGenMode::None)],
                )]));
        }
        if m.attributes.is_empty() {
            return Ok(());
        }
        self.ack(Msg::NewLink(m), 0)
    }

    /// Deletes a link by name (one request: the kernel looks the name up); `false` when there
    /// is no such link.
    pub fn del_link_named(&mut self, name: &str) -> Result<bool, NlError> {
        let mut m = LinkMessage::default();
        m.attributes.push(LinkAttribute::IfName(name.to_owned()));
        match self.ack(Msg::DelLink(m), 0) {
            Ok(()) => Ok(true),
            Err(NlError::Kernel(nix::errno::Errno::ENODEV)) => Ok(false),
            Err(e) => Err(e),
        }
    }

    /// Adds an address (IPv6 without DAD; IPv4 with its broadcast address).
    pub fn add_addr(&mut self, index: u32, addr: IpNet) -> Result<(), NlError> {
        let mut m = AddressMessage::default();
        m.header.index = index;
        m.header.prefix_len = addr.prefix_len();
        m.attributes.push(AddressAttribute::Local(addr.addr()));
        m.attributes.push(AddressAttribute::Address(addr.addr()));
        match addr {
            IpNet::V4(a) => {
                m.header.family = AddressFamily::Inet;
                m.attributes
                    .push(AddressAttribute::Broadcast(a.broadcast()));
            }
            IpNet::V6(_) => {
                m.header.family = AddressFamily::Inet6;
                m.attributes
                    .push(AddressAttribute::Flags(AddressFlags::Nodad));
            }
        }
        self.ack(Msg::NewAddress(m), NLM_F_CREATE | NLM_F_EXCL)
    }

    /// Global-scope addresses of a link.
    pub fn addrs(&mut self, index: u32) -> Result<Vec<IpNet>, NlError> {
        let replies = self.request(Msg::GetAddress(AddressMessage::default()), NLM_F_DUMP)?;
        let mut out = Vec::new();
        for r in replies {
            let Msg::NewAddress(a) = r else { continue };
            if a.header.index != index {
                continue;
            }
            let ip = a.attributes.iter().find_map(|at| match at {
                AddressAttribute::Address(ip) => Some(*ip),
                _ => None,
            });
            if let Some(net) = ip.and_then(|ip| IpNet::new(ip, a.header.prefix_len).ok()) {
                out.push(net);
            }
        }
        Ok(out)
    }

    /// Adds a main-table route out of `index`.
    pub fn add_route(&mut self, index: u32, dst: IpNet, gw: Option<IpAddr>) -> Result<(), NlError> {
        let mut m = RouteMessage::default();
        m.header.address_family = if dst.addr().is_ipv4() {
            AddressFamily::Inet
        } else {
            AddressFamily::Inet6
        };
        m.header.destination_prefix_length = dst.prefix_len();
        m.header.table = 254;
        m.header.protocol = RouteProtocol::Boot;
        m.header.kind = RouteType::Unicast;
        m.header.scope = if gw.is_some() {
            RouteScope::Universe
        } else {
            RouteScope::Link
        };
        if dst.prefix_len() > 0 {
            m.attributes
                .push(RouteAttribute::Destination(route_addr(dst.network())));
        }
        if let Some(gw) = gw {
            m.attributes.push(RouteAttribute::Gateway(route_addr(gw)));
        }
        m.attributes.push(RouteAttribute::Oif(index));
        self.ack(Msg::NewRoute(m), NLM_F_CREATE | NLM_F_EXCL)
    }

    /// Main-table routes of one family.
    pub fn routes(&mut self, v4: bool) -> Result<Vec<RouteEntry>, NlError> {
        let mut q = RouteMessage::default();
        q.header.address_family = if v4 {
            AddressFamily::Inet
        } else {
            AddressFamily::Inet6
        };
        let replies = self.request(Msg::GetRoute(q), NLM_F_DUMP)?;
        Ok(replies
            .into_iter()
            .filter_map(|r| match r {
                Msg::NewRoute(r) if r.header.table == 254 => Some(to_route(&r, v4)),
                _ => None,
            })
            .collect())
    }
}

/// What [`Netlink::add_veth`] creates.
pub struct VethSpec<'a> {
    /// Host-side name.
    pub host: &'a str,
    /// Container-side name.
    pub peer: &'a str,
    /// Host-side MAC.
    pub host_mac: [u8; 6],
    /// Container-side MAC.
    pub peer_mac: [u8; 6],
    /// MTU (0: default).
    pub mtu: u32,
    /// Bridge index.
    pub master: u32,
    /// Container netns fd.
    pub netns_fd: RawFd,
}

fn route_addr(ip: IpAddr) -> RouteAddress {
    match ip {
        IpAddr::V4(a) => RouteAddress::Inet(a),
        IpAddr::V6(a) => RouteAddress::Inet6(a),
    }
}

fn from_route_addr(a: &RouteAddress) -> Option<IpAddr> {
    match a {
        RouteAddress::Inet(a) => Some(IpAddr::V4(*a)),
        RouteAddress::Inet6(a) => Some(IpAddr::V6(*a)),
        _ => None,
    }
}

fn to_route(r: &RouteMessage, v4: bool) -> RouteEntry {
    let mut e = RouteEntry {
        dst: if v4 {
            IpNet::V4(Default::default())
        } else {
            IpNet::V6(Default::default())
        },
        gw: None,
        oif: None,
    };
    for a in &r.attributes {
        match a {
            RouteAttribute::Destination(d) => {
                if let Some(n) = from_route_addr(d)
                    .and_then(|ip| IpNet::new(ip, r.header.destination_prefix_length).ok())
                {
                    e.dst = n;
                }
            }
            RouteAttribute::Gateway(g) => e.gw = from_route_addr(g),
            RouteAttribute::Oif(i) => e.oif = Some(*i),
            _ => {}
        }
    }
    e
}

fn has_name(l: &LinkMessage, name: &str) -> bool {
    l.attributes
        .iter()
        .any(|a| matches!(a, LinkAttribute::IfName(n) if n == name))
}

fn to_link(l: &LinkMessage) -> Link {
    let mut out = Link {
        index: l.header.index,
        up: l.header.flags.contains(LinkFlags::Up),
        ..Default::default()
    };
    for a in &l.attributes {
        match a {
            LinkAttribute::Address(mac) => out.mac = fmt_mac(mac),
            LinkAttribute::Mtu(m) => out.mtu = *m,
            LinkAttribute::Controller(c) => out.master = Some(*c),
            _ => {}
        }
    }
    out
}
