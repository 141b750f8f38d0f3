//! The CNI conflist kg writes for `kilo-cni`, built from the node's pod CIDRs and MTU. Pure: the
//! caller writes it atomically.
//!
//! Contract with `kilo-cni`: the types of [`conf`], which kg serializes and the plugin parses.
//! `ipam` without a `type` selects the plugin's built-in host-local compatible IPAM;
//! `ipam.type` naming another plugin delegates to it per the CNI spec.

pub mod conf;

use ipnet::IpNet;
use serde_json::Value;

use self::conf::{
    Conflist, IpamConf, KiloConf, PluginConf, PortmapCapabilities, PortmapConf, RangeConf,
};

/// The network name used in the conflist (and the IPAM data directory under
/// `/var/lib/cni/networks/`).
pub const NETWORK_NAME: &str = "kilo";

/// The bridge `kilo-cni` attaches pods to (also its default when a config names none).
pub const BRIDGE: &str = "kube-bridge";

/// The spec version of the conflist when every plugin in it supports the newest one.
pub const CNI_VERSION: &str = "1.1.0";

/// Inputs of the CNI config.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct CniInputs {
    /// The node's pod CIDRs (one per family), in `spec.podCIDRs` order.
    pub pod_cidrs: Vec<IpNet>,
    /// Pod interface MTU.
    pub mtu: u32,
    /// Chain the `portmap` plugin (when it is installed).
    pub portmap: bool,
}

/// The conflist's `cniVersion`: 1.1.0, or 1.0.0 when `portmap` is chained. Every plugin of the
/// list must support the list's version, and the reference `portmap` supports 1.1.0 only since
/// containernetworking/plugins 1.5; the 1.1.1 that Debian 12 and 13 ship (and the image's static
/// build of it) stops at 1.0.0. `kilo-cni` supports both.
fn cni_version(inputs: &CniInputs) -> &'static str {
    if inputs.portmap { "1.0.0" } else { CNI_VERSION }
}

/// The conflist: one IPAM range set per pod CIDR, each with its own family.
#[must_use]
pub fn kilo_conflist(inputs: &CniInputs) -> Conflist {
    let ranges = inputs
        .pod_cidrs
        .iter()
        .map(|c| vec![RangeConf::subnet(c.trunc())])
        .collect();
    let mut plugins = vec![PluginConf::Kilo(Box::new(KiloConf {
        // `BRIDGE` is a valid name; were it not, the plugin's default is the same bridge.
        bridge: BRIDGE.parse().ok(),
        is_default_gateway: true,
        force_address: true,
        hairpin_mode: true,
        mtu: inputs.mtu,
        ipam: Some(IpamConf {
            ranges,
            ..IpamConf::default()
        }),
        ..KiloConf::default()
    }))];
    if inputs.portmap {
        plugins.push(PluginConf::Portmap(PortmapConf {
            snat: true,
            capabilities: PortmapCapabilities {
                port_mappings: true,
            },
        }));
    }
    Conflist {
        cni_version: cni_version(inputs).to_owned(),
        name: NETWORK_NAME.to_owned(),
        plugins,
    }
}

/// [`kilo_conflist`] as JSON (object keys sorted, as `kgctl plan` shows and kg writes it).
#[must_use]
pub fn conflist(inputs: &CniInputs) -> Value {
    // Cannot fail: every key is a string and every value serializes infallibly.
    serde_json::to_value(kilo_conflist(inputs)).unwrap_or(Value::Null)
}

#[cfg(test)]
#[path = "cni_tests.rs"]
mod tests;
