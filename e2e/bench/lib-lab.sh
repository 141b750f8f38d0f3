# shellcheck shell=bash
# lib-lab.sh - shared by the lab benchmark parts (kg-scale.sh, reconcile.sh, churn.sh): a lab of
# their own (LAB_PREFIX=kl-<part><pid>-, release builds of kg and the test API server), the
# readers they poll, and a clean-up trap that tears it all down even on failure. Source it with
# PART set; then call bench_infra.
set -euo pipefail
HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
ROOT=$(cd "$HERE/../.." && pwd)
OUT=${1:?usage: $0 OUTDIR}
mkdir -p "$OUT"
OUT=$(cd "$OUT" && pwd)
# shellcheck disable=SC2034 # read by the parts
QUICK=${BENCH_QUICK:-}
# BENCH_NAME: a name of the caller's own in the namespace prefix (several labs run side by side)
export LAB_PREFIX=kl-${BENCH_NAME:-${PART:0:2}}$$-
export LAB_DIR=/tmp/kilo-lab-${BENCH_NAME:-${PART:0:2}}$$
export BIN=${BENCH_BIN:-${CARGO_TARGET_DIR:-$ROOT/target}/release}  # BENCH_BIN: other builds (development)
export NO_BUILD=1
RUN="$ROOT/e2e/lab/run.sh"
LAB="$ROOT/e2e/lab/lab.sh"
KGB="$HERE/kgbench.py"
CP=$LAB_DIR/cluster
PY=/usr/bin/python3

say() { printf '### %s: %s\n' "$PART" "$*" >&2; }
die() { printf '%s: %s\n' "$PART" "$*" >&2; exit 1; }
# Runs kgbench.py in the underlay namespace (where the API server and kg's HTTP are reachable).
kgb() { "$LAB" nsx underlay "$PY" "$KGB" "$@"; }
kctl() { "$RUN" kubectl "$@"; }
kg_pid() { awk '{print $1}' "$CP/kg-n$1.pid"; }
now_ns() { date +%s%N; }
# VmRSS and VmHWM of a process, in KiB.
mem_kib() { awk '/^VmRSS/ {r = $2} /^VmHWM/ {h = $2} END {print r, h}' "/proc/$1/status"; }
# User + system CPU time of a process, in clock ticks.
cpu_ticks() { awk '{print $14 + $15}' "/proc/$1/stat"; }
metric_sum() {  # node metric-name-prefix -> sum of the samples
    "$RUN" metrics "$1" | awk -v m="$2" 'index($1, m) == 1 { s += $2 } END { printf "%d\n", s }'
}
plot() {  # OUT.png TITLE XLABEL YLABEL DATA.tsv [flags]: plot.py belongs to run.sh's set
    if [ -f "$HERE/plot.py" ]; then python3 "$HERE/plot.py" "$@" || say "plot $1 failed"; else say "no plot.py: $1 not drawn"; fi
}

bench_cleanup() {
    local rc=$?
    if [ "$rc" != 0 ] && [ -d "$CP" ]; then
        cp -r "$CP" "/tmp/kilo-bench-logs-$$" 2> /dev/null && say "logs kept in /tmp/kilo-bench-logs-$$"
    fi
    "$RUN" down > /dev/null 2>&1 || "$RUN" down || true
}
trap bench_cleanup EXIT

bench_build() {
    [ "$(id -u)" = 0 ] || die "must run as root"
    [ -z "${BENCH_BIN:-}" ] || return 0
    say "release builds of kg, kgctl, kilo-cni and the test API server"
    (cd "$ROOT" && cargo build -q --release -p kg -p kgctl -p kilo-cni -p kilo-test-apiserver)
}

bench_infra() {  # lab (NODES, LAB_LOCATIONS), API server, registered Nodes, kg's credentials
    bench_build
    "$RUN" infra > "$LAB_DIR.infra.log" 2>&1 || { cat "$LAB_DIR.infra.log" >&2; die "lab infrastructure did not come up"; }
    rm -f "$LAB_DIR.infra.log"
    kctl config view --raw --minify -o json > "$CP/admin.json"
}

# Percentile summaries of a column of numbers on stdin: "p50 p99 max n" (nearest rank).
pctl() {
    sort -g | awk '{v[NR] = $1} END {
        if (NR == 0) { print "- - - 0"; exit }
        i50 = int(NR * 0.50 + 0.999999); i99 = int(NR * 0.99 + 0.999999)
        print v[i50], v[i99], v[NR], NR }'
}
# "median (min–max)" of the numbers on stdin, with a printf format for each.
spread() {
    sort -g | awk -v f="${1:-%.1f}" '{v[NR] = $1} END {
        if (NR == 0) { print "–"; exit }
        m = (NR % 2) ? v[(NR + 1) / 2] : (v[NR / 2] + v[NR / 2 + 1]) / 2
        if (NR == 1) printf f "\n", m; else printf f " (" f "–" f ")\n", m, v[1], v[NR] }'
}
median() {
    sort -g | awk '{v[NR] = $1} END { if (NR == 0) exit; print (NR % 2) ? v[(NR + 1) / 2] : (v[NR / 2] + v[NR / 2 + 1]) / 2 }'
}
