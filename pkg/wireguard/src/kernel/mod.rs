//! The kernel backend: creates the `wireguard` link over rtnetlink and configures it over
//! generic netlink, in the network namespace of the calling thread. Does I/O (netlink
//! sockets); the messages themselves are built in [`msg`].

pub mod msg;

use std::fmt::Debug;
use std::io;

use kilo_mesh::plan::wireguard::WireGuardPlan;
use kilo_mesh::types::IfName;
use netlink_packet_core::{
    NLM_F_ACK, NLM_F_CREATE, NLM_F_DUMP, NLM_F_EXCL, NLM_F_REQUEST, NetlinkDeserializable,
    NetlinkHeader, NetlinkMessage, NetlinkPayload, NetlinkSerializable,
};
use netlink_packet_generic::GenlMessage;
use netlink_packet_generic::ctrl::nlas::GenlCtrlAttrs;
use netlink_packet_generic::ctrl::{GenlCtrl, GenlCtrlCmd};
use netlink_packet_route::RouteNetlinkMessage;
use netlink_packet_route::link::{LinkAttribute, LinkMessage};
use netlink_packet_wireguard::WireguardMessage;
use netlink_sys::protocols::{NETLINK_GENERIC, NETLINK_ROUTE};
use netlink_sys::{Socket, SocketAddr};
use zeroize::Zeroize as _;
use zeroize::Zeroizing;

use crate::WireGuard;
use crate::diff::{Resolver, prepare, system_resolver};
use crate::error::WgError;
use crate::key::PrivateKey;
use crate::model::{ApplyReport, DeviceState};

/// The kernel backend.
pub struct Kernel {
    create: bool,
    resolver: Resolver,
}

impl Kernel {
    /// A backend that creates the link when it is missing if `create_interface` is set.
    #[must_use]
    pub fn new(create_interface: bool) -> Self {
        Self {
            create: create_interface,
            resolver: system_resolver,
        }
    }

    /// Replaces the DNS resolver used for `Host::Dns` endpoints.
    #[must_use]
    pub fn with_resolver(mut self, resolver: Resolver) -> Self {
        self.resolver = resolver;
        self
    }

    pub(crate) fn unsupported(interface: &IfName) -> WgError {
        WgError::KernelUnsupported {
            interface: interface.clone(),
        }
    }

    /// Makes sure the link exists; true when it was created now.
    fn ensure_link(&self, interface: &IfName) -> Result<bool, WgError> {
        let nl_err = |what| {
            move |source| WgError::Netlink {
                interface: interface.clone(),
                what,
                source,
            }
        };
        let mut rt = Nl::open(NETLINK_ROUTE).map_err(nl_err("opening an rtnetlink socket"))?;
        let mut get = LinkMessage::default();
        get.attributes
            .push(LinkAttribute::IfName(interface.as_str().to_owned()));
        let mut req = rt_message(RouteNetlinkMessage::GetLink(get));
        match rt.transact(&mut req, NLM_F_ACK) {
            Ok(_) => return Ok(false),
            Err(e) if e.raw_os_error() == Some(libc_enodev()) => {}
            Err(e) => return Err(nl_err("looking up the link")(e)),
        }
        if !self.create {
            return Err(WgError::NoKernelDevice {
                interface: interface.clone(),
            });
        }
        let mut req = rt_message(RouteNetlinkMessage::NewLink(msg::new_link(interface)));
        match rt.transact(&mut req, NLM_F_ACK | NLM_F_CREATE | NLM_F_EXCL) {
            Ok(_) => {
                tracing::info!(interface = %interface, "created WireGuard link");
                Ok(true)
            }
            Err(e) if e.raw_os_error() == Some(nix::libc::EEXIST) => Ok(false),
            Err(e) if e.raw_os_error() == Some(nix::libc::EOPNOTSUPP) => {
                Err(Self::unsupported(interface))
            }
            Err(e) => Err(nl_err("creating the link")(e)),
        }
    }
}

const fn libc_enodev() -> i32 {
    nix::libc::ENODEV
}

fn rt_message(m: RouteNetlinkMessage) -> NetlinkMessage<RouteNetlinkMessage> {
    NetlinkMessage::new(NetlinkHeader::default(), NetlinkPayload::from(m))
}

fn genl_message(m: WireguardMessage, family: u16) -> NetlinkMessage<GenlMessage<WireguardMessage>> {
    let mut g = GenlMessage::from_payload(m);
    g.set_resolved_family_id(family);
    NetlinkMessage::new(NetlinkHeader::default(), NetlinkPayload::from(g))
}

/// A generic netlink socket with the WireGuard family resolved.
struct Genl {
    nl: Nl,
    family: u16,
}

impl Genl {
    fn open(interface: &IfName) -> Result<Self, WgError> {
        let nl_err = |what| {
            move |source| WgError::Netlink {
                interface: interface.clone(),
                what,
                source,
            }
        };
        let mut nl =
            Nl::open(NETLINK_GENERIC).map_err(nl_err("opening a generic netlink socket"))?;
        let ctrl = GenlCtrl {
            cmd: GenlCtrlCmd::GetFamily,
            nlas: vec![GenlCtrlAttrs::FamilyName("wireguard".to_owned())],
        };
        let mut req = NetlinkMessage::new(
            NetlinkHeader::default(),
            NetlinkPayload::from(GenlMessage::from_payload(ctrl)),
        );
        let replies = match nl.transact(&mut req, NLM_F_ACK) {
            Ok(r) => r,
            Err(e) if e.raw_os_error() == Some(nix::libc::ENOENT) => {
                return Err(Kernel::unsupported(interface));
            }
            Err(e) => return Err(nl_err("resolving the wireguard netlink family")(e)),
        };
        let family = replies
            .iter()
            .flat_map(|r| r.payload.nlas.iter())
            .find_map(|a| match a {
                GenlCtrlAttrs::FamilyId(id) => Some(*id),
                _ => None,
            })
            .ok_or_else(|| {
                WgError::protocol(interface, "no id for the wireguard netlink family")
            })?;
        Ok(Self { nl, family })
    }

    fn get(&mut self, interface: &IfName) -> Result<DeviceState, WgError> {
        let mut req = genl_message(msg::get_device(interface), self.family);
        match self.nl.transact(&mut req, NLM_F_DUMP | NLM_F_ACK) {
            Ok(parts) => Ok(msg::parse_device(
                interface,
                parts.into_iter().map(|g| g.payload).collect(),
            )),
            Err(e) if e.raw_os_error() == Some(nix::libc::ENODEV) => Err(WgError::NoKernelDevice {
                interface: interface.clone(),
            }),
            Err(source) => Err(WgError::Netlink {
                interface: interface.clone(),
                what: "reading the device",
                source,
            }),
        }
    }
}

impl WireGuard for Kernel {
    fn apply(&mut self, plan: &WireGuardPlan, key: &PrivateKey) -> Result<ApplyReport, WgError> {
        let iface = &plan.interface;
        let created = self.ensure_link(iface)?;
        let mut genl = Genl::open(iface)?;
        let current = genl.get(iface)?;
        let (update, mut report) = prepare(&current, plan, key.public_key(), self.resolver);
        report.created = created;
        for m in msg::set_device(iface, &update, key) {
            let mut req = genl_message(m, genl.family);
            let sent = genl.nl.transact(&mut req, NLM_F_ACK);
            if let NetlinkPayload::InnerMessage(g) = &mut req.payload {
                msg::scrub(std::slice::from_mut(&mut g.payload));
            }
            sent.map_err(|source| WgError::Netlink {
                interface: iface.clone(),
                what: "configuring the device",
                source,
            })?;
        }
        Ok(report)
    }

    fn read(&self, interface: &IfName) -> Result<DeviceState, WgError> {
        Genl::open(interface)?.get(interface)
    }
}

/// A synchronous netlink socket in the calling thread's network namespace.
struct Nl {
    sock: Socket,
    seq: u32,
}

impl Nl {
    fn open(protocol: isize) -> io::Result<Self> {
        let mut sock = Socket::new(protocol)?;
        sock.bind_auto()?;
        sock.connect(&SocketAddr::new(0, 0))?;
        Ok(Self { sock, seq: 0 })
    }

    /// Sends `req` and collects the replies up to the ACK or the end of the dump. Buffers
    /// are zeroized (they may carry keys).
    fn transact<M>(&mut self, req: &mut NetlinkMessage<M>, flags: u16) -> io::Result<Vec<M>>
    where
        M: NetlinkSerializable + NetlinkDeserializable + Debug,
    {
        self.seq = self.seq.wrapping_add(1);
        req.header.flags = NLM_F_REQUEST | flags;
        req.header.sequence_number = self.seq;
        req.finalize();
        let mut out = Zeroizing::new(vec![0u8; req.buffer_len()]);
        req.serialize(&mut out);
        self.sock.send(&out, 0)?;
        let mut buf: Vec<u8> = Vec::with_capacity(256 * 1024);
        let result = self.receive(&mut buf);
        buf.zeroize();
        result
    }

    fn receive<M>(&mut self, buf: &mut Vec<u8>) -> io::Result<Vec<M>>
    where
        M: NetlinkDeserializable + Debug,
    {
        let bad = |why: String| io::Error::new(io::ErrorKind::InvalidData, why);
        let mut replies = Vec::new();
        loop {
            buf.clear();
            self.sock.recv(buf, 0)?;
            let mut off = 0;
            while off < buf.len() {
                let reply = NetlinkMessage::<M>::deserialize(&buf[off..])
                    .map_err(|e| bad(format!("decoding a netlink reply: {e}")))?;
                let len = reply.header.length as usize;
                if len == 0 {
                    return Err(bad("zero-length netlink message".into()));
                }
                off += (len + 3) & !3;
                if reply.header.sequence_number != self.seq {
                    continue;
                }
                match reply.payload {
                    NetlinkPayload::Error(e) => match e.code {
                        Some(code) => return Err(io::Error::from_raw_os_error(-code.get())),
                        None => return Ok(replies),
                    },
                    NetlinkPayload::Done(_) => return Ok(replies),
                    NetlinkPayload::InnerMessage(m) => replies.push(m),
                    _ => {}
                }
            }
        }
    }
}
