//! The kg → kilo-cni config types: JSON shape, defaults left out, round trips, hostile values.

use serde_json::json;

use super::*;

fn kilo(v: serde_json::Value) -> Result<KiloConf, serde_json::Error> {
    serde_json::from_value(v)
}

#[test]
fn every_field_round_trips_under_its_wire_name() {
    let wire = json!({
        "bridge": "br-pods",
        "isGateway": true,
        "isDefaultGateway": true,
        "forceAddress": true,
        "hairpinMode": true,
        "mtu": 1400,
        "ipMasq": true,
        "vlan": 7,
        "ipam": {
            "type": "dhcp",
            "ranges": [[{
                "subnet": "10.42.1.0/24",
                "rangeStart": "10.42.1.10",
                "rangeEnd": "10.42.1.20",
                "gateway": "10.42.1.1"
            }]],
            "subnet": "10.43.0.0/16",
            "rangeStart": "10.43.0.10",
            "rangeEnd": "10.43.0.20",
            "gateway": "10.43.0.1",
            "routes": [{"dst": "0.0.0.0/0", "gw": "10.42.1.254"}, {"dst": "fd00::/8"}],
            "dataDir": "/run/leases"
        }
    });
    let conf = kilo(wire.clone()).unwrap();
    assert_eq!(conf.bridge.as_ref().map(IfName::as_str), Some("br-pods"));
    assert!(conf.is_gateway && conf.is_default_gateway && conf.force_address);
    assert!(conf.hairpin_mode && conf.ip_masq);
    assert_eq!((conf.mtu, conf.vlan), (1400, 7));
    let ipam = conf.ipam.as_ref().unwrap();
    assert_eq!(ipam.kind.as_deref(), Some("dhcp"));
    assert_eq!(
        ipam.ranges,
        [[RangeConf {
            subnet: "10.42.1.0/24".parse().unwrap(),
            range_start: Some("10.42.1.10".parse().unwrap()),
            range_end: Some("10.42.1.20".parse().unwrap()),
            gateway: Some("10.42.1.1".parse().unwrap()),
        }]]
    );
    assert_eq!(ipam.routes[1].gw, None);
    assert_eq!(ipam.data_dir.as_deref(), Some("/run/leases"));
    assert_eq!(serde_json::to_value(&conf).unwrap(), wire);
}

#[test]
fn defaults_are_left_out_and_unknown_fields_ignored() {
    assert_eq!(
        serde_json::to_value(KiloConf::default()).unwrap(),
        json!({})
    );
    // The runtime adds fields of its own (runtimeConfig, args, ...).
    let conf = kilo(json!({"runtimeConfig": {"portMappings": []}, "args": {}})).unwrap();
    assert_eq!(conf, KiloConf::default());
}

#[test]
fn a_conflist_names_each_plugin_by_type() {
    let list = Conflist {
        cni_version: "1.1.0".into(),
        name: "kilo".into(),
        plugins: vec![
            PluginConf::Kilo(Box::new(KiloConf {
                mtu: 1420,
                ..KiloConf::default()
            })),
            PluginConf::Portmap(PortmapConf {
                snat: true,
                capabilities: PortmapCapabilities {
                    port_mappings: true,
                },
            }),
        ],
    };
    let wire = json!({
        "cniVersion": "1.1.0",
        "name": "kilo",
        "plugins": [
            {"type": "kilo-cni", "mtu": 1420},
            {"type": "portmap", "snat": true, "capabilities": {"portMappings": true}}
        ]
    });
    assert_eq!(serde_json::to_value(&list).unwrap(), wire);
    assert_eq!(serde_json::from_value::<Conflist>(wire).unwrap(), list);
    let unknown = json!({"cniVersion": "1.1.0", "name": "kilo", "plugins": [{"type": "bridge"}]});
    assert!(serde_json::from_value::<Conflist>(unknown).is_err());
}

#[test]
fn bridge_names_follow_the_kernels_rule() {
    for bad in [
        "",
        "sixteen-bytes-xx",
        ".",
        "..",
        "a/b",
        "a:b",
        "a b",
        "a\tb",
        "a\u{0b}b",
        "a\u{0c}b",
        "a\0b",
        // U+00A0 and U+0120 both hold the byte 0xA0, which the kernel's isspace() matches.
        "a\u{a0}b",
        "a\u{120}b",
    ] {
        assert!(kilo(json!({ "bridge": bad })).is_err(), "{bad:?} accepted");
    }
    // The kernel takes these (checked with `ip link add`).
    for good in [
        "fifteen-bytes-x",
        "a\u{e9}b",
        "a\u{2000}b",
        "a\u{7f}b",
        "a\u{1}b",
    ] {
        let conf = kilo(json!({ "bridge": good })).unwrap();
        assert_eq!(conf.bridge.unwrap().as_str(), good);
    }
}

#[test]
fn hostile_numbers_and_addresses_are_refused() {
    for bad in [
        json!({"mtu": -1}),
        json!({"mtu": 4_294_967_296_u64}),
        json!({"mtu": "1420"}),
        json!({"vlan": 1.5}),
        json!({"hairpinMode": "true"}),
        json!({"ipam": {"ranges": [[{"subnet": "10.42.1.0/33"}]]}}),
        json!({"ipam": {"ranges": [[{"subnet": "10.42.1.0"}]]}}),
        json!({"ipam": {"ranges": [[{}]]}}),
        json!({"ipam": {"ranges": [{"subnet": "10.42.1.0/24"}]}}),
        json!({"ipam": {"routes": [{"gw": "10.0.0.1"}]}}),
        json!({"ipam": {"gateway": "10.0.0.256"}}),
    ] {
        assert!(kilo(bad.clone()).is_err(), "{bad} accepted");
    }
}
