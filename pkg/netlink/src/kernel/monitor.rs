//! The monitor: listens to the kernel's route, rule, address and link notifications and turns
//! those that concern kg into [`NetworkEvent`]s. Does I/O (a multicast netlink socket).

use std::net::IpAddr;
use std::path::Path;

use futures::StreamExt;
use ipnet::IpNet;
use rtnetlink::MulticastGroup;
use rtnetlink::packet_core::{NetlinkMessage, NetlinkPayload};
use rtnetlink::packet_route::RouteNetlinkMessage;
use rtnetlink::packet_route::link::LinkAttribute;
use rtnetlink::packet_route::route::{RouteAddress, RouteAttribute};
use tokio::sync::mpsc;

use super::parse::kilo_protocol;
use crate::{NetlinkError, NetworkEvent};

const GROUPS: [MulticastGroup; 7] = [
    MulticastGroup::Link,
    MulticastGroup::Ipv4Ifaddr,
    MulticastGroup::Ipv6Ifaddr,
    MulticastGroup::Ipv4Route,
    MulticastGroup::Ipv6Route,
    MulticastGroup::Ipv4Rule,
    MulticastGroup::Ipv6Rule,
];

/// Subscribes (in `netns`, or the current one) and forwards events until the receiver is
/// dropped. Must be called inside a tokio runtime.
pub(crate) fn spawn(netns: Option<&Path>) -> Result<mpsc::Receiver<NetworkEvent>, NetlinkError> {
    let (handle, mut messages) = crate::netns::connect(netns, &GROUPS)?;
    let (tx, rx) = mpsc::channel(256);
    tokio::spawn(async move {
        // The handle keeps the connection open.
        let _handle = handle;
        while let Some((msg, _)) = messages.next().await {
            let Some(event) = classify(msg) else { continue };
            tracing::debug!(?event, "netlink event");
            if tx.send(event).await.is_err() {
                break;
            }
        }
    });
    Ok(rx)
}

/// The event a notification means for kg, if any.
fn classify(msg: NetlinkMessage<RouteNetlinkMessage>) -> Option<NetworkEvent> {
    let NetlinkPayload::InnerMessage(msg) = msg.payload else {
        return None;
    };
    match msg {
        RouteNetlinkMessage::DelRoute(r) if r.header.protocol == kilo_protocol() => {
            let dst = r.attributes.iter().find_map(|a| match a {
                RouteAttribute::Destination(RouteAddress::Inet(ip)) => Some(IpAddr::V4(*ip)),
                RouteAttribute::Destination(RouteAddress::Inet6(ip)) => Some(IpAddr::V6(*ip)),
                _ => None,
            })?;
            IpNet::new(dst, r.header.destination_prefix_length)
                .ok()
                .map(NetworkEvent::RouteDeleted)
        }
        RouteNetlinkMessage::DelRule(r) => {
            crate::kernel::is_kilo_rule(&r).then_some(NetworkEvent::RuleDeleted)
        }
        RouteNetlinkMessage::NewAddress(a) => {
            crate::kernel::address_of(&a).map(|(_, net)| NetworkEvent::AddressAdded(net.addr()))
        }
        RouteNetlinkMessage::DelAddress(a) => {
            crate::kernel::address_of(&a).map(|(_, net)| NetworkEvent::AddressRemoved(net.addr()))
        }
        RouteNetlinkMessage::NewLink(l) | RouteNetlinkMessage::DelLink(l) => {
            let name = l.attributes.iter().find_map(|a| match a {
                LinkAttribute::IfName(n) => Some(n.clone()),
                _ => None,
            });
            Some(NetworkEvent::LinkChanged(
                name.unwrap_or_else(|| format!("if{}", l.header.index)),
            ))
        }
        _ => None,
    }
}
