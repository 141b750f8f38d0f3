//! Links: the WireGuard link's MTU and state, the encapsulation tunnel (VXLAN or IPIP, or
//! flannel's `flannel.1`, only checked for) and the VXLAN flood entries. Does I/O.

use std::net::IpAddr;

use kilo_mesh::plan::network::NetworkPlan;
use kilo_mesh::types::TunnelKind;
use rtnetlink::packet_core::{NLM_F_APPEND, NLM_F_CREATE};
use rtnetlink::packet_route::link::{InfoKind, InfoVxlan, LinkMessage};
use rtnetlink::packet_route::neighbour::{
    NeighbourAddress, NeighbourAttribute, NeighbourFlags, NeighbourMessage, NeighbourState,
};
use rtnetlink::packet_route::{AddressFamily, RouteNetlinkMessage};
use rtnetlink::{LinkIpIp, LinkUnspec, LinkVxlan};

use super::RtNetlink;
use super::parse::{self, KLink, Links};
use crate::diff::diff_sets;
use crate::error::errno;
use crate::model::{Desired, Family};
use crate::{ApplyReport, NetlinkError, Object, Op};

/// The VXLAN network identifier of `kilo.vxlan` (mirrors table 1107).
pub const VXLAN_VNI: u32 = 1107;
/// The UDP port of `kilo.vxlan` (IANA's VXLAN port; flannel and Cilium default to 8472, so
/// the two do not collide).
pub const VXLAN_PORT: u16 = 4789;

const ZERO_MAC: [u8; 6] = [0; 6];
const EOPNOTSUPP: i32 = 95;
const EEXIST: i32 = 17;

impl RtNetlink {
    pub(super) async fn apply_wireguard_link(
        &self,
        plan: &NetworkPlan,
        links: &Links,
        report: &mut ApplyReport,
    ) -> Result<(), NetlinkError> {
        let name = plan.links.wireguard.to_string();
        let link = links
            .by_name(&name)
            .ok_or_else(|| NetlinkError::LinkNotFound(name.clone()))?;
        if link.mtu != plan.mtu {
            let msg = LinkUnspec::new_with_index(link.index).mtu(plan.mtu).build();
            self.set_link(msg, format!("setting mtu {} on {name}", plan.mtu))
                .await?;
            report.push(Op::Set, Object::Link, format!("{name} mtu {}", plan.mtu));
        }
        if link.up != plan.wireguard_up {
            let builder = LinkUnspec::new_with_index(link.index);
            let (msg, state) = if plan.wireguard_up {
                (builder.up().build(), "up")
            } else {
                (builder.down().build(), "down")
            };
            self.set_link(msg, format!("setting {name} {state}"))
                .await?;
            report.push(Op::Set, Object::Link, format!("{name} {state}"));
        }
        Ok(())
    }

    async fn set_link(&self, msg: LinkMessage, context: String) -> Result<(), NetlinkError> {
        self.request(RouteNetlinkMessage::SetLink(msg), 0)
            .await
            .map_err(|e| NetlinkError::kernel(context, e))
    }

    pub(super) async fn apply_tunnel(
        &self,
        plan: &NetworkPlan,
        want: &Desired,
        links: &Links,
        report: &mut ApplyReport,
    ) -> Result<(), NetlinkError> {
        match plan.tunnel {
            None => self.delete_vxlan(links, report).await,
            Some(TunnelKind::Ipip | TunnelKind::Cilium) => {
                self.delete_vxlan(links, report).await?;
                self.ensure_ipip(plan, links, report).await
            }
            Some(TunnelKind::Flannel) => {
                self.delete_vxlan(links, report).await?;
                // flannel's device: adopted as it is, never created, configured or deleted.
                let name = plan.links.tunnel.to_string();
                match links.by_name(&name) {
                    Some(_) => Ok(()),
                    None => Err(NetlinkError::AdoptedLinkMissing(name)),
                }
            }
            Some(TunnelKind::Vxlan) => self.ensure_vxlan(plan, want, links, report).await,
        }
    }

    /// Deletes `kilo.vxlan` if it exists and is a VXLAN device.
    pub(super) async fn delete_vxlan(
        &self,
        links: &Links,
        report: &mut ApplyReport,
    ) -> Result<(), NetlinkError> {
        let name = TunnelKind::Vxlan.device().to_string();
        let Some(link) = links.by_name(&name) else {
            return Ok(());
        };
        if link.kind != Some(InfoKind::Vxlan) {
            return Ok(());
        }
        self.del_link(link.index, &name).await?;
        report.push(Op::Delete, Object::Link, name);
        Ok(())
    }

    /// Deletes the link with this index (`name` is for the error message).
    pub(super) async fn del_link(&self, index: u32, name: &str) -> Result<(), NetlinkError> {
        self.handle
            .link()
            .del(index)
            .execute()
            .await
            .map_err(|e| NetlinkError::kernel(format!("deleting link {name}"), e))
    }

    async fn ensure_ipip(
        &self,
        plan: &NetworkPlan,
        links: &Links,
        report: &mut ApplyReport,
    ) -> Result<(), NetlinkError> {
        let name = plan.links.tunnel.to_string();
        let existing = match links.by_name(&name) {
            Some(link) => link.clone(),
            None => {
                let msg = LinkIpIp::new(&name).up().build();
                match self
                    .request(RouteNetlinkMessage::NewLink(msg), NLM_F_CREATE)
                    .await
                {
                    Ok(()) => report.push(Op::Add, Object::Link, &name),
                    // Loading the module creates the fallback `tunl0` first.
                    Err(e) if errno(&e) == Some(EEXIST) => {}
                    Err(e) if errno(&e) == Some(EOPNOTSUPP) => {
                        return Err(NetlinkError::TunnelUnsupported {
                            kind: "ipip",
                            name,
                            module: "ipip",
                        });
                    }
                    Err(e) => {
                        return Err(NetlinkError::kernel(
                            format!("creating ipip link {name}"),
                            e,
                        ));
                    }
                }
                let links = self.links().await?;
                links
                    .by_name(&name)
                    .cloned()
                    .ok_or_else(|| NetlinkError::LinkNotFound(name.clone()))?
            }
        };
        if existing.kind != Some(InfoKind::IpIp) {
            return Err(NetlinkError::ForeignTunnel { name, kind: "ipip" });
        }
        self.ensure_up(&existing, report).await
    }

    async fn ensure_up(&self, link: &KLink, report: &mut ApplyReport) -> Result<(), NetlinkError> {
        if !link.up {
            let msg = LinkUnspec::new_with_index(link.index).up().build();
            self.set_link(msg, format!("setting {} up", link.name))
                .await?;
            report.push(Op::Set, Object::Link, format!("{} up", link.name));
        }
        Ok(())
    }

    async fn ensure_vxlan(
        &self,
        plan: &NetworkPlan,
        want: &Desired,
        links: &Links,
        report: &mut ApplyReport,
    ) -> Result<(), NetlinkError> {
        let name = plan.links.tunnel.to_string();
        let private = match &plan.links.private {
            Some(p) => Some(
                links
                    .by_name(p.as_str())
                    .ok_or_else(|| NetlinkError::LinkNotFound(p.to_string()))?
                    .index,
            ),
            None => None,
        };
        let local = self.vxlan_local(plan, want, private).await?;
        let wanted = vxlan_attributes(local, private);
        if let Some(link) = links.by_name(&name) {
            if link.kind != Some(InfoKind::Vxlan) {
                return Err(NetlinkError::ForeignTunnel {
                    name,
                    kind: "vxlan",
                });
            }
            if wanted.iter().all(|a| link.vxlan.contains(a)) {
                return self.ensure_up(link, report).await;
            }
            self.delete_vxlan(links, report).await?;
        }
        let mut builder = LinkVxlan::new(&name, VXLAN_VNI);
        for attr in wanted
            .into_iter()
            .filter(|a| !matches!(a, InfoVxlan::Id(_)))
        {
            builder = builder.append_info_data(attr);
        }
        match self
            .request(
                RouteNetlinkMessage::NewLink(builder.up().build()),
                NLM_F_CREATE,
            )
            .await
        {
            Ok(()) => {
                report.push(
                    Op::Add,
                    Object::Link,
                    format!("{name} vxlan id {VXLAN_VNI} local {local} dstport {VXLAN_PORT}"),
                );
                Ok(())
            }
            Err(e) if errno(&e) == Some(EOPNOTSUPP) => Err(NetlinkError::TunnelUnsupported {
                kind: "vxlan",
                name,
                module: "vxlan",
            }),
            Err(e) => Err(NetlinkError::kernel(
                format!("creating vxlan link {name}"),
                e,
            )),
        }
    }

    /// The underlay source of the VXLAN device: a tunnel route's `src` of the peers' family,
    /// else an address of that family on the private interface (preferring one whose subnet
    /// holds a peer).
    async fn vxlan_local(
        &self,
        plan: &NetworkPlan,
        want: &Desired,
        private: Option<u32>,
    ) -> Result<IpAddr, NetlinkError> {
        let tunnel = plan.links.tunnel.to_string();
        let family = plan.tunnel_peers.first().map(|ip| Family::of(*ip));
        let from_route = want
            .routes
            .iter()
            .filter(|r| r.dev == tunnel)
            .filter_map(|r| r.src)
            .find(|src| family.is_none_or(|f| f == Family::of(*src)));
        if let Some(src) = from_route {
            return Ok(src);
        }
        let family = family.unwrap_or(Family::V4);
        let mut candidates: Vec<_> = self
            .dump_addresses()
            .await?
            .iter()
            .filter_map(parse::address)
            .filter(|(index, net)| Some(*index) == private && Family::of(net.addr()) == family)
            .filter(|(_, net)| !parse::is_link_local(net))
            .map(|(_, net)| net)
            .collect();
        candidates.sort_by_key(|net| !plan.tunnel_peers.iter().any(|p| net.contains(p)));
        candidates
            .first()
            .map(ipnet::IpNet::addr)
            .ok_or(NetlinkError::NoTunnelSource { name: tunnel })
    }

    /// Keeps one all-zero-MAC FDB entry per tunnel peer on `kilo.vxlan`, so broadcast and
    /// unknown unicast (ARP) reach every peer.
    pub(super) async fn apply_fdb(
        &self,
        plan: &NetworkPlan,
        links: &Links,
        report: &mut ApplyReport,
    ) -> Result<(), NetlinkError> {
        if plan.tunnel != Some(TunnelKind::Vxlan) {
            return Ok(());
        }
        let name = plan.links.tunnel.to_string();
        let index = links
            .by_name(&name)
            .ok_or_else(|| NetlinkError::LinkNotFound(name.clone()))?
            .index;
        let dumped = self
            .handle
            .neighbours()
            .get()
            .set_address_family(AddressFamily::Bridge)
            .execute();
        let have: Vec<IpAddr> = super::collect(dumped, "listing fdb entries")
            .await?
            .iter()
            .filter(|n| n.header.ifindex == index)
            .filter_map(flood_dst)
            .collect();
        let d = diff_sets(&have, &plan.tunnel_peers);
        for ip in d.delete {
            let what = format!("00:00:00:00:00:00 dev {name} dst {ip}");
            self.request(RouteNetlinkMessage::DelNeighbour(fdb_message(index, ip)), 0)
                .await
                .map_err(|e| NetlinkError::kernel(format!("deleting fdb entry {what}"), e))?;
            report.push(Op::Delete, Object::Fdb, what);
        }
        for ip in d.add {
            let what = format!("00:00:00:00:00:00 dev {name} dst {ip}");
            self.request(
                RouteNetlinkMessage::NewNeighbour(fdb_message(index, ip)),
                NLM_F_CREATE | NLM_F_APPEND,
            )
            .await
            .map_err(|e| NetlinkError::kernel(format!("adding fdb entry {what}"), e))?;
            report.push(Op::Add, Object::Fdb, what);
        }
        Ok(())
    }
}

fn vxlan_attributes(local: IpAddr, private: Option<u32>) -> Vec<InfoVxlan> {
    let mut attrs = vec![
        InfoVxlan::Id(VXLAN_VNI),
        InfoVxlan::Port(VXLAN_PORT),
        InfoVxlan::Learning(false),
        match local {
            IpAddr::V4(a) => InfoVxlan::Local(a),
            IpAddr::V6(a) => InfoVxlan::Local6(a),
        },
    ];
    if let Some(index) = private {
        attrs.push(InfoVxlan::Link(index));
    }
    attrs
}

/// The destination of an all-zero-MAC (flood) FDB entry.
fn flood_dst(n: &NeighbourMessage) -> Option<IpAddr> {
    let mut zero = false;
    let mut dst = None;
    for attr in &n.attributes {
        match attr {
            NeighbourAttribute::LinkLayerAddress(mac) => zero = mac.as_slice() == ZERO_MAC,
            NeighbourAttribute::Destination(NeighbourAddress::Inet(a)) => {
                dst = Some(IpAddr::V4(*a))
            }
            NeighbourAttribute::Destination(NeighbourAddress::Inet6(a)) => {
                dst = Some(IpAddr::V6(*a));
            }
            // Bridge-family entries carry the destination as raw bytes.
            NeighbourAttribute::Destination(NeighbourAddress::Other(raw)) => {
                dst = <[u8; 4]>::try_from(raw.as_slice())
                    .map(IpAddr::from)
                    .or_else(|_| <[u8; 16]>::try_from(raw.as_slice()).map(IpAddr::from))
                    .ok();
            }
            _ => {}
        }
    }
    if zero { dst } else { None }
}

fn fdb_message(index: u32, dst: IpAddr) -> NeighbourMessage {
    let mut msg = NeighbourMessage::default();
    msg.header.family = AddressFamily::Bridge;
    msg.header.ifindex = index;
    msg.header.state = NeighbourState::Permanent;
    msg.header.flags = NeighbourFlags::Own;
    msg.attributes
        .push(NeighbourAttribute::LinkLayerAddress(ZERO_MAC.to_vec()));
    msg.attributes
        .push(NeighbourAttribute::Destination(match dst {
            IpAddr::V4(a) => NeighbourAddress::Inet(a),
            IpAddr::V6(a) => NeighbourAddress::Inet6(a),
        }));
    msg
}
