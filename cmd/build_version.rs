// The build script of kg, kgctl and kilo-cni (each build.rs include!s this file): sets
// KILO_VERSION to "<package version> (<git revision>)", what `--version` prints. The revision is
// $KILO_GIT_REVISION when set (a build from a source tarball or a Docker context without .git),
// else `git rev-parse --short=12 HEAD`, else "unknown".

#[allow(
    clippy::print_stdout,
    reason = "cargo reads a build script's instructions from its stdout"
)]
fn main() {
    println!("cargo:rerun-if-env-changed=KILO_GIT_REVISION");
    let revision = std::env::var("KILO_GIT_REVISION")
        .ok()
        .filter(|r| !r.is_empty())
        .or_else(git_revision)
        .unwrap_or_else(|| "unknown".to_owned());
    let version = std::env::var("CARGO_PKG_VERSION").unwrap_or_default();
    println!("cargo:rustc-env=KILO_VERSION={version} ({revision})");
}

/// The output of a successful `git ARGS`, trimmed.
fn git(args: &[&str]) -> Option<String> {
    let out = std::process::Command::new("git").args(args).output().ok()?;
    let text = String::from_utf8_lossy(&out.stdout).trim().to_owned();
    (out.status.success() && !text.is_empty()).then_some(text)
}

/// HEAD's short revision; asks cargo to rerun the script when HEAD or the branch it names moves.
#[allow(
    clippy::print_stdout,
    reason = "cargo reads a build script's instructions from its stdout"
)]
fn git_revision() -> Option<String> {
    let mut watched = vec!["HEAD".to_owned(), "packed-refs".to_owned()];
    watched.extend(git(&["symbolic-ref", "-q", "HEAD"]));
    for name in &watched {
        if let Some(path) = git(&["rev-parse", "--git-path", name]) {
            println!("cargo:rerun-if-changed={path}");
        }
    }
    git(&["rev-parse", "--short=12", "HEAD"])
}
