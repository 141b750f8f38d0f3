//! The firewall intent and its two renderings, side by side: one literal intent (forward rules,
//! IPIP guard, egress SNAT that skips the allowed-location IPs) rendered as `ipset restore` + `iptables-restore` and as `nft -f`.

use std::collections::BTreeSet;

use ipnet::IpNet;
use kilo_mesh::plan::firewall::{Family, FamilyFirewall, iptables, nftables};

#[cfg(test)]
fn cidrs(list: &[&str]) -> BTreeSet<IpNet> {
    list.iter().map(|c| c.parse().unwrap()).collect()
}

#[cfg(test)]
fn intent() -> FamilyFirewall {
    FamilyFirewall {
        family: Family::V4,
        nat_source: cidrs(&["10.42.1.0/24"]),
        nat_destination: cidrs(&["192.168.100.0/24"]),
        mesh: cidrs(&["10.4.0.1/32", "10.42.0.0/16", "10.42.2.0/24"]),
        snat: Some("192.0.2.10".parse().unwrap()),
        forward: Some(cidrs(&["10.42.1.0/24"])),
        ipip: Some(cidrs(&["192.168.0.2/32"])),
        allowed_location: cidrs(&["192.168.100.0/24", "192.168.200.0/24"]),
    }
}

#[test]
fn iptables_rendering() {
    let r = iptables::ruleset(&intent());
    assert_eq!(
        r.render_ipset_restore(),
        "create kilo-nat-src-v4 hash:net family inet hashsize 1024 maxelem 1048576 -exist
add kilo-nat-src-v4 10.42.1.0/24 -exist
create kilo-nat-dst-v4 hash:net family inet hashsize 1024 maxelem 1048576 -exist
add kilo-nat-dst-v4 192.168.100.0/24 -exist
create kilo-mesh-v4 hash:net family inet hashsize 1024 maxelem 1048576 -exist
add kilo-mesh-v4 10.4.0.1/32 -exist
add kilo-mesh-v4 10.42.0.0/16 -exist
add kilo-mesh-v4 10.42.2.0/24 -exist
create kilo-location-v4 hash:net family inet hashsize 1024 maxelem 1048576 -exist
add kilo-location-v4 192.168.100.0/24 -exist
add kilo-location-v4 192.168.200.0/24 -exist
create kilo-forward-v4 hash:net family inet hashsize 1024 maxelem 1048576 -exist
add kilo-forward-v4 10.42.1.0/24 -exist
create kilo-ipip-v4 hash:net family inet hashsize 1024 maxelem 1048576 -exist
add kilo-ipip-v4 192.168.0.2/32 -exist
"
    );
    assert_eq!(
        r.render_iptables_restore(),
        r#"*nat
:KILO-NAT - [0:0]
-A KILO-NAT -m set --match-set kilo-mesh-v4 dst -m comment --comment "Kilo: do not NAT packets destined for the mesh" -j RETURN
-A KILO-NAT -m set ! --match-set kilo-location-v4 dst -m comment --comment "Kilo: SNAT to the egress IP of this node" -j SNAT --to-source 192.0.2.10
-A KILO-NAT -m comment --comment "Kilo: NAT remaining packets" -j MASQUERADE
-I POSTROUTING 1 -m set --match-set kilo-nat-src-v4 src -m comment --comment "Kilo: jump to KILO-NAT chain" -j KILO-NAT
-I POSTROUTING 1 -m set --match-set kilo-nat-dst-v4 dst -m comment --comment "Kilo: jump to KILO-NAT chain for allowed location IPs" -j KILO-NAT
COMMIT
*filter
:KILO-FORWARD - [0:0]
:KILO-IPIP - [0:0]
-A KILO-FORWARD -m set --match-set kilo-forward-v4 src -m comment --comment "Kilo: forward packets from the location CIDRs" -j ACCEPT
-A KILO-FORWARD -m set --match-set kilo-forward-v4 dst -m comment --comment "Kilo: forward packets to the location CIDRs" -j ACCEPT
-A KILO-IPIP -m set --match-set kilo-ipip-v4 src -m comment --comment "Kilo: allow IPIP traffic" -j ACCEPT
-I FORWARD 1 -m comment --comment "Kilo: jump to KILO-FORWARD chain" -j KILO-FORWARD
-A INPUT -p ipencap -m comment --comment "Kilo: jump to IPIP chain" -j KILO-IPIP
-A INPUT -p ipencap -m comment --comment "Kilo: reject other IPIP traffic" -j DROP
COMMIT
"#
    );
}

#[test]
fn nftables_rendering() {
    assert_eq!(
        nftables::nft_table(&intent()).render(),
        r#"add table ip kilo
add set ip kilo nat-src { type ipv4_addr; flags interval; }
add element ip kilo nat-src { 10.42.1.0/24 }
add set ip kilo nat-dst { type ipv4_addr; flags interval; }
add element ip kilo nat-dst { 192.168.100.0/24 }
add set ip kilo mesh { type ipv4_addr; flags interval; }
add element ip kilo mesh { 10.4.0.1/32, 10.42.0.0/16 }
add set ip kilo location { type ipv4_addr; flags interval; }
add element ip kilo location { 192.168.100.0/24, 192.168.200.0/24 }
add set ip kilo forward { type ipv4_addr; flags interval; }
add element ip kilo forward { 10.42.1.0/24 }
add set ip kilo ipip { type ipv4_addr; flags interval; }
add element ip kilo ipip { 192.168.0.2/32 }
add chain ip kilo postrouting { type nat hook postrouting priority 100; policy accept; }
add chain ip kilo forward { type filter hook forward priority 0; policy accept; }
add chain ip kilo input { type filter hook input priority 0; policy accept; }
add chain ip kilo nat
add rule ip kilo postrouting ip saddr @nat-src jump nat comment "Kilo: jump to KILO-NAT chain"
add rule ip kilo postrouting ip daddr @nat-dst jump nat comment "Kilo: jump to KILO-NAT chain for allowed location IPs"
add rule ip kilo forward ip saddr @forward accept comment "Kilo: forward packets from the location CIDRs"
add rule ip kilo forward ip daddr @forward accept comment "Kilo: forward packets to the location CIDRs"
add rule ip kilo input ip protocol 4 ip saddr @ipip accept comment "Kilo: allow IPIP traffic"
add rule ip kilo input ip protocol 4 drop comment "Kilo: reject other IPIP traffic"
add rule ip kilo nat ip daddr @mesh return comment "Kilo: do not NAT packets destined for the mesh"
add rule ip kilo nat ip daddr != @location snat to 192.0.2.10 comment "Kilo: SNAT to the egress IP of this node (192.0.2.10)"
add rule ip kilo nat masquerade comment "Kilo: NAT remaining packets"
"#
    );
}
