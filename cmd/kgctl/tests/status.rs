//! Black-box snapshot tests of `kgctl status -f` over `e2e/fixtures/status.yaml`: roles,
//! readiness reasons, and the egress address in force per node and family or why there is none.
//! The snapshots under `tests/snapshots/` are the literal expected output.

#[cfg(test)]
mod support;

use support::kgctl;

#[test]
fn status_text() {
    insta::assert_snapshot!(kgctl(&[
        "status",
        "-f",
        "status.yaml",
        "--now",
        "1700000010"
    ]));
}

#[test]
fn status_json() {
    insta::assert_snapshot!(kgctl(&[
        "status",
        "-f",
        "status.yaml",
        "--now",
        "1700000010",
        "-o",
        "json"
    ]));
}

// A mixed cluster (e2e/fixtures/mixed.yaml): the status says which nodes run Go Kilo and that
// the WireGuard IPs follow Kilo's numbering meanwhile.
#[test]
fn status_of_a_mixed_cluster() {
    let out = kgctl(&["status", "-f", "mixed.yaml", "--now", "1700000000"]);
    assert!(
        out.contains(
            "\nWireGuard IPs numbered by segment order, as Go Kilo does, while Go Kilo runs on: \
             node-c\n"
        ),
        "{out}"
    );
    let json = kgctl(&[
        "status",
        "-f",
        "mixed.yaml",
        "--now",
        "1700000000",
        "-o",
        "json",
    ]);
    let doc: serde_json::Value = serde_json::from_str(&json).unwrap();
    let kinds: Vec<(String, String)> = doc["status"]["nodes"]
        .as_array()
        .unwrap()
        .iter()
        .map(|n| {
            (
                n["name"].as_str().unwrap().to_owned(),
                n["implementation"].as_str().unwrap().to_owned(),
            )
        })
        .collect();
    let expected: Vec<(String, String)> = [
        ("node-a", "kilo-rs"),
        ("node-b", "kilo-rs"),
        ("node-c", "go-kilo"),
        ("node-d", "kilo-rs"),
        ("node-e", "kilo-rs"),
    ]
    .iter()
    .map(|(a, b)| ((*a).to_owned(), (*b).to_owned()))
    .collect();
    assert_eq!(kinds, expected);
}
