#!/usr/bin/env bash
# churn.sh OUTDIR - churn with live traffic on the 3-node lab (kg release builds): 200 simulated
# Nodes (Node objects only, kg-like annotations, 10 per location in 20 other locations, so the
# leaders' WireGuard peers, routes and firewall sets change) join in 4 waves of 50 and leave in 4
# waves of 50, twice, while flows run (flow.py): TCP pod→pod across locations (n1-p1 → n3-p1),
# TCP pod→external (n1-p2 → ext) and numbered UDP datagrams pod→pod (n2-p1 → n3-p2, every 5 ms).
# Reports per wave and in total: datagrams lost, TCP connections reset (or echoes lost), and the
# firewall and WireGuard/netlink operations of n1 (/metrics deltas). Writes OUTDIR/churn.md.
# BENCH_QUICK=1: 2 waves of 20 each way, once. Runs as root from the repository root.
PART=churn
# shellcheck source=e2e/bench/lib-lab.sh disable=SC2034
source "$(dirname "${BASH_SOURCE[0]}")/lib-lab.sh"
if [ -n "$QUICK" ]; then WAVES=2 SIZE=20 CYCLES=1; else WAVES=4 SIZE=50 CYCLES=2; fi
PER_LOC=10
export NODES=3
FLOW="$ROOT/e2e/lab/flow.py"
RAW=$OUT/churn-raw.tsv

bench_infra
"$RUN" start > "$CP/start.log" 2>&1 || { tail -20 "$CP/start.log" >&2; die "kg did not come up on the lab"; }
S1=$(jq -r '.nodes[0].wireguard.uapi_socket' "$LAB_DIR/lab.json")
pod_ip() { jq -r --arg p "$1" '.pods[] | select(.name == $p) | .v4' "$LAB_DIR/lab.json"; }
peers_n1() { kgb peers "$S1" | wc -l; }
base_peers=$(peers_n1)

# ---- flows: servers once; clients per wave, so each wave's figures are its own
FLOWS=$CP/flows
mkdir -p "$FLOWS"
start_bg() {  # name netns-short cmd... (nsx ends in exec: $! is the flow's own PID)
    "$LAB" nsx "$2" "$PY" "$FLOW" "${@:3}" > "$FLOWS/$1.out" 2>&1 &
    echo "$!" > "$FLOWS/$1.pid"
}
stop_bg() {  # name: SIGTERM the flow we started (if it is still ours), wait for its report
    local pid; pid=$(cat "$FLOWS/$1.pid")
    if [ "$(cat "/proc/$pid/comm" 2> /dev/null)" = python3 ]; then kill "$pid" 2> /dev/null || true; fi
    for _ in $(seq 100); do [ -d "/proc/$pid" ] || break; sleep 0.05; done
}
wait_ready_line() { for _ in $(seq 100); do grep -q ready "$FLOWS/$1.out" 2> /dev/null && return 0; sleep 0.05; done; die "flow $1 did not start"; }
flows_down() { for f in "$FLOWS"/*.pid; do [ -f "$f" ] && stop_bg "$(basename "$f" .pid)"; done; }
trap 'rc=$?; flows_down; (exit $rc); bench_cleanup' EXIT

start_bg echo-pod n3-p1 tcp-echo 7001
start_bg echo-ext ext tcp-echo 7002
wait_ready_line echo-pod; wait_ready_line echo-ext

printf 'cycle\twave\tdirection\tnodes\tsettle_ms\tudp_sent\tudp_lost\ttcp_pod\ttcp_ext\tfw_ops\tipt_ops\twg_changes\tnet_changes\n' > "$RAW"
counters() {  # firewall ops, iptables ops, wireguard changes, network changes of n1
    local m; m=$("$RUN" metrics 1)
    awk '
        index($1, "kilo_firewall_operations_total") == 1 { f += $2 }
        index($1, "kilo_iptables_operations_total") == 1 { i += $2 }
        index($1, "kilo_dataplane_changes_total{part=\"wireguard\"}") == 1 { w += $2 }
        index($1, "kilo_dataplane_changes_total{part=\"network\"}") == 1 { n += $2 }
        END { printf "%d %d %d %d\n", f, i, w, n }' <<< "$m"
}
settle() {  # expected peer count on n1 -> ms until kilo0 has it (deadline 60 s)
    local want=$1 t0; t0=$(now_ns)
    until [ "$(peers_n1)" = "$want" ]; do
        [ $(( ($(now_ns) - t0) / 1000000000 )) -lt 60 ] || die "n1 has $(peers_n1) peers, wanted $want"
        sleep 0.05
    done
    echo $(( ($(now_ns) - t0) / 1000000 ))
}
tcp_result() { if grep -q '^ok' "$FLOWS/$1.out"; then echo ok; else tr '\t' ' ' < "$FLOWS/$1.out" | head -1; fi; }

wave() {  # cycle wave direction(join|leave) first
    local c=$1 w=$2 dir=$3 first=$4 before after ms sent lost k
    start_bg udp-sink n3-p2 udp-sink 7003; wait_ready_line udp-sink
    start_bg udp-src n2-p1 udp-source "$(pod_ip n3-p2)" 7003
    start_bg tcp-pod n1-p1 tcp-client "$(pod_ip n3-p1)" 7001
    start_bg tcp-ext n1-p2 tcp-client 192.168.77.200 7002
    sleep 1  # traffic flowing before the wave (the flows' own warm-up, not a wait for kg)
    read -r -a before < <(counters)
    if [ "$dir" = join ]; then
        for k in $(seq 0 $((SIZE / PER_LOC - 1))); do  # one location (of PER_LOC Nodes) at a time
            kgb create "$CP/admin.json" $((first + k * PER_LOC)) "$PER_LOC" 1 "loc-churn-$(( (first + k * PER_LOC) / PER_LOC ))" > /dev/null
        done
    else
        kgb delete "$CP/admin.json" "$first" "$SIZE" > /dev/null
    fi
    ms=$(settle "$want_peers")
    sleep 2  # traffic keeps flowing after the dataplane settled (resync-free tail of the wave)
    read -r -a after < <(counters)
    stop_bg udp-src; stop_bg udp-sink; stop_bg tcp-pod; stop_bg tcp-ext
    sent=$(awk '/^sent/ {print $2}' "$FLOWS/udp-src.out")
    lost=$(awk '/^received/ {print $4}' "$FLOWS/udp-sink.out")
    printf '%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\n' "$c" "$w" "$dir" "$SIZE" "$ms" "${sent:-?}" "${lost:-?}" \
        "$(tcp_result tcp-pod)" "$(tcp_result tcp-ext)" \
        $((after[0] - before[0])) $((after[1] - before[1])) $((after[2] - before[2])) $((after[3] - before[3])) >> "$RAW"
    rm -f "$FLOWS"/udp-*.pid "$FLOWS"/tcp-*.pid
}

want_peers=$base_peers
for c in $(seq "$CYCLES"); do
    for w in $(seq "$WAVES"); do
        say "cycle $c: join wave $w"
        want_peers=$((want_peers + SIZE / PER_LOC))
        wave "$c" "$w" join $(( (w - 1) * SIZE ))
    done
    for w in $(seq "$WAVES"); do
        say "cycle $c: leave wave $w"
        want_peers=$((want_peers - SIZE / PER_LOC))
        wave "$c" "$w" leave $(( (w - 1) * SIZE ))
    done
done

# ------------------------------------------------------------------ the fragment
sum() { awk -F'\t' -v c="$1" 'NR > 1 {s += $c} END {print s + 0}' "$RAW"; }
resets=$(awk -F'\t' 'NR > 1 {r += ($8 != "ok") + ($9 != "ok")} END {print r + 0}' "$RAW")
{
    echo "## Churn with live traffic"
    echo
    echo "On the 3-node lab (kg release builds on n1, n2 in loc-a and n3 in loc-b; iptables backend, wireguard-go),"
    echo "$((WAVES * SIZE)) simulated Nodes (Node objects only, created through the API by \`e2e/bench/kgbench.py\`,"
    echo "with kg's annotations and a public endpoint, $PER_LOC per location in new locations) join in $WAVES waves of"
    echo "$SIZE and leave in $WAVES waves of $SIZE, $CYCLES time(s). During each wave: a TCP echo flow pod→pod across"
    echo "locations (n1-p1 → n3-p1, a line every 20 ms, each echo awaited 1 s), a TCP echo flow pod→external"
    echo "(n1-p2 → ext) and numbered UDP datagrams pod→pod across locations (n2-p1 → n3-p2, one every 5 ms;"
    echo "lost = numbers below the highest never received). The wave ends 2 s after n1's kilo0 has the expected"
    echo "peer count (settle). Operations are n1's /metrics deltas over the wave: kilo_firewall_operations_total,"
    echo "kilo_iptables_operations_total, kilo_dataplane_changes_total (wireguard, network)."
    echo
    echo "Re-run: \`bash e2e/bench/churn.sh /tmp/out\` (\`BENCH_QUICK=1\`: 2 waves of 20 each way, once)."
    echo
    echo "| cycle | wave | Nodes | settle (ms) | UDP sent | UDP lost | TCP pod→pod | TCP pod→ext | firewall ops | iptables ops | WireGuard changes | netlink changes |"
    echo "|---:|---|---:|---:|---:|---:|---|---|---:|---:|---:|---:|"
    awk -F'\t' 'NR > 1 {printf "| %s | %s %s | %s | %s | %s | %s | %s | %s | %s | %s | %s | %s |\n", $1, $3, $2, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13}' "$RAW"
    echo
    echo "Settle time per wave, median (min–max): join $(awk -F'\t' '$3 == "join" {print $5}' "$RAW" | spread %.0f) ms,"
    echo "leave $(awk -F'\t' '$3 == "leave" {print $5}' "$RAW" | spread %.0f) ms."
    echo "Totals: $(sum 6) datagrams sent, $(sum 7) lost; $resets TCP connection(s) reset or stalled out of"
    echo "$(( 2 * $(awk 'END {print NR - 1}' "$RAW") )); $(sum 10) firewall operations ($(sum 11) iptables), $(sum 12) WireGuard and $(sum 13) netlink changes."
    echo
    if [ "$(sum 7)" = 0 ] && [ "$resets" = 0 ]; then echo "Goal (issue 15): 0 lost, 0 reset: **met**."
    else echo "Goal (issue 15): 0 lost, 0 reset: **not met**."; fi
} > "$OUT/churn.md"
say "wrote $OUT/churn.md"
