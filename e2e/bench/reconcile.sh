#!/usr/bin/env bash
# reconcile.sh OUTDIR - reconcile latency on the 3-node lab (kg release builds on n1, n2 in loc-a
# and n3 in loc-b): from an API write's return to the dataplane change on every lab node that
# must change, for 100 changes each of: egress-ip on n1 set/removed (n1's SNAT rule), a Node
# added/deleted in a new location (its WireGuard peer on the leaders n1 and n3, its pod CIDR's
# route on n1, n2 and n3), and a Node moved between two locations (its own peer on n1 and n3,
# or its pod CIDR in the other location leader's allowed IPs). Writes OUTDIR/reconcile.md.
# BENCH_QUICK=1: 5 changes each. Runs as root from the repository root.
PART=reconcile
# shellcheck source=e2e/bench/lib-lab.sh disable=SC2034
source "$(dirname "${BASH_SOURCE[0]}")/lib-lab.sh"
CHANGES=100; [ -z "$QUICK" ] || CHANGES=5
DEADLINE=10
export NODES=3
RAW=$OUT/reconcile-raw.tsv

bench_infra
"$RUN" start > "$CP/start.log" 2>&1 || { tail -20 "$CP/start.log" >&2; die "kg did not come up on the lab"; }
sock() { jq -r --argjson i "$1" '.nodes[$i - 1].wireguard.uapi_socket' "$LAB_DIR/lab.json"; }
S1=$(sock 1) S3=$(sock 3)
NS1=${LAB_PREFIX}n1 NS2=${LAB_PREFIX}n2 NS3=${LAB_PREFIX}n3
pod_cidr() { echo "10.$((100 + $1 / 256)).$(($1 % 256)).0/24"; }  # of simulated Node I (kgbench.py)
sim() { printf 'sim-%05d' "$1"; }
timed() {  # kind write checks
    local ms; ms=$(kgb timed "$CP/admin.json" "$2" "$3" "$DEADLINE") || die "$1: the write failed"
    [ "$ms" != -1 ] || die "$1: the dataplane did not change within $DEADLINE s"
    printf '%s\t%s\n' "$1" "$ms" >> "$RAW"
}
patch() {  # node merge-patch-json -> a WRITE for kgbench timed
    jq -cn --arg n "$1" --argjson b "$2" '{method: "PATCH", path: "/api/v1/nodes/\($n)", body: $b, type: "application/merge-patch+json"}'
}
: > "$RAW"

say "egress-ip: $CHANGES changes"
snat='-j SNAT --to-source 192.168.77.101'
for k in $(seq "$CHANGES"); do
    if [ $((k % 2)) = 1 ]; then v='"192.168.77.101"' present=true; else v=null present=false; fi
    timed egress-ip "$(patch n1 "{\"metadata\":{\"annotations\":{\"kilo.squat.ai/egress-ip\":$v}}}")" \
        "[{\"nat\": \"$snat\", \"ns\": \"$NS1\", \"present\": $present}]"
done
[ $((CHANGES % 2)) = 0 ] || kctl annotate node n1 kilo.squat.ai/egress-ip- > /dev/null

say "add and delete a Node: $CHANGES changes each"
for k in $(seq "$CHANGES"); do
    i=$((3000 + k)) cidr=$(pod_cidr $((3000 + k)))
    checks() {  # present
        jq -cn --arg p "$(sim "$i")" --arg c "$cidr" --arg s1 "$S1" --arg s3 "$S3" --argjson on "$1" \
            --arg n1 "$NS1" --arg n2 "$NS2" --arg n3 "$NS3" \
            '[{peer: $p, sock: $s1, present: $on}, {peer: $p, sock: $s3, present: $on},
              {route: $c, ns: $n1, present: $on}, {route: $c, ns: $n2, present: $on}, {route: $c, ns: $n3, present: $on}]'
    }
    timed add-node "{\"sim\": $i, \"location\": \"loc-add-$k\"}" "$(checks true)"
    timed delete-node "{\"method\": \"DELETE\", \"path\": \"/api/v1/nodes/$(sim "$i")\"}" "$(checks false)"
done

say "move a Node between two locations: $CHANGES changes"
# sim-00001 leads loc-x (first by name); sim-00002 moves between loc-y (its own peer) and loc-x
kgb create "$CP/admin.json" 1 1 1 loc-x > /dev/null
kgb create "$CP/admin.json" 2 1 1 loc-y > /dev/null
ycidr=$(pod_cidr 2)
moved() {  # location present-as-own-peer
    jq -cn --arg c "$ycidr" --arg s1 "$S1" --arg s3 "$S3" --argjson own "$2" '
        [$s1, $s3][] as $s | if $own then {peer: "sim-00002", sock: $s, allowed: $c}
        else ({peer: "sim-00002", sock: $s, present: false}, {peer: "sim-00001", sock: $s, allowed: $c}) end' | jq -cs .
}
timed warm-up '{"method": "GET", "path": "/api/v1/nodes/sim-00002"}' "$(moved loc-y true)"
for k in $(seq "$CHANGES"); do
    if [ $((k % 2)) = 1 ]; then loc=loc-x own=false; else loc=loc-y own=true; fi
    timed move-location "$(patch sim-00002 "{\"metadata\":{\"labels\":{\"topology.kubernetes.io/region\":\"$loc\"}}}")" "$(moved $loc $own)"
done
ops=$(metric_sum 1 kilo_firewall_operations_total)

# ------------------------------------------------------------------ the fragment
{
    echo "## Reconcile latency"
    echo
    echo "On the 3-node lab (\`e2e/lab/run.sh\`: n1, n2 in loc-a, n3 in loc-b; kg release builds, iptables"
    echo "backend, wireguard-go), each change is one write to the test API server (\`e2e/bench/kgbench.py timed\`,"
    echo "a Python client) followed by a tight poll (2 ms pause) of every lab node that must change; the figure is"
    echo "from the write's return to the last node's change. egress-ip: n1's annotation set and removed in turn,"
    echo "until \`iptables-save -t nat\` on n1 has (or no longer has) the SNAT rule. add/delete: a simulated Node in"
    echo "a new location, until its WireGuard peer is on both leaders (n1, n3; UAPI) and its pod CIDR's route on"
    echo "n1, n2 and n3 (and until both are gone). move: a simulated Node's topology label switched between its"
    echo "own location (its own peer on n1 and n3) and another simulated Node's location (its peer gone, its pod"
    echo "CIDR in that leader's allowed IPs). $CHANGES changes of each kind, one run."
    echo
    echo "Re-run: \`bash e2e/bench/reconcile.sh /tmp/out\` (\`BENCH_QUICK=1\`: 5 changes each)."
    echo
    echo "| change | p50 (ms) | p99 (ms) | max (ms) | changes | goal p99 < 1 s |"
    echo "|---|---:|---:|---:|---:|---|"
    for kind in egress-ip add-node delete-node move-location; do
        read -r p50 p99 max cnt < <(awk -F'\t' -v k="$kind" '$1 == k {print $2}' "$RAW" | pctl)
        verdict=$(awk -v p="$p99" 'BEGIN {print (p + 0 < 1000) ? "**met**" : "**not met**"}')
        echo "| $kind | $p50 | $p99 | $max | $cnt | $verdict |"
    done
    echo
    echo "Firewall operations on n1 over the whole run (kilo_firewall_operations_total): $ops."
} > "$OUT/reconcile.md"
say "wrote $OUT/reconcile.md"
