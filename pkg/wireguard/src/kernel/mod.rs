//! The kernel backend: creates the `wireguard` link over rtnetlink and configures it over
//! generic netlink, in the network namespace of the calling thread. Does I/O (netlink sockets,
//! through `kilo-nlsock`); the messages themselves are built in [`msg`].

pub mod msg;

use kilo_mesh::plan::wireguard::WireGuardPlan;
use kilo_mesh::types::IfName;
use kilo_nlsock::{Generic, Route, Socket};
use netlink_packet_core::{
    NLM_F_CREATE, NLM_F_DUMP, NLM_F_EXCL, NetlinkHeader, NetlinkMessage, NetlinkPayload,
};
use netlink_packet_generic::GenlMessage;
use netlink_packet_generic::ctrl::nlas::GenlCtrlAttrs;
use netlink_packet_generic::ctrl::{GenlCtrl, GenlCtrlCmd};
use netlink_packet_route::RouteNetlinkMessage;
use netlink_packet_route::link::{LinkAttribute, LinkMessage};
use netlink_packet_wireguard::WireguardMessage;
use nix::errno::Errno;

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
            move |e: kilo_nlsock::Error| WgError::Netlink {
                interface: interface.clone(),
                what,
                source: e.into(),
            }
        };
        let mut rt = Socket::<Route>::open().map_err(nl_err("opening an rtnetlink socket"))?;
        let mut get = LinkMessage::default();
        get.attributes
            .push(LinkAttribute::IfName(interface.as_str().to_owned()));
        match rt.request(RouteNetlinkMessage::GetLink(get), 0) {
            Ok(_) => return Ok(false),
            Err(e) if e.errno() == Some(Errno::ENODEV) => {}
            Err(e) => return Err(nl_err("looking up the link")(e)),
        }
        if !self.create {
            return Err(WgError::NoKernelDevice {
                interface: interface.clone(),
            });
        }
        let new = RouteNetlinkMessage::NewLink(msg::new_link(interface));
        match rt.request(new, NLM_F_CREATE | NLM_F_EXCL) {
            Ok(_) => {
                tracing::info!(interface = %interface, "created WireGuard link");
                Ok(true)
            }
            Err(e) if e.errno() == Some(Errno::EEXIST) => Ok(false),
            Err(e) if e.errno() == Some(Errno::EOPNOTSUPP) => Err(Self::unsupported(interface)),
            Err(e) => Err(nl_err("creating the link")(e)),
        }
    }
}

fn genl_message(m: WireguardMessage, family: u16) -> NetlinkMessage<GenlMessage<WireguardMessage>> {
    let mut g = GenlMessage::from_payload(m);
    g.set_resolved_family_id(family);
    NetlinkMessage::new(NetlinkHeader::default(), NetlinkPayload::from(g))
}

/// A generic netlink socket with the WireGuard family resolved.
struct Genl {
    nl: Socket<Generic>,
    family: u16,
}

impl Genl {
    fn open(interface: &IfName) -> Result<Self, WgError> {
        let nl_err = |what| {
            move |e: kilo_nlsock::Error| WgError::Netlink {
                interface: interface.clone(),
                what,
                source: e.into(),
            }
        };
        let mut nl =
            Socket::<Generic>::open().map_err(nl_err("opening a generic netlink socket"))?;
        let ctrl = GenlCtrl {
            cmd: GenlCtrlCmd::GetFamily,
            nlas: vec![GenlCtrlAttrs::FamilyName("wireguard".to_owned())],
        };
        let replies = match nl.request(GenlMessage::from_payload(ctrl), 0) {
            Ok(r) => r,
            Err(e) if e.errno() == Some(Errno::ENOENT) => {
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
        match self.nl.transact(&mut req, NLM_F_DUMP) {
            Ok(parts) => Ok(msg::parse_device(
                interface,
                parts.into_iter().map(|g| g.payload).collect(),
            )),
            Err(e) if e.errno() == Some(Errno::ENODEV) => Err(WgError::NoKernelDevice {
                interface: interface.clone(),
            }),
            Err(source) => Err(WgError::Netlink {
                interface: interface.clone(),
                what: "reading the device",
                source: source.into(),
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
            let sent = genl.nl.transact(&mut req, 0);
            if let NetlinkPayload::InnerMessage(g) = &mut req.payload {
                msg::scrub(std::slice::from_mut(&mut g.payload));
            }
            sent.map_err(|source| WgError::Netlink {
                interface: iface.clone(),
                what: "configuring the device",
                source: source.into(),
            })?;
        }
        Ok(report)
    }

    fn read(&self, interface: &IfName) -> Result<DeviceState, WgError> {
        Genl::open(interface)?.get(interface)
    }
}
