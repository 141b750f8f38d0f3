//! The cross-platform WireGuard UAPI text protocol (`get=1` / `set=1`) spoken by wireguard-go
//! and boringtun: rendering a [`DeviceUpdate`] and parsing a `get` answer. Pure; the socket is
//! in [`crate::userspace`].

use std::fmt::Write as _;
use std::time::{Duration, SystemTime};

use kilo_mesh::plan::wireguard::PresharedKey;
use kilo_mesh::types::{IfName, WgKey};
use zeroize::Zeroizing;

use crate::diff::normalize;
use crate::error::WgError;
use crate::key::PrivateKey;
use crate::model::{DeviceState, DeviceUpdate, PeerState};

/// The `get` request.
pub const GET: &[u8] = b"get=1\n\n";

/// Renders the `set` request for `update`. The private key is only included when the update
/// says so; the text is zeroized on drop.
#[must_use]
pub fn render_set(update: &DeviceUpdate, key: &PrivateKey) -> Zeroizing<String> {
    let mut out = Zeroizing::new(String::from("set=1\n"));
    if update.private_key {
        out.push_str("private_key=");
        out.push_str(&key.expose_hex());
        out.push('\n');
    }
    if let Some(port) = update.listen_port {
        let _ = writeln!(out, "listen_port={port}");
    }
    for p in &update.peers {
        let _ = writeln!(out, "public_key={}", p.public_key.to_hex());
        if p.remove {
            out.push_str("remove=true\n");
            continue;
        }
        if let Some(psk) = &p.preshared_key {
            let hex = psk.map_or_else(|| "0".repeat(64), |k| k.0.to_hex());
            let _ = writeln!(out, "preshared_key={hex}");
        }
        if let Some(e) = p.endpoint {
            let _ = writeln!(out, "endpoint={e}");
        }
        if let Some(k) = p.persistent_keepalive {
            let _ = writeln!(out, "persistent_keepalive_interval={k}");
        }
        if p.replace_allowed_ips {
            out.push_str("replace_allowed_ips=true\n");
        }
        for ip in &p.allowed_ips {
            let _ = writeln!(out, "allowed_ip={ip}");
        }
    }
    out.push('\n');
    out
}

/// The `errno=N` of an answer (0 is success).
pub fn errno(interface: &IfName, answer: &[u8]) -> Result<i32, WgError> {
    let text = std::str::from_utf8(answer)
        .map_err(|_| WgError::protocol(interface, "UAPI answer is not UTF-8"))?;
    text.lines()
        .rev()
        .find_map(|l| l.strip_prefix("errno="))
        .ok_or_else(|| WgError::protocol(interface, "UAPI answer has no errno line"))?
        .parse()
        .map_err(|_| WgError::protocol(interface, "UAPI errno is not a number"))
}

/// Parses a `get` answer (everything before and including `errno=0`).
pub fn parse_get(interface: &IfName, answer: &[u8]) -> Result<DeviceState, WgError> {
    let bad = |why: String| WgError::protocol(interface, why);
    let text = std::str::from_utf8(answer).map_err(|_| bad("UAPI answer is not UTF-8".into()))?;
    let mut dev = DeviceState::empty(interface.clone());
    let mut peer: Option<Peer> = None;
    for line in text.lines().filter(|l| !l.is_empty()) {
        let (k, v) = line
            .split_once('=')
            .ok_or_else(|| bad("UAPI line without '='".into()))?;
        // Never echo a private key line, not even in an error.
        let field = |why: &str| bad(format!("invalid {k} value: {why}"));
        match (k, peer.as_mut()) {
            ("errno", _) => {
                let n: i32 = v.parse().map_err(|_| field("not a number"))?;
                if n != 0 {
                    return Err(WgError::Refused {
                        interface: interface.clone(),
                        op: "get",
                        errno: n,
                    });
                }
            }
            ("private_key", None) => {
                let bytes = decode_hex(v).ok_or_else(|| field("not 64 hex digits"))?;
                if bytes.iter().any(|b| *b != 0) {
                    dev.public_key = Some(PrivateKey::from_bytes(*bytes).public_key());
                }
            }
            ("listen_port", None) => {
                dev.listen_port = v.parse().map_err(|_| field("not a port"))?
            }
            ("fwmark", None) => dev.fwmark = v.parse().map_err(|_| field("not a number"))?,
            ("public_key", _) => {
                if let Some(p) = peer.take() {
                    dev.peers.push(p.finish());
                }
                let key = WgKey::from_hex(v).map_err(|_| field("not 64 hex digits"))?;
                peer = Some(Peer::new(key));
            }
            (_, Some(p)) => p.field(k, v).map_err(field)?,
            (_, None) => {}
        }
    }
    if let Some(p) = peer.take() {
        dev.peers.push(p.finish());
    }
    dev.peers.sort_by_key(|p| p.public_key);
    Ok(dev)
}

struct Peer {
    state: PeerState,
    sec: u64,
    nsec: u32,
}

impl Peer {
    fn new(key: WgKey) -> Self {
        Self {
            state: PeerState::new(key),
            sec: 0,
            nsec: 0,
        }
    }

    fn field(&mut self, k: &str, v: &str) -> Result<(), &'static str> {
        let s = &mut self.state;
        match k {
            "preshared_key" => {
                let bytes = decode_hex(v).ok_or("not 64 hex digits")?;
                s.preshared_key = bytes
                    .iter()
                    .any(|b| *b != 0)
                    .then(|| PresharedKey(WgKey::from_bytes(*bytes)));
            }
            "endpoint" => s.endpoint = Some(v.parse().map_err(|_| "not a socket address")?),
            "allowed_ip" => s
                .allowed_ips
                .push(v.parse().map_err(|_| "not an IP prefix")?),
            "persistent_keepalive_interval" => {
                let n: u16 = v.parse().map_err(|_| "not a number")?;
                s.persistent_keepalive = (n != 0).then_some(n);
            }
            "last_handshake_time_sec" => self.sec = v.parse().map_err(|_| "not a number")?,
            "last_handshake_time_nsec" => self.nsec = v.parse().map_err(|_| "not a number")?,
            "rx_bytes" => s.rx_bytes = v.parse().map_err(|_| "not a number")?,
            "tx_bytes" => s.tx_bytes = v.parse().map_err(|_| "not a number")?,
            _ => {}
        }
        Ok(())
    }

    fn finish(mut self) -> PeerState {
        if self.sec != 0 || self.nsec != 0 {
            self.state.last_handshake =
                SystemTime::UNIX_EPOCH.checked_add(Duration::new(self.sec, self.nsec));
        }
        self.state.allowed_ips = normalize(&self.state.allowed_ips);
        self.state
    }
}

fn decode_hex(s: &str) -> Option<Zeroizing<[u8; 32]>> {
    let b = s.as_bytes();
    if b.len() != 64 {
        return None;
    }
    let mut out = Zeroizing::new([0u8; 32]);
    for (i, byte) in out.iter_mut().enumerate() {
        let hi = char::from(b[2 * i]).to_digit(16)?;
        let lo = char::from(b[2 * i + 1]).to_digit(16)?;
        *byte = u8::try_from(hi * 16 + lo).ok()?;
    }
    Some(out)
}

#[cfg(test)]
#[path = "uapi_tests.rs"]
mod tests;
