//! The tunnel that carries encapsulated traffic inside a location ([`TunnelKind`]), and
//! `--compatibility` ([`Compatibility`]): the CNI kg runs on top of, and the device names it
//! adopts from it. Pure.

use serde::{Deserialize, Serialize};

use crate::types::IfName;

/// flannel's VXLAN device (its vxlan backend, VNI 1).
pub const FLANNEL_DEVICE: &str = "flannel.1";
/// The IPIP device Cilium renames `tunl0` to when it terminates IPIP itself.
pub const CILIUM_TUNL_DEVICE: &str = "cilium_tunl";
/// The Cilium interface whose IPv4 address a node publishes as its `cni-compatibility-ip`.
pub const CILIUM_HOST_DEVICE: &str = "cilium_host";

/// Which tunnel carries encapsulated traffic inside a location.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Default, Serialize, Deserialize)]
#[cfg_attr(feature = "clap", derive(clap::ValueEnum))]
#[serde(rename_all = "lowercase")]
pub enum TunnelKind {
    /// IP-in-IP on `tunl0`, as Kilo does.
    #[default]
    Ipip,
    /// VXLAN on `kilo.vxlan`.
    Vxlan,
    /// `--compatibility=flannel`: flannel's own VXLAN device `flannel.1`, which kg adopts but
    /// never creates, configures or deletes; a node's gateway is its pod subnet's network
    /// address (flannel's VTEP address).
    #[cfg_attr(feature = "clap", value(skip))]
    Flannel,
    /// `--compatibility=cilium`: IPIP whose outer packets go to a node's
    /// `cni-compatibility-ip` (else its pod subnet's network address) through Cilium's overlay,
    /// on `cilium_tunl` when Cilium owns it, else on `tunl0`.
    #[cfg_attr(feature = "clap", value(skip))]
    Cilium,
}

/// `--compatibility`: the CNI Kilo runs on top of (Kilo's two modes).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "clap", derive(clap::ValueEnum))]
#[serde(rename_all = "lowercase")]
pub enum Compatibility {
    /// flannel: WireGuard between locations only, flannel's VXLAN inside them.
    Flannel,
    /// Cilium: IPIP routed through Cilium's overlay inside locations.
    Cilium,
}

impl Compatibility {
    /// The tunnel this mode encapsulates with (it replaces `--tunnel`).
    #[must_use]
    pub const fn tunnel(self) -> TunnelKind {
        match self {
            Self::Flannel => TunnelKind::Flannel,
            Self::Cilium => TunnelKind::Cilium,
        }
    }
}

impl TunnelKind {
    /// The device on a node where Cilium has (`cilium_tunl`) or has not renamed `tunl0`.
    #[must_use]
    pub fn device_on(self, cilium_tunl: bool) -> IfName {
        if self == Self::Cilium && cilium_tunl {
            IfName(CILIUM_TUNL_DEVICE.to_owned())
        } else {
            self.device()
        }
    }

    /// Whether the tunnel is IP-in-IP (`tunl0` or Cilium's `cilium_tunl`).
    #[must_use]
    pub const fn is_ipip(self) -> bool {
        matches!(self, Self::Ipip | Self::Cilium)
    }

    /// Whether the tunnel comes from a `--compatibility` mode (its gateways are CNI addresses).
    #[must_use]
    pub const fn is_compat(self) -> bool {
        matches!(self, Self::Flannel | Self::Cilium)
    }

    /// The tunnel device kg uses for this kind: `tunl0` (IPIP; Cilium's when it has not
    /// renamed it [`CILIUM_TUNL_DEVICE`]), `kilo.vxlan` (VXLAN) or `flannel.1` (flannel's).
    #[must_use]
    pub fn device(self) -> IfName {
        IfName(
            match self {
                Self::Ipip | Self::Cilium => "tunl0",
                Self::Vxlan => "kilo.vxlan",
                Self::Flannel => FLANNEL_DEVICE,
            }
            .to_owned(),
        )
    }
}
