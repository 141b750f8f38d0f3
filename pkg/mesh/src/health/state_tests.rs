use super::*;

fn target(name: &str, host: &str, pod: Option<&str>) -> Target {
    Target {
        node: name.parse().unwrap(),
        host: Some(host.parse().unwrap()),
        pod: pod.map(|p| p.parse().unwrap()),
    }
}

fn ok(at: i64, rtt: f64) -> ProbeResult {
    ProbeResult {
        at,
        rtt: Some(rtt),
        error: None,
    }
}

fn failed(at: i64, why: &str) -> ProbeResult {
    ProbeResult {
        at,
        rtt: None,
        error: Some(why.to_owned()),
    }
}

fn n(s: &str) -> NodeName {
    s.parse().unwrap()
}

#[test]
fn unprobed_targets_report_every_path_with_an_address_as_unknown() {
    let mut s = HealthState::default();
    s.set_targets(&[
        target("n2", "192.168.77.12", Some("10.42.2.1")),
        target("n3", "192.168.77.13", None),
    ]);
    let json = serde_json::to_value(s.peers()).unwrap();
    assert_eq!(
        json,
        serde_json::json!([
            {"node": "n2", "paths": [
                {"path": "host", "address": "192.168.77.12", "reachable": null, "rttSeconds": null, "lastProbe": null, "lastSuccess": null, "error": null},
                {"path": "pod", "address": "10.42.2.1", "reachable": null, "rttSeconds": null, "lastProbe": null, "lastSuccess": null, "error": null},
                {"path": "mtu", "address": "10.42.2.1", "reachable": null, "rttSeconds": null, "lastProbe": null, "lastSuccess": null, "error": null}
            ]},
            {"node": "n3", "paths": [
                {"path": "host", "address": "192.168.77.13", "reachable": null, "rttSeconds": null, "lastProbe": null, "lastSuccess": null, "error": null}
            ]}
        ])
    );
}

#[test]
fn a_failure_keeps_the_last_success() {
    let mut s = HealthState::default();
    s.set_targets(&[target("n2", "192.168.77.12", None)]);
    s.record(&n("n2"), Path::Host, ok(100, 0.002));
    s.record(
        &n("n2"),
        Path::Host,
        failed(110, "ICMP echo: no reply within 1s"),
    );
    let p = &s.peers()[0].paths[0];
    assert_eq!(p.reachable, Some(false));
    assert_eq!(p.rtt_seconds, None);
    assert_eq!(p.last_probe, Some(110));
    assert_eq!(p.last_success, Some(100));
    assert_eq!(p.error.as_deref(), Some("ICMP echo: no reply within 1s"));
    s.record(&n("n2"), Path::Host, ok(120, 0.001));
    let p = &s.peers()[0].paths[0];
    assert_eq!(
        (p.reachable, p.rtt_seconds, p.last_success, p.error.clone()),
        (Some(true), Some(0.001), Some(120), None)
    );
}

#[test]
fn results_follow_the_mesh() {
    let mut s = HealthState::default();
    s.set_targets(&[
        target("n2", "192.168.77.12", Some("10.42.2.1")),
        target("n3", "192.168.77.13", None),
    ]);
    s.record(&n("n2"), Path::Host, ok(100, 0.002));
    s.record(&n("n2"), Path::Pod, ok(100, 0.003));
    s.record(&n("n3"), Path::Host, ok(100, 0.004));
    s.record(&n("n9"), Path::Host, ok(100, 0.004)); // not a target: ignored
    // n3 left; n2's private IP changed (its host result was about the old address)
    s.set_targets(&[target("n2", "192.168.77.99", Some("10.42.2.1"))]);
    let peers = s.peers();
    assert_eq!(peers.len(), 1);
    assert_eq!(
        peers[0].paths[0].address,
        Some("192.168.77.99".parse().unwrap())
    );
    assert_eq!(peers[0].paths[0].reachable, None);
    assert_eq!(peers[0].paths[1].reachable, Some(true));
    assert_eq!(peers[0].paths[1].last_success, Some(100));
}

#[test]
fn a_forgotten_path_is_unknown_again_but_keeps_its_last_success() {
    let mut s = HealthState::default();
    s.set_targets(&[target("n2", "192.168.77.12", Some("10.42.2.1"))]);
    s.record(&n("n2"), Path::Pod, ok(100, 0.002));
    s.record(&n("n2"), Path::Pod, failed(110, "no reply"));
    s.forget(&n("n2"), Path::Pod);
    s.forget(&n("n9"), Path::Pod);
    let p = &s.peers()[0].paths[1];
    assert_eq!(
        (p.reachable, p.last_probe, p.last_success, p.error.clone()),
        (None, None, Some(100), None)
    );
}
