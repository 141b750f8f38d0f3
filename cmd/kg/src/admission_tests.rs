//! Unit tests of `admission`: real `AdmissionReview` JSON as an API server sends it, Peers that
//! Kilo allows and refuses, and reviews the webhook cannot answer.

use super::*;

const KEY: &str = "GVqKNJwBMmFwvI2rGzr3wRALBB5zUB4MT6kpBFKZg1o=";

/// An `AdmissionReview` of a CREATE of a Peer with `spec`.
fn review_of(spec: &Value) -> Vec<u8> {
    serde_json::to_vec(&json!({
        "apiVersion": "admission.k8s.io/v1",
        "kind": "AdmissionReview",
        "request": {
            "uid": "705ab4f5-6393-11e8-b7cc-42010a800002",
            "kind": {"group": "kilo.squat.ai", "version": "v1alpha1", "kind": "Peer"},
            "resource": {"group": "kilo.squat.ai", "version": "v1alpha1", "resource": "peers"},
            "requestKind": {"group": "kilo.squat.ai", "version": "v1alpha1", "kind": "Peer"},
            "requestResource": {"group": "kilo.squat.ai", "version": "v1alpha1", "resource": "peers"},
            "name": "laptop",
            "operation": "CREATE",
            "userInfo": {"username": "admin", "groups": ["system:authenticated"]},
            "object": {
                "apiVersion": "kilo.squat.ai/v1alpha1",
                "kind": "Peer",
                "metadata": {"name": "laptop"},
                "spec": spec,
            },
            "oldObject": null,
            "dryRun": false,
            "options": {"apiVersion": "meta.k8s.io/v1", "kind": "CreateOptions"},
        },
    }))
    .unwrap()
}

fn answer(spec: &Value) -> Value {
    review(&review_of(spec)).unwrap().review
}

#[test]
fn allows_a_valid_peer() {
    let spec = json!({
        "allowedIPs": ["10.5.0.1/32", "fd00::1/128"],
        "publicKey": KEY,
        "persistentKeepalive": 10,
        "endpoint": {"dnsOrIP": {"ip": "192.0.2.7"}, "port": 51820},
    });
    assert_eq!(
        answer(&spec),
        json!({
            "apiVersion": "admission.k8s.io/v1",
            "kind": "AdmissionReview",
            "response": {"uid": "705ab4f5-6393-11e8-b7cc-42010a800002", "allowed": true},
        })
    );
    let d = review(&review_of(&spec)).unwrap();
    assert_eq!((d.operation.as_str(), d.refusal), ("CREATE", None));
}

#[test]
fn allows_a_dns_endpoint_and_no_endpoint() {
    for spec in [
        json!({"allowedIPs": ["10.5.0.1/32"], "publicKey": KEY}),
        json!({"allowedIPs": ["10.5.0.1/32"], "publicKey": KEY,
               "endpoint": {"dnsOrIP": {"dns": "vpn.example.com"}, "port": 1}}),
        json!({"allowedIPs": ["10.5.0.1/32"], "publicKey": KEY, "persistentKeepalive": 0}),
    ] {
        assert_eq!(answer(&spec)["response"]["allowed"], true, "{spec}");
    }
}

#[test]
fn refuses_peers_kilo_refuses_with_the_reason() {
    let cases = [
        (
            json!({"allowedIPs": ["10.5.0.1"], "publicKey": KEY}),
            "peer laptop: spec.allowedIPs: \"10.5.0.1\" is not a CIDR",
        ),
        (
            json!({"allowedIPs": ["10.5.0.0/33"], "publicKey": KEY}),
            "peer laptop: spec.allowedIPs: \"10.5.0.0/33\" is not a CIDR",
        ),
        (
            json!({"allowedIPs": ["10.5.0.1/32", "; rm -rf /"], "publicKey": KEY}),
            "peer laptop: spec.allowedIPs: \"; rm -rf /\" is not a CIDR",
        ),
        (
            json!({"allowedIPs": [], "publicKey": KEY}),
            "peer laptop: spec.allowedIPs is empty",
        ),
        (
            json!({"allowedIPs": ["10.5.0.1/32"], "publicKey": "not base64!"}),
            "peer laptop: spec.publicKey: invalid WireGuard key: not valid base64",
        ),
        (
            json!({"allowedIPs": ["10.5.0.1/32"], "publicKey": "AAAA"}),
            "peer laptop: spec.publicKey: invalid WireGuard key: must decode to exactly 32 bytes",
        ),
        (
            json!({"allowedIPs": ["10.5.0.1/32"]}),
            "peer laptop: spec.publicKey: invalid WireGuard key: must decode to exactly 32 bytes",
        ),
        (
            json!({"allowedIPs": ["10.5.0.1/32"], "publicKey": KEY, "persistentKeepalive": -1}),
            "peer laptop: spec.persistentKeepalive: -1 is not 0-65535 seconds",
        ),
        (
            json!({"allowedIPs": ["10.5.0.1/32"], "publicKey": KEY, "persistentKeepalive": 65536}),
            "peer laptop: spec.persistentKeepalive: 65536 is not 0-65535 seconds",
        ),
        (
            json!({"allowedIPs": ["10.5.0.1/32"], "publicKey": KEY, "presharedKey": "short"}),
            "peer laptop: spec.presharedKey: invalid WireGuard key: not valid base64",
        ),
        (
            json!({"allowedIPs": ["10.5.0.1/32"], "publicKey": KEY,
                "endpoint": {"dnsOrIP": {"ip": "192.0.2.7"}, "port": 0}}),
            "peer laptop: spec.endpoint.port: 0 is not 1-65535",
        ),
        (
            json!({"allowedIPs": ["10.5.0.1/32"], "publicKey": KEY,
                "endpoint": {"dnsOrIP": {"ip": "192.0.2.7"}, "port": 65536}}),
            "peer laptop: spec.endpoint.port: 65536 is not 1-65535",
        ),
        (
            json!({"allowedIPs": ["10.5.0.1/32"], "publicKey": KEY,
                "endpoint": {"dnsOrIP": {}, "port": 51820}}),
            "peer laptop: spec.endpoint.dnsOrIP needs dns or ip",
        ),
        (
            json!({"allowedIPs": ["10.5.0.1/32"], "publicKey": KEY,
                "endpoint": {"dnsOrIP": {"ip": "192.0.2.300"}, "port": 51820}}),
            "peer laptop: spec.endpoint.dnsOrIP.ip: \"192.0.2.300\" is not an IP address",
        ),
        (
            json!({"allowedIPs": ["10.5.0.1/32"], "publicKey": KEY,
                "endpoint": {"dnsOrIP": {"dns": "Bad_Name..example"}, "port": 51820}}),
            "peer laptop: spec.endpoint.dnsOrIP.dns: \"Bad_Name..example\" is not a DNS name",
        ),
    ];
    for (spec, want) in cases {
        let got = answer(&spec);
        assert_eq!(
            got,
            json!({
                "apiVersion": "admission.k8s.io/v1",
                "kind": "AdmissionReview",
                "response": {
                    "uid": "705ab4f5-6393-11e8-b7cc-42010a800002",
                    "allowed": false,
                    "status": {"message": want},
                },
            }),
            "{spec}"
        );
    }
}

#[test]
fn malformed_reviews_are_bad_requests() {
    let bad = |body: &[u8]| review(body).unwrap_err().0;
    assert_eq!(
        bad(b"{not json"),
        "request could not be decoded: key must be a string at line 1 column 2"
    );
    assert_eq!(
        bad(b"[]"),
        "request could not be decoded: invalid length 2, expected struct Review with 3 elements at line 1 column 2"
    );
    let v1beta1 = br#"{"apiVersion":"admission.k8s.io/v1beta1","kind":"AdmissionReview","request":{"uid":"u"}}"#;
    assert_eq!(bad(v1beta1), "only API v1 is supported");
    let other_kind = br#"{"apiVersion":"admission.k8s.io/v1","kind":"ConversionReview"}"#;
    assert_eq!(bad(other_kind), "only API v1 is supported");
    let no_request = br#"{"apiVersion":"admission.k8s.io/v1","kind":"AdmissionReview"}"#;
    assert_eq!(bad(no_request), "request could not be decoded: no request");
    let spec_not_object =
        br#"{"apiVersion":"admission.k8s.io/v1","kind":"AdmissionReview","request":{"uid":"u","operation":"CREATE","object":{"metadata":{"name":"p"},"spec":"x"}}}"#;
    assert!(bad(spec_not_object).starts_with("could not unmarshal extension to peer spec: "));
    let allowed_null = review_of(&json!({"allowedIPs": null, "publicKey": KEY}));
    assert!(bad(&allowed_null).starts_with("could not unmarshal extension to peer spec: "));
    let keepalive_string = review_of(
        &json!({"allowedIPs": ["10.5.0.1/32"], "publicKey": KEY, "persistentKeepalive": "10"}),
    );
    assert!(bad(&keepalive_string).starts_with("could not unmarshal extension to peer spec: "));
}

#[test]
fn content_types() {
    assert!(is_json(Some("application/json")));
    assert!(is_json(Some("application/json; charset=utf-8")));
    assert!(!is_json(Some("application/yaml")));
    assert!(!is_json(Some("application/jsonx")));
    assert!(!is_json(Some("")));
    assert!(!is_json(None));
}
