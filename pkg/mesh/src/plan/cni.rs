//! The CNI conflist kg writes for `kilo-cni`, built from the node's pod CIDRs and MTU. Pure: the
//! caller writes it atomically.
//!
//! Contract with `kilo-cni`: `ipam` without a `type` selects the plugin's built-in host-local
//! compatible IPAM; `ipam.type` naming another plugin delegates to it per the CNI spec.

use ipnet::IpNet;
use serde_json::{Value, json};

/// The network name used in the conflist (and the IPAM data directory under
/// `/var/lib/cni/networks/`).
pub const NETWORK_NAME: &str = "kilo";

/// The bridge `kilo-cni` attaches pods to.
pub const BRIDGE: &str = "kube-bridge";

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
    if inputs.portmap { "1.0.0" } else { "1.1.0" }
}

/// Builds the conflist as JSON. One IPAM range set per pod CIDR, each with its own family.
#[must_use]
pub fn conflist(inputs: &CniInputs) -> Value {
    let ranges: Vec<Value> = inputs
        .pod_cidrs
        .iter()
        .map(|c| json!([{ "subnet": c.trunc().to_string() }]))
        .collect();
    let mut plugins = vec![json!({
        "type": "kilo-cni",
        "bridge": BRIDGE,
        "isDefaultGateway": true,
        "forceAddress": true,
        "hairpinMode": true,
        "mtu": inputs.mtu,
        "ipam": { "ranges": ranges },
    })];
    if inputs.portmap {
        plugins.push(json!({
            "type": "portmap",
            "snat": true,
            "capabilities": { "portMappings": true },
        }));
    }
    json!({
        "cniVersion": cni_version(inputs),
        "name": NETWORK_NAME,
        "plugins": plugins,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn dual_stack_conflist_with_portmap() {
        let v = conflist(&CniInputs {
            pod_cidrs: vec![
                "10.42.1.0/24".parse().unwrap(),
                "fd00:10:42:1::/64".parse().unwrap(),
            ],
            mtu: 1420,
            portmap: true,
        });
        insta::assert_json_snapshot!(v, @r#"
        {
          "cniVersion": "1.0.0",
          "name": "kilo",
          "plugins": [
            {
              "bridge": "kube-bridge",
              "forceAddress": true,
              "hairpinMode": true,
              "ipam": {
                "ranges": [
                  [
                    {
                      "subnet": "10.42.1.0/24"
                    }
                  ],
                  [
                    {
                      "subnet": "fd00:10:42:1::/64"
                    }
                  ]
                ]
              },
              "isDefaultGateway": true,
              "mtu": 1420,
              "type": "kilo-cni"
            },
            {
              "capabilities": {
                "portMappings": true
              },
              "snat": true,
              "type": "portmap"
            }
          ]
        }
        "#);
    }
}
