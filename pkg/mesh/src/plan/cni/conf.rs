//! The typed contract between kg and `kilo-cni`: the conflist kg writes ([`Conflist`]) and the
//! plugin entry `kilo-cni` parses ([`KiloConf`], its `ipam` section [`IpamConf`]). kg
//! serializes these types and the plugin deserializes the same ones, so a field one side
//! renames or drops breaks the other's tests. Pure (serde only).
//!
//! Every field the plugin understands is here; a field at its default is left out of the JSON
//! (so kg writes only what it sets, and a parsed entry serializes back to exactly what was read).

use std::net::IpAddr;

use ipnet::IpNet;
use serde::{Deserialize, Serialize};

use crate::types::IfName;

/// A conflist (`/etc/cni/net.d/10-kilo.conflist`).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Conflist {
    /// The spec version of the list.
    pub cni_version: String,
    /// The network name (the runtime injects it into each plugin's config).
    pub name: String,
    /// The plugin chain, in order.
    pub plugins: Vec<PluginConf>,
}

/// One entry of a conflist's `plugins`, by its `type`.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "type")]
pub enum PluginConf {
    /// `kilo-cni` itself.
    #[serde(rename = "kilo-cni")]
    Kilo(Box<KiloConf>),
    /// The reference `portmap` plugin (host ports).
    #[serde(rename = "portmap")]
    Portmap(PortmapConf),
}

/// The `portmap` entry.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct PortmapConf {
    /// Masquerade traffic to host ports from the node itself.
    pub snat: bool,
    /// The runtime capabilities the plugin takes.
    pub capabilities: PortmapCapabilities,
}

/// The capabilities `portmap` asks the runtime for.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct PortmapCapabilities {
    /// `runtimeConfig.portMappings`.
    pub port_mappings: bool,
}

/// `kilo-cni`'s own part of its entry (the runtime adds `cniVersion`, `name`, `prevResult`, ...).
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct KiloConf {
    /// The bridge pods attach to (default: `kube-bridge`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub bridge: Option<IfName>,
    /// Put the gateway addresses on the bridge.
    #[serde(default, skip_serializing_if = "is_false")]
    pub is_gateway: bool,
    /// Also install a default route per family in the pod (implies `isGateway`).
    #[serde(default, skip_serializing_if = "is_false")]
    pub is_default_gateway: bool,
    /// Accepted as the reference bridge plugin takes it; kilo-cni adds its gateway address
    /// whatever else the bridge holds.
    #[serde(default, skip_serializing_if = "is_false")]
    pub force_address: bool,
    /// Hairpin mode on the bridge port.
    #[serde(default, skip_serializing_if = "is_false")]
    pub hairpin_mode: bool,
    /// MTU of the veth pair (0: the kernel's default).
    #[serde(default, skip_serializing_if = "is_zero")]
    pub mtu: u32,
    /// IP masquerade: refused by the plugin (kg does the NAT).
    #[serde(default, skip_serializing_if = "is_false")]
    pub ip_masq: bool,
    /// VLAN tag: refused by the plugin.
    #[serde(default, skip_serializing_if = "is_zero")]
    pub vlan: u32,
    /// The IPAM section (required by the plugin).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub ipam: Option<IpamConf>,
}

/// The `ipam` section, configured like the reference `host-local` plugin.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct IpamConf {
    /// Delegate IPAM plugin; empty or absent selects the built-in host-local compatible IPAM.
    #[serde(rename = "type", default, skip_serializing_if = "Option::is_none")]
    pub kind: Option<String>,
    /// Range sets (one per address family, usually).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub ranges: Vec<Vec<RangeConf>>,
    /// Legacy single-range form: subnet.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub subnet: Option<IpNet>,
    /// Legacy single-range form: first address.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub range_start: Option<IpAddr>,
    /// Legacy single-range form: last address.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub range_end: Option<IpAddr>,
    /// Legacy single-range form: gateway.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub gateway: Option<IpAddr>,
    /// Extra routes.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub routes: Vec<RouteConf>,
    /// Lease directory (default `/var/lib/cni/networks`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub data_dir: Option<String>,
}

/// One range of a range set, as host-local configures it.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct RangeConf {
    /// The subnet to allocate from.
    pub subnet: IpNet,
    /// First allocatable address (default: subnet + 1).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub range_start: Option<IpAddr>,
    /// Last allocatable address (default: broadcast − 1 for IPv4, the last address for IPv6).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub range_end: Option<IpAddr>,
    /// Gateway (default: subnet + 1).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub gateway: Option<IpAddr>,
}

impl RangeConf {
    /// The whole of `subnet`, with the defaults for everything else.
    #[must_use]
    pub fn subnet(subnet: IpNet) -> Self {
        Self {
            subnet,
            range_start: None,
            range_end: None,
            gateway: None,
        }
    }
}

/// A route from the IPAM section.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct RouteConf {
    /// Destination.
    pub dst: IpNet,
    /// Gateway (none: on-link; the range's gateway is not implied).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub gw: Option<IpAddr>,
}

fn is_false(b: &bool) -> bool {
    !*b
}

fn is_zero(n: &u32) -> bool {
    *n == 0
}

#[cfg(test)]
#[path = "conf_tests.rs"]
mod tests;
