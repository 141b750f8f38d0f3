//! Unit and snapshot tests of the ipset delta.

use std::collections::BTreeMap;

use kilo_mesh::plan::firewall::iptables::IpSetPlan;
use kilo_mesh::plan::firewall::{Family, SetPurpose};

use super::{SetState, parse_save, parse_save_owned, render, stale_ops, sync_ops};

fn plan(entries: &[&str]) -> IpSetPlan {
    IpSetPlan {
        name: "kilo-mesh-v4".into(),
        purpose: SetPurpose::Mesh,
        family: Family::V4,
        entries: entries.iter().map(|e| e.parse().unwrap()).collect(),
    }
}

fn current(save: &str) -> BTreeMap<String, SetState> {
    BTreeMap::from([("kilo-mesh-v4".to_owned(), parse_save(save).unwrap())])
}

const SAVED: &str = "create kilo-mesh-v4 hash:net family inet hashsize 1024 maxelem 1048576 bucketsize 12 initval 0x87694e49\nadd kilo-mesh-v4 10.1.2.3\nadd kilo-mesh-v4 10.0.0.0/24\n";

#[test]
fn host_entries_read_back_as_host_networks() {
    let s = parse_save(SAVED).unwrap();
    assert_eq!((s.kind.as_str(), s.family.as_str()), ("hash:net", "inet"));
    let got: Vec<String> = s.entries.iter().map(ToString::to_string).collect();
    assert_eq!(got, ["10.0.0.0/24", "10.1.2.3/32"]);
}

#[test]
fn delta_is_only_the_difference() {
    let p = plan(&["10.0.0.0/24", "10.9.0.0/16"]);
    let ops = sync_ops(&current(SAVED), &[&p], false).unwrap();
    insta::assert_snapshot!(render(&ops), @r"
    del kilo-mesh-v4 10.1.2.3/32 -exist
    add kilo-mesh-v4 10.9.0.0/16 -exist
    ");
    assert!(
        sync_ops(
            &current(SAVED),
            &[&plan(&["10.0.0.0/24", "10.1.2.3/32"])],
            false
        )
        .unwrap()
        .is_empty()
    );
}

#[test]
fn flushed_set_is_rebuilt_by_swap() {
    let flushed = "create kilo-mesh-v4 hash:net family inet hashsize 1024 maxelem 1048576\n";
    let ops = sync_ops(&current(flushed), &[&plan(&["10.0.0.0/24"])], false).unwrap();
    insta::assert_snapshot!(render(&ops), @r"
    create kilo-mesh-v4-tmp hash:net family inet hashsize 1024 maxelem 1048576 -exist
    flush kilo-mesh-v4-tmp
    add kilo-mesh-v4-tmp 10.0.0.0/24 -exist
    swap kilo-mesh-v4-tmp kilo-mesh-v4
    destroy kilo-mesh-v4-tmp
    ");
}

#[test]
fn wrong_family_is_an_error_and_leftover_tmp_is_destroyed_once() {
    let v6 = "create kilo-mesh-v4 hash:net family inet6 hashsize 1024 maxelem 1048576\n";
    let err = sync_ops(&current(v6), &[&plan(&[])], false).unwrap_err();
    assert_eq!(
        err.to_string(),
        "set kilo-mesh-v4 is hash:net family inet6, expected hash:net family inet; destroy it by hand"
    );

    let mut cur = current(SAVED);
    cur.insert("kilo-mesh-v4-tmp".into(), parse_save(SAVED).unwrap());
    let p = plan(&["10.0.0.0/24"]);
    let sync = sync_ops(&cur, &[&p], true).unwrap();
    assert!(stale_ops(&cur, &[&p], &[Family::V4], &sync).is_empty());
    let sync = sync_ops(&cur, &[&p], false).unwrap();
    assert_eq!(
        render(&stale_ops(&cur, &[&p], &[Family::V4], &sync)),
        "destroy kilo-mesh-v4-tmp\n"
    );
}

#[test]
fn one_save_of_every_set_keeps_only_kgs_and_skips_foreign_types() {
    let text = "create KUBE-X hash:ip,port family inet hashsize 1024 maxelem 65536\n\
                add KUBE-X 10.0.0.1,tcp:80\n\
                create kilo-mesh-v4 hash:net family inet hashsize 1024 maxelem 1048576 bucketsize 12 initval 0x1\n\
                add kilo-mesh-v4 10.4.0.1\n\
                add kilo-mesh-v4 10.42.0.0/24\n\
                create kilo-mesh-v6 hash:net family inet6 hashsize 1024 maxelem 1048576\n";
    let sets = parse_save_owned(text).unwrap();
    assert_eq!(
        sets.keys().collect::<Vec<_>>(),
        ["kilo-mesh-v4", "kilo-mesh-v6"]
    );
    let v4 = &sets["kilo-mesh-v4"];
    assert_eq!((v4.kind.as_str(), v4.family.as_str()), ("hash:net", "inet"));
    let entries: Vec<String> = v4.entries.iter().map(ToString::to_string).collect();
    assert_eq!(entries, ["10.4.0.1/32", "10.42.0.0/24"]);
    assert!(sets["kilo-mesh-v6"].entries.is_empty());
    assert!(parse_save_owned("add kilo-mesh-v4 nonsense\n").is_err());
}
