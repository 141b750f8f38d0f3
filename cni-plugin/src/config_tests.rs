//! The contract with kg: the conflist kg renders is what this plugin parses, field for field.

use kilo_mesh::plan::cni::{CniInputs, conflist};
use serde_json::Value;

use super::*;
use crate::ipam::range::range_sets;

/// kg's conflist for a dual-stack node with portmap, and its kilo-cni entry as the runtime
/// hands it over (libcni injects the list's `name` and `cniVersion`).
fn kgs_entry() -> Value {
    let list = conflist(&CniInputs {
        pod_cidrs: vec![
            "10.42.1.0/24".parse().unwrap(),
            "fd00:10:42:1::/64".parse().unwrap(),
        ],
        mtu: 1420,
        portmap: true,
    });
    let mut entry = list["plugins"][0].clone();
    entry["name"] = list["name"].clone();
    entry["cniVersion"] = list["cniVersion"].clone();
    entry
}

#[test]
fn kgs_conflist_is_what_the_plugin_parses_field_for_field() {
    let entry = kgs_entry();
    let conf = NetConf::parse(&serde_json::to_vec(&entry).unwrap()).unwrap();
    assert_eq!(
        (conf.cni_version.as_str(), conf.name.as_str()),
        ("1.0.0", "kilo"),
        "portmap is chained: the list says 1.0.0"
    );
    assert_eq!(conf.bridge_name(), "kube-bridge");
    assert!(conf.gateway_on_bridge() && conf.plugin.is_default_gateway);
    assert!(conf.plugin.hairpin_mode && conf.plugin.force_address);
    assert_eq!(conf.plugin.mtu, 1420);
    assert_eq!(conf.ipam_delegate(), None);
    let ipam = conf.plugin.ipam.as_ref().unwrap();
    assert_eq!(
        ipam.ranges,
        [
            [RangeConf::subnet("10.42.1.0/24".parse().unwrap())],
            [RangeConf::subnet("fd00:10:42:1::/64".parse().unwrap())],
        ]
    );
    assert_eq!(ipam.data_dir, None);
    let sets = range_sets(ipam).unwrap();
    let gateways: Vec<String> = sets.iter().map(|s| s[0].gateway.to_string()).collect();
    assert_eq!(gateways, ["10.42.1.1", "fd00:10:42:1::1"]);

    // Field for field: what the plugin read serializes back to exactly what kg wrote, so no
    // field kg sets is one the plugin ignores.
    let mut back = serde_json::to_value(&conf.plugin).unwrap();
    back["type"] = "kilo-cni".into();
    back["name"] = conf.name.clone().into();
    back["cniVersion"] = conf.cni_version.clone().into();
    assert_eq!(back, entry);
}

#[test]
fn invalid_plugin_settings_are_config_errors() {
    for (field, value) in [
        ("bridge", Value::from("a/b")),
        ("bridge", Value::from("sixteen-bytes-xx")),
        ("mtu", Value::from(-1)),
        ("ipam", Value::from("host-local")),
    ] {
        let mut entry = kgs_entry();
        entry[field] = value;
        let err = NetConf::parse(&serde_json::to_vec(&entry).unwrap()).unwrap_err();
        assert_eq!(
            (err.code, err.msg.as_str()),
            (7, "invalid network config"),
            "{field}"
        );
    }
    let mut entry = kgs_entry();
    entry["ipMasq"] = true.into();
    let err = NetConf::parse(&serde_json::to_vec(&entry).unwrap()).unwrap_err();
    assert_eq!(err.code, 2);
}
