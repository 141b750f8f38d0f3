//! The planning flags kg and `kgctl plan` share, defined once so that "`kgctl plan` shows what kg
//! applies" holds by construction: Kilo's names, defaults and `KILO_*` environment variables, and
//! their translation into [`Settings`]. Built only with the `clap` feature (the binaries flatten
//! [`MeshFlags`]); the core itself never parses a command line. Pure.

use clap::{ArgAction, Args};
use ipnet::{IpNet, Ipv4Net};

use crate::local::{DiscoverSettings, MtuSetting, resolve_mtu};
use crate::plan::Settings;
use crate::types::{
    Compatibility, Encapsulate, FirewallBackend, Granularity, IfName, NodeName, ParseError,
    TunnelKind,
};

/// `--subnet`'s default: where WireGuard IPs come from.
pub const DEFAULT_SUBNET: &str = "10.4.0.0/16";
/// `--port`'s default: the WireGuard listen port.
pub const DEFAULT_PORT: u16 = 51820;
/// `--interface`'s default: the WireGuard interface.
pub const DEFAULT_INTERFACE: &str = "kilo0";
/// `--topology-label`'s default: the label holding a node's location.
pub const DEFAULT_TOPOLOGY_LABEL: &str = "topology.kubernetes.io/region";

/// The flags that decide a node's plan, as kg and `kgctl plan` take them. Booleans take Go's
/// forms (`--cni`, `--cni=false`).
#[derive(Args, Clone, Debug, PartialEq, Eq)]
#[allow(clippy::struct_excessive_bools, reason = "one field per boolean flag")]
pub struct MeshFlags {
    /// Mesh granularity.
    #[arg(
        long,
        env = "KILO_MESH_GRANULARITY",
        value_enum,
        default_value = "location"
    )]
    pub mesh_granularity: Granularity,
    /// WireGuard subnet.
    #[arg(long, env = "KILO_SUBNET", default_value = DEFAULT_SUBNET)]
    pub subnet: Ipv4Net,
    /// WireGuard listen port.
    #[arg(long, env = "KILO_PORT", default_value_t = DEFAULT_PORT)]
    pub port: u16,
    /// The WireGuard interface.
    #[arg(long, env = "KILO_INTERFACE", default_value = DEFAULT_INTERFACE)]
    pub interface: String,
    /// Encapsulation inside a location.
    #[arg(long, env = "KILO_ENCAPSULATE", value_enum, default_value = "always")]
    pub encapsulate: Encapsulate,
    /// The tunnel used by encapsulation (`--compatibility` replaces it).
    #[arg(long, env = "KILO_TUNNEL", value_enum, default_value = "ipip")]
    pub tunnel: TunnelKind,
    /// Run on top of another CNI: `flannel` (flannel's `flannel.1` inside locations) or
    /// `cilium` (IPIP through Cilium's overlay). None by default.
    #[arg(long, env = "KILO_COMPATIBILITY", value_enum)]
    pub compatibility: Option<Compatibility>,
    /// Service CIDRs, never NATed (repeatable, or comma-separated).
    #[arg(
        long = "service-cidr",
        env = "KILO_SERVICE_CIDR",
        value_delimiter = ','
    )]
    pub service_cidrs: Vec<IpNet>,
    /// Add FORWARD accept rules for the location's CIDRs.
    #[arg(long, env = "KILO_IPTABLES_FORWARD_RULES", default_value_t = false, action = ArgAction::Set, num_args = 0..=1, require_equals = true, default_missing_value = "true")]
    pub iptables_forward_rules: bool,
    /// Manage pod networking (NAT for local pods and the CNI config); default true, false
    /// with `--compatibility` (the other CNI owns the pods).
    #[arg(long, env = "KILO_CNI", action = ArgAction::Set, num_args = 0..=1, require_equals = true, default_missing_value = "true")]
    pub cni: Option<bool>,
    /// Route inside a location over the private network.
    #[arg(long, env = "KILO_LOCAL", default_value_t = true, action = ArgAction::Set, num_args = 0..=1, require_equals = true, default_missing_value = "true")]
    pub local: bool,
    /// WireGuard MTU, or `auto` (the private interface's MTU - 80, 1420 when unknown).
    #[arg(long, env = "KILO_MTU", default_value = "auto")]
    pub mtu: MtuSetting,
    /// Label holding a node's location.
    #[arg(long, env = "KILO_TOPOLOGY_LABEL", default_value = DEFAULT_TOPOLOGY_LABEL)]
    pub topology_label: String,
    /// Firewall backend.
    #[arg(
        long,
        env = "KILO_FIREWALL_BACKEND",
        value_enum,
        default_value = "iptables"
    )]
    pub firewall_backend: FirewallBackend,
    /// Ranges in which to look for the private IP (repeatable, or comma-separated).
    #[arg(
        long = "internal-cidr",
        env = "KILO_INTERNAL_CIDR",
        value_delimiter = ','
    )]
    pub internal_cidrs: Vec<IpNet>,
    /// Prefer the private address as the endpoint even when a public one exists.
    #[arg(long, env = "KILO_PRIORITISE_PRIVATE_ADDRESSES", default_value_t = false, action = ArgAction::Set, num_args = 0..=1, require_equals = true, default_missing_value = "true")]
    pub prioritise_private_addresses: bool,
}

/// A flag value that does not make a valid [`Settings`].
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum FlagError {
    /// `--interface` is not an interface name.
    #[error("--interface: {0}")]
    Interface(#[source] ParseError),
}

impl MeshFlags {
    /// The WireGuard interface, checked.
    ///
    /// # Errors
    /// `--interface` is not a valid interface name.
    pub fn interface(&self) -> Result<IfName, FlagError> {
        self.interface.parse().map_err(FlagError::Interface)
    }

    /// `--cni` as given, else true without `--compatibility` and false with it.
    #[must_use]
    pub fn cni(&self) -> bool {
        self.cni.unwrap_or(self.compatibility.is_none())
    }

    /// How the node looks for its private IPs and endpoint.
    #[must_use]
    pub fn discover_settings(&self) -> DiscoverSettings {
        DiscoverSettings {
            wireguard: self.interface.clone(),
            internal_cidrs: self.internal_cidrs.clone(),
            port: self.port,
            prefer_private: self.prioritise_private_addresses,
        }
    }

    /// The [`Settings`] of node `hostname`, with `--mtu auto` resolved from the underlay's MTU
    /// when known.
    ///
    /// # Errors
    /// `--interface` is not a valid interface name.
    pub fn settings(
        &self,
        hostname: NodeName,
        underlay_mtu: Option<u32>,
    ) -> Result<Settings, FlagError> {
        Ok(Settings {
            hostname,
            granularity: self.mesh_granularity,
            subnet: self.subnet,
            port: self.port,
            interface: self.interface()?,
            encapsulate: self.encapsulate,
            tunnel: self
                .compatibility
                .map_or(self.tunnel, Compatibility::tunnel),
            service_cidrs: self.service_cidrs.clone(),
            forward_rules: self.iptables_forward_rules,
            cni: self.cni(),
            local: self.local,
            mtu: resolve_mtu(self.mtu, underlay_mtu),
        })
    }
}
