//! Runs the kgctl binary in `e2e/fixtures/` for the black-box tests.

use std::process::{Command, Output};

/// Runs kgctl in the fixtures directory, whatever its exit status.
pub fn run(args: &[&str]) -> Output {
    let fixtures = concat!(env!("CARGO_MANIFEST_DIR"), "/../../e2e/fixtures");
    Command::new(env!("CARGO_BIN_EXE_kgctl"))
        .current_dir(fixtures)
        .args(args)
        .output()
        .expect("running kgctl")
}

/// Runs kgctl in the fixtures directory and returns its stdout; panics on failure.
pub fn kgctl(args: &[&str]) -> String {
    let out = run(args);
    assert!(
        out.status.success(),
        "kgctl {args:?} failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8(out.stdout).expect("utf-8 output")
}

/// Runs kgctl in the fixtures directory, expecting it to fail; returns its stderr (stdout must be
/// empty).
#[allow(
    dead_code,
    reason = "shared by several test binaries; each uses a subset"
)]
pub fn kgctl_fails(args: &[&str]) -> String {
    let out = run(args);
    assert!(!out.status.success(), "kgctl {args:?} succeeded");
    assert!(out.stdout.is_empty(), "kgctl {args:?} wrote to stdout");
    String::from_utf8(out.stderr).expect("utf-8 output")
}
