#!/usr/bin/env bash
# e2e-health.sh - mesh health that sends real traffic (issue 16), run as root by CI
# (e2e/test-all.sh): a lab cluster whose kg probe every other node each second
# (--health-interval 1s, --health-timeout 500ms); healthy, kgctl status says 3/3 reachable and
# the metrics agree with /mesh-health; an iptables rule in the underlay namespace dropping the
# traffic between the two locations' leaders (n1 in loc-a, n3 in loc-b) makes kgctl check
# --probe and kgctl status name exactly the pairs whose traffic crosses that link (n1-n3, and
# n2-n3 through its leader n1), the host and pod paths, both ways, within two probe intervals;
# removing it recovers; an underlay port MTU below what WireGuard needs (n3's, 1400 < 1420 + 80)
# shows as the full-size probe failing while the small ones pass. Last line "N passed, M failed".
HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
export E2E_NAME=h
# shellcheck source=e2e-lib.sh
source "$HERE/e2e-lib.sh"
INTERVAL_MS=1000 TIMEOUT_MS=500
export KG_ARGS="--health-interval ${INTERVAL_MS}ms --health-timeout ${TIMEOUT_MS}ms"
# two probe intervals, plus a round's length (the pod path's small probes, then the full-size
# one: two timeouts), plus 2 s for kgctl and the lab's namespace switches on a loaded machine
DETECT_S=$(( (2 * INTERVAL_MS + 2 * TIMEOUT_MS) / 1000 + 2 ))
infra_up

check "kg with a 1 s probe interval brings the mesh up" "$RUN" start

health_json() { "$RUN" kgctl status -o json | jq -c .meshHealth; }
status_line_is() { "$RUN" kgctl status | grep -qx "Mesh health: $1 reachable"; }
# error findings of kgctl check --probe, as "subject what" (the message up to its first colon)
check_errors() {
    "$RUN" kgctl check --probe -o json | jq -r '.findings[] | select(.severity == "error") | "\(.subject) \(.message | split(":")[0])"' | sort
}
errors_are() { [ "$(check_errors)" = "$1" ]; }
no_problems() { [ "$("$RUN" kgctl check --probe)" = "no problems found (3 nodes)" ]; }

healthy() {
    poll 30 status_line_is 3/3 || { "$RUN" kgctl status -o wide | sed -n '/^Mesh health/,$p'; return 1; }
    # kg reads its peers' handshakes every 5 s: poll through a few reads
    poll 20 no_problems || { "$RUN" kgctl check --probe; return 1; }
    # a node's pod path is probed from the first round after its first pod (its CNI bridge):
    # the pods came up just before, so its round trips may be a round or two away
    poll 10 round_trips || { echo "no round trips for every node: $(wide_health)"; lab_state; return 1; }
    echo "measured: kgctl status -o wide on the healthy lab:" >&2; wide_health | sed 's/^/  /' >&2
}
wide_health() { "$RUN" kgctl status -o wide | sed -n '/^Mesh health/,$p'; }
round_trips() {  # every node reachable, probed by both others, with a host and a pod round trip
    local wide n; wide=$(wide_health)
    for n in n1 n2 n3; do
        grep -qE "^$n +reachable +2 +[0-9.]+ms +[0-9.]+ms +-$" <<< "$wide" || return 1
    done
}
lab_state() {  # for a post-mortem: each kg's view of the other nodes' paths, the pod gateways, routes
    local i j
    for i in 1 2 3; do
        echo "n$i /mesh-health: $("$RUN" http "$i" /mesh-health | tail -n +2 | jq -c '[.peers[] | .node as $n | .paths[] | {node: $n, path, address, reachable, lastProbe, error}]')"
        echo "n$i /identity: $("$RUN" http "$i" /identity | tail -n +2 | jq -c .)"
        echo "n$i kube-bridge: $(nsx "n$i" ip -br addr show dev kube-bridge 2>&1)"
        for j in 1 2 3; do
            [ "$i" = "$j" ] || echo "n$i route to n$j's pod gateway: $(nsx "n$i" ip -4 route get "10.42.$j.1" 2>&1 | head -n 1)"
        done
    done
}
check "healthy lab: kgctl status says 'Mesh health: 3/3 reachable' with per-node RTT in -o wide; check --probe finds nothing" healthy

metrics_agree() {  # on every node: one kilo_peer_reachable series per other node and path, all 1, as /mesh-health says
    local i m report want got
    for i in 1 2 3; do
        m=$("$RUN" metrics "$i")
        report=$("$RUN" http "$i" /mesh-health | tail -n +2)
        want=$(jq -r '.peers[] | .node as $n | .paths[] | "\($n) \(.path) \(if .reachable then 1 else 0 end)"' <<< "$report" | sort)
        got=$(sed -nE 's/^kilo_peer_reachable\{node="([^"]+)",path="([^"]+)"\} ([0-9]+)$/\1 \2 \3/p' <<< "$m" | sort)
        [ "$want" = "$got" ] || { echo "n$i: /mesh-health: $want"; echo "n$i: metrics: $got"; lab_state; return 1; }
        [ "$(grep -c . <<< "$got")" = 6 ] && ! grep -q ' 0$' <<< "$got" || { echo "n$i: $got"; return 1; }
        grep -qE '^kilo_peer_rtt_seconds_count\{node="[^"]+",path="pod"\} [1-9]' <<< "$m" || { echo "n$i: no pod RTT samples"; return 1; }
        grep -qE '^kilo_peer_last_success_timestamp_seconds\{' <<< "$m" || { echo "n$i: no last success"; return 1; }
        [ "$(jq -r '.node' <<< "$report")" = "n$i" ] && [ "$(jq -r '.targetsPerInterval' <<< "$report")" = 16 ] || { echo "n$i: $report"; return 1; }
    done
}
check "the metrics agree with /mesh-health on every node (6 paths reachable: 2 nodes x host, pod, mtu; RTT samples; last success)" metrics_agree

identity_only() {
    local body; body=$("$RUN" http 3 /identity)
    grep -q '^200 application/json' <<< "$body" || { echo "$body"; return 1; }
    [ "$(tail -n +2 <<< "$body" | jq -c 'keys')" = '["node","podGateway","version"]' ] \
        && [ "$(tail -n +2 <<< "$body" | jq -r '"\(.node) \(.podGateway)"')" = "n3 10.42.3.1" ] || { echo "$body"; return 1; }
}
check "/identity answers the node name, version and pod gateway (its CNI bridge is up), nothing else" identity_only

CUT="node/n1,node/n3 host path broken both ways
node/n1,node/n3 pod path broken both ways
node/n2,node/n3 host path broken both ways
node/n2,node/n3 pod path broken both ways"
underlay_ipt() { nsx underlay iptables "$1" FORWARD -s "$2" -d "$3" -m comment --comment e2e-health -j DROP; }
cut_leaders() {
    local t; t=$(date +%s%N)
    underlay_ipt -I 192.168.77.11 192.168.77.13 && underlay_ipt -I 192.168.77.13 192.168.77.11 || return 1
    poll "$DETECT_S" errors_are "$CUT" || { echo "after ${DETECT_S}s:"; check_errors; return 1; }
    echo "measured: underlay cut between the leaders named by kgctl check --probe after $(ms "$t") ms (probe interval ${INTERVAL_MS} ms)" >&2
    "$RUN" kgctl check --probe > /dev/null && { echo "check --probe exited 0"; return 1; }
    local h; h=$(health_json)
    [ "$(jq -c '[.nodes[] | {(.name): .failing}] | add' <<< "$h")" = '{"n1":["n3 host","n3 pod","n3 mtu"],"n2":["n3 host","n3 pod","n3 mtu"],"n3":["n1 host","n1 pod","n1 mtu","n2 host","n2 pod","n2 mtu"]}' ] \
        || { echo "status: $h"; return 1; }
    status_line_is 0/3 || { "$RUN" kgctl status | grep 'Mesh health'; return 1; }
    "$RUN" metrics 1 | grep -qx 'kilo_peer_reachable{node="n3",path="host"} 0' || { "$RUN" metrics 1 | grep kilo_peer_reachable; return 1; }
    "$RUN" metrics 1 | grep -qx 'kilo_peer_reachable{node="n2",path="pod"} 1' || { echo "n1 -> n2 pod not reachable"; return 1; }
    "$RUN" kgctl check --probe | grep -q 'n1 → n3 (10.42.3.1): no reply to the 84-byte echo' || { "$RUN" kgctl check --probe; return 1; }
}
check "a cut between the leaders: within two probe intervals check --probe (exit 1) and status name n1-n3 and n2-n3 (via n1), host and pod paths, both ways" cut_leaders

recover() {
    local t; t=$(date +%s%N)
    underlay_ipt -D 192.168.77.11 192.168.77.13 && underlay_ipt -D 192.168.77.13 192.168.77.11 || return 1
    poll 30 no_problems || { "$RUN" kgctl check --probe; return 1; }
    echo "measured: healthy again $(ms "$t") ms after the rule was removed" >&2
    status_line_is 3/3 || { "$RUN" kgctl status | grep 'Mesh health'; return 1; }
}
check "removing the rule: check --probe finds nothing again and status says 3/3" recover

n1_sees_n3() {  # [expected]: n1's kilo_peer_reachable of n3 per path, as 'host="1" mtu="0" pod="1"'
    local v; v=$("$RUN" metrics 1 | sed -nE 's/^kilo_peer_reachable\{node="n3",path="([a-z]+)"\} ([01])$/\1="\2"/p' | sort | paste -sd' ')
    if [ $# = 0 ]; then echo "$v"; else [ "$v" = "$1" ]; fi
}
mtu_successes() { "$RUN" metrics 1 | awk '$1 == "kilo_peer_rtt_seconds_count{node=\"n3\",path=\"mtu\"}" { print $2 }'; }
BLACK_HOLE="node/n1,node/n3 full-size packets (1420 bytes, DF) are lost while small ones pass on the pod path (an MTU black hole)
node/n2,node/n3 full-size packets (1420 bytes, DF) are lost while small ones pass on the pod path (an MTU black hole)"
mtu_black_hole() {
    # WireGuard wraps a 1420-byte packet into 1500 bytes; the bridge drops frames above a port's
    # MTU (it does not fragment), so n3's port at 1400 takes small packets only
    nsx underlay ip link set n3 mtu 1400 || return 1
    poll "$DETECT_S" errors_are "$BLACK_HOLE" || { echo "after ${DETECT_S}s:"; check_errors; return 1; }
    poll 10 n1_sees_n3 'host="1" mtu="0" pod="1"' || { echo "n1's view of n3: $(n1_sees_n3)"; return 1; }
    pods_reach n1-p1 "$(pod_ip n3-p1)" || { echo "small pod-to-pod pings fail"; return 1; }
    # how many full-size echoes come back anyway: a GSO batch of WireGuard packets passes the
    # bridge's MTU check (the kernel forwards GSO packets whole between software links)
    local c0 c1; c0=$(mtu_successes); sleep 5; c1=$(mtu_successes)
    echo "measured: n1's full-size echoes to n3 answered during 5 s at MTU 1400: $((c1 - c0)) (of about 5)" >&2
    echo "measured: with n3's underlay port at MTU 1400 kgctl check --probe says:" >&2
    "$RUN" kgctl check --probe | sed 's/^/  /' >&2
    nsx underlay ip link set n3 mtu 1500 || return 1
    poll 30 no_problems || { echo "not healthy after restoring the MTU"; "$RUN" kgctl check --probe; return 1; }
}
check "an underlay MTU below WireGuard's needs: the full-size probe fails while small pings pass (n1-n3, n2-n3); restoring it recovers" mtu_black_hole

summary
