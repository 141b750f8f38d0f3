#!/usr/bin/env bash
# kg-scale.sh OUTDIR - kg (release build) as the leader of one of 50 locations, with 100 / 1 000 /
# 5 000 simulated Nodes in the test API server: resident memory at ready, after a steady window
# and after three forced re-lists in a row (API server restarts: its restored store has no watch
# history, so kg's watches get 410 and re-list), start→ready, CPU over the steady window, change
# latency (a force-endpoint annotation → the peer's endpoint on kilo0) and the longest kg log
# line. Writes OUTDIR/kg-scale.md (+ kg-scale-memory.png). BENCH_QUICK=1: 100 and 1 000 Nodes,
# one run each, a 10 s window. KG_SCALE_BASELINE=DIR: also measure DIR/kg (e.g. a release build of
# an older commit) in the same run, and state the ratios. Runs as root from the repository root.
PART=kg-scale
# shellcheck source=e2e/bench/lib-lab.sh disable=SC2034
source "$(dirname "${BASH_SOURCE[0]}")/lib-lab.sh"
if [ -n "$QUICK" ]; then SIZES=(100 1000); REPS=1; STEADY=10; CHANGES=3
else SIZES=(100 1000 5000); REPS=2; STEADY=60; CHANGES=5; fi
[ -z "${KG_SCALE_SIZES:-}" ] || read -r -a SIZES <<< "$KG_SCALE_SIZES"  # e.g. "5000": one size only
LOCS=49  # simulated locations loc-01..loc-49, plus n1's loc-00
export NODES=1 LAB_LOCATIONS=loc-00
RAW=$OUT/kg-scale-raw.tsv
TICK=$(getconf CLK_TCK)

bench_infra
"$RUN" api-stop
cp "$CP/state.json" "$CP/state.base.json"
SOCK=$(jq -r '.nodes[0].wireguard.uapi_socket' "$LAB_DIR/lab.json")
BASE_RAW=$OUT/kg-scale-baseline-raw.tsv
for f in "$RAW" "$BASE_RAW"; do
    printf 'nodes\trep\trss_ready\thwm_ready\trss_steady\tready_s\tcpu_pct\trelist1\trelist2\trelist3\thwm_end\tlog_max\n' > "$f"
done
: > "$OUT/kg-scale-latency.tsv"; : > "$OUT/kg-scale-baseline-latency.tsv"

change() {  # n value -> ms from the write's return to the new endpoint on kilo0 (sim-00000 leads loc-01)
    kgb wait-endpoint "$CP/admin.json" sim-00000 "$SOCK" "$2" 30
}

one_run() {  # nodes rep raw latency-file kg-dir
    local n=$1 rep=$2 raw=$3 lat=$4 kgdir=$5 t0 tr pid c0 c1 steady relists=() k ms
    say "$n Nodes, run $rep, $kgdir/kg"
    cp "$CP/state.base.json" "$CP/state.json"
    "$PY" "$KGB" inject "$CP/state.json" "$n" "$LOCS"
    "$RUN" api-start
    t0=$(now_ns)
    BIN=$kgdir "$RUN" kg-start 1
    tr=$(kgb ready http://192.168.77.11:1107/readyz) || die "kg did not get ready with $n Nodes: $(tail -3 "$CP/kg-n1.log")"
    pid=$(kg_pid 1)
    read -r rss_ready hwm_ready < <(mem_kib "$pid")
    # the first change also proves every location's peer is in place
    ms=$(change "$n" 198.51.100.1:50000)
    [ "$ms" != -1 ] || die "the first endpoint change never reached kilo0"
    c0=$(cpu_ticks "$pid")
    sleep "$STEADY"  # the steady window itself is what is measured
    c1=$(cpu_ticks "$pid")
    read -r rss_steady _ < <(mem_kib "$pid")
    for k in $(seq "$CHANGES"); do
        ms=$(change "$n" "198.51.100.1:$((50000 + k))")
        printf '%s\t%s\n' "$n" "$ms" >> "$lat"
    done
    for k in 1 2 3; do
        "$RUN" api-stop
        "$RUN" api-start
        # a change through the new watch: the re-list is done
        ms=$(change "$n" "198.51.100.2:$((50000 + k))")
        [ "$ms" != -1 ] || die "no change reached kilo0 after API server restart $k"
        relists+=("$(mem_kib "$pid" | awk '{print $1}')")
    done
    read -r _ hwm_end < <(mem_kib "$pid")
    steady=$(awk -v a="$c0" -v b="$c1" -v t="$TICK" -v s="$STEADY" 'BEGIN {printf "%.2f", (b - a) / t / s * 100}')
    printf '%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\n' "$n" "$rep" "$rss_ready" "$hwm_ready" "$rss_steady" \
        "$(awk -v a="$t0" -v b="$tr" 'BEGIN {printf "%.3f", (b - a) / 1e9}')" "$steady" \
        "${relists[0]}" "${relists[1]}" "${relists[2]}" "$hwm_end" \
        "$(awk '{ if (length($0) > m) m = length($0) } END {print m + 0}' "$CP/kg-n1.log")" >> "$raw"
    cp "$CP/kg-n1.log" "$OUT/kg-scale-kg-$n-$rep.log"
    "$RUN" kg-stop 1
    "$RUN" api-stop
}

for n in "${SIZES[@]}"; do
    for rep in $(seq "$REPS"); do
        one_run "$n" "$rep" "$RAW" "$OUT/kg-scale-latency.tsv" "$BIN"
        [ -z "${KG_SCALE_BASELINE:-}" ] || one_run "$n" "$rep" "$BASE_RAW" "$OUT/kg-scale-baseline-latency.tsv" "$KG_SCALE_BASELINE"
    done
done

# ------------------------------------------------------------------ the fragment
col() { awk -F'\t' -v n="$1" -v c="$2" 'NR > 1 && $1 == n {print $c}' "${COL_RAW:-$RAW}"; }
mib() { awk '{printf "%.1f\n", $1 / 1024}'; }
tables() {  # raw latency-file: the figures of one kg build
    local COL_RAW=$1 n p50 p99 max cnt
    echo "| Nodes | RSS at ready (MiB) | peak RSS at ready (MiB) | RSS after ${STEADY} s (MiB) | RSS after re-list 1 / 2 / 3 (MiB) | peak RSS at the end (MiB) | start→ready (s) | CPU, steady (% of a core) | longest log line (bytes) |"
    echo "|---:|---:|---:|---:|---:|---:|---:|---:|---:|"
    for n in "${SIZES[@]}"; do
        printf '| %s | %s | %s | %s | %s / %s / %s | %s | %s | %s | %s |\n' "$n" \
            "$(col "$n" 3 | mib | spread)" "$(col "$n" 4 | mib | spread)" "$(col "$n" 5 | mib | spread)" \
            "$(col "$n" 8 | mib | spread)" "$(col "$n" 9 | mib | spread)" "$(col "$n" 10 | mib | spread)" \
            "$(col "$n" 11 | mib | spread)" "$(col "$n" 6 | spread %.2f)" "$(col "$n" 7 | spread %.2f)" \
            "$(col "$n" 12 | spread %.0f)"
    done
    echo
    echo "| Nodes | change latency p50 / p99 / max (ms) | changes |"
    echo "|---:|---:|---:|"
    for n in "${SIZES[@]}"; do
        read -r p50 p99 max cnt < <(awk -F'\t' -v n="$n" '$1 == n {print $2}' "$2" | pctl)
        echo "| $n | $p50 / $p99 / $max | $cnt |"
    done
}
{
    echo "## kg at scale: memory, start-up, CPU and change latency"
    echo
    echo "kg (release build, iptables backend, wireguard-go) leads location loc-00 of a lab node; the test API"
    echo "server holds its Node and N simulated Nodes spread over 49 other locations (\`e2e/bench/kgbench.py\`:"
    echo "kubelet-like status, images, conditions and managedFields, kg's annotations; about 5 KB of JSON each),"
    echo "so kilo0 has 49 peers. Per run: start→ready is kg's start to its first 200 on /readyz; RSS is VmRSS"
    echo "from /proc at ready, after a ${STEADY} s steady window and after each of three API server restarts in"
    echo "a row (the restored store has no watch history: kg's watches get 410 and re-list; each re-list is"
    echo "proven done by a change going through). CPU is utime+stime over the steady window. Change latency is"
    echo "from the force-endpoint write's return (merge patch) to the new endpoint read from kilo0's UAPI socket."
    echo "$REPS run(s) per size; figures are median (min–max) over runs."
    echo
    echo "Re-run: \`bash e2e/bench/kg-scale.sh /tmp/out\` (\`BENCH_QUICK=1\`: 100 and 1 000 Nodes, one run)."
    echo
    tables "$RAW" "$OUT/kg-scale-latency.tsv"
    if [ -n "${KG_SCALE_BASELINE:-}" ]; then
        echo
        echo "Baseline, measured in the same run: \`$KG_SCALE_BASELINE/kg\` (\`KG_SCALE_BASELINE\`)."
        echo
        tables "$BASE_RAW" "$OUT/kg-scale-baseline-latency.tsv"
        echo
        for n in "${SIZES[@]}"; do
            a=$(col "$n" 10 | median); b=$(COL_RAW=$BASE_RAW col "$n" 10 | median)
            awk -v n="$n" -v a="$a" -v b="$b" 'BEGIN { printf "- %s Nodes: RSS after re-list 3, this build / baseline: %.1f / %.1f MiB = %.2f\n", n, a / 1024, b / 1024, a / b }'
        done
    fi
    echo
    big=${SIZES[-1]}
    r1=$(col "$big" 8 | median); r3=$(col "$big" 10 | median)
    worst=$(for c in 3 5 8 9 10; do col "$big" "$c"; done | sort -g | tail -1)
    echo "Goal (issue 15): under 40 MiB at 5 000 Nodes, and no growth across re-lists."
    if [ "$big" = 5000 ]; then
        awk -v w="$worst" 'BEGIN { printf "- largest RSS at 5 000 Nodes: %.1f MiB: %s\n", w / 1024, (w < 40 * 1024) ? "**met**" : "**not met**" }'
    else
        awk -v w="$worst" -v n="$big" 'BEGIN { printf "- largest RSS at %s Nodes (quick run; the goal is at 5 000): %.1f MiB\n", n, w / 1024 }'
    fi
    awk -v a="$r1" -v b="$r3" 'BEGIN { printf "- RSS after re-list 3 vs re-list 1: %+.1f MiB (ratio %.2f): %s\n", (b - a) / 1024, b / a, (b <= a + 1024) ? "**met** (no growth beyond 1 MiB)" : "**not met**" }'
    echo
    echo "![kg's resident memory by Nodes](benchmarks/kg-scale-memory.png)"
} > "$OUT/kg-scale.md"

{
    printf 'x\tat ready\tafter the steady window\tafter re-list 3\n'
    for n in "${SIZES[@]}"; do
        cell() { col "$n" "$1" | mib | sort -g | awk '{v[NR] = $1} END {printf "%s:%s:%s", v[int((NR + 1) / 2)], v[1], v[NR]}'; }
        printf '%s\t%s\t%s\t%s\n' "$n" "$(cell 3)" "$(cell 5)" "$(cell 10)"
    done
} > "$OUT/kg-scale-memory.tsv"
plot "$OUT/kg-scale-memory.png" "kg resident memory" "Nodes in the API server" "RSS (MiB)" "$OUT/kg-scale-memory.tsv" --logx
say "wrote $OUT/kg-scale.md"
