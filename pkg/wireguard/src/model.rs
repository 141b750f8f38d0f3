//! What a device looks like when read back, the minimal update the diff produces, and the
//! printable report of an apply. Pure data, no I/O, no private key material.

use std::fmt;
use std::net::SocketAddr;
use std::time::SystemTime;

use ipnet::IpNet;
use kilo_mesh::plan::wireguard::PresharedKey;
use kilo_mesh::types::{IfName, WgKey};

/// A WireGuard device as read back from the kernel or the userspace daemon.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct DeviceState {
    /// The device.
    pub interface: IfName,
    /// The public key of the configured private key; `None` when no private key is set.
    pub public_key: Option<WgKey>,
    /// The UDP listen port (0 when none).
    pub listen_port: u16,
    /// The firewall mark (0 when none).
    pub fwmark: u32,
    /// The peers, sorted by public key.
    pub peers: Vec<PeerState>,
}

impl DeviceState {
    /// An empty, unconfigured device.
    #[must_use]
    pub fn empty(interface: IfName) -> Self {
        Self {
            interface,
            public_key: None,
            listen_port: 0,
            fwmark: 0,
            peers: Vec::new(),
        }
    }

    /// The peer with this public key.
    #[must_use]
    pub fn peer(&self, key: &WgKey) -> Option<&PeerState> {
        self.peers.iter().find(|p| p.public_key == *key)
    }
}

/// One peer as read back.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct PeerState {
    /// The peer's identity.
    pub public_key: WgKey,
    /// The preshared key, if any (redacted in `Debug`).
    pub preshared_key: Option<PresharedKey>,
    /// The configured or most recently observed endpoint (NAT discovery).
    pub endpoint: Option<SocketAddr>,
    /// Routed ranges, normalized (host bits cleared), sorted and de-duplicated.
    pub allowed_ips: Vec<IpNet>,
    /// Keepalive interval in seconds; `None` when off.
    pub persistent_keepalive: Option<u16>,
    /// When the latest handshake completed; `None` when there was none.
    pub last_handshake: Option<SystemTime>,
    /// Bytes received from the peer.
    pub rx_bytes: u64,
    /// Bytes sent to the peer.
    pub tx_bytes: u64,
}

impl PeerState {
    /// A peer with only its key set.
    #[must_use]
    pub fn new(public_key: WgKey) -> Self {
        Self {
            public_key,
            preshared_key: None,
            endpoint: None,
            allowed_ips: Vec::new(),
            persistent_keepalive: None,
            last_handshake: None,
            rx_bytes: 0,
            tx_bytes: 0,
        }
    }
}

/// The minimal set of writes that turns the current device into the planned one.
/// Empty (see [`DeviceUpdate::is_empty`]) when the device already matches.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct DeviceUpdate {
    /// Whether the private key must be (re)written.
    pub private_key: bool,
    /// The new listen port, when it differs.
    pub listen_port: Option<u16>,
    /// Per-peer writes, sorted by public key; untouched peers are absent.
    pub peers: Vec<PeerUpdate>,
}

impl DeviceUpdate {
    /// True when nothing needs to be written.
    #[must_use]
    pub fn is_empty(&self) -> bool {
        !self.private_key && self.listen_port.is_none() && self.peers.is_empty()
    }
}

/// The writes for one peer. Absent fields are left as they are on the device.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct PeerUpdate {
    /// The peer's identity.
    pub public_key: WgKey,
    /// Remove the peer (all other fields are then empty).
    pub remove: bool,
    /// Set the endpoint.
    pub endpoint: Option<SocketAddr>,
    /// Set the keepalive interval (0 turns it off).
    pub persistent_keepalive: Option<u16>,
    /// Set (`Some(Some)`) or clear (`Some(None)`) the preshared key.
    pub preshared_key: Option<Option<PresharedKey>>,
    /// Replace the allowed IPs with [`PeerUpdate::allowed_ips`] (for an existing peer).
    pub replace_allowed_ips: bool,
    /// Allowed IPs to write (all of them when replacing or adding).
    pub allowed_ips: Vec<IpNet>,
}

impl PeerUpdate {
    /// An update that changes nothing yet.
    #[must_use]
    pub fn new(public_key: WgKey) -> Self {
        Self {
            public_key,
            remove: false,
            endpoint: None,
            persistent_keepalive: None,
            preshared_key: None,
            replace_allowed_ips: false,
            allowed_ips: Vec::new(),
        }
    }
}

/// What an apply changed, for logs and tests.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ApplyReport {
    /// The device.
    pub interface: IfName,
    /// Whether the device itself was created (kernel backend).
    pub created: bool,
    /// The changes, in the order they were written.
    pub changes: Vec<Change>,
    /// Peers whose DNS endpoint could not be resolved (name and host); their endpoint was left
    /// as it was.
    pub unresolved: Vec<(String, String)>,
}

impl ApplyReport {
    /// True when nothing was written.
    #[must_use]
    pub fn is_empty(&self) -> bool {
        !self.created && self.changes.is_empty()
    }

    /// The changes rendered one per line, for logs and assertions.
    #[must_use]
    pub fn lines(&self) -> Vec<String> {
        self.changes.iter().map(ToString::to_string).collect()
    }
}

/// One change made by an apply. Printable; carries no secrets.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Change {
    /// The private key was written; the device's new public key.
    PrivateKey {
        /// The public key of the new private key.
        public_key: WgKey,
    },
    /// The listen port changed.
    ListenPort {
        /// The old port (0 when unset).
        from: u16,
        /// The new port.
        to: u16,
    },
    /// A peer was added.
    AddPeer {
        /// Its plan label.
        name: String,
        /// Its identity.
        public_key: WgKey,
    },
    /// A peer not in the plan was removed.
    RemovePeer {
        /// Its identity.
        public_key: WgKey,
    },
    /// Some fields of an existing peer changed.
    UpdatePeer {
        /// Its plan label.
        name: String,
        /// Its identity.
        public_key: WgKey,
        /// What changed.
        fields: Vec<PeerField>,
    },
}

/// One changed field of an existing peer.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum PeerField {
    /// The endpoint.
    Endpoint {
        /// Before.
        from: Option<SocketAddr>,
        /// After.
        to: SocketAddr,
    },
    /// The allowed IPs.
    AllowedIps {
        /// Before.
        from: Vec<IpNet>,
        /// After.
        to: Vec<IpNet>,
    },
    /// The keepalive interval (0 = off).
    Keepalive {
        /// Before.
        from: u16,
        /// After.
        to: u16,
    },
    /// The preshared key was set, replaced or cleared (values are never shown).
    PresharedKey,
}

fn ips(v: &[IpNet]) -> String {
    let v: Vec<String> = v.iter().map(ToString::to_string).collect();
    v.join(",")
}

impl fmt::Display for Change {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::PrivateKey { public_key } => {
                write!(
                    f,
                    "set private key (public key {})",
                    public_key.fingerprint()
                )
            }
            Self::ListenPort { from, to } => write!(f, "set listen port {from} -> {to}"),
            Self::AddPeer { name, public_key } => {
                write!(f, "add peer {name} ({})", public_key.fingerprint())
            }
            Self::RemovePeer { public_key } => {
                write!(f, "remove peer {}", public_key.fingerprint())
            }
            Self::UpdatePeer {
                name,
                public_key,
                fields,
            } => {
                write!(f, "update peer {name} ({}):", public_key.fingerprint())?;
                for field in fields {
                    write!(f, " {field};")?;
                }
                Ok(())
            }
        }
    }
}

impl fmt::Display for PeerField {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Endpoint { from: Some(a), to } => write!(f, "endpoint {a} -> {to}"),
            Self::Endpoint { from: None, to } => write!(f, "endpoint (none) -> {to}"),
            Self::AllowedIps { from, to } => {
                write!(f, "allowed ips [{}] -> [{}]", ips(from), ips(to))
            }
            Self::Keepalive { from, to } => write!(f, "keepalive {from} -> {to}"),
            Self::PresharedKey => f.write_str("preshared key"),
        }
    }
}
