//! Table tests of the Kubernetes translation: Node → mesh Node (+ problems), Peer → mesh Peer or
//! a rejection, and the annotations kg publishes.

use std::collections::BTreeMap;

use k8s_openapi::api::core::v1::Node as K8sNode;
use k8s_openapi::apimachinery::pkg::apis::meta::v1::ObjectMeta;
use kilo_k8s::{OwnFacts, Peer, node_from_k8s, own_annotations};

const KEY: &str = "AQEBAQEBAQEBAQEBAQEBAQEBAQEBAQEBAQEBAQEBAQE=";

#[cfg(test)]
fn node(yaml: &str) -> K8sNode {
    serde_saphyr::from_str(yaml).unwrap()
}

#[test]
fn a_complete_dual_stack_node() {
    let n = node(&format!(
        r#"
apiVersion: v1
kind: Node
metadata:
  name: n1
  labels: {{ topology.kubernetes.io/region: eu }}
  annotations:
    kilo.squat.ai/key: "{KEY}"
    kilo.squat.ai/endpoint: "192.168.77.11:51820"
    kilo.squat.ai/internal-ip: "192.168.77.11/24"
    kilo.squat.ai/last-seen: "1700000000"
    kilo.squat.ai/egress-ip: "fd00:77::101, 192.168.77.101"
spec:
  podCIDR: 10.42.1.0/24
  podCIDRs: [10.42.1.0/24, "fd00:10:42:1::/64"]
status:
  addresses:
  - {{ type: InternalIP, address: 192.168.77.11 }}
  - {{ type: InternalIP, address: "fd00:77::11" }}
  - {{ type: Hostname, address: n1 }}
"#
    ));
    let (m, problems) = node_from_k8s(&n, "topology.kubernetes.io/region").unwrap();
    assert_eq!(problems, []);
    assert_eq!(m.name.as_str(), "n1");
    assert_eq!(m.location, "eu");
    assert_eq!(m.key.unwrap().to_base64(), KEY);
    assert_eq!(
        m.endpoint.as_ref().unwrap().to_string(),
        "192.168.77.11:51820"
    );
    let ips: Vec<String> = m.internal_ips.iter().map(ToString::to_string).collect();
    assert_eq!(ips, ["192.168.77.11/24", "fd00:77::11/128"]);
    let pods: Vec<String> = m.pod_cidrs.iter().map(ToString::to_string).collect();
    assert_eq!(pods, ["10.42.1.0/24", "fd00:10:42:1::/64"]);
    assert_eq!(m.egress.v4.unwrap().to_string(), "192.168.77.101");
    assert_eq!(m.egress.v6.unwrap().to_string(), "fd00:77::101");
    assert!(m.is_ready(1_700_000_030));
    assert!(!m.is_ready(1_700_000_060));
}

#[test]
fn a_single_stack_node_with_only_pod_cidr() {
    let n = node("metadata: {name: old}\nspec: {podCIDR: 10.42.7.0/24}\n");
    let (m, problems) = node_from_k8s(&n, "topology.kubernetes.io/region").unwrap();
    assert_eq!(problems, []);
    assert_eq!(m.pod_cidrs.len(), 1);
    assert!(!m.is_ready(0), "no key, endpoint or last-seen yet");
}

#[test]
fn bad_annotations_become_problems_not_failures() {
    let n = node(
        r#"
metadata:
  name: n2
  annotations:
    kilo.squat.ai/persistent-keepalive: abc
    kilo.squat.ai/force-endpoint: "::::"
    kilo.squat.ai/egress-ip: 10.0.0.1/32
"#,
    );
    let (m, problems) = node_from_k8s(&n, "topology.kubernetes.io/region").unwrap();
    let got: Vec<String> = problems.iter().map(ToString::to_string).collect();
    assert_eq!(
        got,
        [
            r#"annotation kilo.squat.ai/force-endpoint="::::": invalid endpoint "::::": IPv6 addresses must be written as [address]:port"#,
            r#"annotation kilo.squat.ai/persistent-keepalive="abc": must be a whole number of seconds from 0 to 65535"#,
            r#"annotation kilo.squat.ai/egress-ip="10.0.0.1/32": "10.0.0.1/32" is a CIDR; egress-ip takes plain addresses"#,
        ]
    );
    assert_eq!(m.persistent_keepalive, None);
}

#[cfg(test)]
fn peer(spec: &str) -> Peer {
    serde_saphyr::from_str(&format!(
        "apiVersion: kilo.squat.ai/v1alpha1\nkind: Peer\nmetadata: {{name: p}}\nspec:\n{spec}"
    ))
    .unwrap()
}

#[test]
fn peers_translate_or_are_rejected_with_a_reason() {
    let ok = peer(&format!(
        "  allowedIPs: [10.5.0.1/32, 10.6.0.0/16]\n  publicKey: \"{KEY}\"\n  persistentKeepalive: 10\n  endpoint: {{dnsOrIP: {{ip: 192.0.2.1, dns: vpn.example.com}}, port: 51820}}\n"
    ));
    let m = ok.to_mesh().unwrap();
    assert_eq!(m.allowed_ips.len(), 2);
    assert_eq!(m.persistent_keepalive, Some(10));
    assert_eq!(
        m.endpoint.unwrap().to_string(),
        "vpn.example.com:51820",
        "DNS wins, as in Kilo"
    );

    let cases = [
        (
            format!("  allowedIPs: []\n  publicKey: \"{KEY}\"\n"),
            "spec.allowedIPs is empty",
        ),
        (
            format!("  allowedIPs: [nope]\n  publicKey: \"{KEY}\"\n"),
            "spec.allowedIPs: \"nope\" is not a CIDR",
        ),
        (
            "  allowedIPs: [10.5.0.1/32]\n  publicKey: abc\n".to_owned(),
            "spec.publicKey: invalid WireGuard key: not valid base64",
        ),
        (
            format!(
                "  allowedIPs: [10.5.0.1/32]\n  publicKey: \"{KEY}\"\n  persistentKeepalive: -5\n"
            ),
            "spec.persistentKeepalive: -5 is not 0-65535 seconds",
        ),
        (
            format!(
                "  allowedIPs: [10.5.0.1/32]\n  publicKey: \"{KEY}\"\n  endpoint: {{dnsOrIP: {{ip: 192.0.2.1}}, port: 0}}\n"
            ),
            "spec.endpoint.port: 0 is not 1-65535",
        ),
        (
            format!(
                "  allowedIPs: [10.5.0.1/32]\n  publicKey: \"{KEY}\"\n  endpoint: {{dnsOrIP: {{}}, port: 51820}}\n"
            ),
            "spec.endpoint.dnsOrIP needs dns or ip",
        ),
    ];
    for (spec, reason) in cases {
        let err = peer(&spec).to_mesh().unwrap_err();
        assert_eq!(err.reason, reason, "{spec}");
        assert_eq!(err.name, "p");
    }
}

#[test]
fn own_annotations_are_complete_and_kilo_compatible() {
    let facts = OwnFacts {
        key: KEY.parse().unwrap(),
        endpoint: Some("192.168.77.11:51820".parse().unwrap()),
        internal_ip: Some("192.168.77.11/24".parse().unwrap()),
        wireguard_ip: None,
        wireguard_ip_since: Some(1_699_999_000),
        last_seen: 1_700_000_000,
        discovered: BTreeMap::new(),
        granularity: kilo_mesh::Granularity::Location,
        egress: kilo_mesh::egress::EgressStatus {
            v4: kilo_mesh::egress::EgressState::InForce {
                address: "192.168.77.101".parse().unwrap(),
            },
            v6: kilo_mesh::egress::EgressState::NotAssigned {
                address: "fd00:77::101".parse().unwrap(),
            },
        },
        cni_compatibility_ip: None,
    };
    let got = own_annotations(&facts);
    let expected: BTreeMap<String, String> = [
        // Not running with --compatibility=cilium: written empty, as Kilo does.
        ("kilo.squat.ai/cni-compatibility-ip", ""),
        ("kilo.squat.ai/discovered-endpoints", "{}"),
        (
            "kilo.squat.ai/egress-ip-status",
            r#"{"v4":{"reason":"in-force","address":"192.168.77.101"},"v6":{"reason":"not-assigned","address":"fd00:77::101"}}"#,
        ),
        ("kilo.squat.ai/endpoint", "192.168.77.11:51820"),
        ("kilo.squat.ai/granularity", "location"),
        ("kilo.squat.ai/implementation", "kilo-rs; last-seen=1700000000"),
        ("kilo.squat.ai/internal-ip", "192.168.77.11/24"),
        ("kilo.squat.ai/key", KEY),
        ("kilo.squat.ai/last-seen", "1700000000"),
        ("kilo.squat.ai/wireguard-ip", ""),
        // No WireGuard IP (not a leader): no time either.
        ("kilo.squat.ai/wireguard-ip-since", ""),
    ]
    .into_iter()
    .map(|(k, v)| (k.to_owned(), v.to_owned()))
    .collect();
    assert_eq!(got, expected);
    let leader = OwnFacts {
        wireguard_ip: Some("10.4.0.2/16".parse().unwrap()),
        ..facts
    };
    let got = own_annotations(&leader);
    assert_eq!(got["kilo.squat.ai/wireguard-ip"], "10.4.0.2/16");
    assert_eq!(got["kilo.squat.ai/wireguard-ip-since"], "1699999000");
    let cilium = OwnFacts {
        cni_compatibility_ip: Some("10.42.1.7/32".parse().unwrap()),
        ..leader
    };
    let got = own_annotations(&cilium);
    assert_eq!(got["kilo.squat.ai/cni-compatibility-ip"], "10.42.1.7/32");
}

#[test]
fn the_peer_crd_matches_kilo() {
    let crd = kilo_k8s::peer::peer_crd();
    assert_eq!(crd.metadata.name.as_deref(), Some("peers.kilo.squat.ai"));
    assert_eq!(crd.spec.scope, "Cluster");
    assert_eq!(crd.spec.names.short_names, Some(vec!["peer".to_owned()]));
    let schema = serde_json::to_value(&crd.spec.versions[0].schema).unwrap();
    let spec = &schema["openAPIV3Schema"]["properties"]["spec"]["properties"];
    assert!(
        spec["allowedIPs"].is_object() && spec["publicKey"].is_object(),
        "{spec}"
    );
    assert!(
        spec["endpoint"]["properties"]["dnsOrIP"].is_object(),
        "{spec}"
    );
}

#[test]
fn a_peer_that_does_not_decode_is_rejected_alone_without_its_body() {
    let psk = "cGxlYXNlLWRvLW5vdC1sb2ctbWUtZXZlci0xMjM0NTY=";
    let bad = serde_json::json!({
        "apiVersion": "kilo.squat.ai/v1alpha1", "kind": "Peer",
        "metadata": {"name": "huge-port"},
        "spec": {"allowedIPs": ["10.5.0.1/32"], "publicKey": KEY, "presharedKey": psk,
                 "endpoint": {"dnsOrIP": {"ip": "192.0.2.1"}, "port": 99_999_999_999_i64}}
    });
    let err = kilo_k8s::decode_peer(bad).unwrap_err();
    assert_eq!(err.name, "huge-port");
    assert_eq!(
        err.reason,
        "the Peer does not decode: invalid value: integer `99999999999`, expected i32"
    );
    let wrong_type = serde_json::json!({
        "apiVersion": "kilo.squat.ai/v1alpha1", "kind": "Peer",
        "metadata": {"name": "keys-as-list"},
        "spec": {"allowedIPs": "10.5.0.1/32", "publicKey": KEY, "presharedKey": psk}
    });
    let err = kilo_k8s::decode_peer(wrong_type).unwrap_err();
    assert_eq!(
        err.reason,
        "the Peer does not decode: invalid type: string \"10.5.0.1/32\", expected a sequence"
    );
    assert!(!err.reason.contains(psk));
    let huge = serde_json::json!({
        "apiVersion": "kilo.squat.ai/v1alpha1", "kind": "Peer",
        "metadata": {"name": "long"},
        "spec": {"allowedIPs": "x".repeat(10_000), "publicKey": KEY}
    });
    let err = kilo_k8s::decode_peer(huge).unwrap_err();
    assert_eq!(err.reason.chars().count(), 201, "200 bytes and an ellipsis");
    assert!(err.reason.ends_with('…'));
}

#[test]
fn an_untyped_peer_from_the_api_server_translates() {
    let object: kube::api::DynamicObject = serde_json::from_value(serde_json::json!({
        "apiVersion": "kilo.squat.ai/v1alpha1", "kind": "Peer",
        "metadata": {"name": "laptop"},
        "spec": {"allowedIPs": ["10.5.0.1/32"], "publicKey": KEY}
    }))
    .unwrap();
    let peer = kilo_k8s::mesh_peer(&object).unwrap();
    assert_eq!(peer.name, "laptop");
    assert_eq!(
        peer.allowed_ips,
        ["10.5.0.1/32".parse::<ipnet::IpNet>().unwrap()]
    );
}

#[test]
fn a_slimmed_node_keeps_exactly_what_the_mesh_reads() {
    let full: k8s_openapi::api::core::v1::Node = serde_json::from_value(serde_json::json!({
        "apiVersion": "v1", "kind": "Node",
        "metadata": {
            "name": "n1", "uid": "u-1", "resourceVersion": "42", "generation": 3,
            "creationTimestamp": "2026-01-01T00:00:00Z",
            "labels": {"topology.kubernetes.io/region": "gcp", "kubernetes.io/hostname": "n1",
                       "topology.kubernetes.io/zone": "gcp-a"},
            "ownerReferences": [{"apiVersion": "v1", "kind": "X", "name": "x", "uid": "u-x"}],
            "annotations": {
                "kilo.squat.ai/key": KEY,
                "kilo.squat.ai/endpoint": "192.0.2.1:51820",
                "kubectl.kubernetes.io/last-applied-configuration": "x".repeat(4096),
                "node.alpha.kubernetes.io/ttl": "0"
            },
            "managedFields": [{"manager": "kubelet", "operation": "Update", "fieldsType": "FieldsV1", "fieldsV1": {"f:status": {}}}]
        },
        "spec": {"podCIDR": "10.42.1.0/24", "podCIDRs": ["10.42.1.0/24"], "providerID": "gce://p/z/n1",
                 "taints": [{"key": "k", "effect": "NoSchedule"}]},
        "status": {
            "addresses": [{"type": "InternalIP", "address": "10.0.0.1"}, {"type": "Hostname", "address": "n1"},
                          {"type": "ExternalIP", "address": "192.0.2.9"}, {"type": "InternalIP", "address": "fd00::1"}],
            "conditions": [{"type": "Ready", "status": "True"}],
            "images": [{"names": ["registry.example/big:1"], "sizeBytes": 123}],
            "nodeInfo": {"architecture": "amd64", "bootID": "b", "containerRuntimeVersion": "c", "kernelVersion": "k",
                         "kubeProxyVersion": "p", "kubeletVersion": "v", "machineID": "m", "operatingSystem": "linux",
                         "osImage": "o", "systemUUID": "s"}
        }
    }))
    .unwrap();
    let json = serde_json::to_vec(&full).unwrap();
    let mut slim: kilo_k8s::SlimNode = serde_json::from_slice(&json).unwrap();
    slim.keep_label("topology.kubernetes.io/region");
    let s = |v: &str| v.to_owned();
    assert_eq!(
        slim,
        kilo_k8s::SlimNode {
            metadata: ObjectMeta {
                name: Some(s("n1")),
                uid: Some(s("u-1")),
                resource_version: Some(s("42")),
                ..ObjectMeta::default()
            },
            labels: vec![(s("topology.kubernetes.io/region"), s("gcp"))],
            annotations: vec![
                (s("kilo.squat.ai/endpoint"), s("192.0.2.1:51820")),
                (s("kilo.squat.ai/key"), s(KEY)),
            ],
            pod_cidr: Some(s("10.42.1.0/24")),
            pod_cidrs: vec![s("10.42.1.0/24")],
            internal_ips: vec![s("10.0.0.1"), s("fd00::1")],
        }
    );
    let label = "topology.kubernetes.io/region";
    assert_eq!(
        slim.to_mesh(label).unwrap(),
        kilo_k8s::node_from_k8s(&full, label).unwrap()
    );
}

#[test]
fn a_slim_node_decodes_nulls_absent_fields_and_odd_annotations() {
    let decode = |v: serde_json::Value| serde_json::from_value::<kilo_k8s::SlimNode>(v);
    let bare =
        decode(serde_json::json!({"apiVersion": "v1", "kind": "Node", "metadata": {"name": "n2"}}))
            .unwrap();
    assert_eq!(
        bare,
        kilo_k8s::SlimNode {
            metadata: ObjectMeta {
                name: Some("n2".to_owned()),
                ..ObjectMeta::default()
            },
            ..kilo_k8s::SlimNode::default()
        }
    );
    let nulls = decode(serde_json::json!({
        "metadata": {"name": "n3", "labels": null, "annotations": null},
        "spec": null, "status": {"addresses": null}
    }))
    .unwrap();
    assert_eq!(nulls.annotations, Vec::new());
    assert_eq!(nulls.labels, Vec::new());
    assert_eq!(nulls.internal_ips, Vec::<String>::new());
    // foreign annotations of any shape are skipped unread; a kilo one must be a string
    let odd = decode(serde_json::json!({"metadata": {"name": "n4", "annotations": {
        "other/nested": {"a": [1, 2, {"b": null}]}, "other/number": 7, "kilo.squat.ai/leader": "true",
        "kilo.squat.ai/location\n": "x"}}}))
    .unwrap();
    assert_eq!(
        odd.annotations,
        [
            ("kilo.squat.ai/leader".to_owned(), "true".to_owned()),
            ("kilo.squat.ai/location\n".to_owned(), "x".to_owned())
        ]
    );
    assert_eq!(odd.annotation("kilo.squat.ai/leader"), Some("true"));
    assert_eq!(odd.annotation("kilo.squat.ai/location"), None);
    let err = decode(
        serde_json::json!({"metadata": {"name": "n5", "annotations": {"kilo.squat.ai/key": 5}}}),
    )
    .unwrap_err();
    assert_eq!(
        err.to_string(),
        "invalid type: integer `5`, expected a string"
    );
    assert!(decode(serde_json::json!({"metadata": {"name": "n6", "annotations": []}})).is_err());
}

#[test]
fn a_slimmed_peer_keeps_its_name_uid_resource_version_and_spec() {
    let spec = serde_json::json!({"allowedIPs": ["10.5.0.1/32"], "publicKey": KEY, "persistentKeepalive": 10});
    let mut object: kube::api::DynamicObject = serde_json::from_value(serde_json::json!({
        "apiVersion": "kilo.squat.ai/v1alpha1", "kind": "Peer",
        "metadata": {
            "name": "laptop", "uid": "u-p", "resourceVersion": "7", "generation": 1,
            "labels": {"team": "a"},
            "annotations": {"kubectl.kubernetes.io/last-applied-configuration": "y".repeat(2048)},
            "managedFields": [{"manager": "kubectl", "operation": "Apply", "fieldsType": "FieldsV1", "fieldsV1": {"f:spec": {}}}]
        },
        "spec": spec,
        "status": {"something": "else"},
        "extra": [1, 2, 3]
    }))
    .unwrap();
    let before = kilo_k8s::mesh_peer(&object).unwrap();
    kilo_k8s::slim_peer(&mut object);
    assert_eq!(
        serde_json::to_value(&object).unwrap(),
        serde_json::json!({
            "apiVersion": "kilo.squat.ai/v1alpha1", "kind": "Peer",
            "metadata": {"name": "laptop", "uid": "u-p", "resourceVersion": "7"},
            "spec": {"allowedIPs": ["10.5.0.1/32"], "publicKey": KEY, "persistentKeepalive": 10}
        })
    );
    assert_eq!(kilo_k8s::mesh_peer(&object).unwrap(), before);
}

#[test]
fn an_untyped_peer_that_does_not_decode_is_rejected_as_a_manifest_is() {
    let psk = "cGxlYXNlLWRvLW5vdC1sb2ctbWUtZXZlci0xMjM0NTY=";
    let value = serde_json::json!({
        "apiVersion": "kilo.squat.ai/v1alpha1", "kind": "Peer",
        "metadata": {"name": "huge-port"},
        "spec": {"allowedIPs": ["10.5.0.1/32"], "publicKey": KEY, "presharedKey": psk,
                 "endpoint": {"dnsOrIP": {"ip": "192.0.2.1"}, "port": 99_999_999_999_i64}}
    });
    let object: kube::api::DynamicObject = serde_json::from_value(value.clone()).unwrap();
    let err = kilo_k8s::decode_dynamic_peer(&object).unwrap_err();
    assert_eq!(err, kilo_k8s::decode_peer(value).unwrap_err());
    assert_eq!(
        err.reason,
        "the Peer does not decode: invalid value: integer `99999999999`, expected i32"
    );
    let no_spec = serde_json::json!({
        "apiVersion": "kilo.squat.ai/v1alpha1", "kind": "Peer", "metadata": {"name": "bare"}
    });
    let object: kube::api::DynamicObject = serde_json::from_value(no_spec.clone()).unwrap();
    let err = kilo_k8s::decode_dynamic_peer(&object).unwrap_err();
    assert_eq!(err.reason, "the Peer does not decode: missing field `spec`");
    assert_eq!(err, kilo_k8s::decode_peer(no_spec).unwrap_err());
}
