#!/usr/bin/env bash
# The whole test suite: installs its Debian packages (as root), then runs format and lint checks,
# unit/snapshot/property tests and the network-namespace tests. Exits non-zero on any failure.
set -euo pipefail
cd "$(dirname "$0")/.."
source e2e/lib/deps.sh
install_deps

echo "### cargo fmt --check"
cargo fmt --all --check
echo "### cargo clippy --all-targets -- -D warnings"
cargo clippy --workspace --all-targets --locked -- -D warnings
echo "### the pure core has no I/O dependencies"
bash e2e/check-core-deps.sh
echo "### cargo test (unit, snapshot, property and netns tests)"
cargo test --workspace --locked --no-fail-fast 2>&1 | tee target/test-output.log
