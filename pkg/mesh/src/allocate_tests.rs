//! Unit tests of `allocate` and `allocate_kilo`.

use super::*;

fn req(key: &str) -> Request<'_> {
    Request {
        key,
        claims: vec![],
    }
}

fn claim(address: &str, since: Option<i64>) -> Claim {
    Claim {
        address: address.parse().unwrap(),
        since,
    }
}

fn subnet() -> Ipv4Net {
    "10.4.0.0/16".parse().unwrap()
}

fn addr(s: &str) -> Ipv4Addr {
    s.parse().unwrap()
}

#[test]
fn fnv_matches_reference_vectors() {
    assert_eq!(fnv1a64(b""), 0xcbf2_9ce4_8422_2325);
    assert_eq!(fnv1a64(b"a"), 0xaf63_dc4c_8601_ec8c);
    assert_eq!(fnv1a64(b"foobar"), 0x8594_4171_f739_67e8);
}

// Expected slots computed independently: 10.4.0.1 + fnv1a64(key) % 65534 (a Python one-liner).
#[test]
fn hashed_slots_are_literal() {
    let got = allocate(subnet(), &[req("location:gcp"), req("location:aws")]);
    let expected: BTreeMap<String, Ipv4Addr> = [
        ("location:aws".to_owned(), addr("10.4.25.174")),
        ("location:gcp".to_owned(), addr("10.4.11.93")),
    ]
    .into();
    assert_eq!(got, expected);
}

#[test]
fn claims_win_and_equal_times_go_to_the_first_key() {
    let a = Request {
        key: "location:a",
        claims: vec![claim("10.4.0.1", None)],
    };
    let b = Request {
        key: "location:b",
        claims: vec![claim("10.4.0.1", None), claim("10.4.0.2", None)],
    };
    let outside = Request {
        key: "location:c",
        claims: vec![claim("10.5.0.1", None)],
    };
    let got = allocate(subnet(), &[b, outside, a]);
    assert_eq!(got["location:a"], addr("10.4.0.1"));
    assert_eq!(got["location:b"], addr("10.4.0.2"));
    assert_eq!(got["location:c"], addr("10.4.25.216"));
}

// Issue #12: the first publisher keeps a contested address, whatever the key order.
#[test]
fn the_first_publisher_keeps_a_contested_address() {
    let newcomer = Request {
        key: "location:aaa",
        claims: vec![claim("10.4.11.93", Some(1_700_000_500))],
    };
    let holder = Request {
        key: "location:gcp",
        claims: vec![claim("10.4.11.93", Some(1_700_000_000))],
    };
    let got = allocate(subnet(), &[newcomer.clone(), holder.clone()]);
    assert_eq!(got["location:gcp"], addr("10.4.11.93"));
    // location:aaa falls back to its hashed slot (10.4.0.1 + fnv1a64("location:aaa") % 65534).
    assert_eq!(got["location:aaa"], addr("10.4.226.50"));

    // A claim without a time (typed by hand, say) loses to one with a time.
    let by_hand = Request {
        key: "location:aaa",
        claims: vec![claim("10.4.11.93", None)],
    };
    let got = allocate(subnet(), &[by_hand, holder]);
    assert_eq!(got["location:gcp"], addr("10.4.11.93"));
    assert_eq!(got["location:aaa"], addr("10.4.226.50"));
}

// A segment's second claim (a former leader's) still counts when its first one is taken.
#[test]
fn a_segment_falls_back_to_its_next_claim() {
    let a = Request {
        key: "location:a",
        claims: vec![claim("10.4.0.9", Some(10))],
    };
    let b = Request {
        key: "location:b",
        claims: vec![claim("10.4.0.9", Some(20)), claim("10.4.0.7", Some(30))],
    };
    let got = allocate(subnet(), &[a, b]);
    assert_eq!(got["location:a"], addr("10.4.0.9"));
    assert_eq!(got["location:b"], addr("10.4.0.7"));
}

#[test]
fn tiny_subnet_probes_and_exhausts() {
    let s: Ipv4Net = "10.4.0.0/30".parse().unwrap();
    let got = allocate(s, &[req("a"), req("b"), req("c")]);
    assert_eq!(got.len(), 2, "a /30 has two usable addresses: {got:?}");
    let addrs: BTreeSet<Ipv4Addr> = got.values().copied().collect();
    let expected: BTreeSet<Ipv4Addr> = [addr("10.4.0.1"), addr("10.4.0.2")].into();
    assert_eq!(addrs, expected);
}

// Kilo's TestNewAllocator (pkg/mesh/ip_test.go, 0.7.0): 10.1.0.0/16 gives 10.1.0.1 then
// 10.1.0.2; a /32 gives nothing; a /31 gives 10.1.0.1 and then nothing.
#[test]
fn kilo_numbering_replays_kilos_allocator_table() {
    let s16: Ipv4Net = "10.1.0.0/16".parse().unwrap();
    let got = allocate_kilo(s16, &["second", "first"]);
    let expected: BTreeMap<String, Ipv4Addr> = [
        ("first".to_owned(), addr("10.1.0.1")),
        ("second".to_owned(), addr("10.1.0.2")),
    ]
    .into();
    assert_eq!(got, expected);
    let s32: Ipv4Net = "10.1.0.0/32".parse().unwrap();
    assert_eq!(allocate_kilo(s32, &["first"]), BTreeMap::new());
    let s31: Ipv4Net = "10.1.0.0/31".parse().unwrap();
    let expected: BTreeMap<String, Ipv4Addr> = [("first".to_owned(), addr("10.1.0.1"))].into();
    assert_eq!(allocate_kilo(s31, &["first", "second"]), expected);
}

// Go Kilo's allocator hands out the broadcast address too; at the top of the address space the
// count stops instead of wrapping.
#[test]
fn kilo_numbering_includes_the_broadcast_address_and_never_wraps() {
    let s: Ipv4Net = "10.4.0.0/30".parse().unwrap();
    let got = allocate_kilo(s, &["a", "b", "c", "d"]);
    let expected: BTreeMap<String, Ipv4Addr> = [
        ("a".to_owned(), addr("10.4.0.1")),
        ("b".to_owned(), addr("10.4.0.2")),
        ("c".to_owned(), addr("10.4.0.3")),
    ]
    .into();
    assert_eq!(got, expected);
    let top: Ipv4Net = "255.255.255.254/31".parse().unwrap();
    let expected: BTreeMap<String, Ipv4Addr> = [("a".to_owned(), addr("255.255.255.255"))].into();
    assert_eq!(allocate_kilo(top, &["a", "b"]), expected);
}

#[test]
fn the_published_time_is_the_earliest_known_for_the_same_address() {
    let a = addr("10.4.0.2");
    let b = addr("10.4.0.3");
    assert_eq!(since_to_publish(a, None, None, 500), 500);
    assert_eq!(since_to_publish(a, Some(100), None, 500), 100);
    // kg's own earlier publish, not yet in the cluster view
    assert_eq!(since_to_publish(a, None, Some((a, 300)), 500), 300);
    assert_eq!(since_to_publish(a, Some(100), Some((a, 300)), 500), 100);
    assert_eq!(since_to_publish(a, Some(400), Some((a, 300)), 500), 300);
    // a time kg published for another address does not carry over
    assert_eq!(since_to_publish(a, None, Some((b, 300)), 500), 500);
}
