//! Unit tests of `allocate`.

use super::*;

fn req(key: &str) -> Request<'_> {
    Request {
        key,
        claims: vec![],
    }
}

fn subnet() -> Ipv4Net {
    "10.4.0.0/16".parse().unwrap()
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
        ("location:aws".to_owned(), "10.4.25.174".parse().unwrap()),
        ("location:gcp".to_owned(), "10.4.11.93".parse().unwrap()),
    ]
    .into();
    assert_eq!(got, expected);
}

#[test]
fn claims_win_and_conflicts_go_to_the_first_key() {
    let a = Request {
        key: "location:a",
        claims: vec!["10.4.0.1".parse().unwrap()],
    };
    let b = Request {
        key: "location:b",
        claims: vec!["10.4.0.1".parse().unwrap(), "10.4.0.2".parse().unwrap()],
    };
    let outside = Request {
        key: "location:c",
        claims: vec!["10.5.0.1".parse().unwrap()],
    };
    let got = allocate(subnet(), &[b, outside, a]);
    assert_eq!(got["location:a"], "10.4.0.1".parse::<Ipv4Addr>().unwrap());
    assert_eq!(got["location:b"], "10.4.0.2".parse::<Ipv4Addr>().unwrap());
    assert_eq!(
        got["location:c"],
        "10.4.25.216".parse::<Ipv4Addr>().unwrap()
    );
}

#[test]
fn tiny_subnet_probes_and_exhausts() {
    let s: Ipv4Net = "10.4.0.0/30".parse().unwrap();
    let got = allocate(s, &[req("a"), req("b"), req("c")]);
    assert_eq!(got.len(), 2, "a /30 has two usable addresses: {got:?}");
    let addrs: BTreeSet<Ipv4Addr> = got.values().copied().collect();
    let expected: BTreeSet<Ipv4Addr> =
        ["10.4.0.1".parse().unwrap(), "10.4.0.2".parse().unwrap()].into();
    assert_eq!(addrs, expected);
}
