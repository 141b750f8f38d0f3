use super::*;

#[test]
fn checksum_of_an_echo_request() {
    // type 8, id 0x1234, seq 1, no payload: ~(0x0800 + 0x1234 + 0x0001) = ~0x1a35
    let m = echo_request(8, 0x1234, 1, 8);
    assert_eq!(m, [8, 0, 0xe5, 0xca, 0x12, 0x34, 0, 1]);
    assert_eq!(checksum(&m), 0);
}

#[test]
fn icmpv6_requests_leave_the_checksum_to_the_kernel() {
    assert_eq!(
        echo_request(128, 0x0102, 7, 10),
        [128, 0, 0, 0, 1, 2, 0, 7, 0, 1]
    );
}

#[test]
fn the_ipv4_header_sets_dont_fragment() {
    let h = ipv4_header("10.42.3.1".parse().unwrap(), 1420);
    assert_eq!(
        h,
        [
            0x45, 0, 0x05, 0x8c, 0, 0, 0x40, 0, 64, 1, 0, 0, 0, 0, 0, 0, 10, 42, 3, 1
        ]
    );
}

fn ipv4(icmp: &[u8]) -> Vec<u8> {
    let mut p = ipv4_header("10.42.3.1".parse().unwrap(), 20 + icmp.len()).to_vec();
    p.extend_from_slice(icmp);
    p
}

#[test]
fn replies_are_matched_by_id_and_sequence() {
    assert_eq!(
        parse(&ipv4(&[0, 0, 0, 0, 0x12, 0x34, 0, 1]), false, 0x1234, 1),
        Answer::Reply
    );
    assert_eq!(
        parse(&ipv4(&[0, 0, 0, 0, 0x12, 0x34, 0, 2]), false, 0x1234, 1),
        Answer::Other
    );
    // our own request, looped back
    assert_eq!(
        parse(&ipv4(&[8, 0, 0, 0, 0x12, 0x34, 0, 1]), false, 0x1234, 1),
        Answer::Other
    );
    assert_eq!(
        parse(&[129, 0, 0, 0, 0x12, 0x34, 0, 1], true, 0x1234, 1),
        Answer::Reply
    );
    assert_eq!(parse(&[], true, 0x1234, 1), Answer::Other);
    assert_eq!(parse(&[0x45], false, 0x1234, 1), Answer::Other);
}

#[test]
fn fragmentation_needed_for_our_echo_carries_the_next_hop_mtu() {
    let original = ipv4(&[8, 0, 0, 0, 0x12, 0x34, 0, 1]);
    let mut icmp = vec![3, 4, 0, 0, 0, 0, 0x05, 0x14]; // next-hop MTU 1300
    icmp.extend_from_slice(&original);
    assert_eq!(parse(&ipv4(&icmp), false, 0x1234, 1), Answer::TooBig(1300));
    assert_eq!(parse(&ipv4(&icmp), false, 0x1234, 9), Answer::Other);
    icmp[1] = 1; // host unreachable: not about size
    assert_eq!(parse(&ipv4(&icmp), false, 0x1234, 1), Answer::Other);
}

#[test]
fn packet_too_big_for_our_icmpv6_echo() {
    let mut icmp = vec![2, 0, 0, 0, 0, 0, 0x05, 0x00]; // MTU 1280
    icmp.extend_from_slice(&[0x60; 40]);
    icmp.extend_from_slice(&[128, 0, 0, 0, 0x12, 0x34, 0, 1]);
    assert_eq!(parse(&icmp, true, 0x1234, 1), Answer::TooBig(1280));
}

/// Root (CI runs as root): a real echo over loopback, small and full-size with DF.
#[tokio::test]
async fn echo_over_loopback() {
    assert!(
        nix_is_root(),
        "this test needs root (raw ICMP sockets); CI runs as root"
    );
    let lo: IpAddr = "127.0.0.1".parse().unwrap();
    echo(lo, SMALL, Duration::from_secs(2)).await.unwrap();
    echo(lo, 1500, Duration::from_secs(2)).await.unwrap();
    echo("::1".parse().unwrap(), 1280, Duration::from_secs(2))
        .await
        .unwrap();
    let too_big = echo(lo, 70_000, Duration::from_secs(2)).await.unwrap_err();
    assert!(too_big.contains("70000-byte echo"), "{too_big}");
}

fn nix_is_root() -> bool {
    std::fs::read_to_string("/proc/self/status")
        .unwrap()
        .lines()
        .any(|l| l.starts_with("Uid:") && l.split_whitespace().nth(1) == Some("0"))
}
