#!/usr/bin/env bash
# e2e-flannel.sh - kg on top of flannel (--compatibility=flannel, issue 11), run as root: a lab of
# its own (3 nodes; loc-a: n1 leader, n2; loc-b: n3), flannel emulated on every node as its vxlan
# backend programs the kernel (no flannel binary here): flannel.1 (VXLAN id 1, port 8472,
# nolearning, 10.42.<i>.0/32) and, per other node, a route `10.42.<j>.0/24 via 10.42.<j>.0 dev
# flannel.1 onlink`, a permanent neighbour 10.42.<j>.0 -> its VTEP MAC and an FDB entry MAC ->
# 192.168.77.1<j>. Pods are attached by the reference bridge + host-local plugins (flannel's CNI
# delegates to bridge). kg runs with Kilo's flannel manifest flags (--compatibility=flannel
# --cni=false --local=false --internal-cidr=<node IP>/32). Checked: pod to pod inside loc-a over
# flannel.1 (not WireGuard), across locations over kilo0 (WireGuard counters move), flannel's
# same-location routes intact, kg reacting when flannel.1 appears late or is re-created, and kg's
# clean-up leaving flannel.1 and flannel's routes. Cilium is not emulated (the lab kernel has no
# IPIP): its plans are covered by `cargo test -p kgctl --test plan` (cilium_*). The last line is
# "N passed, M failed". Tears everything down on exit.
export E2E_NAME=flannel
HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
# shellcheck source=e2e-lib.sh
source "$HERE/e2e-lib.sh"
BIN=${BIN:-${CARGO_TARGET_DIR:-$ROOT/target}/debug}
CP=$LAB_DIR/cluster
infra_up

vtep_mac() { printf '02:f1:00:00:00:%02x' "$1"; }
flannel_up() {  # node: flannel.1 and flannel's state for every other node, in one ip batch
    # (routes with `add`, so a route kg already took over is left to kg)
    local i=$1 j
    {
        echo "link add flannel.1 address $(vtep_mac "$i") type vxlan id 1 local 192.168.77.1$i dev eth0 dstport 8472 nolearning"
        echo "link set flannel.1 mtu 1450 up"
        echo "addr add 10.42.$i.0/32 dev flannel.1"
        for j in 1 2 3; do
            [ "$j" != "$i" ] || continue
            echo "neigh replace 10.42.$j.0 lladdr $(vtep_mac "$j") dev flannel.1 nud permanent"
            echo "route add 10.42.$j.0/24 via 10.42.$j.0 dev flannel.1 onlink"
        done
    } | nsx "n$i" ip -force -batch - 2> /dev/null
    for j in 1 2 3; do
        [ "$j" = "$i" ] || nsx "n$i" bridge fdb append "$(vtep_mac "$j")" dev flannel.1 dst "192.168.77.1$j"
    done
}
flannel_route() {  # node peer -> flannel's route to peer's pod CIDR, as `ip route` prints it
    nsx "n$1" ip -4 route show "10.42.$2.0/24" | sed 's/ *$//'
}
flannel_routes_intact() {  # flannel's same-location routes, untouched by kg
    [ "$(flannel_route 1 2)" = "10.42.2.0/24 via 10.42.2.0 dev flannel.1 onlink" ] \
        && [ "$(flannel_route 2 1)" = "10.42.1.0/24 via 10.42.1.0 dev flannel.1 onlink" ] \
        || { echo "n1: $(flannel_route 1 2); n2: $(flannel_route 2 1)"; return 1; }
}
kg_start() {  # node: kg with Kilo's flannel manifest flags (recorded as run.sh records its kg)
    local i=$1
    "$LAB" nodex "$i" "$BIN/kg" --hostname "n$i" --kubeconfig "$CP/kg-n$i.kubeconfig" \
        --wireguard-backend userspace --create-interface=false --resync-period 30s \
        --cni=false --compatibility=flannel --local=false "--internal-cidr=192.168.77.1$i/32" \
        > "$CP/kg-n$i.log" 2>&1 &
    echo "$! kg" > "$CP/kg-n$i.pid"
}
route_dev() {  # node dst [src iif]: the device (and gateway) the node routes dst over
    if [ $# -gt 2 ]; then nsx "n$1" ip -4 route get "$2" from "$3" iif "$4"; else nsx "n$1" ip -4 route get "$2"; fi \
        | head -1 | grep -oE '(via [0-9.]+ )?dev [^ ]+'
}
pod4() { pod_ip "$1"; }
wg_bytes() { "$LAB" wg "$1" show kilo0 transfer | awk '{s += $2 + $3} END {printf "%d\n", s}'; }
kg_route() {  # node dst -> kg's route (protocol 107) to dst, if any
    nsx "n$1" ip -4 route show "$2" proto 107 | sed 's/ *$//'
}

# ---------------------------------------------------------------- flannel alone
pods_up() { "$LAB" pods --per-node 1 > /dev/null; }
flannel_alone() {
    flannel_up 1 && flannel_up 3 && pods_up || return 1
    poll 10 pods_reach n1-p1 "$(pod4 n3-p1)" || { echo "flannel alone: n1-p1 cannot reach n3-p1"; return 1; }
}
check "flannel emulated on n1 and n3 (flannel.1, VTEP routes, neighbours, FDB); bridge pods reach each other over it" flannel_alone

# ---------------------------------------------------------------- kg starts; flannel.1 comes late on n2
started() {
    local i
    for i in 1 2 3; do kg_start "$i"; done
    for i in 1 3; do
        poll 90 "$RUN" ready "$i" || { echo "kg on n$i is not ready"; tail -5 "$CP/kg-n$i.log"; return 1; }
    done
}
check "kg starts on every node with --compatibility=flannel --cni=false --local=false (n1, n3 ready)" started

kg_waits_for_flannel() {
    poll 20 grep -q 'flannel.1 not found' "$CP/kg-n2.log" || { tail -5 "$CP/kg-n2.log"; return 1; }
    [ -z "$(kg_route 2 10.42.3.0/24)" ] || { echo "n2 routed loc-b without flannel.1: $(kg_route 2 10.42.3.0/24)"; return 1; }
    flannel_up 2 || return 1
    poll 20 eval '[ "$(kg_route 2 10.42.3.0/24)" = "10.42.3.0/24 via 10.42.1.0 dev flannel.1 src 192.168.77.12 onlink" ]' \
        || { echo "n2's route to loc-b: $(nsx n2 ip -4 route show 10.42.3.0/24)"; tail -5 "$CP/kg-n2.log"; return 1; }
    poll 30 "$RUN" ready 2 || { echo "kg on n2 is not ready"; return 1; }
}
check "n2 without flannel.1: kg reports it and waits; once flannel.1 appears kg routes loc-b over it to n1's VTEP" kg_waits_for_flannel

takes_over_remote_routes() {
    # one route in the slot, kg's (flannel's replaced)
    [ "$(nsx n1 ip -4 route show 10.42.3.0/24 | grep -c .)" = 1 ] && kg_route 1 10.42.3.0/24 | grep -q ' dev kilo0 ' \
        || { echo "n1: $(nsx n1 ip -4 route show 10.42.3.0/24)"; return 1; }
    kg_route 3 10.42.1.0/24 | grep -q ' dev kilo0 ' && kg_route 3 10.42.2.0/24 | grep -q ' dev kilo0 ' \
        || { echo "n3: $(nsx n3 ip -4 route show proto 107)"; return 1; }
    flannel_routes_intact
}
check "kg took flannel's routes to the other location over (leaders: kilo0) and left flannel's same-location routes" takes_over_remote_routes

# ---------------------------------------------------------------- traffic
inside_location() {
    local dst tx wg; dst=$(pod4 n2-p1)
    [ "$(route_dev 1 "$dst" "$(pod4 n1-p1)" kube-bridge)" = "via 10.42.2.0 dev flannel.1" ] \
        || { echo "n1 routes $dst over: $(route_dev 1 "$dst" "$(pod4 n1-p1)" kube-bridge)"; return 1; }
    # kilo0's own tx counter also moves with the kernel's IPv6 chatter (MLD, router solicitations)
    # at times of its choosing: count only the packets to $dst, per device, in a table of our own
    nsx n1 nft -f - <<EOF || return 1
table ip e2e_probe {
    chain out {
        type filter hook postrouting priority 0; policy accept;
        oifname "flannel.1" ip daddr $dst counter
        oifname "kilo0" ip daddr $dst counter
    }
}
EOF
    pods_reach n1-p1 "$dst" || { echo "n1-p1 cannot reach $dst"; nsx n1 nft delete table ip e2e_probe; return 1; }
    read -r tx wg < <(nsx n1 nft list chain ip e2e_probe out | awk '/counter packets/ { for (i = 1; i < NF; i++) if ($i == "packets") printf "%s ", $(i + 1) } END { print "" }')
    nsx n1 nft delete table ip e2e_probe
    echo "measured: packets to $dst out of n1: flannel.1 ${tx:-?}, kilo0 ${wg:-?}" >&2
    [ "${tx:-0}" -gt 0 ] || { echo "flannel.1 carried none of them"; return 1; }
    [ "$wg" = 0 ] || { echo "kilo0 carried ${wg:-?} of them"; return 1; }
}
check "pod to pod inside loc-a (n1-p1 -> n2-p1) goes over flannel.1, not WireGuard" inside_location

across_locations() {
    local p before
    before=$(wg_bytes 1)
    for p in n1-p1 n2-p1; do
        poll 20 pods_reach "$p" "$(pod4 n3-p1)" || { echo "$p cannot reach n3-p1"; return 1; }
        poll 10 pods_reach n3-p1 "$(pod4 "$p")" || { echo "n3-p1 cannot reach $p"; return 1; }
    done
    [ "$(route_dev 2 "$(pod4 n3-p1)" "$(pod4 n2-p1)" kube-bridge)" = "via 10.42.1.0 dev flannel.1" ] \
        || { echo "n2 routes loc-b over: $(route_dev 2 "$(pod4 n3-p1)" "$(pod4 n2-p1)" kube-bridge)"; return 1; }
    [ "$(wg_bytes 1)" -gt "$before" ] || { echo "n1's WireGuard counters did not move ($before)"; return 1; }
    echo "measured: n1 kilo0 WireGuard bytes $before -> $(wg_bytes 1)" >&2
}
check "pods of n1 and n2 reach n3-p1 across locations over kilo0 (n2 via flannel.1 to n1's VTEP; WireGuard counters move)" across_locations

# ---------------------------------------------------------------- flannel.1 re-created
recreated() {
    nsx n2 ip link del flannel.1 || return 1
    flannel_up 2 || return 1
    poll 30 eval '[ "$(kg_route 2 10.42.3.0/24)" = "10.42.3.0/24 via 10.42.1.0 dev flannel.1 src 192.168.77.12 onlink" ]' \
        || { echo "n2's route to loc-b: $(nsx n2 ip -4 route show 10.42.3.0/24)"; return 1; }
    poll 20 pods_reach n2-p1 "$(pod4 n3-p1)" || { echo "n2-p1 cannot reach n3-p1 after flannel.1 came back"; return 1; }
    flannel_routes_intact
}
check "flannel.1 re-created on n2 (routes gone with it): kg re-applies its routes over the new device" recreated

# ---------------------------------------------------------------- clean-up
cleaned_up() {
    local i
    for i in 2 1; do "$RUN" kg-stop "$i" || return 1; done
    for i in 1 2; do
        nsx "n$i" ip -d link show flannel.1 | grep -q 'vxlan id 1 ' || { echo "n$i: flannel.1 is gone"; return 1; }
        nsx "n$i" ip -4 addr show flannel.1 | grep -q "inet 10.42.$i.0/32" || { echo "n$i: flannel.1 lost its address"; return 1; }
        [ -z "$(nsx "n$i" ip -4 route show proto 107)" ] || { echo "n$i kept kg routes: $(nsx "n$i" ip -4 route show proto 107)"; return 1; }
    done
    nsx n1 bridge fdb show dev flannel.1 | grep -q "$(vtep_mac 2) dst 192.168.77.12" || { echo "n1: FDB entry for n2 gone"; return 1; }
    nsx n1 ip neigh show dev flannel.1 | grep -q "10.42.2.0 lladdr $(vtep_mac 2) PERMANENT" || { echo "n1: neighbour for n2 gone"; return 1; }
    flannel_routes_intact || return 1
    pods_reach n1-p1 "$(pod4 n2-p1)" || { echo "n1-p1 cannot reach n2-p1 over flannel after kg left"; return 1; }
}
check "kg's clean-up (SIGTERM on n2, n1) leaves flannel.1, its address, FDB, neighbours and same-location routes; loc-a still works" cleaned_up

summary
