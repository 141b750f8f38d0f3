// Expected bytes are what `ipset` 7.17 and `nft` 1.0.6 sent for the same change (strace -xx),
// with the differences written out: our sequence numbers, NLM_F_ACK on every nftables element
// message, and no NFTA_SET_ELEM_LIST_SET_ID (only needed for a set created in the same batch).
#![cfg(target_endian = "little")]

use super::*;

fn hex(s: &str) -> Vec<u8> {
    let s: String = s.split_whitespace().collect();
    (0..s.len())
        .step_by(2)
        .map(|i| u8::from_str_radix(&s[i..i + 2], 16).unwrap())
        .collect()
}

fn net(s: &str) -> IpNet {
    s.parse().unwrap()
}

#[test]
fn ipset_add_of_a_v4_prefix_is_what_ipset_sends() {
    let got = ipset(Vec::new(), 7, "kilo-t", Change::Add(net("10.1.2.0/24"))).unwrap();
    let want = hex("48000000 0906 0500 07000000 00000000 02000000
        05000100 07000000  0b000200 6b696c6f2d7400 00
        20000780 0c000180 08000140 0a010200 05000300 18000000 08000940 00000000");
    assert_eq!(got, want);
}

#[test]
fn ipset_del_of_a_v4_host_has_no_cidr() {
    let got = ipset(Vec::new(), 7, "kilo-t", Change::Del(net("10.1.3.4/32"))).unwrap();
    let want = hex("40000000 0a06 0500 07000000 00000000 02000000
        05000100 07000000  0b000200 6b696c6f2d7400 00
        18000780 0c000180 08000140 0a010304 08000940 00000000");
    assert_eq!(got, want);
}

#[test]
fn ipset_add_of_a_v6_prefix_is_inet6_with_16_bytes() {
    let got = ipset(Vec::new(), 1, "kilo-v6", Change::Add(net("fd00:1::/48"))).unwrap();
    let want = hex("54000000 0906 0500 01000000 00000000 0a000000
        05000100 07000000  0c000200 6b696c6f2d763600
        2c000780 18000180 14000240 fd000001000000000000000000000000
        05000300 30000000 08000940 00000000");
    assert_eq!(got, want);
}

#[test]
fn ipset_refuses_a_default_route_and_bad_names() {
    let zero = Change::Add(net("0.0.0.0/0"));
    assert_eq!(
        ipset(Vec::new(), 1, "kilo-t", zero),
        Err(Refused::Default(net("0.0.0.0/0")))
    );
    let host = Change::Add(net("10.0.0.1/32"));
    for bad in ["", "a\0b", "kilo-0123456789012345678901234567"] {
        assert_eq!(
            ipset(Vec::new(), 1, bad, host),
            Err(Refused::Name(bad.to_owned()))
        );
    }
}

const BEGIN_SEQ1: &str = "14000000 1000 0100 01000000 00000000 0000000a";

#[test]
fn nft_add_is_a_start_and_an_end_element_and_an_open_top() {
    let add = [net("10.0.1.0/24"), net("255.255.255.255/32")];
    let sets = [SetChanges {
        set: "mesh",
        del: &[],
        add: &add,
    }];
    let (got, acked) = nft_batch(1, Family::V4, "kilo", &sets).unwrap();
    let want = hex(&format!(
        "{BEGIN_SEQ1}
        74000000 0c0a 0504 02000000 00000000 02000000
        09000100 6b696c6f00 000000  09000200 6d65736800 000000
        48000380
          10000180 0c000180 08000100 0a000100
          18000280 0c000180 08000100 0a000200 08000300 00000001
          1c000380 0c000180 08000100 ffffffff 0a000600 010401000000 0000
        14000000 1100 0100 03000000 00000000 0000000a"
    ));
    assert_eq!(got, want);
    assert_eq!(acked, vec![2]);
}

#[test]
fn nft_delete_comes_first_and_names_both_ends() {
    let del = [net("10.0.1.0/24")];
    let add = [net("10.0.2.0/24")];
    let sets = [SetChanges {
        set: "mesh",
        del: &del,
        add: &add,
    }];
    let (got, acked) = nft_batch(1, Family::V4, "kilo", &sets).unwrap();
    let body = "09000100 6b696c6f00 000000  09000200 6d65736800 000000 2c000380
          10000180 0c000180 08000100";
    let want = hex(&format!(
        "{BEGIN_SEQ1}
        58000000 0e0a 0500 02000000 00000000 02000000 {body} 0a000100
          18000280 0c000180 08000100 0a000200 08000300 00000001
        58000000 0c0a 0504 03000000 00000000 02000000 {body} 0a000200
          18000280 0c000180 08000100 0a000300 08000300 00000001
        14000000 1100 0100 04000000 00000000 0000000a"
    ));
    assert_eq!(got, want);
    assert_eq!(acked, vec![2, 3]);
}

#[test]
fn nft_v6_prefix_ends_at_the_next_network() {
    let add = [net("fd00:0:0:1::/64")];
    let sets = [SetChanges {
        set: "mesh",
        del: &[],
        add: &add,
    }];
    let (got, _) = nft_batch(1, Family::V6, "kilo", &sets).unwrap();
    let want = hex(&format!(
        "{BEGIN_SEQ1}
        70000000 0c0a 0504 02000000 00000000 0a000000
        09000100 6b696c6f00 000000  09000200 6d65736800 000000
        44000380
          1c000180 18000180 14000100 fd000000000000010000000000000000
          24000280 18000180 14000100 fd000000000000020000000000000000 08000300 00000001
        14000000 1100 0100 03000000 00000000 0000000a"
    ));
    assert_eq!(got, want);
}

#[test]
fn nft_refuses_the_zero_address_and_a_default_route() {
    for (n, want) in [
        ("0.0.0.0/0", Refused::Default(net("0.0.0.0/0"))),
        ("0.0.0.0/1", Refused::ZeroStart(net("0.0.0.0/1"))),
        ("::/1", Refused::ZeroStart(net("::/1"))),
    ] {
        let add = [net(n)];
        let sets = [SetChanges {
            set: "mesh",
            del: &[],
            add: &add,
        }];
        let fam = if n.contains(':') {
            Family::V6
        } else {
            Family::V4
        };
        assert_eq!(nft_batch(1, fam, "kilo", &sets), Err(want));
    }
}

#[test]
fn acks_take_their_sequences_off_and_report_the_first_error() {
    // NLMSG_ERROR with code 0 for seq 2, -17 (EEXIST) for seq 3, and one of another exchange.
    let d = hex("24000000 0200 0001 02000000 00000000 00000000 10000000 0c0a 0504 02000000 00000000
                 24000000 0200 0000 03000000 00000000 efffffff 10000000 0c0a 0504 03000000 00000000
                 24000000 0200 0000 09000000 00000000 f3ffffff 10000000 0c0a 0504 09000000 00000000");
    let mut pending = vec![2, 3];
    assert_eq!(acks(&d, (1, 4), &mut pending), Ok(Some(-17)));
    assert!(pending.is_empty());
    let mut pending = vec![2];
    assert!(acks(&d[..30], (1, 4), &mut pending).is_err());
}
