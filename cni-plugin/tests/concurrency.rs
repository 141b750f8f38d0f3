//! 100 concurrent ADDs then 100 concurrent DELs on one "node" netns: distinct addresses,
//! every pod reachable from the node, nothing left behind (needs root).

#[cfg(test)]
mod common;

use std::collections::HashSet;
use std::time::Duration;

use common::*;

const PODS: usize = 100;

/// Runs `command` for every pod at once, one thread each, and returns the outcomes in pod order.
#[cfg(test)]
fn in_parallel(
    command: &str,
    node: &Netns,
    conf: &serde_json::Value,
    pods: &[Netns],
    ids: &[String],
) -> Vec<Outcome> {
    std::thread::scope(|s| {
        let handles: Vec<_> = pods
            .iter()
            .zip(ids)
            .map(|(p, id)| s.spawn(move || Call::new(KILO, node, command, id, &p.path()).run(conf)))
            .collect();
        handles
            .into_iter()
            .map(|h| h.join().expect("CNI call thread"))
            .collect()
    })
}

#[test]
fn hundred_concurrent_adds_and_dels() {
    require_prereqs();
    let node = Netns::new("n");
    let data = TempDir::new();
    let bridge = unique("b");
    let conf = kilo_conf(
        "1.1.0",
        &bridge,
        data.str(),
        "10.43.0.0/16",
        "fd00:10:43::/64",
    );
    let pods: Vec<Netns> = (0..PODS).map(|_| Netns::new("p")).collect();
    let ids: Vec<String> = (0..PODS).map(|_| unique("c")).collect();

    let results = in_parallel("ADD", &node, &conf, &pods, &ids);
    let mut v4 = Vec::new();
    for r in &results {
        let addrs = result_addrs(&r.assert_ok().json());
        assert_eq!(addrs.len(), 2, "one address per family: {addrs:?}");
        v4.push(addrs[0].clone());
    }
    let distinct: HashSet<&String> = v4.iter().collect();
    assert_eq!(distinct.len(), PODS, "addresses must be distinct");
    assert_eq!(leases(data.str(), "kilo").len(), 2 * PODS);

    let missing = unreachable(&node, &v4, Duration::from_secs(20));
    assert!(
        missing.is_empty(),
        "pods not reachable from the node: {missing:?}"
    );

    let dels = in_parallel("DEL", &node, &conf, &pods, &ids);
    for d in &dels {
        d.assert_ok();
    }
    assert!(
        leases(data.str(), "kilo").is_empty(),
        "leases left: {:?}",
        leases(data.str(), "kilo")
    );
    let (_, veths) = node.exec(&["ip", "-o", "link", "show", "type", "veth"]);
    assert!(veths.trim().is_empty(), "veths left: {veths}");
}
