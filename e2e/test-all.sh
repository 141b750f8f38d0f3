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
log=$(mktemp)
trap 'rm -f "$log"' EXIT
status=0
cargo test --workspace --all-targets --locked --no-fail-fast 2>&1 | tee "$log" || status=$?
passed=$(awk '/^test result:/ {s += $4} END {print s + 0}' "$log")
failed=$(awk '/^test result:/ {s += $6} END {print s + 0}' "$log")
echo "### summary"
echo "$passed passed, $failed failed"
exit "$status"
