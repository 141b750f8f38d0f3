//! Building and parsing the kernel's WireGuard generic netlink messages (`WG_CMD_SET_DEVICE`,
//! `WG_CMD_GET_DEVICE`) and the rtnetlink message creating a `wireguard` link. Pure.

use std::time::{Duration, SystemTime};

use ipnet::IpNet;
use kilo_mesh::plan::wireguard::PresharedKey;
use kilo_mesh::types::{IfName, WgKey};
use netlink_packet_core::Emitable as _;
use netlink_packet_route::link::{InfoKind, LinkAttribute, LinkInfo, LinkMessage};
use netlink_packet_wireguard::{
    WireguardAddressFamily, WireguardAllowedIp, WireguardAllowedIpAttr, WireguardAttribute,
    WireguardCmd, WireguardMessage, WireguardPeer, WireguardPeerAttribute, WireguardPeerFlags,
};
use zeroize::Zeroize as _;

use crate::diff::normalize;
use crate::key::PrivateKey;
use crate::model::{DeviceState, DeviceUpdate, PeerState, PeerUpdate};

/// Payload budget per `SET_DEVICE` message; larger updates are split like `wg` does.
pub const MESSAGE_BUDGET: usize = 16 * 1024;
/// Allowed IPs per peer fragment; a longer list continues in the next fragment.
pub const IPS_PER_FRAGMENT: usize = 128;

/// The `RTM_NEWLINK` payload creating the `wireguard` link `interface`.
#[must_use]
pub fn new_link(interface: &IfName) -> LinkMessage {
    let mut m = LinkMessage::default();
    m.attributes
        .push(LinkAttribute::IfName(interface.as_str().to_owned()));
    m.attributes
        .push(LinkAttribute::LinkInfo(vec![LinkInfo::Kind(
            InfoKind::Wireguard,
        )]));
    m
}

/// The `GET_DEVICE` request for `interface` (sent with `NLM_F_DUMP`).
#[must_use]
pub fn get_device(interface: &IfName) -> WireguardMessage {
    WireguardMessage {
        cmd: WireguardCmd::GetDevice,
        attributes: vec![WireguardAttribute::IfName(interface.as_str().to_owned())],
    }
}

/// The `SET_DEVICE` messages writing `update`: the first carries the private key and port,
/// peers are packed up to [`MESSAGE_BUDGET`], long allowed-IP lists are continued in later
/// fragments without the replace flag. Call [`scrub`] once they are serialized.
#[must_use]
pub fn set_device(
    interface: &IfName,
    update: &DeviceUpdate,
    key: &PrivateKey,
) -> Vec<WireguardMessage> {
    let ifname = WireguardAttribute::IfName(interface.as_str().to_owned());
    let mut first = vec![ifname.clone()];
    if update.private_key {
        first.push(WireguardAttribute::PrivateKey(*key.expose_bytes()));
    }
    if let Some(port) = update.listen_port {
        first.push(WireguardAttribute::ListenPort(port));
    }
    let mut msgs = Vec::new();
    let mut attrs = first;
    let mut peers: Vec<WireguardPeer> = Vec::new();
    let mut size = attrs.as_slice().buffer_len();
    for fragment in update.peers.iter().flat_map(peer_fragments) {
        let len = fragment.buffer_len();
        if !peers.is_empty() && size + len > MESSAGE_BUDGET {
            attrs.push(WireguardAttribute::Peers(std::mem::take(&mut peers)));
            msgs.push(set_message(std::mem::replace(
                &mut attrs,
                vec![ifname.clone()],
            )));
            size = attrs.as_slice().buffer_len();
        }
        size += len;
        peers.push(fragment);
    }
    if !peers.is_empty() {
        attrs.push(WireguardAttribute::Peers(peers));
    }
    if attrs.len() > 1 {
        msgs.push(set_message(attrs));
    }
    msgs
}

fn set_message(attributes: Vec<WireguardAttribute>) -> WireguardMessage {
    WireguardMessage {
        cmd: WireguardCmd::SetDevice,
        attributes,
    }
}

fn peer_fragments(u: &PeerUpdate) -> Vec<WireguardPeer> {
    let key = WireguardPeerAttribute::PublicKey(*u.public_key.as_bytes());
    if u.remove {
        return vec![WireguardPeer(vec![
            key,
            WireguardPeerAttribute::Flags(WireguardPeerFlags::RemoveMe),
        ])];
    }
    let mut head = vec![key.clone()];
    if u.replace_allowed_ips {
        head.push(WireguardPeerAttribute::Flags(
            WireguardPeerFlags::ReplaceAllowedIps,
        ));
    }
    if let Some(psk) = &u.preshared_key {
        let bytes = psk.map_or([0u8; 32], |k| *k.0.as_bytes());
        head.push(WireguardPeerAttribute::PresharedKey(bytes));
    }
    if let Some(e) = u.endpoint {
        head.push(WireguardPeerAttribute::Endpoint(e));
    }
    if let Some(k) = u.persistent_keepalive {
        head.push(WireguardPeerAttribute::PersistentKeepalive(k));
    }
    let mut chunks = u.allowed_ips.chunks(IPS_PER_FRAGMENT);
    if let Some(c) = chunks.next() {
        head.push(WireguardPeerAttribute::AllowedIps(
            c.iter().map(allowed_ip).collect(),
        ));
    }
    let mut out = vec![WireguardPeer(head)];
    for c in chunks {
        out.push(WireguardPeer(vec![
            key.clone(),
            WireguardPeerAttribute::AllowedIps(c.iter().map(allowed_ip).collect()),
        ]));
    }
    out
}

fn allowed_ip(net: &IpNet) -> WireguardAllowedIp {
    let family = match net {
        IpNet::V4(_) => WireguardAddressFamily::Ipv4,
        IpNet::V6(_) => WireguardAddressFamily::Ipv6,
    };
    WireguardAllowedIp(vec![
        WireguardAllowedIpAttr::Family(family),
        WireguardAllowedIpAttr::IpAddr(net.addr()),
        WireguardAllowedIpAttr::Cidr(net.prefix_len()),
    ])
}

/// Overwrites the private and preshared keys held in `msgs` (call after serializing).
pub fn scrub(msgs: &mut [WireguardMessage]) {
    for m in msgs {
        for a in &mut m.attributes {
            match a {
                WireguardAttribute::PrivateKey(k) => k.zeroize(),
                WireguardAttribute::Peers(peers) => {
                    for p in peers.iter_mut() {
                        for pa in &mut p.0 {
                            if let WireguardPeerAttribute::PresharedKey(k) = pa {
                                k.zeroize();
                            }
                        }
                    }
                }
                _ => {}
            }
        }
    }
}

/// Merges the parts of a `GET_DEVICE` dump into a device. A peer split across parts (its
/// public key repeated) has its allowed IPs concatenated. The private key is only used to
/// derive the public key and then scrubbed.
#[must_use]
pub fn parse_device(interface: &IfName, mut parts: Vec<WireguardMessage>) -> DeviceState {
    let mut dev = DeviceState::empty(interface.clone());
    for part in &mut parts {
        for attr in &mut part.attributes {
            match attr {
                WireguardAttribute::PrivateKey(k) => {
                    if k.iter().any(|b| *b != 0) {
                        dev.public_key = Some(PrivateKey::from_bytes(*k).public_key());
                    }
                    k.zeroize();
                }
                WireguardAttribute::ListenPort(p) => dev.listen_port = *p,
                WireguardAttribute::Fwmark(m) => dev.fwmark = *m,
                WireguardAttribute::Peers(peers) => {
                    for p in peers.iter() {
                        merge_peer(&mut dev, p);
                    }
                }
                _ => {}
            }
        }
    }
    for p in &mut dev.peers {
        p.allowed_ips = normalize(&p.allowed_ips);
    }
    dev.peers.sort_by_key(|p| p.public_key);
    dev
}

fn merge_peer(dev: &mut DeviceState, peer: &WireguardPeer) {
    let Some(key) = peer.0.iter().find_map(|a| match a {
        WireguardPeerAttribute::PublicKey(k) => Some(WgKey::from_bytes(*k)),
        _ => None,
    }) else {
        return;
    };
    let idx = match dev.peers.iter().position(|p| p.public_key == key) {
        Some(i) => i,
        None => {
            dev.peers.push(PeerState::new(key));
            dev.peers.len() - 1
        }
    };
    let s = &mut dev.peers[idx];
    for a in &peer.0 {
        match a {
            WireguardPeerAttribute::PresharedKey(k) if k.iter().any(|b| *b != 0) => {
                s.preshared_key = Some(PresharedKey(WgKey::from_bytes(*k)));
            }
            WireguardPeerAttribute::Endpoint(e) => s.endpoint = Some(*e),
            WireguardPeerAttribute::PersistentKeepalive(k) => {
                s.persistent_keepalive = (*k != 0).then_some(*k);
            }
            WireguardPeerAttribute::LastHandshake(t) if t.seconds != 0 || t.nano_seconds != 0 => {
                let d = Duration::new(
                    u64::try_from(t.seconds).unwrap_or(0),
                    u32::try_from(t.nano_seconds).unwrap_or(0),
                );
                s.last_handshake = SystemTime::UNIX_EPOCH.checked_add(d);
            }
            WireguardPeerAttribute::RxBytes(n) => s.rx_bytes = *n,
            WireguardPeerAttribute::TxBytes(n) => s.tx_bytes = *n,
            WireguardPeerAttribute::AllowedIps(ips) => {
                s.allowed_ips
                    .extend(ips.iter().filter_map(parse_allowed_ip));
            }
            _ => {}
        }
    }
}

fn parse_allowed_ip(ip: &WireguardAllowedIp) -> Option<IpNet> {
    let addr = ip.0.iter().find_map(|a| match a {
        WireguardAllowedIpAttr::IpAddr(a) => Some(*a),
        _ => None,
    })?;
    let cidr = ip.0.iter().find_map(|a| match a {
        WireguardAllowedIpAttr::Cidr(c) => Some(*c),
        _ => None,
    })?;
    IpNet::new(addr, cidr).ok()
}

#[cfg(test)]
#[path = "msg_tests.rs"]
mod tests;
