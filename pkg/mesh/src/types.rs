//! Domain vocabulary: node names, WireGuard keys, endpoints, interface names and the mesh modes.
//! Pure parsing and formatting, no I/O.

use std::fmt;
use std::net::{IpAddr, SocketAddr};
use std::str::FromStr;

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD as B64;
use serde::{Deserialize, Serialize};

/// Why a domain value could not be parsed.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ParseError {
    /// A WireGuard key that is not base64 of exactly 32 bytes.
    #[error("invalid WireGuard key: {0}")]
    Key(&'static str),
    /// An endpoint that is not `host:port` / `[v6]:port`.
    #[error("invalid endpoint {value:?}: {why}")]
    Endpoint {
        /// The rejected text.
        value: String,
        /// What is wrong with it.
        why: &'static str,
    },
    /// An interface name the kernel would refuse.
    #[error("invalid interface name {value:?}: {why}")]
    IfName {
        /// The rejected text.
        value: String,
        /// What is wrong with it.
        why: &'static str,
    },
    /// A node name that is not a DNS-1123 subdomain.
    #[error("invalid node name {0:?}")]
    NodeName(String),
}

/// A Kubernetes node name (DNS-1123 subdomain), ordered by its text.
#[derive(Clone, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub struct NodeName(String);

impl NodeName {
    /// The name as text.
    #[must_use]
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl FromStr for NodeName {
    type Err = ParseError;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        if is_dns1123_subdomain(s) {
            Ok(Self(s.to_owned()))
        } else {
            Err(ParseError::NodeName(s.to_owned()))
        }
    }
}

impl TryFrom<String> for NodeName {
    type Error = ParseError;
    fn try_from(s: String) -> Result<Self, Self::Error> {
        s.parse()
    }
}

impl From<NodeName> for String {
    fn from(n: NodeName) -> Self {
        n.0
    }
}

impl fmt::Display for NodeName {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl fmt::Debug for NodeName {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{:?}", self.0)
    }
}

/// True when `s` is a DNS-1123 subdomain (lowercase alphanumerics, '-' and '.', ≤ 253 chars,
/// every label starting and ending with an alphanumeric).
#[must_use]
pub fn is_dns1123_subdomain(s: &str) -> bool {
    !s.is_empty()
        && s.len() <= 253
        && s.split('.').all(|label| {
            !label.is_empty()
                && label.len() <= 63
                && label
                    .bytes()
                    .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-')
                && !label.starts_with('-')
                && !label.ends_with('-')
        })
}

/// A WireGuard (Curve25519) key: 32 bytes, parsed once from base64.
///
/// Its `Debug` output is redacted to a short fingerprint; the full base64 text is only available
/// through [`WgKey::to_base64`], for places that must publish or configure it.
#[derive(Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct WgKey([u8; 32]);

impl WgKey {
    /// Wraps raw key bytes.
    #[must_use]
    pub const fn from_bytes(bytes: [u8; 32]) -> Self {
        Self(bytes)
    }

    /// The raw key bytes.
    #[must_use]
    pub const fn as_bytes(&self) -> &[u8; 32] {
        &self.0
    }

    /// Standard base64, as WireGuard tools and the `key` annotation use.
    #[must_use]
    pub fn to_base64(&self) -> String {
        B64.encode(self.0)
    }

    /// Lowercase hex, as the WireGuard UAPI uses.
    #[must_use]
    pub fn to_hex(&self) -> String {
        self.0.iter().map(|b| format!("{b:02x}")).collect()
    }

    /// Parses lowercase or uppercase hex of 32 bytes (UAPI form).
    pub fn from_hex(s: &str) -> Result<Self, ParseError> {
        if s.len() != 64 || !s.is_ascii() {
            return Err(ParseError::Key("hex key must be 64 hex digits"));
        }
        let mut out = [0u8; 32];
        for (i, byte) in out.iter_mut().enumerate() {
            *byte = u8::from_str_radix(&s[2 * i..2 * i + 2], 16)
                .map_err(|_| ParseError::Key("hex key must be 64 hex digits"))?;
        }
        Ok(Self(out))
    }

    /// A short, non-reversible label for logs: the first 8 base64 characters.
    #[must_use]
    pub fn fingerprint(&self) -> String {
        let mut s = self.to_base64();
        s.truncate(8);
        s
    }
}

impl FromStr for WgKey {
    type Err = ParseError;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let bytes = B64
            .decode(s.trim())
            .map_err(|_| ParseError::Key("not valid base64"))?;
        let arr: [u8; 32] = bytes
            .try_into()
            .map_err(|_| ParseError::Key("must decode to exactly 32 bytes"))?;
        Ok(Self(arr))
    }
}

impl fmt::Debug for WgKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "WgKey({}…)", self.fingerprint())
    }
}

impl Serialize for WgKey {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(&self.to_base64())
    }
}

impl<'de> Deserialize<'de> for WgKey {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let s = String::deserialize(d)?;
        s.parse().map_err(serde::de::Error::custom)
    }
}

/// The host part of an endpoint: an IP address or a DNS name (re-resolved by the adapter).
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Host {
    /// A literal address.
    Ip(IpAddr),
    /// A DNS-1123 subdomain.
    Dns(String),
}

/// Why `ip` cannot be a host's own address on the wire (an endpoint, a source address):
/// unspecified, loopback, multicast, broadcast or IPv4-mapped IPv6; `None` when it can.
#[must_use]
pub fn unusable_address(ip: IpAddr) -> Option<&'static str> {
    match ip {
        _ if ip.is_unspecified() => Some("unspecified"),
        _ if ip.is_loopback() => Some("loopback"),
        _ if ip.is_multicast() => Some("multicast"),
        IpAddr::V4(a) if a.is_broadcast() => Some("broadcast"),
        IpAddr::V6(a) if a.to_ipv4_mapped().is_some() => Some("IPv4-mapped IPv6"),
        _ => None,
    }
}

/// A WireGuard endpoint: host and UDP port. IPv6 literals print bracketed.
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Endpoint {
    /// Where to send packets.
    pub host: Host,
    /// UDP port, 1–65535.
    pub port: u16,
}

impl Endpoint {
    /// An endpoint for a literal socket address.
    #[must_use]
    pub fn from_socket(addr: SocketAddr) -> Self {
        Self {
            host: Host::Ip(addr.ip()),
            port: addr.port(),
        }
    }

    /// The socket address when the host is a literal IP.
    #[must_use]
    pub fn socket_addr(&self) -> Option<SocketAddr> {
        match self.host {
            Host::Ip(ip) => Some(SocketAddr::new(ip, self.port)),
            Host::Dns(_) => None,
        }
    }

    /// The literal IP, if any.
    #[must_use]
    pub fn ip(&self) -> Option<IpAddr> {
        match self.host {
            Host::Ip(ip) => Some(ip),
            Host::Dns(_) => None,
        }
    }
}

impl FromStr for Endpoint {
    type Err = ParseError;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let err = |why| ParseError::Endpoint {
            value: s.to_owned(),
            why,
        };
        let (host, port) = if let Some(rest) = s.strip_prefix('[') {
            let (h, p) = rest
                .split_once("]:")
                .ok_or_else(|| err("expected [ipv6]:port"))?;
            let ip: std::net::Ipv6Addr = h.parse().map_err(|_| err("invalid IPv6 address"))?;
            (Host::Ip(IpAddr::V6(ip)), p)
        } else {
            let (h, p) = s
                .rsplit_once(':')
                .ok_or_else(|| err("expected host:port"))?;
            if h.contains(':') {
                return Err(err("IPv6 addresses must be written as [address]:port"));
            }
            let host = match h.parse::<std::net::Ipv4Addr>() {
                Ok(ip) => Host::Ip(IpAddr::V4(ip)),
                Err(_)
                    if is_dns1123_subdomain(h)
                        && !h.bytes().all(|b| b.is_ascii_digit() || b == b'.') =>
                {
                    Host::Dns(h.to_owned())
                }
                Err(_) => return Err(err("host is neither an IP address nor a DNS name")),
            };
            (host, p)
        };
        let port: u16 = p_parse(port).ok_or_else(|| err("port must be 1-65535"))?;
        Ok(Self { host, port })
    }
}

fn p_parse(p: &str) -> Option<u16> {
    p.parse::<u16>().ok().filter(|p| *p != 0)
}

impl fmt::Display for Endpoint {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match &self.host {
            Host::Ip(IpAddr::V6(ip)) => write!(f, "[{ip}]:{}", self.port),
            Host::Ip(IpAddr::V4(ip)) => write!(f, "{ip}:{}", self.port),
            Host::Dns(name) => write!(f, "{name}:{}", self.port),
        }
    }
}

impl Serialize for Endpoint {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.collect_str(self)
    }
}

impl<'de> Deserialize<'de> for Endpoint {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let s = String::deserialize(d)?;
        s.parse().map_err(serde::de::Error::custom)
    }
}

/// A Linux interface name, checked the way the kernel's `dev_valid_name` checks it (1–15 bytes,
/// not "." or "..", no '/', ':', NUL or byte the kernel's `isspace` matches: `\t`, `\n`,
/// `\v`, `\f`, `\r`, space and 0xA0).
#[derive(Clone, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub struct IfName(pub(crate) String);

impl IfName {
    /// The name as text.
    #[must_use]
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl FromStr for IfName {
    type Err = ParseError;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let err = |why| ParseError::IfName {
            value: s.to_owned(),
            why,
        };
        if s.is_empty() || s.len() > 15 {
            return Err(err("must be 1-15 bytes"));
        }
        if s == "." || s == ".." {
            return Err(err("must not be . or .."));
        }
        if s.bytes()
            .any(|b| matches!(b, b'/' | b':' | 0 | b'\t'..=b'\r' | b' ' | 0xA0))
        {
            return Err(err("must not contain '/', ':' or whitespace"));
        }
        Ok(Self(s.to_owned()))
    }
}

impl TryFrom<String> for IfName {
    type Error = ParseError;
    fn try_from(s: String) -> Result<Self, Self::Error> {
        s.parse()
    }
}

impl From<IfName> for String {
    fn from(n: IfName) -> Self {
        n.0
    }
}

impl fmt::Display for IfName {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl fmt::Debug for IfName {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{:?}", self.0)
    }
}

/// How nodes are grouped into WireGuard segments.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Default, Serialize, Deserialize)]
#[cfg_attr(feature = "clap", derive(clap::ValueEnum))]
#[serde(rename_all = "lowercase")]
pub enum Granularity {
    /// Nodes sharing a location form one segment with one leader.
    #[default]
    Location,
    /// Every node is its own segment.
    Full,
}

impl Granularity {
    /// The annotation / flag spelling.
    #[must_use]
    pub const fn as_str(self) -> &'static str {
        match self {
            Self::Location => "location",
            Self::Full => "full",
        }
    }
}

impl FromStr for Granularity {
    type Err = ();
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        match s {
            "location" => Ok(Self::Location),
            "full" => Ok(Self::Full),
            _ => Err(()),
        }
    }
}

/// When traffic between nodes of one location is encapsulated.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Default, Serialize, Deserialize)]
#[cfg_attr(feature = "clap", derive(clap::ValueEnum))]
#[serde(rename_all = "lowercase")]
pub enum Encapsulate {
    /// Always (Kilo's default).
    #[default]
    Always,
    /// Only between nodes whose private IPs are in different subnets.
    #[cfg_attr(feature = "clap", value(name = "crosssubnet"))]
    CrossSubnet,
    /// Never: plain routing over the private network.
    Never,
}

/// Which firewall backend programs the firewall plan (`--firewall-backend`).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Default, Serialize, Deserialize)]
#[cfg_attr(feature = "clap", derive(clap::ValueEnum))]
#[serde(rename_all = "lowercase")]
pub enum FirewallBackend {
    /// `iptables-restore` + `ipset restore`.
    #[default]
    Iptables,
    /// nftables: kg's own tables `ip kilo` and `ip6 kilo`, one `nft -f` transaction per family.
    Nftables,
}

/// How the WireGuard device is driven (`--wireguard-backend`).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Default, Serialize, Deserialize)]
#[cfg_attr(feature = "clap", derive(clap::ValueEnum))]
#[serde(rename_all = "lowercase")]
pub enum WireGuardBackend {
    /// The kernel module, over netlink.
    #[default]
    Kernel,
    /// wireguard-go or boringtun, over the UAPI socket.
    Userspace,
}

pub use crate::tunnel::{
    CILIUM_HOST_DEVICE, CILIUM_TUNL_DEVICE, Compatibility, FLANNEL_DEVICE, TunnelKind,
};

pub use crate::duration::parse_duration;

/// A preshared key. Redacted in `Debug` and in serialized plans; only adapters read the bytes.
#[derive(Clone, Copy, PartialEq, Eq)]
pub struct PresharedKey(pub WgKey);

impl std::fmt::Debug for PresharedKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("PresharedKey(redacted)")
    }
}

impl Serialize for PresharedKey {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str("(redacted)")
    }
}
