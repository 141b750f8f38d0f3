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
echo "### cargo doc --no-deps (warnings are errors)"
RUSTDOCFLAGS="-D warnings" cargo doc --workspace --no-deps --locked --quiet
echo "### the pure core has no I/O dependencies"
bash e2e/check-core-deps.sh
echo "### cargo test (unit, snapshot, property and netns tests)"
log=$(mktemp)
trap 'rm -f "$log"' EXIT
status=0
cargo test --workspace --all-targets --locked --no-fail-fast 2>&1 | tee "$log" || status=$?
passed=$(awk '/^test result:/ {s += $4} END {print s + 0}' "$log")
failed=$(awk '/^test result:/ {s += $6} END {print s + 0}' "$log")
[ "$status" = 0 ] || [ "$failed" -gt 0 ] || failed=1  # a build failure counts as a failure

echo "### network-namespace lab: self-test (e2e/lab/selftest.sh)"
if bash e2e/lab/selftest.sh; then passed=$((passed + 1)); else failed=$((failed + 1)); status=1; fi

lab_suite() {  # title script: runs a lab suite and adds its "N passed, M failed" to the totals
    echo "### $1 ($2)"
    bash "$2" 2>&1 | tee "$log" || status=1
    local line; line=$(grep -E '^[0-9]+ passed, [0-9]+ failed$' "$log" | tail -1)
    if [ -n "$line" ]; then
        passed=$((passed + ${line%% *}))
        failed=$((failed + $(awk '{print $3}' <<< "$line")))
    else
        failed=$((failed + 1)); status=1
    fi
}
lab_suite "lab cluster: kg on every node, kubectl, egress, Peers, resilience" e2e/lab/e2e.sh
lab_suite "lab cluster with the nftables firewall backend" e2e/lab/e2e-nftables.sh
lab_suite "manifests: kustomize overlays rendered, kubernetes-validate, kg flags" e2e/manifests/check.sh
lab_suite "kind suite: shellcheck and a dry run (the real run is .github/workflows/kind.yaml)" e2e/kind/check.sh
lab_suite "the image, and the DaemonSet run by podman on every lab node" e2e/lab/e2e-pod.sh
lab_suite "lab cluster: kg with exactly the manifests' RBAC, each rule needed" e2e/lab/e2e-rbac.sh
lab_suite "lab cluster: mesh health probes (cut between leaders, MTU black hole)" e2e/lab/e2e-health.sh
lab_suite "lab cluster on emulated flannel: --compatibility=flannel" e2e/lab/e2e-flannel.sh
export BENCH_CHECK_QUICK=0
lab_suite "benchmark tooling: shellcheck, plots, report assembly (no measurement)" e2e/bench/check.sh

echo "### summary"
echo "$passed passed, $failed failed"
exit "$status"
