//! The receive buffer after an exchange: what the replies wrote is zeroed, and only that.

use netlink_packet_core::NLM_F_DUMP;
use netlink_packet_route::RouteNetlinkMessage;
use netlink_packet_route::link::LinkMessage;

use super::{Route, Socket};

#[test]
fn the_replies_are_wiped_from_the_buffer() {
    // a link dump of the test's own namespace: readable without privileges, never empty (lo)
    let mut sock = Socket::<Route>::open().unwrap();
    let links = sock
        .request(
            RouteNetlinkMessage::GetLink(LinkMessage::default()),
            NLM_F_DUMP,
        )
        .unwrap();
    assert!(!links.is_empty());
    // the buffer holds as many bytes as the longest datagram, all zero
    assert!(sock.buf.len() >= 16, "{} bytes", sock.buf.len());
    assert!(sock.buf.iter().all(|b| *b == 0));
}

#[test]
fn wiping_covers_the_longest_datagram_and_never_grows_the_buffer() {
    let mut sock = Socket::<Route>::with_buffer(64).unwrap();
    sock.buf.extend_from_slice(&[0xaa; 40]);
    sock.buf.truncate(10); // a later, shorter datagram: its predecessor's bytes are still there
    sock.wipe(40);
    assert_eq!(sock.buf, vec![0u8; 40]);
    sock.buf.clear();
    sock.buf.extend_from_slice(&[0xbb; 64]);
    sock.wipe(1000); // MSG_TRUNC sizes beyond the buffer: the kernel wrote only its capacity
    assert_eq!(sock.buf, vec![0u8; 64]);
    assert_eq!(sock.buf.capacity(), 64);
}
