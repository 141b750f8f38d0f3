//! An in-memory WireGuard driver for tests of callers: devices are created on first apply,
//! every non-empty update and every read is recorded. Built for this crate's tests and behind
//! the `fake` feature. No I/O.

use std::collections::BTreeMap;
use std::sync::atomic::{AtomicUsize, Ordering};

use kilo_mesh::plan::wireguard::WireGuardPlan;
use kilo_mesh::types::{IfName, WgKey};

use crate::diff::{Resolver, normalize, prepare};
use crate::error::WgError;
use crate::key::PrivateKey;
use crate::model::{ApplyReport, DeviceState, DeviceUpdate, PeerState};
use crate::{WireGuard, kernel::Kernel};

/// The fake driver.
#[derive(Debug, Default)]
pub struct Fake {
    /// The devices by name; tests may edit them (e.g. set a handshake time).
    pub devices: BTreeMap<IfName, DeviceState>,
    /// Every update written, in order (updates hold no key material).
    pub writes: Vec<(IfName, DeviceUpdate)>,
    /// When set, `apply` fails as if the kernel had no WireGuard support.
    pub unsupported: bool,
    /// How many times `read` was called.
    pub reads: AtomicUsize,
    resolver: Option<Resolver>,
}

impl Fake {
    /// An empty fake.
    #[must_use]
    pub fn new() -> Self {
        Self::default()
    }

    /// Uses `resolver` for DNS endpoints (default: none resolve).
    #[must_use]
    pub fn with_resolver(mut self, resolver: Resolver) -> Self {
        self.resolver = Some(resolver);
        self
    }
}

fn no_dns(_: &str, _: u16) -> std::io::Result<Vec<std::net::SocketAddr>> {
    Err(std::io::ErrorKind::NotFound.into())
}

impl WireGuard for Fake {
    fn apply(&mut self, plan: &WireGuardPlan, key: &PrivateKey) -> Result<ApplyReport, WgError> {
        if self.unsupported {
            return Err(Kernel::unsupported(&plan.interface));
        }
        let created = !self.devices.contains_key(&plan.interface);
        let device = self
            .devices
            .entry(plan.interface.clone())
            .or_insert_with(|| DeviceState::empty(plan.interface.clone()));
        let resolver = self.resolver.unwrap_or(no_dns);
        let (update, mut report) = prepare(device, plan, key.public_key(), resolver);
        report.created = created;
        if !update.is_empty() {
            apply_update(device, &update, key.public_key());
            self.writes.push((plan.interface.clone(), update));
        }
        Ok(report)
    }

    fn read(&self, interface: &IfName) -> Result<DeviceState, WgError> {
        self.reads.fetch_add(1, Ordering::Relaxed);
        self.devices
            .get(interface)
            .cloned()
            .ok_or_else(|| WgError::NoKernelDevice {
                interface: interface.clone(),
            })
    }
}

/// Applies `update` to `device` the way WireGuard does.
pub fn apply_update(device: &mut DeviceState, update: &DeviceUpdate, public_key: WgKey) {
    if update.private_key {
        device.public_key = Some(public_key);
    }
    if let Some(port) = update.listen_port {
        device.listen_port = port;
    }
    for u in &update.peers {
        if u.remove {
            device.peers.retain(|p| p.public_key != u.public_key);
            continue;
        }
        let idx = match device
            .peers
            .iter()
            .position(|p| p.public_key == u.public_key)
        {
            Some(i) => i,
            None => {
                device.peers.push(PeerState::new(u.public_key));
                device.peers.len() - 1
            }
        };
        let p = &mut device.peers[idx];
        if let Some(e) = u.endpoint {
            p.endpoint = Some(e);
        }
        if let Some(k) = u.persistent_keepalive {
            p.persistent_keepalive = (k != 0).then_some(k);
        }
        if let Some(psk) = u.preshared_key {
            p.preshared_key = psk;
        }
        if u.replace_allowed_ips {
            p.allowed_ips.clear();
        }
        p.allowed_ips.extend(u.allowed_ips.iter().copied());
        p.allowed_ips = normalize(&p.allowed_ips);
    }
    device.peers.sort_by_key(|p| p.public_key);
}

#[cfg(test)]
#[path = "fake_tests.rs"]
mod tests;
