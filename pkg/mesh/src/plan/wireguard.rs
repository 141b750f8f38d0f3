//! The WireGuard device plan of one node: listen port and peers. Pure data plus the
//! `wg setconf`-style rendering used by `kgctl`; no I/O. The private key is never part of a plan.

use std::fmt::Write as _;

use ipnet::IpNet;
use serde::Serialize;

pub use crate::types::PresharedKey;
use crate::types::{Endpoint, IfName, WgKey};

/// What kg wants the WireGuard device of a leader to look like.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct WireGuardPlan {
    /// The device, e.g. `kilo0`.
    pub interface: IfName,
    /// UDP listen port.
    pub listen_port: u16,
    /// One peer per other segment and per Peer resource, sorted by public key.
    pub peers: Vec<WgPeer>,
}

/// One WireGuard peer of the plan.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct WgPeer {
    /// Human label: `location:gcp`, `node:n3` or `peer:laptop`.
    pub name: String,
    /// The peer's public key (identity).
    pub public_key: WgKey,
    /// Where to reach it; a DNS host is resolved by the adapter.
    pub endpoint: Option<Endpoint>,
    /// Routed ranges, sorted and de-duplicated.
    pub allowed_ips: Vec<IpNet>,
    /// Keepalive interval in seconds; `None` means off.
    pub persistent_keepalive: Option<u16>,
    /// Optional preshared key.
    pub preshared_key: Option<PresharedKey>,
}

impl WireGuardPlan {
    /// Renders the plan as a `wg setconf`-style INI text (without the private key, with the
    /// preshared keys redacted), for humans.
    #[must_use]
    pub fn render(&self) -> String {
        let mut out = String::new();
        let _ = writeln!(
            out,
            "[Interface]\n# {}\nListenPort = {}",
            self.interface, self.listen_port
        );
        for p in &self.peers {
            out.push('\n');
            p.write_ini(&mut out, "PresharedKey = (redacted)");
        }
        out
    }
}

impl WgPeer {
    /// Appends this peer as a `[Peer]` section (its name as a comment); a preshared key, never
    /// printed, is shown as the line `psk_line`.
    pub fn write_ini(&self, out: &mut String, psk_line: &str) {
        let _ = writeln!(
            out,
            "[Peer]\n# {}\nPublicKey = {}",
            self.name,
            self.public_key.to_base64()
        );
        if let Some(e) = &self.endpoint {
            let _ = writeln!(out, "Endpoint = {e}");
        }
        let ips: Vec<String> = self.allowed_ips.iter().map(ToString::to_string).collect();
        let _ = writeln!(out, "AllowedIPs = {}", ips.join(", "));
        if let Some(k) = self.persistent_keepalive {
            let _ = writeln!(out, "PersistentKeepalive = {k}");
        }
        if self.preshared_key.is_some() {
            let _ = writeln!(out, "{psk_line}");
        }
    }
}
