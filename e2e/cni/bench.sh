#!/usr/bin/env bash
# ADD / DEL latency of kilo-cni vs the reference bridge + host-local, same machine, same run.
#
#   bash e2e/cni/bench.sh [ITERATIONS]        (root; default 200 iterations)
#
# One "node" netns holds two bridges (one per plugin, same config otherwise: dual stack,
# isDefaultGateway, hairpin, mtu 1420). Each iteration creates one pod netns per plugin (untimed), then
# times ADD and DEL of each plugin, alternating which goes first. Plugins are entered into
# the node netns with nsenter; the cost of `nsenter ... true` is measured too and reported
# as the baseline (it is included in both plugins' figures). kilo-cni is built as the image
# ships it (release, static). Timing uses $EPOCHREALTIME (no process spawned for the clock).
# Prints medians (ms), the kilo/reference ratio, the kernel's own cost of deleting the veth pair
# of an attachment (which both DELs pay) and the floor that puts under any plugin's DEL ratio.
set -euo pipefail
N=${1:-200}
ROOT=$(cd "$(dirname "$0")/../.." && pwd)
CNI_BIN=${CNI_BIN:-/usr/lib/cni}
[ "$(id -u)" = 0 ] || { echo "needs root" >&2; exit 1; }
for b in bridge host-local; do [ -x "$CNI_BIN/$b" ] || { echo "$CNI_BIN/$b missing" >&2; exit 1; }; done

# the binary the image ships (e2e/image/build.sh): release, statically linked; crt-static applies
# to the target only with an explicit --target (build scripts stay dynamic)
TARGET=${CARGO_TARGET_DIR:-$ROOT/target} GNU=x86_64-unknown-linux-gnu
RUSTFLAGS="${RUSTFLAGS:-} -C target-feature=+crt-static" \
    cargo build --release -q --locked -p kilo-cni --target "$GNU" --manifest-path "$ROOT/Cargo.toml"
KILO=$TARGET/$GNU/release/kilo-cni
file -L "$KILO" | grep -q 'static' || { echo "$KILO is not statically linked" >&2; exit 1; }

TAG=kcnib$$
NODE=${TAG}node
WORK=$(mktemp -d /tmp/${TAG}.XXXX)
cleanup() {
    for ns in $(ip netns list | awk '{print $1}' | grep "^${TAG}" || true); do ip netns del "$ns"; done
    rm -rf "$WORK"
}
trap cleanup EXIT
ip netns add "$NODE"
ip -n "$NODE" link set lo up

conf() {  # type bridge v4 v6 ipamtype
    cat <<JSON
{"cniVersion":"1.0.0","name":"bench-$1","type":"$1","bridge":"$2","isDefaultGateway":true,
 "forceAddress":true,"hairpinMode":true,"mtu":1420,
 "ipam":{$5"dataDir":"$WORK/data","ranges":[[{"subnet":"$3"}],[{"subnet":"$4"}]]}}
JSON
}
conf kilo-cni "${TAG}k" 10.91.0.0/16 fd00:91::/64 "" > "$WORK/kilo.json"
conf bridge "${TAG}r" 10.92.0.0/16 fd00:92::/64 '"type":"host-local",' > "$WORK/ref.json"

run() {  # plugin conf cmd id pod -> elapsed microseconds on stdout
    local t0 t1
    t0=$EPOCHREALTIME
    CNI_COMMAND=$3 CNI_CONTAINERID=$4 CNI_NETNS=/var/run/netns/$5 CNI_IFNAME=eth0 CNI_PATH=$CNI_BIN \
        nsenter --net="/var/run/netns/$NODE" "$1" < "$2" > "$WORK/out" 2>> "$WORK/err" \
        || { echo "$1 $3 failed: $(cat "$WORK/out")" >&2; exit 1; }
    t1=$EPOCHREALTIME
    echo $(( ${t1/./} - ${t0/./} ))
}

: > "$WORK/k_add"; : > "$WORK/k_del"; : > "$WORK/r_add"; : > "$WORK/r_del"; : > "$WORK/base"
: > "$WORK/vdel"; : > "$WORK/ipnoop"
for i in $(seq "$N"); do
    ip netns add "${TAG}kp$i"; ip netns add "${TAG}rp$i"
    t0=$EPOCHREALTIME; nsenter --net="/var/run/netns/$NODE" true; t1=$EPOCHREALTIME
    echo $(( ${t1/./} - ${t0/./} )) >> "$WORK/base"
    if (( i % 2 )); then order="k r"; else order="r k"; fi
    for who in $order; do
        if [ "$who" = k ]; then p=$KILO; c=$WORK/kilo.json; else p=$CNI_BIN/bridge; c=$WORK/ref.json; fi
        run "$p" "$c" ADD "c$who$i" "${TAG}${who}p$i" >> "$WORK/${who}_add"
    done
    for who in $order; do
        if [ "$who" = k ]; then p=$KILO; c=$WORK/kilo.json; else p=$CNI_BIN/bridge; c=$WORK/ref.json; fi
        run "$p" "$c" DEL "c$who$i" "${TAG}${who}p$i" >> "$WORK/${who}_del"
    done
    # The kernel's share of a DEL: the same kind of attachment (a kilo-cni ADD, untimed: bridge
    # port, hairpin, dual-stack addresses and routes, fresh pod netns) deleted by the kernel
    # alone, i.e. `ip link del` of its eth0 minus an `ip` that changes nothing; then an untimed
    # DEL releases its leases (its links are gone already).
    ip netns add "${TAG}xp$i"
    run "$KILO" "$WORK/kilo.json" ADD "cx$i" "${TAG}xp$i" > /dev/null
    t0=$EPOCHREALTIME; ip -n "${TAG}xp$i" link del eth0; t1=$EPOCHREALTIME
    echo $(( ${t1/./} - ${t0/./} )) >> "$WORK/vdel"
    t0=$EPOCHREALTIME; ip -n "${TAG}xp$i" link show lo > /dev/null; t1=$EPOCHREALTIME
    echo $(( ${t1/./} - ${t0/./} )) >> "$WORK/ipnoop"
    run "$KILO" "$WORK/kilo.json" DEL "cx$i" "${TAG}xp$i" > /dev/null
    ip netns del "${TAG}kp$i"; ip netns del "${TAG}rp$i"; ip netns del "${TAG}xp$i"
done

median() { sort -n "$1" | awk '{a[NR]=$1} END {m=(NR%2)?a[(NR+1)/2]:(a[NR/2]+a[NR/2+1])/2; printf "%.2f", m/1000}'; }
KA=$(median "$WORK/k_add"); KD=$(median "$WORK/k_del"); RA=$(median "$WORK/r_add"); RD=$(median "$WORK/r_del")
B=$(median "$WORK/base")
echo "iterations: $N   kernel: $(uname -r)   cpus: $(nproc)"
printf '%-8s %12s %12s %8s\n' op "kilo-cni ms" "bridge+hl ms" ratio
printf '%-8s %12s %12s %8s\n' ADD "$KA" "$RA" "$(awk -v a="$KA" -v b="$RA" 'BEGIN{printf "%.2f", a/b}')"
printf '%-8s %12s %12s %8s\n' DEL "$KD" "$RD" "$(awk -v a="$KD" -v b="$RD" 'BEGIN{printf "%.2f", a/b}')"
echo "baseline (nsenter ... true, included in both): ${B} ms"
KV=$(awk -v a="$(median "$WORK/vdel")" -v b="$(median "$WORK/ipnoop")" 'BEGIN{printf "%.2f", a-b}')
echo "kernel veth delete (ip link del minus a no-op ip, paid by both DELs): $KV ms"
# No DEL can take less than entering the node netns (the baseline) plus the kernel's delete.
echo "DEL floor (baseline + kernel veth delete): $(awk -v b="$B" -v k="$KV" 'BEGIN{printf "%.2f", b+k}') ms = $(awk -v b="$B" -v k="$KV" -v r="$RD" 'BEGIN{printf "%.2f", (b+k)/r}') x the reference's DEL"
