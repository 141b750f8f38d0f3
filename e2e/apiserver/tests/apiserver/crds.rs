//! CRDs as kube-apiserver treats them, driven with kubectl: the Peer CRD from before issue 14 is
//! refused with the real server's message, today's is accepted and registered, and every Peer
//! write is pruned, defaulted and validated against its schema.

use crate::common::{PEER, Server};

/// The Peer CRD as manifests/crds.yaml had it before issue 14 (the parts that matter: defaults
/// that do not validate against their own node, a uint32 port without maximum).
const OLD_CRD: &str = "\
apiVersion: apiextensions.k8s.io/v1
kind: CustomResourceDefinition
metadata:
  name: peers.kilo.squat.ai
spec:
  group: kilo.squat.ai
  names: {kind: Peer, plural: peers, singular: peer, shortNames: [peer]}
  scope: Cluster
  versions:
  - name: v1alpha1
    served: true
    storage: true
    schema:
      openAPIV3Schema:
        type: object
        required: [spec]
        properties:
          spec:
            type: object
            required: [allowedIPs, publicKey]
            properties:
              allowedIPs: {type: array, default: [], minItems: 1, items: {type: string}}
              endpoint:
                type: object
                nullable: true
                properties:
                  port: {type: integer, format: uint32, minimum: 0.0, default: 0}
              publicKey: {type: string, default: \"\", minLength: 1}
";

#[test]
fn the_old_peer_crd_is_refused_and_the_fixed_one_accepted() {
    let s = Server::start(&[]);
    let err = s.kubectl_err(&["apply", "-f", &s.file("old.yaml", OLD_CRD)]);
    assert_eq!(
        err.trim_end(),
        "The CustomResourceDefinition \"peers.kilo.squat.ai\" is invalid: \n\
         * spec.versions[0].schema.openAPIV3Schema.properties[spec].properties[allowedIPs].default: Invalid value: 0:  in body should have at least 1 items\n\
         * spec.versions[0].schema.openAPIV3Schema.properties[spec].properties[publicKey].default: Invalid value: \"\":  in body should be at least 1 chars long"
    );
    let out = s.kubectl(&["get", "peers"]);
    assert!(!out.status.success(), "no Peer resource without a CRD");
    s.apply_crds();
    let established = s.kubectl_ok(&[
        "get",
        "crd",
        "peers.kilo.squat.ai",
        "-o",
        "jsonpath={.status.conditions[?(@.type==\"Established\")].status}",
    ]);
    assert_eq!(established, "True");
    let resources = s.kubectl_ok(&[
        "api-resources",
        "--api-group",
        "kilo.squat.ai",
        "-o",
        "name",
    ]);
    assert_eq!(resources.trim(), "peers.kilo.squat.ai");
}

fn peer_with(s: &Server, name: &str, spec_tail: &str) -> String {
    let text = PEER.replace("name: p1", &format!("name: {name}")) + spec_tail;
    s.file(&format!("{name}.yaml"), &text)
}

#[test]
fn peer_ports_out_of_range_are_refused_at_admission() {
    let s = Server::start(&[]);
    s.apply_crds();
    for port in ["70000", "4294967296", "0", "-1"] {
        let file = peer_with(
            &s,
            "p",
            &format!("  endpoint: {{dnsOrIP: {{ip: 192.0.2.1}}, port: {port}}}\n"),
        );
        let err = s.kubectl_err(&["create", "-f", &file]);
        let bound = if port.starts_with('-') || port == "0" {
            "greater than or equal to 1"
        } else {
            "less than or equal to 65535"
        };
        assert_eq!(
            err.trim_end(),
            format!(
                "The Peer \"p\" is invalid: spec.endpoint.port: Invalid value: {port}: spec.endpoint.port in body should be {bound}"
            )
        );
    }
    let ok = peer_with(
        &s,
        "p",
        "  endpoint: {dnsOrIP: {ip: 192.0.2.1}, port: 51820}\n",
    );
    s.kubectl_ok(&["create", "-f", &ok]);
    // A patch is admitted like a create.
    let err = s.kubectl_err(&[
        "patch",
        "peer",
        "p",
        "--type=merge",
        "-p",
        r#"{"spec":{"endpoint":{"port":65536}}}"#,
    ]);
    assert!(
        err.contains("spec.endpoint.port: Invalid value: 65536: spec.endpoint.port in body should be less than or equal to 65535"),
        "{err}"
    );
}

#[test]
fn every_schema_rule_is_enforced_with_kube_apiservers_words() {
    let s = Server::start(&[]);
    s.apply_crds();
    let cases = [
        (
            "  endpoint: {dnsOrIP: {ip: 192.0.2.1}, port: \"51820\"}\n",
            "spec.endpoint.port: Invalid value: \"string\": spec.endpoint.port in body must be of type integer: \"string\"",
        ),
        (
            "  endpoint: {dnsOrIP: {ip: 192.0.2.1}}\n",
            "spec.endpoint.port: Required value",
        ),
        (
            "  presharedKey: 7\n",
            "spec.presharedKey: Invalid value: \"integer\": spec.presharedKey in body must be of type string: \"integer\"",
        ),
        (
            "  persistentKeepalive: 1.5\n",
            "spec.persistentKeepalive: Invalid value: \"number\": spec.persistentKeepalive in body must be of type integer: \"number\"",
        ),
    ];
    for (tail, want) in cases {
        let err = s.kubectl_err(&["create", "-f", &peer_with(&s, "p", tail)]);
        assert_eq!(
            err.trim_end(),
            format!("The Peer \"p\" is invalid: {want}"),
            "{tail}"
        );
    }
    let empty = PEER
        .replace("  - 10.5.0.1/32\n", "")
        .replace("allowedIPs:", "allowedIPs: []");
    let err = s.kubectl_err(&["create", "-f", &s.file("e.yaml", &empty)]);
    assert_eq!(
        err.trim_end(),
        "The Peer \"p1\" is invalid: spec.allowedIPs: Invalid value: 0: spec.allowedIPs in body should have at least 1 items"
    );
    // Two errors: kubectl lists the causes.
    let both = PEER
        .replace("  - 10.5.0.1/32\n", "")
        .replace("allowedIPs:", "allowedIPs: []")
        .replace(
            "publicKey: GDW8CKOm8v1G5Q3Y1lYHxrz1ynCkSHUTGBhPFlCmx20=",
            "publicKey: \"\"",
        );
    let err = s.kubectl_err(&["create", "-f", &s.file("b.yaml", &both)]);
    assert_eq!(
        err.trim_end(),
        "The Peer \"p1\" is invalid: \n\
         * spec.allowedIPs: Invalid value: 0: spec.allowedIPs in body should have at least 1 items\n\
         * spec.publicKey: Invalid value: \"\": spec.publicKey in body should be at least 1 chars long"
    );
    // nullable: null is accepted where the schema says so.
    let file = peer_with(&s, "nul", "  presharedKey: null\n  endpoint: null\n");
    s.kubectl_ok(&["create", "--validate=false", "-f", &file]);
}

#[test]
fn unknown_fields_are_pruned_and_defaults_applied() {
    let s = Server::start(&[]);
    s.apply_crds();
    let file = peer_with(
        &s,
        "p",
        "  bogus: 1\n  endpoint: {port: 51820, extra: x, dnsOrIP: {ip: 192.0.2.1}}\n",
    );
    let err = s.kubectl_err(&["create", "-f", &file]);
    assert!(
        err.contains("strict decoding error: unknown field \"spec.bogus\", unknown field \"spec.endpoint.extra\""),
        "{err}"
    );
    s.kubectl_ok(&["create", "--validate=false", "-f", &file]);
    let spec = s.kubectl_ok(&["get", "peer", "p", "-o", "jsonpath={.spec}"]);
    assert_eq!(
        spec,
        r#"{"allowedIPs":["10.5.0.1/32"],"endpoint":{"dnsOrIP":{"ip":"192.0.2.1"},"port":51820},"persistentKeepalive":10,"publicKey":"GDW8CKOm8v1G5Q3Y1lYHxrz1ynCkSHUTGBhPFlCmx20="}"#
    );
    // dnsOrIP has a default ({}), which the server fills in when it is missing.
    let patch = r#"[{"op":"remove","path":"/spec/endpoint/dnsOrIP"}]"#;
    s.kubectl_ok(&["patch", "peer", "p", "--type=json", "-p", patch]);
    let endpoint = s.kubectl_ok(&["get", "peer", "p", "-o", "jsonpath={.spec.endpoint}"]);
    assert_eq!(endpoint, r#"{"dnsOrIP":{},"port":51820}"#);
}

#[test]
fn a_crd_that_is_not_structural_is_refused_and_a_deleted_one_stops_serving() {
    let s = Server::start(&[]);
    let bad = OLD_CRD
        .replace(
            "              publicKey: {type: string, default: \"\", minLength: 1}\n",
            "              publicKey: {minLength: 1}\n",
        )
        .replace("default: [], ", "")
        .replace(", default: 0", "");
    let err = s.kubectl_err(&["apply", "-f", &s.file("bad.yaml", &bad)]);
    assert_eq!(
        err.trim_end(),
        "The CustomResourceDefinition \"peers.kilo.squat.ai\" is invalid: spec.versions[0].schema.openAPIV3Schema.properties[spec].properties[publicKey].type: Required value: must not be empty for specified object fields"
    );
    s.apply_crds();
    s.kubectl_ok(&["create", "-f", &s.file("p.yaml", PEER)]);
    s.kubectl_ok(&["delete", "crd", "peers.kilo.squat.ai"]);
    let err = s.kubectl_err(&["get", "peers"]);
    // (kubectl's discovery cache may still list peers: then the server's 404 shows)
    assert!(
        err.contains("the server doesn't have a resource type \"peers\"")
            || err.contains(
                "the server could not find the requested resource (/apis/kilo.squat.ai/v1alpha1/peers)"
            ),
        "{err}"
    );
    s.apply_crds();
    let out = s.kubectl_ok(&["get", "peers", "-o", "name"]);
    assert_eq!(out, "", "a deleted CRD takes its objects with it");
}

#[test]
fn a_kind_list_is_created_and_strict_validation_reaches_its_items() {
    let s = Server::start(&[]);
    s.apply_crds();
    let fixture = concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/../fixtures/lab-dual-stack.yaml"
    );
    let out = s.kubectl_ok(&["create", "-f", fixture]);
    assert_eq!(out, "node/n1 created\nnode/n2 created\nnode/n3 created\n");
    let list = "apiVersion: v1\nkind: List\nitems:\n- apiVersion: kilo.squat.ai/v1alpha1\n  kind: Peer\n  \
                metadata: {name: lp}\n  spec: {allowedIPs: [10.1.1.1/32], publicKey: k, bogus: 1}\n";
    let err = s.kubectl_err(&[
        "apply",
        "--validate=strict",
        "-f",
        &s.file("list.yaml", list),
    ]);
    assert!(
        err.contains("strict decoding error: unknown field \"spec.bogus\""),
        "{err}"
    );
}

/// Built-in kinds are strictly decoded too: kubectl's `--validate=strict` (its default) refuses a
/// Node with a field the Node type lacks, with the strict decoder's words; `--validate=false`
/// stores it without the field, as kube-apiserver drops unknown fields.
#[test]
fn strict_validation_covers_built_in_kinds() {
    let s = Server::start(&[]);
    let node = "apiVersion: v1\nkind: Node\nmetadata: {name: n9}\nspec: {podCIDR: 10.42.9.0/24, podCIDRz: [x]}\n";
    let path = s.file("node.yaml", node);
    let err = s.kubectl_err(&["apply", "--validate=strict", "-f", &path]);
    assert!(
        err.contains(
            "Node in version \"v1\" cannot be handled as a Node: strict decoding error: unknown field \"spec.podCIDRz\""
        ),
        "{err}"
    );
    let err = s.kubectl_err(&["create", "-f", &path]);
    assert!(err.contains("unknown field \"spec.podCIDRz\""), "{err}");
    s.kubectl_ok(&["create", "--validate=false", "-f", &path]);
    let ok = s.kubectl_ok(&["get", "node", "n9", "-o", "jsonpath={.spec}"]);
    assert_eq!(ok, r#"{"podCIDR":"10.42.9.0/24"}"#);
}
