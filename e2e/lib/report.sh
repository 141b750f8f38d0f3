# report.sh - the pass/fail lines of the check scripts (e2e/manifests, e2e/kind) and their last
# line "N passed, M failed", which e2e/test-all.sh adds up. Sourced.
# shellcheck shell=bash
PASS=0 FAIL=0
ok() { PASS=$((PASS + 1)); echo "ok   - $1"; }
bad() { FAIL=$((FAIL + 1)); echo "FAIL - $1"; [ -z "${2:-}" ] || awk '{print "       " $0}' <<< "$2"; }
check() {  # name cmd...: a pass or fail line, with the tail of the output on failure
    local name=$1 out; shift
    if out=$("$@" 2>&1); then ok "$name"; else bad "$name" "$(tail -12 <<< "$out")"; fi
}
report() { echo "$PASS passed, $FAIL failed"; [ "$FAIL" = 0 ]; }
