//! Unit and snapshot tests of the iptables delta.

use kilo_mesh::plan::firewall::iptables::{ChainPlan, FwTable, JumpPlan, Position};

use super::{TableState, parse_save, render, table_ops};

const RET: &str = "-m set --match-set kilo-mesh-v4 dst -m comment --comment \"Kilo: do not NAT packets destined for the mesh\" -j RETURN";
const MASQ: &str = "-m comment --comment \"Kilo: NAT remaining packets\" -j MASQUERADE";
const JUMP: &str = "-m set --match-set kilo-nat-src-v4 src -m comment --comment \"Kilo: jump to KILO-NAT chain\" -j KILO-NAT";

fn snat(ip: &str) -> String {
    format!(
        "-m comment --comment \"Kilo: SNAT to the egress IP of this node\" -j SNAT --to-source {ip}"
    )
}

fn nat_chain(rules: &[&str]) -> ChainPlan {
    ChainPlan {
        table: FwTable::Nat,
        name: "KILO-NAT".into(),
        rules: rules.iter().map(|r| (*r).to_owned()).collect(),
    }
}

fn jump(chain: &str, rule: &str, position: Position) -> JumpPlan {
    JumpPlan {
        table: FwTable::Nat,
        chain: chain.into(),
        rule: rule.into(),
        position,
    }
}

fn state(save: &str) -> TableState {
    parse_save(save).unwrap()
}

fn batch(current: &str, chains: &[ChainPlan], jumps: &[JumpPlan]) -> String {
    let c: Vec<&ChainPlan> = chains.iter().collect();
    let j: Vec<&JumpPlan> = jumps.iter().collect();
    render(FwTable::Nat, &table_ops(&state(current), &c, &j))
}

const EMPTY: &str = "*nat\n:PREROUTING ACCEPT [0:0]\n:POSTROUTING ACCEPT [0:0]\n-A POSTROUTING -o eth0 -j MASQUERADE\nCOMMIT\n";

#[test]
fn fresh_table_gets_chain_rules_and_a_top_jump() {
    let out = batch(
        EMPTY,
        &[nat_chain(&[RET, MASQ])],
        &[jump("POSTROUTING", JUMP, Position::Insert)],
    );
    insta::assert_snapshot!(out, @r#"
    *nat
    :KILO-NAT - [0:0]
    -A KILO-NAT -m set --match-set kilo-mesh-v4 dst -m comment --comment "Kilo: do not NAT packets destined for the mesh" -j RETURN
    -A KILO-NAT -m comment --comment "Kilo: NAT remaining packets" -j MASQUERADE
    -I POSTROUTING 1 -m set --match-set kilo-nat-src-v4 src -m comment --comment "Kilo: jump to KILO-NAT chain" -j KILO-NAT
    COMMIT
    "#);
}

fn current_with(nat: &[&str]) -> String {
    let mut s =
        format!("*nat\n:POSTROUTING ACCEPT [0:0]\n:KILO-NAT - [0:0]\n-A POSTROUTING {JUMP}\n");
    for r in nat {
        s.push_str(&format!("-A KILO-NAT {r}\n"));
    }
    s + "COMMIT\n"
}

#[test]
fn snat_appears_right_before_masquerade() {
    let s = snat("192.168.77.101");
    let out = batch(
        &current_with(&[RET, MASQ]),
        &[nat_chain(&[RET, &s, MASQ])],
        &[jump("POSTROUTING", JUMP, Position::Insert)],
    );
    insta::assert_snapshot!(out, @r#"
    *nat
    -I KILO-NAT 2 -m comment --comment "Kilo: SNAT to the egress IP of this node" -j SNAT --to-source 192.168.77.101
    COMMIT
    "#);
}

#[test]
fn snat_change_is_one_delete_and_one_insert() {
    let (a, b) = (snat("192.168.77.101"), snat("192.168.77.102"));
    let out = batch(
        &current_with(&[RET, &a, MASQ]),
        &[nat_chain(&[RET, &b, MASQ])],
        &[jump("POSTROUTING", JUMP, Position::Insert)],
    );
    insta::assert_snapshot!(out, @r#"
    *nat
    -D KILO-NAT -m comment --comment "Kilo: SNAT to the egress IP of this node" -j SNAT --to-source 192.168.77.101
    -I KILO-NAT 2 -m comment --comment "Kilo: SNAT to the egress IP of this node" -j SNAT --to-source 192.168.77.102
    COMMIT
    "#);
}

#[test]
fn unchanged_table_is_an_empty_batch() {
    let out = batch(
        &current_with(&[RET, MASQ]),
        &[nat_chain(&[RET, MASQ])],
        &[jump("POSTROUTING", JUMP, Position::Insert)],
    );
    assert_eq!(out, "");
}

#[test]
fn empty_plan_removes_owned_rules_and_chains_only() {
    let current = "*nat\n:POSTROUTING ACCEPT [0:0]\n:KILO-NAT - [0:0]\n:FOREIGN - [0:0]\n-A POSTROUTING -s 10.42.0.0/24 -m comment --comment \"Kilo: jump to KILO-NAT chain\" -j KILO-NAT\n-A POSTROUTING -o eth0 -j MASQUERADE\n-A POSTROUTING -j FOREIGN\n-A KILO-NAT -j MASQUERADE\nCOMMIT\n";
    insta::assert_snapshot!(batch(current, &[], &[]), @r#"
    *nat
    -D POSTROUTING -s 10.42.0.0/24 -m comment --comment "Kilo: jump to KILO-NAT chain" -j KILO-NAT
    -F KILO-NAT
    -X KILO-NAT
    COMMIT
    "#);
}

#[test]
fn missing_append_rule_goes_before_its_kept_successor() {
    let (a, b) = (
        "-p ipencap -m comment --comment \"Kilo: jump to IPIP chain\" -j KILO-IPIP",
        "-p ipencap -m comment --comment \"Kilo: reject other IPIP traffic\" -j DROP",
    );
    let current = format!(
        "*nat\n:INPUT ACCEPT [0:0]\n-A INPUT -p tcp -j ACCEPT\n-A INPUT {b}\n-A INPUT -p udp -j ACCEPT\nCOMMIT\n"
    );
    let jumps = [
        jump("INPUT", a, Position::Append),
        jump("INPUT", b, Position::Append),
    ];
    insta::assert_snapshot!(batch(&current, &[], &jumps), @r#"
    *nat
    -I INPUT 2 -p ipencap -m comment --comment "Kilo: jump to IPIP chain" -j KILO-IPIP
    COMMIT
    "#);
}

#[test]
fn misordered_duplicate_in_an_owned_chain_is_rewritten_in_place() {
    let out = batch(
        &current_with(&[MASQ, RET, MASQ]),
        &[nat_chain(&[RET, MASQ])],
        &[jump("POSTROUTING", JUMP, Position::Insert)],
    );
    insta::assert_snapshot!(out, @r#"
    *nat
    -D KILO-NAT -m comment --comment "Kilo: NAT remaining packets" -j MASQUERADE
    COMMIT
    "#);
}
