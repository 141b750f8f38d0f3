use super::*;

fn net(s: &str) -> IpNet {
    s.parse().unwrap()
}

#[test]
fn the_pod_gateway_is_the_first_host_address() {
    assert_eq!(
        pod_gateway(net("10.42.3.0/24")),
        Some("10.42.3.1".parse().unwrap())
    );
    assert_eq!(
        pod_gateway(net("10.42.3.77/24")),
        Some("10.42.3.1".parse().unwrap())
    );
    assert_eq!(
        pod_gateway(net("fd00:10:42:3::/64")),
        Some("fd00:10:42:3::1".parse().unwrap())
    );
}

#[test]
fn a_pod_cidr_without_room_for_a_gateway_has_none() {
    assert_eq!(pod_gateway(net("10.42.3.4/31")), None);
    assert_eq!(pod_gateway(net("10.42.3.4/32")), None);
    assert_eq!(pod_gateway(net("fd00::/127")), None);
    assert_eq!(pod_gateway(net("fd00::1/128")), None);
}

#[test]
fn the_full_size_probe_takes_the_pod_path() {
    let t = Target {
        node: "n3".parse().unwrap(),
        host: Some("192.168.77.13".parse().unwrap()),
        pod: Some("10.42.3.1".parse().unwrap()),
    };
    assert_eq!(
        t.address(Path::Host),
        Some("192.168.77.13".parse().unwrap())
    );
    assert_eq!(t.address(Path::Pod), Some("10.42.3.1".parse().unwrap()));
    assert_eq!(t.address(Path::Mtu), Some("10.42.3.1".parse().unwrap()));
}

#[test]
fn paths_serialize_as_their_labels() {
    assert_eq!(
        serde_json::to_string(&Path::ALL).unwrap(),
        r#"["host","pod","mtu"]"#
    );
    assert_eq!(Path::Mtu.to_string(), "mtu");
}
