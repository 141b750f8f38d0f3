#!/usr/bin/env bash
# shellcheck source-path=SCRIPTDIR
# selftest.sh - smoke test of the netns lab (CI: needs root, no Docker, no kg):
# up --static-mesh, pods (generated conflist and a kg-style conflist in each node's own
# /etc/cni/net.d), full IPv4+IPv6 pod matrix, egress through a temporary MASQUERADE as seen from
# ext, restart-wg repair, down; 'down' always runs and nothing may be left behind.
# Uses its own prefix (kl-t<pid>-) so it can run next to a developer's lab.
set -euo pipefail
HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
export LAB_PREFIX=${LAB_PREFIX:-kl-t$$-}
unset LAB_DIR CNI_PLUGIN CNI_PLUGIN_BIN CNI_CONFLIST
LAB_DIR=$(bash -c "source '$HERE/lib.sh'; echo \"\$LAB_DIR\"")
T0=$SECONDS

fail() { printf 'selftest: FAIL: %s\n' "$*" >&2; exit 1; }
step() { printf '\n=== [%3ss] %s\n' $((SECONDS - T0)) "$*"; }
# lab ARGS...: lab.sh with a time limit; its duration goes to stderr
lab() {
    local t0=$EPOCHREALTIME rc=0
    timeout 120 bash "$HERE/lab.sh" "$@" || rc=$?
    awk -v a="$t0" -v b="$EPOCHREALTIME" -v c="$1" -v rc=$rc 'BEGIN {printf "    (lab.sh %s: %.2fs, rc %d)\n", c, b - a, rc}' >&2
    return $rc
}

finish() {
    local rc=$? f
    trap - EXIT INT TERM
    if [ $rc != 0 ]; then
        echo "--- lab state at failure:"
        lab status || true
        for f in "$LAB_DIR"/run/n*/wireguard-go.log "$LAB_DIR"/run/n*/anchor.log "$LAB_DIR"/run/ext/echo.log; do
            [ -s "$f" ] && { echo "--- $f"; tail -20 "$f"; }
        done
    fi
    step "down"
    lab down || rc=1
    # nothing may be left: namespaces, directory, node mounts
    if ip netns list 2> /dev/null | awk '{print $1}' | grep -q "^$LAB_PREFIX"; then
        echo "selftest: namespaces left: $(ip netns list 2> /dev/null | grep "^$LAB_PREFIX" | xargs)" >&2; rc=1
    fi
    [ ! -e "$LAB_DIR" ] || { echo "selftest: $LAB_DIR left behind" >&2; rc=1; }
    if grep -qsF "$LAB_DIR/" /proc/[0-9]*/mountinfo; then echo "selftest: mounts of $LAB_DIR left" >&2; rc=1; fi
    if [ $rc = 0 ]; then echo "selftest: PASS in $((SECONDS - T0))s"; else echo "selftest: FAIL (rc $rc) after $((SECONDS - T0))s"; fi
    exit $rc
}
trap finish EXIT
trap 'exit 130' INT TERM

[ "$(id -u)" = 0 ] || fail "must run as root"
# shellcheck source=../lib/deps.sh
source "$HERE/../lib/deps.sh"
install_deps

step "up --static-mesh ($LAB_PREFIX, $LAB_DIR)"
lab up --static-mesh
J=$LAB_DIR/lab.json
[ "$(jq -r '[.nodes[].location] | join(",")' "$J")" = loc-a,loc-a,loc-b ] || fail "locations in lab.json"
[ "$(jq '[.nodes[] | select(.anchor_pid != null and .wireguard_go_pid != null)] | length' "$J")" = 3 ] || fail "pids in lab.json"
for i in 1 2 3; do [ -S "$LAB_DIR/run/n$i/wg/kilo0.sock" ] || fail "n$i: no UAPI socket"; done
# each node sees only its own UAPI socket; the host's /run/wireguard has none of them
[ "$(lab nodex 2 ls /run/wireguard)" = kilo0.sock ] || fail "n2: /run/wireguard is not private"
if [ /run/wireguard/kilo0.sock -ef "$LAB_DIR/run/n2/wg/kilo0.sock" ]; then fail "n2's socket is visible on the host"; fi

step "pods: generated conflist (reference bridge + host-local)"
lab pods

step "pods: a kg-style conflist (bridge + portmap chain) in each node's own /etc/cni/net.d"
for i in 1 2 3; do
    jq -n --arg s4 "10.42.$i.0/24" --arg s6 "fd00:10:42:$i::/64" '{cniVersion: "1.0.0", name: "kilo", plugins: [
        {type: "bridge", bridge: "kube-bridge", isDefaultGateway: true, forceAddress: true, hairpinMode: true, mtu: 1420,
         ipam: {type: "host-local", ranges: [[{subnet: $s4}], [{subnet: $s6}]]}},
        {type: "portmap", snat: true, capabilities: {portMappings: true}}]}' |
        lab nodex "$i" sh -c 'cat > /etc/cni/net.d/10-kilo.conflist'
    [ -s "$LAB_DIR/run/n$i/cni-net.d/10-kilo.conflist" ] || fail "n$i: /etc/cni/net.d is not the node's own"
done
CNI_CONFLIST=node lab pods --per-node 3
[ "$(jq '[.pods[].ips[]] | (length == (unique | length)) and length == 18' "$J")" = true ] || fail "pod addresses missing or duplicated"

step "matrix (static mesh: everything reachable, IPv4 and IPv6)"
# When two nodes send handshake initiations to each other at the same moment, both responses are
# dropped and WireGuard retries only after REKEY_TIMEOUT (5 s + jitter); a clean CI run once saw
# one pair still silent after 15 s, so the deadline covers several retries. Reachable pairs
# still answer at once.
lab matrix --deadline 45

step "egress: without NAT ext cannot answer the pod"
if lab probe-egress n1-p1 v4 --timeout 1 2> /dev/null; then fail "probe succeeded without NAT"; fi
step "egress: MASQUERADE on n1 -> ext sees n1's underlay address"
M4=(POSTROUTING -s 10.42.1.0/24 ! -d 10.42.0.0/16 -j MASQUERADE)
M6=(POSTROUTING -s fd00:10:42:1::/64 ! -d fd00:10:42::/48 -j MASQUERADE)
lab nodex 1 iptables -t nat -A "${M4[@]}"
lab nodex 1 ip6tables -t nat -A "${M6[@]}"
seen4=$(lab probe-egress n1-p1 v4)
seen6=$(lab probe-egress n1-p2 v6)
echo "ext saw $seen4 and $seen6"
[ "$seen4" = 192.168.77.11 ] || fail "v4 egress: ext saw '$seen4', want 192.168.77.11"
[ "$seen6" = fd00:77::11 ] || fail "v6 egress: ext saw '$seen6', want fd00:77::11 (::101 is deprecated)"
lab nodex 1 iptables -t nat -D "${M4[@]}"
lab nodex 1 ip6tables -t nat -D "${M6[@]}"

step "restart-wg 2: a fresh, empty kilo0; static-mesh repairs it"
old=$(jq '.nodes[1].wireguard_go_pid' "$J")
lab restart-wg 2
[ "$(jq '.nodes[1].wireguard_go_pid' "$J")" != "$old" ] || fail "n2: wireguard-go pid unchanged"
[ "$(lab wg 2 show kilo0 private-key)" = "(none)" ] || fail "n2: restarted kilo0 is not empty"
[ -z "$(lab wg 2 show kilo0 peers)" ] || fail "n2: restarted kilo0 has peers"
lab static-mesh
lab matrix --deadline 45 > /dev/null || { lab matrix; fail "matrix after repair"; }
lab status
