//! `kgctl connect` core: the device and routes of a connecting Peer, literal.

#[cfg(test)]
#[allow(
    dead_code,
    reason = "shared by several test binaries; each uses a subset"
)]
mod common;

use common::{N, kilo_example, lab_node, peer, snap};
use kilo_mesh::plan::network::RouteDisplay;
use kilo_mesh::types::Granularity;
use kilo_mesh::views::connect::{ConnectSettings, connect_plan};

#[cfg(test)]
fn settings() -> ConnectSettings {
    ConnectSettings {
        name: "laptop".to_owned(),
        interface: "kilo0".parse().unwrap(),
        port: 51820,
        address: "10.5.0.1/32".parse().unwrap(),
        mtu: 1420,
        granularity: Granularity::Location,
        subnet: "10.4.0.0/16".parse().unwrap(),
    }
}

#[cfg(test)]
fn routes(nodes: &[N]) -> Vec<String> {
    let mut laptop = peer("laptop", b'L', &["10.5.0.1/32"]);
    laptop.persistent_keepalive = Some(10);
    let s = snap(
        &nodes.iter().collect::<Vec<_>>(),
        vec![laptop, peer("phone", b'F', &["10.5.0.2/32"])],
    );
    let (device, network) = connect_plan(&s, &settings()).unwrap();
    assert_eq!(device.listen_port, 51820);
    let names: Vec<&str> = device.peers.iter().map(|p| p.name.as_str()).collect();
    assert_eq!(names.last(), Some(&"peer:phone"));
    assert!(
        device
            .peers
            .iter()
            .all(|p| p.persistent_keepalive == Some(10))
    );
    assert_eq!(network.addresses[0].address.to_string(), "10.5.0.1/32");
    assert!(network.wireguard_up);
    network
        .routes
        .iter()
        .map(|r| RouteDisplay(r, &network.links).to_string())
        .collect()
}

#[test]
fn every_allowed_ip_is_routed_through_the_device() {
    assert_eq!(
        routes(&kilo_example()),
        [
            "10.0.0.1/32 dev kilo0 proto 107 src 10.5.0.1",
            "10.0.0.2/32 dev kilo0 proto 107 src 10.5.0.1",
            "10.4.11.93/32 dev kilo0 proto 107 src 10.5.0.1",
            "10.4.25.174/32 dev kilo0 proto 107 src 10.5.0.1",
            "10.5.0.2/32 dev kilo0 proto 107 src 10.5.0.1",
            "10.42.0.0/24 dev kilo0 proto 107 src 10.5.0.1",
            "10.42.1.0/24 dev kilo0 proto 107 src 10.5.0.1",
            "10.42.2.0/24 dev kilo0 proto 107 src 10.5.0.1",
            "172.31.0.3/32 dev kilo0 proto 107 src 10.5.0.1",
        ]
    );
}

#[test]
fn an_endpoint_inside_the_allowed_ips_is_not_routed_into_the_tunnel() {
    // the lab's nodes are reached at their private IPs, which are also in their AllowedIPs
    let nodes = vec![lab_node(1, "a"), lab_node(3, "b")];
    let r = routes(&nodes);
    assert!(!r.iter().any(|l| l.starts_with("192.168.77.")), "{r:?}");
    assert!(
        r.contains(&"fd00:10:42:1::/64 dev kilo0 proto 107".to_owned()),
        "{r:?}"
    );
}
