#!/usr/bin/env bash
# Benchmark part "cni": kilo-cni ADD and DEL against the reference bridge + host-local, both in
# the same run, by repeating e2e/cni/bench.sh (which times both alternately and prints medians)
# and reporting the median and min–max of each figure and of the ratio over the repetitions.
#
#   bash e2e/bench/cni.sh OUTDIR       (root, from the repository root; BENCH_QUICK=1: 2 runs of
#                                      20 iterations)
# Writes OUTDIR/cni.md. Reports; never asserts times.
set -euo pipefail
cd "$(dirname "$0")/../.."
source e2e/bench/lib/common.sh
bench_init cni "${1:-}"

if [ "$QUICK" = 1 ]; then RUNS=2 ITER=20; else RUNS=5 ITER=100; fi
GOAL_ADD=0.3 GOAL_DEL=0.5
need_cmd nsenter util-linux
for b in bridge host-local; do
    [ -x "${CNI_BIN:-/usr/lib/cni}/$b" ] || need_cmd "${CNI_BIN:-/usr/lib/cni}/$b" containernetworking-plugins
done
export CARGO_TARGET_DIR=${CARGO_TARGET_DIR:-$PWD/target}
WORK=$(mktemp -d /tmp/kilo-bench-cni.XXXX)
trap 'rm -rf "$WORK"' EXIT

for r in $(seq "$RUNS"); do
    echo "cni: run $r/$RUNS: bash e2e/cni/bench.sh $ITER" >&2
    bash e2e/cni/bench.sh "$ITER" > "$WORK/run-$r.txt" 2> "$WORK/run-$r.err" \
        || { tail -n 20 "$WORK/run-$r.err" >&2; echo "cni: e2e/cni/bench.sh failed" >&2; exit 1; }
    # its lines: "ADD <kilo ms> <ref ms> <ratio>", "DEL ...", "baseline (...): <ms> ms"
    for op in ADD DEL; do
        read -r k ref < <(awk -v op="$op" '$1 == op && NF == 4 {print $2, $3}' "$WORK/run-$r.txt")
        [ -n "${ref:-}" ] || { cat "$WORK/run-$r.txt" >&2; echo "cni: no $op line in bench.sh's output" >&2; exit 1; }
        echo "$k" >> "$WORK/k-$op"; echo "$ref" >> "$WORK/r-$op"
    done
    sed -n 's/^baseline (.*): \([0-9.]*\) ms$/\1/p' "$WORK/run-$r.txt" >> "$WORK/base"
    sed -n 's/^kernel veth delete (.*): \([0-9.]*\) ms$/\1/p' "$WORK/run-$r.txt" >> "$WORK/kdel"
    sed -n 's/^DEL floor (.*): \([0-9.]*\) ms = \([0-9.]*\) x .*$/\1 \2/p' "$WORK/run-$r.txt" \
        > "$WORK/floor-$r"
    read -r f fr < "$WORK/floor-$r" || { cat "$WORK/run-$r.txt" >&2; echo "cni: no DEL floor line" >&2; exit 1; }
    echo "$f" >> "$WORK/floor"; echo "$fr" >> "$WORK/floor-ratio"
done

ROWS=""
for op in ADD DEL; do
    k=$($STATS --digits 2 < "$WORK/k-$op"); ref=$($STATS --digits 2 < "$WORK/r-$op")
    ratio=$($STATS --digits 2 --ratio "$WORK/k-$op" "$WORK/r-$op")
    if [ "$op" = ADD ]; then goal=$GOAL_ADD; else goal=$GOAL_DEL; fi
    read -r rm _ <<< "$ratio"
    ROWS+="| $op | $(cell "$k") | $(cell "$ref") | $(cell "$ratio") | ≤ $goal: **$(met "$rm" '<=' "$goal")** |"$'\n'
done
BASE=$($STATS --digits 2 < "$WORK/base")
KDEL=$($STATS --digits 2 < "$WORK/kdel")
FLOOR=$($STATS --digits 2 < "$WORK/floor"); FLOOR_RATIO=$($STATS --digits 2 < "$WORK/floor-ratio")

cat > "$OUT/cni.md" <<EOF
## kilo-cni vs bridge + host-local

ADD and DEL latency of \`kilo-cni\` (release build, statically linked as the image ships it)
against the reference \`bridge\` plugin with \`host-local\` IPAM (Debian \`containernetworking-plugins\`, \`/usr/lib/cni\`), in the same run on
the same machine: \`e2e/cni/bench.sh $ITER\` gives both the same config (dual stack, v4 + v6
range, \`isDefaultGateway\`, \`hairpinMode\`, \`mtu\` 1420, cniVersion 1.0.0) on their own bridge
in one "node" netns; each iteration creates a fresh pod netns per plugin (untimed), then times
ADD of both and DEL of both, alternating which plugin goes first, and the script prints the
medians. This part repeats it $RUNS times ($ITER iterations each) and reports the median and
min–max of the per-run medians and of the per-run ratio kilo-cni / reference (lower is
faster). Both sides include the cost of \`nsenter --net=<node> ...\` (process start and
setns), measured in the same runs: $(cell "$BASE") ms.

Re-run only this part: \`bash e2e/bench/cni.sh /tmp/out\`; one run: \`bash e2e/cni/bench.sh 200\`.

| op | kilo-cni ms | bridge + host-local ms | ratio kilo-cni / reference | goal |
|---|---:|---:|---:|---|
${ROWS}
The kernel's own delete of the same kind of attachment (a kilo-cni ADD, then \`ip link del\`
of its eth0 minus an \`ip\` that changes nothing) takes $(cell "$KDEL") ms, so no plugin's DEL,
started with \`nsenter\` like both here, can take less than the baseline plus that:
$(cell "$FLOOR") ms, $(cell "$FLOOR_RATIO") × the reference's DEL.
EOF
echo "cni: wrote $OUT/cni.md" >&2
