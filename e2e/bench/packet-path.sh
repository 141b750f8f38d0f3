#!/usr/bin/env bash
# Benchmark part "packet-path": a pod's traffic to an external host through KILO-NAT, with 100 to
# 20 000 known CIDRs, kilo-rs's real rules (ipset) against Kilo-style linear rules (one rule per
# CIDR), both built in the same run in throwaway namespaces pod -> node (the rules) -> ext.
#
#   bash e2e/bench/packet-path.sh OUTDIR     (root, from the repository root; BENCH_QUICK=1:
#                                            100 and 1 000 CIDRs, one repetition)
# Writes OUTDIR/packet-path.md and OUTDIR/packet-path-{newflow,ping}.png. Reports; never asserts.
set -euo pipefail
cd "$(dirname "$0")/../.."
source e2e/bench/lib/common.sh
bench_init packet-path "${1:-}"

if [ "$QUICK" = 1 ]; then
    SIZES="100 1000" REPS=1 PINGS=50 PROBES=300 IPERF_SECS=1
else
    SIZES="100 1000 5000 20000" REPS=5 PINGS=200 PROBES=1000 IPERF_SECS=3
fi
NODES=10 EXT=203.0.113.2 UDP_PORT=7007
need_cmd iperf3 iperf3; need_cmd ipset ipset; need_cmd iptables-restore iptables; need_cmd ping iputils-ping
# KGCTL=path uses that kgctl (the rules it renders do not depend on the build profile)
if [ -z "${KGCTL:-}" ]; then
    release_build kgctl; KGCTL=${CARGO_TARGET_DIR:-target}/release/kgctl BUILT="release build"
else
    BUILT="\`$KGCTL\`"
fi

TAG=kbpp$$
WORK=$(mktemp -d "/tmp/$TAG.XXXX")
PIDS=()
cleanup() {
    local pid ns
    for pid in "${PIDS[@]}"; do kill "$pid" 2> /dev/null || true; done
    for pid in "${PIDS[@]}"; do wait "$pid" 2> /dev/null || true; done
    while read -r ns; do
        [ -z "$ns" ] || ip netns del "$ns" 2> /dev/null || true
    done < <(find /run/netns -maxdepth 1 -name "${TAG}*" -printf '%f\n' 2> /dev/null)
    rm -rf "$WORK"
}
trap cleanup EXIT

# setup side: namespaces ${TAG}<side>{pod,node,ext}; pod 10.64.0.2 in node n0's pod CIDR, node
# forwarding to ext 203.0.113.2, which has no route back: replies work only through MASQUERADE.
setup() {
    local s=$1 pod=${TAG}${1}pod node=${TAG}${1}node ext=${TAG}${1}ext
    for ns in "$pod" "$node" "$ext"; do ip netns add "$ns"; ip -n "$ns" link set lo up; done
    ip -n "$node" link add p0 type veth peer name eth0 netns "$pod"
    ip -n "$node" link add x0 type veth peer name eth0 netns "$ext"
    ip -n "$pod" addr add 10.64.0.2/24 dev eth0; ip -n "$pod" link set eth0 up
    ip -n "$pod" route add default via 10.64.0.1
    ip -n "$node" addr add 10.64.0.1/24 dev p0; ip -n "$node" link set p0 up
    ip -n "$node" addr add 203.0.113.1/24 dev x0; ip -n "$node" link set x0 up
    ip -n "$ext" addr add "$EXT/24" dev eth0; ip -n "$ext" link set eth0 up
    ip netns exec "$node" sysctl -qw net.ipv4.ip_forward=1
    if [ "$s" = k ]; then
        ip netns exec "$node" ipset restore < "$WORK/rules.ipset"
        ip netns exec "$node" iptables-restore --noflush < "$WORK/rules.iptables"
    else
        ip netns exec "$node" iptables-restore --noflush < "$WORK/rules.linear.iptables"
    fi
    ip netns exec "$ext" iperf3 -s -p 5201 > /dev/null 2>&1 & PIDS+=($!)
    ip netns exec "$ext" python3 e2e/bench/lib/udprtt.py server "$UDP_PORT" & PIDS+=($!)
    local deadline=$((SECONDS + 10))
    until ip netns exec "$pod" python3 e2e/bench/lib/udprtt.py client "$EXT" "$UDP_PORT" 1 9999 > /dev/null 2>&1 \
        && ip netns exec "$ext" ss -ltn | grep -q ':5201 '; do
        [ $SECONDS -lt $deadline ] || { echo "packet-path: side $s: no path pod -> ext" >&2; exit 1; }
        sleep 0.05
    done
    # the reply came back, so the packet was masqueraded: check it was KILO-NAT's MASQUERADE
    ip netns exec "$node" iptables -t nat -L KILO-NAT -n -v -x | awk '/MASQUERADE/ && $1 > 0 {ok=1} END {exit !ok}' \
        || { echo "packet-path: side $s: KILO-NAT's MASQUERADE did not count the probe" >&2; exit 1; }
}

measure() {  # side n rep: appends to $WORK/<side>-<n>-{ping,udp,tput} files
    local s=$1 n=$2 r=$3 pod=${TAG}${1}pod f=$WORK/$1-$2
    ip netns exec "$pod" ping -n -c "$PINGS" -i 0.01 -W 1 "$EXT" | sed -n 's/.* time=\([0-9.]*\) ms/\1/p' > "$f-ping-$r"
    [ "$(wc -l < "$f-ping-$r")" -ge $((PINGS * 9 / 10)) ] || { echo "packet-path: $s $n: pings lost" >&2; exit 1; }
    ip netns exec "$pod" python3 e2e/bench/lib/udprtt.py client "$EXT" "$UDP_PORT" "$PROBES" $((10000 + r * PROBES)) > "$f-udp-$r"
    ip netns exec "$pod" iperf3 -c "$EXT" -p 5201 -t "$IPERF_SECS" -J > "$f-iperf-$r.json"
    python3 -c 'import json,sys; print(json.load(open(sys.argv[1]))["end"]["sum_received"]["bits_per_second"] / 1e9)' \
        "$f-iperf-$r.json" >> "$f-tput"
    $STATS < "$f-ping-$r" | cut -d' ' -f1 >> "$f-pingmed"
    $STATS --digits 1 < "$f-udp-$r" | cut -d' ' -f1 >> "$f-udpmed"
    cat "$f-ping-$r" >> "$f-ping-all"; cat "$f-udp-$r" >> "$f-udp-all"
}

pooled() {  # per-run medians file, pooled samples file, digits -> "median (min–max) | p99"
    local med all
    med=$($STATS --digits "$3" < "$1"); all=$($STATS --digits "$3" < "$2")
    echo "$(cell "$med") | $(cut -d' ' -f4 <<< "$all")"
}

ROWS="" TROWS=""
declare -A ACTUAL=()
printf 'x\tkilo-rs (ipset)\tKilo-style linear rules\n' > "$WORK/newflow.tsv"
cp "$WORK/newflow.tsv" "$WORK/ping.tsv"
for n in $SIZES; do
    python3 e2e/bench/lib/fixture.py "$NODES" $((n - 3 * NODES)) "$NODES" > "$WORK/cluster.json"
    "$KGCTL" plan -f "$WORK/cluster.json" --hostname n0 -o json > "$WORK/plan.json"
    ACTUAL[$n]=$(python3 e2e/bench/lib/natrules.py "$WORK/plan.json" "$WORK/rules")
    echo "packet-path: $n CIDRs (${ACTUAL[$n]} known to the plan)" >&2
    setup k; setup b
    for r in $(seq "$REPS"); do
        if (( r % 2 )); then order="k b"; else order="b k"; fi
        for s in $order; do measure "$s" "$n" "$r"; done
    done
    for pid in "${PIDS[@]}"; do kill "$pid" 2> /dev/null || true; wait "$pid" 2> /dev/null || true; done
    PIDS=()
    for s in k b; do for ns in pod node ext; do ip netns del "${TAG}${s}${ns}"; done; done
    ratio=$($STATS --ratio "$WORK/b-$n-udpmed" "$WORK/k-$n-udpmed" --digits 2)
    ROWS+="| ${ACTUAL[$n]} | $(pooled "$WORK/k-$n-udpmed" "$WORK/k-$n-udp-all" 1) | $(pooled "$WORK/b-$n-udpmed" "$WORK/b-$n-udp-all" 1) | $(cell "$ratio") |"$'\n'
    kt=$($STATS --digits 2 < "$WORK/k-$n-tput"); bt=$($STATS --digits 2 < "$WORK/b-$n-tput")
    tr=$($STATS --ratio "$WORK/b-$n-tput" "$WORK/k-$n-tput" --digits 2)
    TROWS+="| ${ACTUAL[$n]} | $(pooled "$WORK/k-$n-pingmed" "$WORK/k-$n-ping-all" 3) | $(pooled "$WORK/b-$n-pingmed" "$WORK/b-$n-ping-all" 3) | $(cell "$kt") | $(cell "$bt") | $(cell "$tr") |"$'\n'
    printf '%s\t%s\t%s\n' "${ACTUAL[$n]}" "$(tsv_cell "$($STATS --digits 1 < "$WORK/k-$n-udpmed")")" \
        "$(tsv_cell "$($STATS --digits 1 < "$WORK/b-$n-udpmed")")" >> "$WORK/newflow.tsv"
    printf '%s\t%s\t%s\n' "${ACTUAL[$n]}" "$(tsv_cell "$($STATS < "$WORK/k-$n-pingmed")")" \
        "$(tsv_cell "$($STATS < "$WORK/b-$n-pingmed")")" >> "$WORK/ping.tsv"
done
plot "$OUT/packet-path-newflow.png" "New-flow RTT through KILO-NAT (pod -> external host)" \
    "known CIDRs" "microseconds (median of runs)" "$WORK/newflow.tsv" --logx
plot "$OUT/packet-path-ping.png" "ping RTT through KILO-NAT (one established flow)" \
    "known CIDRs" "milliseconds (median of runs)" "$WORK/ping.tsv" --logx

FIRST=${SIZES%% *} LAST=${SIZES##* }
k1=$($STATS --digits 1 < "$WORK/k-$FIRST-udpmed" | cut -d' ' -f1); kN=$($STATS --digits 1 < "$WORK/k-$LAST-udpmed" | cut -d' ' -f1)
b1=$($STATS --digits 1 < "$WORK/b-$FIRST-udpmed" | cut -d' ' -f1); bN=$($STATS --digits 1 < "$WORK/b-$LAST-udpmed" | cut -d' ' -f1)
kgrow=$(awk -v a="$kN" -v b="$k1" 'BEGIN {printf "%.2f", a / b}')
bgrow=$(awk -v a="$bN" -v b="$b1" 'BEGIN {printf "%.2f", a / b}')
# "flat within noise": the largest size's median inside the smallest size's min–max run medians
read -r _ klo khi _ < <($STATS --digits 1 < "$WORK/k-$FIRST-udpmed")
FLAT=$(awk -v v="$kN" -v lo="$klo" -v hi="$khi" 'BEGIN {print (v >= lo * 0.9 && v <= hi * 1.1) ? "met" : "not met"}')

cat > "$OUT/packet-path.md" <<EOF
## Packet path vs number of CIDRs

A pod's packets to an external host leave through \`KILO-NAT\`, which must first decide that the
destination is not a known mesh CIDR. kilo-rs matches the known CIDRs with one ipset
(\`hash:net\`) lookup; Go Kilo 0.7 writes one \`-d CIDR -j RETURN\` rule per CIDR ahead of the
\`MASQUERADE\` (and one \`POSTROUTING -s <Peer IP> -j KILO-NAT\` per Peer IP), so a packet to
the outside walks all of them. Both sides are built in the same run, side by side, in throwaway
namespaces: pod (10.64.0.2) → node (the rules; forwarding) → ext ($EXT, no route back, so a
reply proves the MASQUERADE). The kilo-rs side is exactly \`firewallText.v4\` of
\`kgctl plan -f cluster.json --hostname n0 -o json\` ($BUILT) on a generated cluster of
$NODES nodes plus enough Peers (one /32 each) for the wanted number of known CIDRs, applied with
\`ipset restore\` and \`iptables-restore --noflush\`; the Kilo-style side is built by
\`e2e/bench/lib/natrules.py\` from the same plan's mesh set, rule for rule as Go Kilo's
\`pkg/mesh\` writes them (the pod CIDR's jump placed first, the baseline's best case). The two sides are measured alternately, $REPS runs each:

- **new-flow RTT**: $PROBES UDP probes per run, each from a new source port, so each is a new
  conntrack entry whose first packet traverses the nat rules (\`e2e/bench/lib/udprtt.py\`,
  timed in-process). This is the cost the rule count changes.
- **ping RTT**: \`ping -c $PINGS -i 0.01\`: one ICMP flow, so only its first packet sees the
  nat table (conntrack keeps the decision); expected flat on both sides.
- **throughput**: \`iperf3 -c $EXT -t $IPERF_SECS\` (one TCP flow, one run per repetition).

Figures: median of the per-run medians with their min–max, and p99 over all samples pooled.
Re-run only this part: \`bash e2e/bench/packet-path.sh /tmp/out\`.

| known CIDRs | kilo-rs new-flow RTT µs | p99 | Kilo-style new-flow RTT µs | p99 | Kilo-style / kilo-rs |
|---:|---:|---:|---:|---:|---:|
${ROWS}
| known CIDRs | kilo-rs ping ms | p99 | Kilo-style ping ms | p99 | kilo-rs Gbit/s | Kilo-style Gbit/s | Kilo-style / kilo-rs throughput |
|---:|---:|---:|---:|---:|---:|---:|---:|
${TROWS}
Goal: kilo-rs flat within noise from ${ACTUAL[$FIRST]} to ${ACTUAL[$LAST]} CIDRs — new-flow RTT
${k1} → ${kN} µs (×$kgrow; "flat" taken as the largest size's median within the smallest size's
run range ±10 %): **$FLAT**. The Kilo-style rules beside it: ${b1} → ${bN} µs (×$bgrow).

![New-flow RTT vs known CIDRs](benchmarks/packet-path-newflow.png)

![ping RTT vs known CIDRs](benchmarks/packet-path-ping.png)
EOF
echo "packet-path: wrote $OUT/packet-path.md" >&2
