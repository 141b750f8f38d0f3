//! The rtnetlink implementation of [`Network`]. Does I/O (netlink sockets, tokio).

mod links;
mod monitor;
mod parse;
mod state;

use std::path::{Path, PathBuf};

use futures::{Stream, StreamExt, TryStreamExt};
use kilo_mesh::plan::network::{LinkNames, NetworkPlan};
use kilo_mesh::types::TunnelKind;
use rtnetlink::packet_core::{NLM_F_ACK, NLM_F_REQUEST, NetlinkMessage, NetlinkPayload};
use rtnetlink::packet_route::{AddressFamily, RouteNetlinkMessage};
use rtnetlink::{Handle, IpVersion};
use tokio::sync::mpsc;

use crate::model::Desired;
use crate::{ApplyReport, InterfaceAddress, NetlinkError, Network, NetworkEvent};
use parse::Links;

pub use links::{VXLAN_PORT, VXLAN_VNI};

/// The kernel adapter: one rtnetlink connection, in the current or a given network namespace.
#[derive(Clone, Debug)]
pub struct RtNetlink {
    handle: Handle,
    netns: Option<PathBuf>,
}

impl RtNetlink {
    /// Connects in the current network namespace (production). Must be called inside a tokio
    /// runtime; the connection runs as a task on it.
    pub fn new() -> Result<Self, NetlinkError> {
        let (handle, _) = crate::netns::connect(None, &[])?;
        Ok(Self {
            handle,
            netns: None,
        })
    }

    /// Connects inside the network namespace at `path` (e.g. `/run/netns/knl1`). The socket is
    /// created by a dedicated thread that entered the netns, so it stays there while the
    /// caller keeps running in its own netns.
    pub fn in_netns(path: impl AsRef<Path>) -> Result<Self, NetlinkError> {
        let path = path.as_ref().to_owned();
        let (handle, _) = crate::netns::connect(Some(&path), &[])?;
        Ok(Self {
            handle,
            netns: Some(path),
        })
    }

    /// Sends one request and waits for its acknowledgement.
    async fn request(
        &self,
        message: RouteNetlinkMessage,
        flags: u16,
    ) -> Result<(), rtnetlink::Error> {
        let mut req = NetlinkMessage::from(message);
        req.header.flags = NLM_F_REQUEST | NLM_F_ACK | flags;
        let mut responses = self.handle.clone().request(req)?;
        while let Some(msg) = responses.next().await {
            if let NetlinkPayload::Error(e) = msg.payload
                && e.code.is_some()
            {
                return Err(rtnetlink::Error::NetlinkError(e));
            }
        }
        Ok(())
    }

    async fn links(&self) -> Result<Links, NetlinkError> {
        let msgs = collect(self.handle.link().get().execute(), "listing links").await?;
        Ok(Links::new(msgs.iter().map(parse::link)))
    }

    /// The routes of both families that `keep` maps to something, kept as they arrive: a node
    /// with thousands of routes never holds the kernel's messages for all of them at once.
    async fn dump_routes<T>(
        &self,
        mut keep: impl FnMut(&rtnetlink::packet_route::route::RouteMessage) -> Option<T>,
    ) -> Result<Vec<T>, NetlinkError> {
        let mut kept = Vec::new();
        for family in [AddressFamily::Inet, AddressFamily::Inet6] {
            let mut msg = rtnetlink::RouteMessageBuilder::<std::net::IpAddr>::new().build();
            msg.header.address_family = family;
            let mut dump = std::pin::pin!(self.handle.route().get(msg).execute());
            while let Some(m) = dump.next().await {
                let m = m.map_err(|e| NetlinkError::kernel("listing routes", e))?;
                kept.extend(keep(&m));
            }
        }
        Ok(kept)
    }

    async fn dump_rules(
        &self,
    ) -> Result<Vec<rtnetlink::packet_route::rule::RuleMessage>, NetlinkError> {
        let mut all = Vec::new();
        for version in [IpVersion::V4, IpVersion::V6] {
            all.extend(collect(self.handle.rule().get(version).execute(), "listing rules").await?);
        }
        Ok(all)
    }

    async fn dump_addresses(
        &self,
    ) -> Result<Vec<rtnetlink::packet_route::address::AddressMessage>, NetlinkError> {
        collect(self.handle.address().get().execute(), "listing addresses").await
    }
}

/// Collects a dump, attaching `context` to a failure.
async fn collect<T>(
    stream: impl Stream<Item = Result<T, rtnetlink::Error>>,
    context: &str,
) -> Result<Vec<T>, NetlinkError> {
    stream
        .try_collect()
        .await
        .map_err(|e| NetlinkError::kernel(context, e))
}

impl Network for RtNetlink {
    async fn apply(&mut self, plan: &NetworkPlan) -> Result<ApplyReport, NetlinkError> {
        let want = Desired::from_plan(plan)?;
        let mut report = ApplyReport::default();
        let links = self.links().await?;
        self.apply_wireguard_link(plan, &links, &mut report).await?;
        self.apply_tunnel(plan, &want, &links, &mut report).await?;
        let links = self.links().await?;
        self.apply_fdb(plan, &links, &mut report).await?;
        self.apply_addresses(plan, &want, &links, &mut report)
            .await?;
        let adopt = (plan.tunnel == Some(TunnelKind::Flannel)).then(|| plan.links.tunnel.as_str());
        self.apply_routes(&want, &links, adopt, &mut report).await?;
        self.apply_rules(&want, &mut report).await?;
        tracing::debug!(changes = report.changes.len(), "applied network plan");
        Ok(report)
    }

    async fn clean_up(&mut self, names: &LinkNames) -> Result<ApplyReport, NetlinkError> {
        let mut report = ApplyReport::default();
        let links = self.links().await?;
        let empty = Desired::default();
        self.apply_routes(&empty, &links, None, &mut report).await?;
        self.apply_rules(&empty, &mut report).await?;
        self.remove_owned_addresses(names, &links, &mut report)
            .await?;
        self.delete_vxlan(&links, &mut report).await?;
        Ok(report)
    }

    async fn delete_link(&mut self, name: &str) -> Result<bool, NetlinkError> {
        let links = self.links().await?;
        let Some(link) = links.by_name(name) else {
            return Ok(false);
        };
        self.del_link(link.index, name).await?;
        Ok(true)
    }

    async fn addresses(&mut self) -> Result<Vec<InterfaceAddress>, NetlinkError> {
        let links = self.links().await?;
        let mut out: Vec<InterfaceAddress> = self
            .dump_addresses()
            .await?
            .iter()
            .filter_map(parse::address)
            .map(|(index, address)| InterfaceAddress {
                interface: links.name(index),
                index,
                address,
            })
            .collect();
        out.sort();
        Ok(out)
    }

    async fn mtu(&mut self, interface: &str) -> Result<u32, NetlinkError> {
        self.links()
            .await?
            .by_name(interface)
            .map(|l| l.mtu)
            .ok_or_else(|| NetlinkError::LinkNotFound(interface.to_owned()))
    }

    async fn default_interface(&mut self) -> Result<Option<String>, NetlinkError> {
        let links = self.links().await?;
        let best = self
            .dump_routes(parse::default_route_v4)
            .await?
            .into_iter()
            .min_by_key(|(metric, _)| *metric);
        Ok(best.map(|(_, oif)| links.name(oif)))
    }

    fn monitor(&mut self) -> Result<mpsc::Receiver<NetworkEvent>, NetlinkError> {
        monitor::spawn(self.netns.as_deref())
    }
}

/// Whether a rule carries kg's protocol.
pub(crate) fn is_kilo_rule(rule: &rtnetlink::packet_route::rule::RuleMessage) -> bool {
    parse::rule(rule).is_some()
}

/// The link index and address of an address message.
pub(crate) fn address_of(
    msg: &rtnetlink::packet_route::address::AddressMessage,
) -> Option<(u32, ipnet::IpNet)> {
    parse::address(msg)
}
