//! Every rendering of any firewall intent is taken by the real programs and reads back as the
//! same structure (needs root, iptables, ipset and nft; runs in throwaway namespaces):
//! `iptables-restore --test` and `nft -c` accept the batches; applied for real, `iptables-save`
//! prints exactly the planned rules of kg's chains, `ipset` holds exactly the planned members
//! and `nft -j list table` exactly the planned elements. The intents are generated: any
//! prefixes, overlapping and nested ones, default routes, hosts, with or without SNAT, FORWARD
//! and IPIP guards.

#[cfg(test)]
mod common;

use std::collections::BTreeSet;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};

use common::TestNs;
use ipnet::{IpNet, Ipv4Net, Ipv6Net};
use kilo_mesh::plan::firewall::iptables::ruleset;
use kilo_mesh::plan::firewall::nftables::{TABLE, nft_table, without_contained};
use kilo_mesh::plan::firewall::{Family, FamilyFirewall, set_members};
use proptest::prelude::*;

#[cfg(test)]
fn net(family: Family) -> impl Strategy<Value = IpNet> {
    match family {
        Family::V4 => (any::<u32>(), 0u8..=32)
            .prop_map(|(a, p)| IpNet::V4(Ipv4Net::new(Ipv4Addr::from(a), p).unwrap()))
            .boxed(),
        Family::V6 => (any::<u128>(), 0u8..=128)
            .prop_map(|(a, p)| IpNet::V6(Ipv6Net::new(Ipv6Addr::from(a), p).unwrap()))
            .boxed(),
    }
}

#[cfg(test)]
fn members(family: Family, max: usize) -> impl Strategy<Value = BTreeSet<IpNet>> {
    // Nested prefixes of one address are likely: a few bases, many prefix lengths.
    proptest::collection::vec(net(family), 0..max).prop_map(move |v| set_members(family, &v))
}

#[cfg(test)]
fn address(family: Family) -> BoxedStrategy<IpAddr> {
    match family {
        Family::V4 => (1u32..0xdfff_ffff)
            .prop_map(|a| IpAddr::V4(Ipv4Addr::from(a)))
            .boxed(),
        Family::V6 => (1u128..u128::MAX / 2)
            .prop_map(|a| IpAddr::V6(Ipv6Addr::from(a | (0x2001 << 112))))
            .boxed(),
    }
}

#[cfg(test)]
fn intent() -> impl Strategy<Value = FamilyFirewall> {
    prop_oneof![Just(Family::V4), Just(Family::V6)].prop_flat_map(|family| {
        (
            members(family, 12),
            members(family, 12),
            members(family, 40),
            members(family, 8),
            proptest::option::of(address(family)),
            proptest::option::of(members(family, 8)),
            proptest::option::of(members(Family::V4, 8)),
        )
            .prop_map(
                move |(src, dst, mesh, lan, snat, forward, ipip)| FamilyFirewall {
                    family,
                    nat_source: src,
                    nat_destination: dst,
                    mesh,
                    allowed_location: lan,
                    snat,
                    forward,
                    ipip: ipip.filter(|_| family == Family::V4),
                },
            )
    })
}

#[cfg(test)]
/// A set member as `ipset save` prints it: hosts without a prefix.
fn ipset_entry(n: &IpNet) -> String {
    if n.prefix_len() == n.max_prefix_len() {
        n.addr().to_string()
    } else {
        n.to_string()
    }
}

#[cfg(test)]
/// The elements of one set of `nft -j list table`, as CIDRs.
fn nft_elements(json: &serde_json::Value, set: &str) -> BTreeSet<IpNet> {
    let items = json["nftables"].as_array().cloned().unwrap_or_default();
    let found = items.iter().find_map(|i| {
        let s = i.get("set")?;
        (s["name"] == set).then(|| s.get("elem").cloned().unwrap_or_default())
    });
    let found = found.unwrap_or_else(|| panic!("set {set} missing in {json}"));
    let elems = found.as_array().cloned().unwrap_or_default();
    elems
        .iter()
        .map(|e| match e {
            serde_json::Value::String(a) => {
                let ip: IpAddr = a.parse().unwrap();
                IpNet::from(ip)
            }
            other => {
                let p = &other["prefix"];
                let addr: IpAddr = p["addr"].as_str().unwrap().parse().unwrap();
                IpNet::new(addr, u8::try_from(p["len"].as_u64().unwrap()).unwrap()).unwrap()
            }
        })
        .collect()
}

#[cfg(test)]
fn check_iptables(ff: &FamilyFirewall) {
    let ns = TestNs::new();
    let rules = ruleset(ff);
    let (restore, save) = match ff.family {
        Family::V4 => ("iptables-restore", "iptables-save"),
        Family::V6 => ("ip6tables-restore", "ip6tables-save"),
    };
    ns.sh("ipset", &["restore"], Some(&rules.render_ipset_restore()));
    let text = rules.render_iptables_restore();
    ns.sh(restore, &["--test", "--noflush"], Some(&text));
    ns.sh(restore, &["--noflush"], Some(&text));
    let saved = ns.sh(save, &[], None);
    for chain in &rules.chains {
        let prefix = format!("-A {} ", chain.name);
        let got: Vec<&str> = saved
            .lines()
            .filter_map(|l| l.strip_prefix(prefix.as_str()))
            .collect();
        assert_eq!(got, chain.rules, "{} in\n{text}", chain.name);
    }
    let sets = ns.sets();
    for set in &rules.sets {
        let want: BTreeSet<String> = set.entries.iter().map(ipset_entry).collect();
        assert_eq!(sets[&set.name].1, want, "{}", set.name);
    }
}

#[cfg(test)]
fn check_nftables(ff: &FamilyFirewall) {
    let ns = TestNs::new();
    let table = nft_table(ff);
    let text = table.render();
    ns.sh("nft", &["-c", "-f", "-"], Some(&text));
    ns.sh("nft", &["-f", "-"], Some(&text));
    let listed = ns.sh(
        "nft",
        &["-j", "list", "table", ff.family.nft_family(), TABLE],
        None,
    );
    let json: serde_json::Value = serde_json::from_str(&listed).unwrap();
    for set in &table.sets {
        let want: BTreeSet<IpNet> = without_contained(set.entries.iter().copied())
            .into_iter()
            .collect();
        assert_eq!(
            nft_elements(&json, set.name),
            want,
            "{} in\n{text}",
            set.name
        );
    }
    let rules = json["nftables"]
        .as_array()
        .map_or(0, |a| a.iter().filter(|i| i.get("rule").is_some()).count());
    let planned: usize = table.chains.iter().map(|c| c.rules.len()).sum();
    assert_eq!(rules, planned, "{text}");
}

proptest! {
    // Each case starts a dozen processes in two namespaces.
    #![proptest_config(ProptestConfig::with_cases(24))]
    #[test]
    fn every_rendering_is_taken_by_the_real_programs_and_reads_back_the_same(ff in intent()) {
        check_iptables(&ff);
        check_nftables(&ff);
    }
}
