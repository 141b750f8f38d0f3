//! Every `egress-ip` form: what parses, what is reported, and the effect on the firewall plan.

#[cfg(test)]
#[allow(
    dead_code,
    reason = "shared by several test binaries; each uses a subset"
)]
mod common;

use common::*;
use kilo_mesh::annotations::{RawNode, Severity, parse_node};
use kilo_mesh::plan::firewall::FamilyFirewall;
use kilo_mesh::plan::firewall::iptables::ruleset;
use kilo_mesh::plan::{EgressState, LocalFacts};

const MASQ: &str = r#"-m comment --comment "Kilo: NAT remaining packets" -j MASQUERADE"#;

#[cfg(test)]
fn snat(ip: &str) -> String {
    let family = if ip.contains(':') { "v6" } else { "v4" };
    format!(
        r#"-m set ! --match-set kilo-location-{family} dst -m comment --comment "Kilo: SNAT to the egress IP of this node" -j SNAT --to-source {ip}"#
    )
}

/// The KILO-NAT rules after the mesh RETURN.
#[cfg(test)]
fn tail(f: &FamilyFirewall) -> Vec<String> {
    let rules = ruleset(f);
    let chain = rules.chains.iter().find(|c| c.name == "KILO-NAT").unwrap();
    assert!(
        chain.rules[0].contains("--match-set kilo-mesh-"),
        "first rule returns for the mesh"
    );
    chain.rules[1..].to_vec()
}

#[cfg(test)]
fn lab_node(egress: Option<&str>) -> N {
    let n = N::new(
        "n1",
        "a",
        "192.168.77.11:51820",
        "192.168.77.11/24",
        &["10.42.1.0/24", "fd00:10:42:1::/64"],
    )
    .status_ip("fd00:77::11");
    match egress {
        Some(v) => n.ann("egress-ip", v),
        None => n,
    }
}

#[cfg(test)]
fn problems(raw: &RawNode) -> Vec<(Severity, String)> {
    let (_, ps) = parse_node(raw, "topology.kubernetes.io/region").unwrap();
    ps.into_iter().map(|p| (p.severity, p.reason)).collect()
}

/// (value, expected v4 tail, expected v6 tail, expected problems)
#[test]
fn every_form_and_its_firewall_effect() {
    let e = Severity::Error;
    let w = Severity::Warning;
    type Case = (
        &'static str,
        Vec<String>,
        Vec<String>,
        Vec<(Severity, &'static str)>,
    );
    let m = || vec![MASQ.to_owned()];
    let s = |ip: &str| vec![snat(ip), MASQ.to_owned()];
    let cases: Vec<Case> = vec![
        ("192.0.2.10", s("192.0.2.10"), m(), vec![]),
        ("2001:db8::10", m(), s("2001:db8::10"), vec![]),
        (
            "192.0.2.10,2001:db8::10",
            s("192.0.2.10"),
            s("2001:db8::10"),
            vec![],
        ),
        (
            "2001:db8::10,192.0.2.10",
            s("192.0.2.10"),
            s("2001:db8::10"),
            vec![],
        ),
        (
            " 192.0.2.10 ,  2001:db8::10 ",
            s("192.0.2.10"),
            s("2001:db8::10"),
            vec![],
        ),
        (
            "192.0.2.10,192.0.2.11,2001:db8::10",
            s("192.0.2.10"),
            s("2001:db8::10"),
            vec![(w, "\"192.0.2.11\" ignored: IPv4 already uses 192.0.2.10")],
        ),
        (
            "2001:db8::10,2001:db8::11",
            m(),
            s("2001:db8::10"),
            vec![(
                w,
                "\"2001:db8::11\" ignored: IPv6 already uses 2001:db8::10",
            )],
        ),
        (
            "192.0.2.10/32",
            m(),
            m(),
            vec![(
                e,
                "\"192.0.2.10/32\" is a CIDR; egress-ip takes plain addresses",
            )],
        ),
        (
            "192.0.2.0/24,2001:db8::10",
            m(),
            s("2001:db8::10"),
            vec![(
                e,
                "\"192.0.2.0/24\" is a CIDR; egress-ip takes plain addresses",
            )],
        ),
        (
            "garbage",
            m(),
            m(),
            vec![(e, "\"garbage\" is not an IP address")],
        ),
        (
            "192.0.2.10,bogus",
            m(),
            m(),
            vec![(e, "\"bogus\" is not an IP address")],
        ),
        ("", m(), m(), vec![(e, "value is empty")]),
        ("   ", m(), m(), vec![(e, "value is empty")]),
        ("192.0.2.10,", m(), m(), vec![(e, "item 1 is empty")]),
        (
            "::ffff:192.0.2.10",
            m(),
            m(),
            vec![(
                e,
                "\"::ffff:192.0.2.10\" is an IPv4-mapped IPv6 address; write the IPv4 address instead",
            )],
        ),
        (
            "fe80::1%eth0,192.0.2.10",
            s("192.0.2.10"),
            m(),
            vec![(
                e,
                "\"fe80::1%eth0\" has a zone; egress-ip takes global addresses",
            )],
        ),
        (
            "0.0.0.0",
            m(),
            m(),
            vec![(e, "\"0.0.0.0\" cannot be a source address")],
        ),
        (
            "ff02::1,192.0.2.10",
            s("192.0.2.10"),
            m(),
            vec![(e, "\"ff02::1\" cannot be a source address")],
        ),
    ];
    for (value, v4, v6, want) in cases {
        let n = lab_node(Some(value));
        let s = snap(&[&n], vec![]);
        let p = plan(&s, &settings("n1"));
        assert_eq!(tail(&p.firewall.v4), v4, "v4 for {value:?}");
        assert_eq!(tail(&p.firewall.v6), v6, "v6 for {value:?}");
        let want: Vec<(Severity, String)> =
            want.into_iter().map(|(s, r)| (s, r.to_owned())).collect();
        assert_eq!(problems(&n.0), want, "problems for {value:?}");
    }
}

#[test]
fn no_annotation_means_masquerade_only() {
    let n = lab_node(None);
    let p = plan(&snap(&[&n], vec![]), &settings("n1"));
    assert_eq!(tail(&p.firewall.v4), [MASQ]);
    assert_eq!(tail(&p.firewall.v6), [MASQ]);
    assert_eq!(p.egress.v4, EgressState::NotSet);
    assert_eq!(p.egress.v6, EgressState::NotSet);
}

#[test]
fn an_address_not_on_the_node_is_not_used() {
    let n = lab_node(Some("192.168.77.101,fd00:77::101"));
    let s = snap(&[&n], vec![]);
    let facts = LocalFacts {
        addresses: Some(vec![
            "192.168.77.11".parse().unwrap(),
            "fd00:77::101".parse().unwrap(),
        ]),
        ..LocalFacts::default()
    };
    let p = kilo_mesh::plan::plan(&s, &settings("n1"), &facts).unwrap();
    assert_eq!(
        p.egress.v4,
        EgressState::NotAssigned {
            address: "192.168.77.101".parse().unwrap()
        }
    );
    assert_eq!(
        p.egress.v6,
        EgressState::InForce {
            address: "fd00:77::101".parse().unwrap()
        }
    );
    assert_eq!(tail(&p.firewall.v4), [MASQ]);
    assert_eq!(
        tail(&p.firewall.v6),
        [snat("fd00:77::101"), MASQ.to_owned()]
    );
}

#[test]
fn each_node_snats_to_its_own_address_only() {
    let n1 = lab_node(Some("192.168.77.101"));
    let n2 = N::new(
        "n2",
        "a",
        "192.168.77.12:51820",
        "192.168.77.12/24",
        &["10.42.2.0/24"],
    )
    .ann("egress-ip", "192.168.77.102");
    let s = snap(&[&n1, &n2], vec![]);
    assert_eq!(
        tail(&plan(&s, &settings("n1")).firewall.v4)[0],
        snat("192.168.77.101")
    );
    assert_eq!(
        tail(&plan(&s, &settings("n2")).firewall.v4)[0],
        snat("192.168.77.102")
    );
}

#[test]
fn egress_changes_touch_only_the_snat_rule() {
    let render = |v: Option<&str>| {
        let n = lab_node(v);
        let p = plan(&snap(&[&n], vec![]), &settings("n1"));
        let rules = ruleset(&p.firewall.v4);
        (
            rules.render_iptables_restore(),
            rules.render_ipset_restore(),
        )
    };
    let (none_ipt, none_sets) = render(None);
    let (a_ipt, a_sets) = render(Some("192.0.2.10"));
    let (b_ipt, _) = render(Some("192.0.2.11"));
    assert_eq!(none_sets, a_sets, "sets never depend on the egress IP");
    let diff = |x: &str, y: &str| -> Vec<String> {
        let xs: Vec<&str> = x.lines().collect();
        let ys: Vec<&str> = y.lines().collect();
        let mut d: Vec<String> = xs
            .iter()
            .filter(|l| !ys.contains(l))
            .map(|l| format!("-{l}"))
            .collect();
        d.extend(
            ys.iter()
                .filter(|l| !xs.contains(l))
                .map(|l| format!("+{l}")),
        );
        d
    };
    assert_eq!(
        diff(&none_ipt, &a_ipt),
        [format!("+-A KILO-NAT {}", snat("192.0.2.10"))]
    );
    assert_eq!(
        diff(&a_ipt, &b_ipt),
        [
            format!("--A KILO-NAT {}", snat("192.0.2.10")),
            format!("+-A KILO-NAT {}", snat("192.0.2.11"))
        ]
    );
}
