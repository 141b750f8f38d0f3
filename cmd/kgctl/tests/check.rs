//! Black-box tests of `kgctl check` over the fixtures: literal findings, exit status 1 on errors
//! and 0 on a healthy mesh, the JSON form. (`--probe` runs against the lab in e2e/lab/e2e.sh.)

#[cfg(test)]
mod support;

use support::kgctl;

#[cfg(test)]
fn run(args: &[&str]) -> (Option<i32>, String) {
    let out = support::run(args);
    (out.status.code(), String::from_utf8(out.stdout).unwrap())
}

#[test]
fn problems_are_listed_and_errors_fail_the_command() {
    let (code, out) = run(&["check", "-f", "status.yaml", "--now", "1700000010"]);
    assert_eq!(code, Some(1));
    assert_eq!(
        out,
        r#"ERROR    node/n2      annotation kilo.squat.ai/egress-ip="192.168.77.102/32": "192.168.77.102/32" is a CIDR; egress-ip takes plain addresses
ERROR    node/n2      annotation kilo.squat.ai/persistent-keepalive="abc": must be a whole number of seconds from 0 to 65535
ERROR    peer/broken  rejected: spec.publicKey: invalid WireGuard key: not valid base64
WARNING  node/n3      IPv4 egress: SNAT --to-source 192.168.77.103; the annotation has changed since, kg has not caught up yet
WARNING  node/n4      not in the mesh: last-seen 300 s ago (kg stopped? the limit is 60 s)
WARNING  node/n5      not in the mesh: no WireGuard key published (kg has not run on it)
3 errors, 3 warnings
"#
    );
    let (code, json) = run(&[
        "check",
        "-f",
        "status.yaml",
        "--now",
        "1700000010",
        "-o",
        "json",
    ]);
    assert_eq!(code, Some(1));
    let doc: serde_json::Value = serde_json::from_str(&json).unwrap();
    assert_eq!(doc["kind"], "MeshCheck");
    assert_eq!(doc["healthy"], false);
    assert_eq!(doc["findings"][0]["severity"], "error");
    assert_eq!(doc["findings"][0]["subject"], "node/n2");
}

#[test]
fn a_healthy_mesh_exits_zero() {
    assert_eq!(
        kgctl(&["check", "-f", "two-locations.yaml", "--now", "1700000010"]),
        "no problems found (4 nodes)\n"
    );
}

#[test]
fn hostile_values_are_findings_naming_object_field_and_value() {
    let (code, out) = run(&["check", "-f", "hostile.yaml", "--now", "1700000010"]);
    assert_eq!(code, Some(1));
    assert_eq!(
        out,
        r#"ERROR    node/node-a,node/node-e  these nodes publish one WireGuard key (the same one): WireGuard cannot tell them apart
ERROR    node/node-e              annotation kilo.squat.ai/location="x\" image=\"/etc/shadow": not a label value (at most 63 characters of A-Z, a-z, 0-9, '.', '_', '-', beginning and ending with a letter or digit)
WARNING  node/node-c              kilo.squat.ai/allowed-location-ips=0.0.0.0/0 refused: a default route is never taken from the cluster's objects
WARNING  node/node-c              kilo.squat.ai/allowed-location-ips=203.0.113.0/24 refused: covers the endpoint 203.0.113.1 of node node-a
WARNING  node/node-e              kilo.squat.ai/internal-ip=0.0.0.0/0 refused: a prefix of 0 makes every address local
WARNING  node/node-e              kilo.squat.ai/key=YWFhYWFh… refused: node node-a already publishes this key
WARNING  peer/evil                spec.allowedIPs=0.0.0.0/0 refused: a default route is never taken from the cluster's objects
WARNING  peer/evil                spec.allowedIPs=169.254.169.254/32 refused: covers link-local space 169.254.0.0/16
WARNING  peer/evil                spec.allowedIPs=203.0.113.0/24 refused: covers the endpoint 203.0.113.1 of node node-a
2 errors, 7 warnings
"#
    );
}

#[test]
fn a_peer_that_does_not_decode_is_one_finding_and_the_others_stay() {
    let (code, out) = run(&[
        "check",
        "-f",
        "undecodable-peer.yaml",
        "--now",
        "1700000010",
    ]);
    assert_eq!(code, Some(1));
    assert_eq!(
        out,
        "ERROR    peer/huge-port  rejected: the Peer does not decode: invalid value: integer `99999999999`, expected i32\n1 errors, 0 warnings\n"
    );
    let conf = kgctl(&[
        "showconf",
        "node",
        "node-a",
        "-f",
        "undecodable-peer.yaml",
        "--now",
        "1700000010",
    ]);
    assert_eq!(
        conf,
        "[Interface]\nListenPort = 51820\n\n[Peer]\n# peer:laptop\nPublicKey = bGxsbGxsbGxsbGxsbGxsbGxsbGxsbGxsbGxsbGxsbGw=\nAllowedIPs = 10.5.0.1/32\n"
    );
}

#[test]
fn peers_go_kilo_configures_but_kilo_rs_refuses_are_findings() {
    let (code, out) = run(&[
        "check",
        "-f",
        "two-locations.yaml",
        "-f",
        "go-kilo-peers.yaml",
        "--now",
        "1700000010",
    ]);
    assert_eq!(
        code,
        Some(0),
        "refusals are warnings: the rest of the mesh works"
    );
    assert_eq!(
        out,
        "WARNING  peer/overlap  spec.allowedIPs=10.42.0.0/24 refused: overlaps 10.42.0.0/24 of segment location:gcp (Go Kilo configures it)
WARNING  peer/twin     spec.publicKey=Y2NjY2Nj… refused: node node-c publishes this key; the Peer is ignored (Go Kilo configures it)
0 errors, 2 warnings
"
    );
}
