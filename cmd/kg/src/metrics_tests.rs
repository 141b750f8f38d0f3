//! Unit tests of `metrics`: the exposition names and types dashboards and `kgctl check --probe`
//! read.

use super::*;

fn exposition(registry: &Registry) -> Vec<String> {
    let mut text = String::new();
    prometheus_client::encoding::text::encode(&mut text, registry).unwrap();
    // a family's series come in hash order: sort the lines
    let mut lines: Vec<String> = text
        .lines()
        .filter(|l| l.contains("bytes") || l.contains("errors"))
        .map(str::to_owned)
        .collect();
    lines.sort();
    lines
}

#[test]
fn peer_bytes_are_counters_holding_wireguards_count_and_errors_use_kilos_events() {
    let mut registry = Registry::default();
    let m = Metrics::register(&mut registry);
    let peer = PeerLabels {
        peer: "location:loc-b".to_owned(),
    };
    Metrics::set_bytes(&m.rx_bytes, &peer, 3000);
    Metrics::set_bytes(&m.tx_bytes, &peer, u64::MAX);
    Metrics::set_bytes(&m.rx_bytes, &peer, 4500);
    m.error("checkin");
    m.error("checkin");
    m.error("cleanUp");
    assert_eq!(
        exposition(&registry),
        [
            "# HELP kilo_errors Errors by kind.",
            "# HELP kilo_wireguard_peer_receive_bytes Bytes received from a peer (WireGuard's counter).",
            "# HELP kilo_wireguard_peer_transmit_bytes Bytes sent to a peer (WireGuard's counter).",
            "# TYPE kilo_errors counter",
            "# TYPE kilo_wireguard_peer_receive_bytes counter",
            "# TYPE kilo_wireguard_peer_transmit_bytes counter",
            "kilo_errors_total{event=\"checkin\"} 2",
            "kilo_errors_total{event=\"cleanUp\"} 1",
            "kilo_wireguard_peer_receive_bytes_total{peer=\"location:loc-b\"} 4500",
            "kilo_wireguard_peer_transmit_bytes_total{peer=\"location:loc-b\"} 18446744073709551615",
        ]
    );
}

#[test]
fn dataplane_changes_count_wireguard_and_network_changes_per_apply() {
    let mut registry = Registry::default();
    let m = Metrics::register(&mut registry);
    let applied = |wireguard, network| crate::dataplane::Applied {
        wireguard,
        network,
        firewall: 7,
    };
    m.applied(&applied(2, 5));
    m.applied(&applied(0, 0));
    m.applied(&applied(1, 0));
    let mut text = String::new();
    prometheus_client::encoding::text::encode(&mut text, &registry).unwrap();
    let mut lines: Vec<&str> = text
        .lines()
        .filter(|l| l.contains("dataplane_changes"))
        .collect();
    lines.sort_unstable();
    assert_eq!(
        lines,
        [
            "# HELP kilo_dataplane_changes WireGuard and netlink changes made by applies.",
            "# TYPE kilo_dataplane_changes counter",
            "kilo_dataplane_changes_total{part=\"network\"} 5",
            "kilo_dataplane_changes_total{part=\"wireguard\"} 3",
        ]
    );
}
