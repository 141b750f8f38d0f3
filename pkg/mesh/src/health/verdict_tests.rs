use std::collections::BTreeMap;
use std::net::IpAddr;

use super::*;
use crate::health::{HealthReport, PeerReport};

fn n(s: &str) -> NodeName {
    s.parse().unwrap()
}

/// `(path, address, reachable, rtt)`: a path as a report carries it.
fn p(path: Path, addr: &str, reachable: Option<bool>, rtt: Option<f64>) -> PathReport {
    let error = (reachable == Some(false)).then(|| format!("no echo reply within 1s from {addr}"));
    PathReport {
        path,
        address: Some(addr.parse::<IpAddr>().unwrap()),
        reachable,
        rtt_seconds: rtt,
        last_probe: reachable.map(|_| 100),
        last_success: (reachable == Some(true)).then_some(100),
        error,
    }
}

/// Node `from`'s report about every `n<i>` in `to`, each path as `paths(i)` says.
fn report(from: u8, to: &[u8], paths: impl Fn(u8) -> [Option<bool>; 3]) -> Fetched {
    Ok(HealthReport {
        node: n(&format!("n{from}")),
        version: "0.1.0".to_owned(),
        interval_seconds: 1.0,
        targets_per_interval: 16,
        mtu: 1420,
        peers: to
            .iter()
            .map(|i| {
                let [h, pod, mtu] = paths(*i);
                let rtt = |r: Option<bool>, ms: f64| (r == Some(true)).then_some(ms / 1000.0);
                PeerReport {
                    node: n(&format!("n{i}")),
                    paths: vec![
                        p(
                            Path::Host,
                            &format!("192.168.77.1{i}"),
                            h,
                            rtt(h, f64::from(from)),
                        ),
                        p(
                            Path::Pod,
                            &format!("10.42.{i}.1"),
                            pod,
                            rtt(pod, 2.0 * f64::from(from)),
                        ),
                        p(Path::Mtu, &format!("10.42.{i}.1"), mtu, rtt(mtu, 3.0)),
                    ],
                }
            })
            .collect(),
    })
}

const OK: [Option<bool>; 3] = [Some(true); 3];

fn three() -> Vec<NodeName> {
    vec![n("n3"), n("n1"), n("n2")]
}

fn messages(h: &MeshHealth) -> Vec<String> {
    h.findings
        .iter()
        .map(|f| format!("{:?} {}: {}", f.severity, f.subject, f.message))
        .collect()
}

#[test]
fn a_healthy_mesh_is_all_reachable_with_median_round_trips() {
    let reports = BTreeMap::from([
        (n("n1"), report(1, &[2, 3], |_| OK)),
        (n("n2"), report(2, &[1, 3], |_| OK)),
        (n("n3"), report(3, &[1, 2], |_| OK)),
    ]);
    let h = mesh_health(&three(), &reports);
    assert_eq!((h.reachable, h.total), (3, 3));
    assert!(h.findings.is_empty());
    let n3 = &h.nodes[2];
    assert_eq!(n3.name, n("n3"));
    assert_eq!(n3.reach, Reach::Reachable);
    assert_eq!(n3.probed_by, 2);
    // probed by n1 (1 ms host, 2 ms pod) and n2 (2 ms, 4 ms): medians 1.5 ms and 3 ms
    assert_eq!(n3.host_rtt_seconds, Some(0.0015));
    assert_eq!(n3.pod_rtt_seconds, Some(0.003));
}

#[test]
fn a_cut_between_two_nodes_names_the_pair_each_path_and_both_directions() {
    let cut = |from: u8| {
        move |to: u8| {
            if from + to == 4 {
                [Some(false), Some(false), Some(false)]
            } else {
                OK
            }
        }
    };
    let reports = BTreeMap::from([
        (n("n1"), report(1, &[2, 3], cut(1))),
        (n("n2"), report(2, &[1, 3], |_| OK)),
        (n("n3"), report(3, &[1, 2], cut(3))),
    ]);
    let h = mesh_health(&three(), &reports);
    assert_eq!(
        messages(&h),
        [
            "Error node/n1,node/n3: host path broken both ways: n1 → n3 (192.168.77.13): no echo reply within 1s from 192.168.77.13; n3 → n1 (192.168.77.11): no echo reply within 1s from 192.168.77.11",
            "Error node/n1,node/n3: pod path broken both ways: n1 → n3 (10.42.3.1): no echo reply within 1s from 10.42.3.1; n3 → n1 (10.42.1.1): no echo reply within 1s from 10.42.1.1",
        ]
    );
    assert_eq!((h.reachable, h.total), (1, 3));
    assert_eq!(h.nodes[0].failing, ["n3 host", "n3 pod", "n3 mtu"]);
    assert_eq!(h.nodes[1].reach, Reach::Reachable);
}

#[test]
fn one_direction_broken_says_the_other_works() {
    let reports = BTreeMap::from([
        (
            n("n1"),
            report(1, &[2], |_| [Some(true), Some(false), Some(false)]),
        ),
        (n("n2"), report(2, &[1], |_| OK)),
    ]);
    let h = mesh_health(&[n("n1"), n("n2")], &reports);
    assert_eq!(
        messages(&h),
        [
            "Error node/n1,node/n2: pod path broken one way: n1 → n2 (10.42.2.1): no echo reply within 1s from 10.42.2.1; n2 → n1 works"
        ]
    );
}

#[test]
fn full_size_loss_with_small_packets_passing_is_an_mtu_black_hole() {
    let reports = BTreeMap::from([
        (
            n("n1"),
            report(1, &[2], |_| [Some(true), Some(true), Some(false)]),
        ),
        (n("n2"), report(2, &[1], |_| [Some(true), Some(true), None])),
    ]);
    let h = mesh_health(&[n("n1"), n("n2")], &reports);
    assert_eq!(
        messages(&h),
        [
            "Error node/n1,node/n2: full-size packets (1420 bytes, DF) are lost while small ones pass on the pod path (an MTU black hole): n1 → n2 (10.42.2.1): no echo reply within 1s from 10.42.2.1"
        ]
    );
    assert_eq!(h.nodes[1].failing, ["n1 mtu"]);
}

#[test]
fn missing_reports_and_unprobed_nodes_are_unknown_not_unreachable() {
    let reports = BTreeMap::from([
        (n("n1"), Err("connection refused".to_owned())),
        (n("n2"), report(2, &[1], |_| [None; 3])),
    ]);
    let h = mesh_health(&[n("n1"), n("n2")], &reports);
    assert_eq!(
        messages(&h),
        [
            "Warning node/n1: no mesh health from its kg (its probes are unknown): connection refused"
        ]
    );
    assert_eq!((h.reachable, h.total), (0, 2));
    assert_eq!(h.nodes[0].reach, Reach::Unknown);
    assert_eq!(h.nodes[1].reach, Reach::Unknown);
    assert_eq!(h.nodes[1].probed_by, 0);
}

#[test]
fn one_way_with_the_other_direction_unprobed() {
    let reports = BTreeMap::from([
        (
            n("n1"),
            report(1, &[2], |_| [Some(false), Some(true), Some(true)]),
        ),
        (n("n2"), report(2, &[1], |_| [None; 3])),
    ]);
    let h = mesh_health(&[n("n1"), n("n2")], &reports);
    assert_eq!(
        messages(&h),
        [
            "Error node/n1,node/n2: host path broken one way: n1 → n2 (192.168.77.12): no echo reply within 1s from 192.168.77.12; n2 → n1 not probed yet"
        ]
    );
}
