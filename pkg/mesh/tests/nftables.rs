//! The nftables form of the firewall plan: literal `nft -f` scripts for a leader with an egress
//! IP and forward rules, and the invariants the adapter relies on.

#[cfg(test)]
#[allow(
    dead_code,
    reason = "shared by several test binaries; each uses a subset"
)]
mod common;

use common::{kilo_example, plan, settings, snap};
use kilo_mesh::plan::firewall::nftables::nft_table;

#[cfg(test)]
fn leader_plan(egress: &str) -> kilo_mesh::NodePlan {
    let mut nodes = kilo_example();
    nodes[0] = nodes[0].clone().ann("egress-ip", egress);
    nodes[0].0.pod_cidrs.push("fd00:42::/64".to_owned());
    let mut s = settings("node-a");
    s.forward_rules = true;
    plan(&snap(&nodes.iter().collect::<Vec<_>>(), vec![]), &s)
}

#[test]
fn a_leader_with_egress_and_forward_rules_renders_literally() {
    let p = leader_plan("203.0.113.10,2001:db8::10");
    assert_eq!(
        nft_table(&p.firewall.v4).render(),
        r#"add table ip kilo
add set ip kilo nat-src { type ipv4_addr; flags interval; }
add element ip kilo nat-src { 10.42.0.0/24 }
add set ip kilo nat-dst { type ipv4_addr; flags interval; }
add set ip kilo mesh { type ipv4_addr; flags interval; }
add element ip kilo mesh { 10.0.0.1/32, 10.0.0.2/32, 10.4.11.93/32, 10.4.25.174/32, 10.42.0.0/24, 10.42.1.0/24, 10.42.2.0/24, 10.43.0.0/16, 172.31.0.3/32 }
add set ip kilo location { type ipv4_addr; flags interval; }
add set ip kilo forward { type ipv4_addr; flags interval; }
add element ip kilo forward { 10.0.0.1/32, 10.0.0.2/32, 10.42.0.0/24, 10.42.1.0/24 }
add chain ip kilo postrouting { type nat hook postrouting priority 100; policy accept; }
add chain ip kilo forward { type filter hook forward priority 0; policy accept; }
add chain ip kilo nat
add rule ip kilo postrouting ip saddr @nat-src jump nat comment "Kilo: jump to KILO-NAT chain"
add rule ip kilo postrouting ip daddr @nat-dst jump nat comment "Kilo: jump to KILO-NAT chain for allowed location IPs"
add rule ip kilo forward ip saddr @forward accept comment "Kilo: forward packets from the location CIDRs"
add rule ip kilo forward ip daddr @forward accept comment "Kilo: forward packets to the location CIDRs"
add rule ip kilo nat ip daddr @mesh return comment "Kilo: do not NAT packets destined for the mesh"
add rule ip kilo nat ip daddr != @location snat to 203.0.113.10 comment "Kilo: SNAT to the egress IP of this node (203.0.113.10)"
add rule ip kilo nat masquerade comment "Kilo: NAT remaining packets"
"#
    );
    assert_eq!(
        nft_table(&p.firewall.v6).render(),
        r#"add table ip6 kilo
add set ip6 kilo nat-src { type ipv6_addr; flags interval; }
add element ip6 kilo nat-src { fd00:42::/64 }
add set ip6 kilo nat-dst { type ipv6_addr; flags interval; }
add set ip6 kilo mesh { type ipv6_addr; flags interval; }
add element ip6 kilo mesh { fd00:42::/64 }
add set ip6 kilo location { type ipv6_addr; flags interval; }
add set ip6 kilo forward { type ipv6_addr; flags interval; }
add element ip6 kilo forward { fd00:42::/64 }
add chain ip6 kilo postrouting { type nat hook postrouting priority 100; policy accept; }
add chain ip6 kilo forward { type filter hook forward priority 0; policy accept; }
add chain ip6 kilo nat
add rule ip6 kilo postrouting ip6 saddr @nat-src jump nat comment "Kilo: jump to KILO-NAT chain"
add rule ip6 kilo postrouting ip6 daddr @nat-dst jump nat comment "Kilo: jump to KILO-NAT chain for allowed location IPs"
add rule ip6 kilo forward ip6 saddr @forward accept comment "Kilo: forward packets from the location CIDRs"
add rule ip6 kilo forward ip6 daddr @forward accept comment "Kilo: forward packets to the location CIDRs"
add rule ip6 kilo nat ip6 daddr @mesh return comment "Kilo: do not NAT packets destined for the mesh"
add rule ip6 kilo nat ip6 daddr != @location snat to 2001:db8::10 comment "Kilo: SNAT to the egress IP of this node (2001:db8::10)"
add rule ip6 kilo nat masquerade comment "Kilo: NAT remaining packets"
"#
    );
}

#[test]
fn without_egress_the_nat_chain_ends_in_masquerade_only() {
    let p = leader_plan("");
    let t = nft_table(&p.firewall.v4);
    let nat = t.chains.iter().find(|c| c.name == "nat").unwrap();
    let bodies: Vec<&str> = nat.rules.iter().map(|r| r.body.as_str()).collect();
    assert_eq!(bodies, ["ip daddr @mesh return", "masquerade"]);
}

#[test]
fn entries_inside_another_are_dropped_adjacent_ones_kept() {
    let nodes = kilo_example();
    let mut s = settings("node-a");
    s.service_cidrs = vec!["10.42.0.0/16".parse().unwrap()];
    let p = plan(&snap(&nodes.iter().collect::<Vec<_>>(), vec![]), &s);
    // ipset keeps overlapping members; nftables refuses overlapping intervals
    assert_eq!(
        kilo_mesh::plan::firewall::nftables::without_contained([
            "10.1.0.0/24".parse().unwrap(),
            "10.1.1.0/24".parse().unwrap(),
            "0.0.0.0/0".parse().unwrap(),
        ]),
        ["0.0.0.0/0".parse::<ipnet::IpNet>().unwrap()]
    );
    assert!(
        p.firewall
            .v4
            .mesh
            .contains(&"10.42.1.0/24".parse().unwrap())
    );
    let t = nft_table(&p.firewall.v4);
    let mesh = t.sets.iter().find(|s| s.name == "mesh").unwrap();
    let got: Vec<String> = mesh.entries.iter().map(ToString::to_string).collect();
    assert_eq!(
        got,
        [
            "10.0.0.1/32",
            "10.0.0.2/32",
            "10.4.11.93/32",
            "10.4.25.174/32",
            "10.42.0.0/16",
            "172.31.0.3/32"
        ]
    );
}
