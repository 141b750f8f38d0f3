#!/usr/bin/env bash
# Benchmark part "throughput": pod-to-pod TCP throughput across two locations over the path kg
# programs (pod veth -> kube-bridge -> node -> kilo0 (wireguard-go) -> node -> pod), against a
# raw wireguard-go tunnel between the same two node namespaces, same run, alternating.
#
#   bash e2e/bench/throughput.sh OUTDIR   (root, from the repository root; BENCH_QUICK=1: one
#                                         2 s run per side)
# Uses the lab cluster (e2e/lab/run.sh: 2 nodes in loc-a and loc-b, real kg, kilo-cni pods) under
# its own prefix kl-bt<pid>-. Writes OUTDIR/throughput.md. Reports; never asserts times.
set -euo pipefail
cd "$(dirname "$0")/../.."
source e2e/bench/lib/common.sh
bench_init throughput "${1:-}"

if [ "$QUICK" = 1 ]; then REPS=1 SECS=2; else REPS=5 SECS=5; fi
GOAL=0.9
need_cmd iperf3 iperf3; need_cmd wireguard-go wireguard-go; need_cmd wg wireguard-tools
export LAB_PREFIX=kl-bt$$- LAB_DIR=/tmp/kilo-lab-bt$$ NODES=2 LAB_LOCATIONS=loc-a,loc-b
RUN=e2e/lab/run.sh LAB=e2e/lab/lab.sh
WORK=$(mktemp -d /tmp/kilo-bench-tput.XXXX)
PIDS=()
cleanup() {
    local pid
    for pid in "${PIDS[@]}"; do kill "$pid" 2> /dev/null || true; done
    for pid in "${PIDS[@]}"; do wait "$pid" 2> /dev/null || true; done
    if [ -d "$LAB_DIR" ]; then bash "$RUN" down > "$WORK/down.log" 2>&1 || cat "$WORK/down.log" >&2; fi
    rm -rf "$WORK"
}
trap cleanup EXIT

echo "throughput: lab cluster $LAB_PREFIX (2 nodes, loc-a and loc-b, kg + kilo-cni)" >&2
bash "$RUN" infra > "$WORK/up.log" 2>&1 || { tail -n 20 "$WORK/up.log" >&2; exit 1; }
bash "$RUN" start >> "$WORK/up.log" 2>&1 || { tail -n 20 "$WORK/up.log" >&2; exit 1; }
POD1=$(jq -r '.pods[] | select(.node == "n1") | .netns' "$LAB_DIR/lab.json" | head -n 1)
POD2=$(jq -r '.pods[] | select(.node == "n2") | .v4' "$LAB_DIR/lab.json" | head -n 1)
POD2NS=$(jq -r '.pods[] | select(.node == "n2") | .netns' "$LAB_DIR/lab.json" | head -n 1)
N1=${LAB_PREFIX}n1 N2=${LAB_PREFIX}n2

# the raw tunnel: a second wireguard-go device wgb0 in each node (its own mount namespace, as the
# lab's kilo0), 10.99.0.<i>/24, port 51821 over the same underlay
for i in 1 2; do
    bash "$LAB" nodex "$i" wireguard-go -f wgb0 > "$WORK/wgb0-n$i.log" 2>&1 & PIDS+=($!)
    (umask 077; wg genkey > "$WORK/key$i"); wg pubkey < "$WORK/key$i" > "$WORK/pub$i"
done
for i in 1 2; do
    deadline=$((SECONDS + 10))
    until ip -n "${LAB_PREFIX}n$i" link show wgb0 > /dev/null 2>&1 && bash "$LAB" wg "$i" show wgb0 > /dev/null 2>&1; do
        [ $SECONDS -lt $deadline ] || { cat "$WORK/wgb0-n$i.log" >&2; echo "throughput: no wgb0 on n$i" >&2; exit 1; }
        sleep 0.1
    done
done
for i in 1 2; do
    j=$((3 - i))
    bash "$LAB" wg "$i" set wgb0 listen-port 51821 private-key "$WORK/key$i" \
        peer "$(cat "$WORK/pub$j")" endpoint "192.168.77.1$j:51821" allowed-ips "10.99.0.$j/32"
    ip -n "${LAB_PREFIX}n$i" addr add "10.99.0.$i/24" dev wgb0
    ip -n "${LAB_PREFIX}n$i" link set wgb0 mtu 1420 up
done

ip netns exec "$POD2NS" iperf3 -s -p 5201 > /dev/null 2>&1 & PIDS+=($!)
ip netns exec "$N2" iperf3 -s -p 5202 -B 10.99.0.2 > /dev/null 2>&1 & PIDS+=($!)
deadline=$((SECONDS + 20))
until ip netns exec "$POD1" ping -c 1 -W 1 "$POD2" > /dev/null 2>&1 \
    && ip netns exec "$N1" ping -c 1 -W 1 10.99.0.2 > /dev/null 2>&1 \
    && ip netns exec "$POD2NS" ss -ltn | grep -q ':5201 ' && ip netns exec "$N2" ss -ltn | grep -q ':5202 '; do
    [ $SECONDS -lt $deadline ] || { echo "throughput: pod $POD2 or 10.99.0.2 unreachable" >&2; exit 1; }
    sleep 0.1
done
# the pod path must really go through kg's kilo0: n1 routes the pod CIDR of n2 over it
ip -n "$N1" route get "$POD2" | grep -q 'dev kilo0' || { echo "throughput: n1 does not route $POD2 over kilo0" >&2; exit 1; }

iperf() {  # side netns dst port device -> Gbit/s received; the run's retransmits and the share of
    # the packets n1's wireguard device took in that n2's never delivered go to WORK/side.{retr,loss}
    local tx0 rx0 tx1 rx1
    tx0=$(ip netns exec "$N1" cat "/sys/class/net/$5/statistics/tx_packets")
    rx0=$(ip netns exec "$N2" cat "/sys/class/net/$5/statistics/rx_packets")
    ip netns exec "$2" iperf3 -c "$3" -p "$4" -t "$SECS" -J > "$WORK/iperf.json" \
        || { cat "$WORK/iperf.json" >&2; echo "throughput: iperf3 to $3 failed" >&2; exit 1; }
    tx1=$(ip netns exec "$N1" cat "/sys/class/net/$5/statistics/tx_packets")
    rx1=$(ip netns exec "$N2" cat "/sys/class/net/$5/statistics/rx_packets")
    awk -v a=$((tx1 - tx0)) -v b=$((rx1 - rx0)) 'BEGIN { printf "%.2f\n", (a > 0 ? (a - b) * 100 / a : 0) }' >> "$WORK/$1.loss"
    python3 -c 'import json,sys; e=json.load(open(sys.argv[1]))["end"]; print(e["sum_sent"].get("retransmits", 0), file=open(sys.argv[2], "a")); print(e["sum_received"]["bits_per_second"] / 1e9)' \
        "$WORK/iperf.json" "$WORK/$1.retr"
}
for r in $(seq "$REPS"); do
    echo "throughput: run $r/$REPS" >&2
    if (( r % 2 )); then order="kg raw"; else order="raw kg"; fi
    for s in $order; do
        if [ "$s" = kg ]; then iperf kg "$POD1" "$POD2" 5201 kilo0 >> "$WORK/kg"; else iperf raw "$N1" 10.99.0.2 5202 wgb0 >> "$WORK/raw"; fi
    done
done
KG=$($STATS --digits 3 < "$WORK/kg"); RAW=$($STATS --digits 3 < "$WORK/raw")
RATIO=$($STATS --digits 2 --ratio "$WORK/kg" "$WORK/raw")
read -r RM _ <<< "$RATIO"
KGR=$($STATS --digits 0 < "$WORK/kg.retr"); RAWR=$($STATS --digits 0 < "$WORK/raw.retr")
KGL=$($STATS --digits 1 < "$WORK/kg.loss"); RAWL=$($STATS --digits 1 < "$WORK/raw.loss")

cat > "$OUT/throughput.md" <<EOF
## Pod-to-pod throughput over wireguard-go

TCP throughput (\`iperf3 -t $SECS\`, one flow) from a pod on node n1 (location loc-a) to a pod
on node n2 (loc-b), over the path kg programs: pod veth → \`kube-bridge\` → n1's routes →
\`kilo0\` (userspace wireguard-go, configured by kg over UAPI) → the underlay → n2's \`kilo0\`
→ \`kube-bridge\` → pod. The lab cluster (\`e2e/lab/run.sh\`: real kg with \`--encapsulate never\`,
the test API server, pods attached by kilo-cni through the conflist kg wrote) runs under its own
prefix. The baseline is a raw wireguard-go tunnel (\`wgb0\`, configured with \`wg set\`) between
the same two node namespaces over the same underlay, iperf3 from node to node: the best
wireguard-go can do on this machine, without the pods' veths, bridge and kg's routes. Both
devices have MTU 1420. The two are measured alternately, $REPS runs each, in the same run; the
ratio is per pair of runs. On a 2-core machine both ends and both wireguard-go processes share
the cores, so absolute figures are far below a real link's.

Re-run only this part: \`bash e2e/bench/throughput.sh /tmp/out\`.

| path | Gbit/s | ratio kg path / raw tunnel | goal | TCP retransmits per run | packets lost between the two wireguard-go devices (%) |
|---|---:|---:|---|---:|---:|
| pod → pod over kg's kilo0 | $(cell "$KG") | $(cell "$RATIO") | ≥ $GOAL: **$(met "$RM" '>=' "$GOAL")** | $(cell "$KGR") | $(cell "$KGL") |
| node → node over a raw wireguard-go tunnel | $(cell "$RAW") | 1 | | $(cell "$RAWR") | $(cell "$RAWL") |

Retransmits are iperf3's count at the sender; the loss is n1's wireguard device's transmitted
packets less n2's received ones over the run, as a share of the first (packets wireguard-go
dropped on the way: its queues, the UDP socket buffers). Both paths lose packets inside
wireguard-go: the two userspace wireguard-go processes and both TCP ends share the machine's
cores, each packet costs wireguard-go a TUN read or write (Debian's wireguard-go has no TUN
offloads), and the pod path's extra per-packet work (forwarding, the bridge, the pods' veths)
comes out of the same cores.
EOF
echo "throughput: wrote $OUT/throughput.md" >&2
