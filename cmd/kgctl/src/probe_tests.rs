//! Unit tests of `probe`.

use super::{peer_series, receive_bytes};

#[test]
fn peer_series_reads_one_family_by_peer() {
    let text = "# HELP x\n\
        kilo_wireguard_peer_handshake_age_seconds{peer=\"location:loc-b\"} 12\n\
        kilo_wireguard_peer_receive_bytes_total{peer=\"location:loc-b\"} 3000\n\
        kilo_wireguard_peer_receive_bytes_total{peer=\"peer:laptop\"} 0\n\
        kilo_wireguard_peer_receive_bytes_total_extra{peer=\"x\"} 5\n\
        kilo_wireguard_peer_receive_bytes_total 5\n";
    let rx = receive_bytes(text);
    assert_eq!(
        rx.into_iter().collect::<Vec<_>>(),
        [
            ("location:loc-b".to_owned(), 3000),
            ("peer:laptop".to_owned(), 0)
        ]
    );
    let age = peer_series(text, "kilo_wireguard_peer_handshake_age_seconds");
    assert_eq!(age.get("location:loc-b"), Some(&12));
}

#[test]
fn receive_bytes_falls_back_to_the_gauge_of_an_older_kg() {
    let text = "kilo_wireguard_peer_receive_bytes{peer=\"location:loc-b\"} 3000\n";
    assert_eq!(
        receive_bytes(text).into_iter().collect::<Vec<_>>(),
        [("location:loc-b".to_owned(), 3000)]
    );
}
