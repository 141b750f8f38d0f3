#!/usr/bin/env bash
# check.sh - what CI can check of the kind suite on a machine without Docker: shellcheck on its
# scripts, and its dry run, every manifest it would apply validated by kubernetes-validate
# (strict; the venv of e2e/manifests/check.sh). "N passed, M failed" last.
set -uo pipefail
HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
VENV=${KILO_VENV:-/var/cache/kilo-rs-venv}
# shellcheck source=../lib/report.sh
source "$HERE/../lib/report.sh"
DRY=$(mktemp -d)
trap 'rm -rf "$DRY"' EXIT

check "shellcheck e2e/kind/*.sh" shellcheck -x -P SCRIPTDIR "$HERE"/*.sh
check "the dry run renders everything the suite applies" bash "$HERE/run.sh" --dry-run "$DRY"
validate() {
    local out
    out=$("$VENV/bin/kubernetes-validate" --strict --quiet "$DRY"/[0-9]*.yaml 2>&1) || { echo "$out"; return 1; }
    # no schema for the Peer CRD's kind in kubernetes-validate: that warning only
    ! grep -v "Couldn't find schema for kind Peer " <<< "$out" | grep -q . || { echo "$out"; return 1; }
}
check "every manifest of the dry run validates (strict)" validate
kind_config() {  # the kind cluster has no default CNI: kilo-rs is it
    grep -q '^  disableDefaultCNI: true$' "$DRY/kind-cluster.yaml"
}
check "the kind cluster config disables kind's default CNI" kind_config
report
