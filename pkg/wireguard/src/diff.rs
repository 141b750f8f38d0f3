//! The diff between a device as read back and the plan: endpoint resolution (DNS at apply time)
//! and the minimal [`DeviceUpdate`] with its printable [`Change`]s. Pure apart from the
//! injected resolver.

use std::collections::BTreeMap;
use std::net::{SocketAddr, ToSocketAddrs as _};

use ipnet::IpNet;
use kilo_mesh::plan::wireguard::{PresharedKey, WireGuardPlan};
use kilo_mesh::types::{Host, WgKey};

use crate::model::{
    ApplyReport, Change, DeviceState, DeviceUpdate, PeerField, PeerState, PeerUpdate,
};

/// Resolves a DNS name and port to socket addresses.
pub type Resolver = fn(&str, u16) -> std::io::Result<Vec<SocketAddr>>;

/// The operating system's resolver (`getaddrinfo`).
pub fn system_resolver(host: &str, port: u16) -> std::io::Result<Vec<SocketAddr>> {
    Ok((host, port).to_socket_addrs()?.collect())
}

/// A planned peer with its endpoint resolved and its allowed IPs normalized.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ResolvedPeer {
    /// Plan label.
    pub name: String,
    /// Identity.
    pub public_key: WgKey,
    /// The endpoint to configure; `None` leaves the device's endpoint alone.
    pub endpoint: Option<SocketAddr>,
    /// Normalized (host bits cleared), sorted, de-duplicated.
    pub allowed_ips: Vec<IpNet>,
    /// Keepalive seconds, 0 = off.
    pub keepalive: u16,
    /// Preshared key.
    pub preshared_key: Option<PresharedKey>,
}

/// Host bits cleared, sorted, de-duplicated: the form both WireGuard implementations report.
#[must_use]
pub fn normalize(ips: &[IpNet]) -> Vec<IpNet> {
    let mut v: Vec<IpNet> = ips.iter().map(IpNet::trunc).collect();
    v.sort_unstable();
    v.dedup();
    v
}

/// Resolves the plan's endpoints. A DNS name whose answers include the endpoint the device
/// already uses keeps it (no flapping between round-robin answers). Names that do not resolve
/// are returned as `(peer name, host)` and leave the device's endpoint unchanged.
#[must_use]
pub fn resolve_peers(
    plan: &WireGuardPlan,
    current: &DeviceState,
    resolver: Resolver,
) -> (Vec<ResolvedPeer>, Vec<(String, String)>) {
    let mut unresolved = Vec::new();
    let peers = plan
        .peers
        .iter()
        .map(|p| {
            let endpoint = match &p.endpoint {
                None => None,
                Some(e) => match &e.host {
                    Host::Ip(ip) => Some(SocketAddr::new(*ip, e.port)),
                    Host::Dns(name) => {
                        let now = current.peer(&p.public_key).and_then(|c| c.endpoint);
                        match resolver(name, e.port) {
                            Ok(addrs) if !addrs.is_empty() => now
                                .filter(|a| addrs.contains(a))
                                .or_else(|| addrs.first().copied()),
                            Ok(_) | Err(_) => {
                                tracing::warn!(peer = %p.name, host = %name,
                                    "cannot resolve WireGuard endpoint; keeping the current one");
                                unresolved.push((p.name.clone(), name.clone()));
                                None
                            }
                        }
                    }
                },
            };
            ResolvedPeer {
                name: p.name.clone(),
                public_key: p.public_key,
                endpoint,
                allowed_ips: normalize(&p.allowed_ips),
                keepalive: p.persistent_keepalive.unwrap_or(0),
                preshared_key: p.preshared_key,
            }
        })
        .collect();
    (peers, unresolved)
}

/// The minimal update turning `current` into the planned device, and its report lines.
#[must_use]
pub fn diff(
    current: &DeviceState,
    public_key: WgKey,
    listen_port: u16,
    peers: &[ResolvedPeer],
) -> (DeviceUpdate, Vec<Change>) {
    let mut update = DeviceUpdate::default();
    let mut changes = Vec::new();
    if current.public_key != Some(public_key) {
        update.private_key = true;
        changes.push(Change::PrivateKey { public_key });
    }
    if current.listen_port != listen_port {
        update.listen_port = Some(listen_port);
        changes.push(Change::ListenPort {
            from: current.listen_port,
            to: listen_port,
        });
    }
    let wanted: BTreeMap<WgKey, &ResolvedPeer> = peers.iter().map(|p| (p.public_key, p)).collect();
    for old in &current.peers {
        if !wanted.contains_key(&old.public_key) {
            let mut u = PeerUpdate::new(old.public_key);
            u.remove = true;
            update.peers.push(u);
            changes.push(Change::RemovePeer {
                public_key: old.public_key,
            });
        }
    }
    for (key, want) in wanted {
        match current.peer(&key) {
            None => {
                update.peers.push(new_peer(want));
                changes.push(Change::AddPeer {
                    name: want.name.clone(),
                    public_key: key,
                });
            }
            Some(have) => {
                let (u, fields) = changed_peer(have, want);
                if !fields.is_empty() {
                    update.peers.push(u);
                    changes.push(Change::UpdatePeer {
                        name: want.name.clone(),
                        public_key: key,
                        fields,
                    });
                }
            }
        }
    }
    (update, changes)
}

/// Resolves `plan` against `current` and diffs it: the update to write and the report that
/// describes it (with `created` false).
#[must_use]
pub fn prepare(
    current: &DeviceState,
    plan: &WireGuardPlan,
    public_key: WgKey,
    resolver: Resolver,
) -> (DeviceUpdate, ApplyReport) {
    let (peers, unresolved) = resolve_peers(plan, current, resolver);
    let (update, changes) = diff(current, public_key, plan.listen_port, &peers);
    let report = ApplyReport {
        interface: plan.interface.clone(),
        created: false,
        changes,
        unresolved,
    };
    (update, report)
}

fn new_peer(want: &ResolvedPeer) -> PeerUpdate {
    let mut u = PeerUpdate::new(want.public_key);
    u.endpoint = want.endpoint;
    u.persistent_keepalive = (want.keepalive != 0).then_some(want.keepalive);
    u.preshared_key = want.preshared_key.map(Some);
    u.allowed_ips.clone_from(&want.allowed_ips);
    u
}

fn changed_peer(have: &PeerState, want: &ResolvedPeer) -> (PeerUpdate, Vec<PeerField>) {
    let mut u = PeerUpdate::new(want.public_key);
    let mut fields = Vec::new();
    if let Some(to) = want.endpoint.filter(|e| have.endpoint != Some(*e)) {
        u.endpoint = Some(to);
        fields.push(PeerField::Endpoint {
            from: have.endpoint,
            to,
        });
    }
    let have_ips = normalize(&have.allowed_ips);
    if have_ips != want.allowed_ips {
        u.replace_allowed_ips = true;
        u.allowed_ips.clone_from(&want.allowed_ips);
        fields.push(PeerField::AllowedIps {
            from: have_ips,
            to: want.allowed_ips.clone(),
        });
    }
    let have_ka = have.persistent_keepalive.unwrap_or(0);
    if have_ka != want.keepalive {
        u.persistent_keepalive = Some(want.keepalive);
        fields.push(PeerField::Keepalive {
            from: have_ka,
            to: want.keepalive,
        });
    }
    if have.preshared_key != want.preshared_key {
        u.preshared_key = Some(want.preshared_key);
        fields.push(PeerField::PresharedKey);
    }
    (u, fields)
}

#[cfg(test)]
#[path = "diff_tests.rs"]
mod tests;
