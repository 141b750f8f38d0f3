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
