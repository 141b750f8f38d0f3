//! Unit tests of `probe`.

use super::peer_series;

#[test]
fn peer_series_reads_one_family_by_peer() {
    let text = "# HELP x\n\
        kilo_wireguard_peer_handshake_age_seconds{peer=\"location:loc-b\"} 12\n\
        kilo_wireguard_peer_receive_bytes{peer=\"location:loc-b\"} 3000\n\
        kilo_wireguard_peer_receive_bytes{peer=\"peer:laptop\"} 0\n\
        kilo_wireguard_peer_receive_bytes_total 5\n";
    let rx = peer_series(text, "kilo_wireguard_peer_receive_bytes");
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
