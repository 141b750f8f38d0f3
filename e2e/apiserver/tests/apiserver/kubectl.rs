//! Drives the server with the real `/usr/bin/kubectl`.

use crate::common::{PEER, Server};

const NODES: &str = "\
apiVersion: v1
kind: Node
metadata:
  name: n1
  labels:
    topology.kubernetes.io/region: r1
spec:
  podCIDR: 10.42.1.0/24
status:
  conditions:
  - type: Ready
    status: \"True\"
  nodeInfo:
    kubeletVersion: v1.34.0
---
apiVersion: v1
kind: Node
metadata:
  name: n2
spec:
  podCIDR: 10.42.2.0/24
";

const EVENT: &str = "\
apiVersion: v1
kind: Event
metadata:
  name: n1.egress
  namespace: default
involvedObject:
  kind: Node
  name: n1
  apiVersion: v1
reason: InvalidEgressIP
message: egress-ip 10.0.0.1/32 is a CIDR
type: Warning
source:
  component: kg
";

#[test]
fn nodes_annotations_and_labels() {
    let s = Server::start(&[]);
    let nodes = s.file("nodes.yaml", NODES);
    let out = s.kubectl_ok(&["create", "-f", &nodes]);
    assert!(
        out.contains("node/n1 created") && out.contains("node/n2 created"),
        "{out}"
    );
    let err = s.kubectl_err(&["create", "-f", &nodes]);
    assert!(
        err.contains("AlreadyExists") && err.contains("nodes \"n1\" already exists"),
        "{err}"
    );

    let table = s.kubectl_ok(&["get", "nodes"]);
    let lines: Vec<&str> = table.lines().collect();
    assert!(
        lines[0].starts_with("NAME") && lines[0].contains("STATUS"),
        "{table}"
    );
    assert!(
        lines
            .iter()
            .any(|l| l.starts_with("n1 ") && l.contains("Ready") && l.contains("v1.34.0")),
        "{table}"
    );
    assert!(
        lines
            .iter()
            .any(|l| l.starts_with("n2 ") && l.contains("Unknown")),
        "{table}"
    );

    let yaml = s.kubectl_ok(&["get", "node", "n1", "-o", "yaml"]);
    for want in [
        "kind: Node",
        "name: n1",
        "podCIDR: 10.42.1.0/24",
        "resourceVersion:",
        "uid:",
        "creationTimestamp:",
    ] {
        assert!(yaml.contains(want), "{want} missing from {yaml}");
    }
    let all = s.kubectl_ok(&["get", "nodes", "-o", "yaml"]);
    assert!(
        all.contains("kind: List") && all.contains("name: n2"),
        "{all}"
    );

    let location = |s: &Server| {
        s.kubectl_ok(&[
            "get",
            "node",
            "n1",
            "-o",
            "jsonpath={.metadata.annotations.kilo\\.squat\\.ai/location}",
        ])
    };
    s.kubectl_ok(&["annotate", "node", "n1", "kilo.squat.ai/location=x"]);
    assert_eq!(location(&s), "x");
    let err = s.kubectl_err(&["annotate", "node", "n1", "kilo.squat.ai/location=y"]);
    assert!(err.contains("already has a value"), "{err}");
    s.kubectl_ok(&[
        "annotate",
        "node",
        "n1",
        "kilo.squat.ai/location=y",
        "--overwrite",
    ]);
    assert_eq!(location(&s), "y");
    s.kubectl_ok(&["annotate", "node", "n1", "kilo.squat.ai/location-"]);
    assert_eq!(location(&s), "");
    let json = s.kubectl_ok(&["get", "node", "n1", "-o", "json"]);
    assert!(!json.contains("kilo.squat.ai/location"), "{json}");

    s.kubectl_ok(&["label", "node", "n1", "role=edge"]);
    let edge = s.kubectl_ok(&["get", "nodes", "-l", "role=edge", "-o", "name"]);
    assert_eq!(edge.trim(), "node/n1");
    let by_name = s.kubectl_ok(&[
        "get",
        "nodes",
        "--field-selector",
        "metadata.name=n2",
        "-o",
        "name",
    ]);
    assert_eq!(by_name.trim(), "node/n2");

    // Client-side apply of a changed manifest.
    let changed = s.file("nodes2.yaml", &NODES.replace("region: r1", "region: r2"));
    let out = s.kubectl_ok(&["apply", "-f", &changed]);
    assert!(out.contains("node/n1 configured"), "{out}");
    let region = s.kubectl_ok(&[
        "get",
        "node",
        "n1",
        "-o",
        "jsonpath={.metadata.labels.topology\\.kubernetes\\.io/region}",
    ]);
    assert_eq!(region, "r2");

    let out = s.kubectl_ok(&["delete", "node", "n2"]);
    assert!(out.contains("node \"n2\" deleted"), "{out}");
    let err = s.kubectl_err(&["get", "node", "n2"]);
    assert!(
        err.contains("NotFound") && err.contains("nodes \"n2\" not found"),
        "{err}"
    );
}

#[test]
fn peers_apply_and_delete() {
    let s = Server::start(&[]);
    s.apply_crds();
    let peer = s.file("peer.yaml", PEER);
    let out = s.kubectl_ok(&["apply", "-f", &peer]);
    assert!(out.contains("peer.kilo.squat.ai/p1 created"), "{out}");
    let table = s.kubectl_ok(&["get", "peers"]);
    assert!(table.lines().any(|l| l.starts_with("p1 ")), "{table}");
    let short = s.kubectl_ok(&[
        "get",
        "peer",
        "p1",
        "-o",
        "jsonpath={.spec.persistentKeepalive}",
    ]);
    assert_eq!(short, "10");

    let changed = s.file(
        "peer2.yaml",
        &PEER.replace("persistentKeepalive: 10", "persistentKeepalive: 20"),
    );
    let out = s.kubectl_ok(&["apply", "-f", &changed]);
    assert!(out.contains("configured"), "{out}");
    let changed = s.file(
        "peer3.yaml",
        &PEER.replace("persistentKeepalive: 10", "persistentKeepalive: 30"),
    );
    let out = s.kubectl_ok(&[
        "apply",
        "--server-side",
        "--force-conflicts",
        "-f",
        &changed,
    ]);
    assert!(out.contains("serverside-applied"), "{out}");
    let keepalive = s.kubectl_ok(&[
        "get",
        "peer",
        "p1",
        "-o",
        "jsonpath={.spec.persistentKeepalive}",
    ]);
    assert_eq!(keepalive, "30");

    let invalid = s.file(
        "bad.yaml",
        &PEER
            .replace("publicKey:", "bogus:")
            .replace("name: p1", "name: p2"),
    );
    // kubectl validates strictly by default (fieldValidation=Strict): the unknown field is
    // refused first; without it the server prunes the field and finds publicKey missing.
    let err = s.kubectl_err(&["apply", "-f", &invalid]);
    assert!(
        err.contains(
            "Peer in version \"v1alpha1\" cannot be handled as a Peer: strict decoding error: unknown field \"spec.bogus\""
        ),
        "{err}"
    );
    let err = s.kubectl_err(&["apply", "--validate=false", "-f", &invalid]);
    assert!(
        err.contains("The Peer \"p2\" is invalid: spec.publicKey: Required value"),
        "{err}"
    );

    let out = s.kubectl_ok(&["delete", "peer", "p1"]);
    assert!(out.contains("\"p1\" deleted"), "{out}");
    let out = s.kubectl(&["get", "peers"]);
    assert!(
        String::from_utf8_lossy(&out.stderr).contains("No resources found"),
        "{out:?}"
    );
}

#[test]
fn events_are_listed_and_selected() {
    let s = Server::start(&[]);
    let event = s.file("event.yaml", EVENT);
    s.kubectl_ok(&["create", "-f", &event]);
    let table = s.kubectl_ok(&["get", "events"]);
    assert!(table.starts_with("LAST SEEN"), "{table}");
    assert!(
        table.contains("InvalidEgressIP")
            && table.contains("node/n1")
            && table.contains("is a CIDR"),
        "{table}"
    );
    let all = s.kubectl_ok(&["get", "events", "-A"]);
    assert!(
        all.starts_with("NAMESPACE") && all.contains("default") && all.contains("InvalidEgressIP"),
        "{all}"
    );
    let mine = s.kubectl_ok(&[
        "get",
        "events",
        "--field-selector",
        "involvedObject.name=n1",
        "-o",
        "name",
    ]);
    assert_eq!(mine.trim(), "event/n1.egress");
    let other = s.kubectl(&[
        "get",
        "events",
        "--field-selector",
        "involvedObject.name=n2",
    ]);
    assert!(
        String::from_utf8_lossy(&other.stderr).contains("No resources found"),
        "{other:?}"
    );
}
