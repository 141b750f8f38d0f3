//! Unit tests of `exchange`.

use netlink_packet_core::{
    DoneMessage, ErrorMessage, NLM_F_MULTIPART, NetlinkHeader, NetlinkMessage, NetlinkPayload,
};
use netlink_packet_route::RouteNetlinkMessage;
use netlink_packet_route::link::{LinkAttribute, LinkMessage};

use super::*;

fn bytes(payload: NetlinkPayload<RouteNetlinkMessage>, seq: u32) -> Vec<u8> {
    let mut header = NetlinkHeader::default();
    header.sequence_number = seq;
    header.flags = NLM_F_MULTIPART;
    let mut m = NetlinkMessage::new(header, payload);
    m.finalize();
    let mut out = vec![0u8; m.buffer_len()];
    m.serialize(&mut out);
    out
}

fn link(name: &str) -> NetlinkPayload<RouteNetlinkMessage> {
    let mut l = LinkMessage::default();
    l.attributes.push(LinkAttribute::IfName(name.to_owned()));
    NetlinkPayload::InnerMessage(RouteNetlinkMessage::NewLink(l))
}

fn done(code: i32) -> NetlinkPayload<RouteNetlinkMessage> {
    let mut d = DoneMessage::default();
    d.code = code;
    NetlinkPayload::Done(d)
}

fn names(replies: &[RouteNetlinkMessage]) -> Vec<String> {
    replies
        .iter()
        .filter_map(|r| match r {
            RouteNetlinkMessage::NewLink(l) => l.attributes.iter().find_map(|a| match a {
                LinkAttribute::IfName(n) => Some(n.clone()),
                _ => None,
            }),
            _ => None,
        })
        .collect()
}

#[test]
fn a_dump_spans_datagrams_until_done() {
    let mut replies = Vec::new();
    let first = [bytes(link("lo"), 7), bytes(link("eth0"), 7)].concat();
    assert_eq!(parse(&first, 7, &mut replies).unwrap(), Progress::More);
    let second = [bytes(link("eth1"), 7), bytes(done(0), 7)].concat();
    assert_eq!(parse(&second, 7, &mut replies).unwrap(), Progress::Done);
    assert_eq!(names(&replies), ["lo", "eth0", "eth1"]);
}

#[test]
fn an_ack_ends_and_an_error_fails_with_its_errno() {
    let mut replies: Vec<RouteNetlinkMessage> = Vec::new();
    let ack = bytes(NetlinkPayload::Error(ErrorMessage::default()), 3);
    assert_eq!(parse(&ack, 3, &mut replies).unwrap(), Progress::Done);
    let mut nack = ErrorMessage::default();
    nack.code = std::num::NonZeroI32::new(-17);
    let err = parse(&bytes(NetlinkPayload::Error(nack), 3), 3, &mut replies).unwrap_err();
    assert_eq!(err.errno(), Some(Errno::EEXIST));
    assert_eq!(err.to_string(), "kernel: EEXIST: File exists");
    let err = parse(&bytes(done(-90), 3), 3, &mut replies).unwrap_err();
    assert_eq!(err.errno(), Some(Errno::EMSGSIZE));
}

#[test]
fn another_requests_reply_is_refused() {
    let mut replies: Vec<RouteNetlinkMessage> = Vec::new();
    let stale = [bytes(link("lo"), 4), bytes(done(0), 4)].concat();
    let err = parse(&stale, 5, &mut replies).unwrap_err();
    assert_eq!(
        err.to_string(),
        "netlink reply out of sequence (got 4, want 5)"
    );
    assert!(replies.is_empty());
    assert!(check_first_sequence(&stale[..20], 4).is_ok());
    let err = check_first_sequence(&stale[..20], 5).unwrap_err();
    assert!(matches!(err, Error::Sequence { got: 4, want: 5 }), "{err}");
    assert!(check_first_sequence(&stale[..6], 5).is_ok());
}

#[test]
fn garbage_and_zero_lengths_are_decode_errors() {
    let mut replies: Vec<RouteNetlinkMessage> = Vec::new();
    let err = parse(&[1, 2, 3], 1, &mut replies).unwrap_err();
    assert!(matches!(err, Error::Decode(_)), "{err}");
    let mut zero = bytes(link("lo"), 1);
    zero[..4].copy_from_slice(&0u32.to_ne_bytes());
    let err = parse(&zero, 1, &mut replies).unwrap_err();
    assert!(matches!(err, Error::Decode(_)), "{err}");
}
