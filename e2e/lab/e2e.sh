#!/usr/bin/env bash
# e2e.sh - lab tests, run as root by CI (e2e/test-all.sh): a fresh lab cluster (run.sh) with kg
# on every node, then the dataplane (issue 3), kg on Kubernetes (issue 4), egress-IP (issue 6) and
# LAN-behind-a-location (issue 11) checks, each a pass/fail line; the last line is "N passed, M
# failed". Timings it measures are printed as "measured:" lines (they are reports, not
# assertions). Tears everything down on exit.
HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
# shellcheck source=e2e-lib.sh
source "$HERE/e2e-lib.sh"
infra_up

# Foreign state planted before kg ever runs.
nsx n1 iptables -t nat -N FOREIGN
nsx n1 iptables -t nat -A POSTROUTING -s 10.99.0.0/16 -m comment --comment foreign -j MASQUERADE
nsx n1 ip route add 10.98.0.0/16 via 192.168.77.200 proto static
nsx n1 ip rule add from 10.97.0.0/16 lookup 100
foreign_before=$(nsx n1 iptables-save | grep -iE 'foreign|10\.99\.')

started=$(date +%s%N)
check "kg alone brings 3 nodes in 2 locations up (ready, keys published, pods attached)" "$RUN" start
echo "measured: from starting kg to pods attached: $(ms "$started") ms"
check "full pod-to-pod reachability, IPv4 and IPv6" "$LAB" matrix --deadline 20

probe_once() {
    local out; out=$("$RUN" kgctl check --probe) || { echo "$out"; return 1; }
    [ "$out" = "no problems found (3 nodes)" ] || { echo "$out"; return 1; }
}
# kg reads its peers' handshakes every 5 s: poll through a few reads, print the last answer.
check_probe() { poll 20 probe_once || probe_once; }
check "kgctl check --probe: no problems (every kg ready, each leader has its planned peers with fresh handshakes)" check_probe

# ---------------------------------------------------------------- published annotations
annotations_ok() {
    local i key
    for i in 1 2 3; do
        key=$(wg pubkey < "$LAB_DIR/run/n$i/kilo/key")
        [ "$(ann "n$i" key)" = "$key" ] || { echo "n$i key"; return 1; }
        [ "$(ann "n$i" endpoint)" = "192.168.77.1$i:51820" ] || { echo "n$i endpoint"; return 1; }
        [ "$(ann "n$i" internal-ip)" = "192.168.77.1$i/24" ] || { echo "n$i internal-ip"; return 1; }
        [ "$(ann "n$i" granularity)" = location ] || { echo "n$i granularity"; return 1; }
        [ $(( $(date +%s) - $(ann "n$i" last-seen) )) -lt 60 ] || { echo "n$i last-seen"; return 1; }
    done
    [ -n "$(ann n1 wireguard-ip)" ] && [ -z "$(ann n2 wireguard-ip)" ] && [ -n "$(ann n3 wireguard-ip)" ] \
        || { echo "wireguard-ip only on the leaders n1, n3"; return 1; }
}
check "each node's published annotations are correct" annotations_ok

# ---------------------------------------------------------------- HTTP
http_ok() {
    local m; m=$("$RUN" metrics 1)
    grep -q '^kilo_nodes 3$' <<< "$m" && grep -q '^kilo_leader 1$' <<< "$m" && grep -q '^kilo_peers 0$' <<< "$m" \
        && grep -q '^kilo_reconciles_total [1-9]' <<< "$m" && grep -q '^kilo_firewall_operations_total{' <<< "$m" \
        && grep -q '^kilo_wireguard_peer_handshake_age_seconds{peer="location:loc-b"}' <<< "$m" \
        && grep -q '^kilo_wireguard_peer_receive_bytes_total{peer="location:loc-b"} [0-9]' <<< "$m" \
        && grep -q '^kilo_iptables_operations_total{protocol="IPv4",operation="NewChain",table="nat",chain="KILO-NAT"} [1-9]' <<< "$m" \
        && grep -q '^process_resident_memory_bytes [1-9]' <<< "$m" \
        && grep -q '^kilo_reconcile_duration_seconds_count [1-9]' <<< "$m" \
        && [ "$("$RUN" metrics 2 | awk '$1 == "kilo_leader" {print $2}')" = 0 ] || { echo "$m" | grep '^kilo_' | head -30; return 1; }
}
http_and_ready() { { poll 20 http_ok || http_ok; } && "$RUN" wait-ready 5; }
check "/metrics shows the SPEC metrics with sane values; /readyz is ready" http_and_ready

graph_ok() {  # Kilo's /graph: format=dot|gv is the DOT text, no format is SVG, unknown ones a 500
    local dot svg png bad health
    health=$("$RUN" http 1 /health)
    [ "$health" = "200 -" ] || { echo "/health: $health"; return 1; }
    dot=$("$RUN" http 1 '/graph?format=dot')
    grep -q '^200 text/vnd.graphviz' <<< "$dot" && grep -q 'digraph\|graph' <<< "$dot" \
        && grep -q 'n1' <<< "$dot" && grep -q 'n3' <<< "$dot" || { echo "dot: $dot"; return 1; }
    svg=$("$RUN" http 1 /graph)
    grep -q '^200 image/svg+xml' <<< "$svg" && grep -q '<svg' <<< "$svg" || { head -3 <<< "$svg"; return 1; }
    png=$("$RUN" http 1 '/graph?format=png&layout=dot' | sed -n 1p)  # sed reads it all: no SIGPIPE
    [ "$png" = "200 image/png" ] || { echo "format=png: $png"; return 1; }
    bad=$("$RUN" http 1 '/graph?format=jpeg')
    grep -q '^500 ' <<< "$bad" && grep -q '^unsupported format$' <<< "$bad" || { echo "format=jpeg: $bad"; return 1; }
}
allowed_ips_of() {  # "key allowed-ip" pairs, sorted, from `wg show allowed-ips`-style lines on stdin
    awk '{ for (i = 2; i <= NF; i++) print $1, $i }' | sort
}
showconf_matches_device() {
    local want got
    for i in 1 3; do
        want=$("$RUN" kgctl showconf node "n$i" | awk -F' = ' '/^PublicKey/ { k = $2 } /^AllowedIPs/ { gsub(/, /, " ", $2); print k "\t" $2 }' | allowed_ips_of)
        got=$("$LAB" wg "$i" show kilo0 allowed-ips | allowed_ips_of)
        [ -n "$want" ] && [ "$want" = "$got" ] || { echo "n$i: kgctl showconf: $want"; echo "n$i: kilo0: $got"; return 1; }
    done
    "$RUN" kgctl showconf node n2 2>&1 | grep -q 'n2 is not a leader node: n1 leads' || { echo "n2 not refused"; return 1; }
}
check "kgctl showconf node (from the API server) equals each leader's kilo0; a follower is refused" showconf_matches_device

check "/health is 200; /graph serves DOT, SVG by default and PNG as Kilo does; unknown formats get 500" graph_ok

# ---------------------------------------------------------------- plan == state
plan_matches_state() {
    kctl get nodes -o yaml > "$LAB_DIR/c.yaml"
    local now; now=$(date +%s)
    "${CARGO_TARGET_DIR:-$ROOT/target}/debug/kgctl" plan -f "$LAB_DIR/c.yaml" --hostname n1 --encapsulate never --now "$now" -o json > "$LAB_DIR/plan.json" || return 1
    # the same plan straight from the API server
    "$RUN" kgctl plan --hostname n1 --encapsulate never --now "$now" -o json | cmp -s - "$LAB_DIR/plan.json" \
        || { echo "kgctl plan from the API server differs from kgctl plan -f"; return 1; }
    local fam tool
    for fam in v4 v6; do
        tool=iptables-save; [ $fam = v6 ] && tool=ip6tables-save
        diff <(jq -r --arg f $fam '.plan.firewall[$f] | (.chains[] | .name as $n | .rules[] | "-A \($n) \(.)"), (.jumps[] | "-A \(.chain) \(.rule)")' "$LAB_DIR/plan.json" | sort) \
             <(nsx n1 $tool | grep -E '^-A' | grep -E 'KILO|kilo-' | sort) || { echo "$fam rules differ"; return 1; }
        for set in $(jq -r --arg f $fam '.plan.firewall[$f].sets[].name' "$LAB_DIR/plan.json"); do
            diff <(jq -r --arg f $fam --arg s "$set" '.plan.firewall[$f].sets[] | select(.name == $s) | .entries[]' "$LAB_DIR/plan.json" | sed -E 's#/(32|128)$##' | sort) \
                 <(nsx n1 ipset list "$set" | sed '1,/^Members:/d' | grep . | sort) || { echo "set $set differs"; return 1; }
        done
    done
    diff <(jq -r '.plan.network.routes[].dst' "$LAB_DIR/plan.json" | sort) \
         <( (nsx n1 ip -4 route show table all proto 107 | awk '{print $1}' | sed -E '/\//! s#$#/32#'
            nsx n1 ip -6 route show table all proto 107 | awk '{print $1}' | sed -E '/\//! s#$#/128#') | sort) || { echo "routes differ"; return 1; }
    diff <(jq -r '.plan.wireguard.peers[].public_key' "$LAB_DIR/plan.json" | sort) <("$LAB" wg 1 show kilo0 peers | sort) || { echo "peers differ"; return 1; }
}
check "the leader's kernel state equals kgctl plan, read from the API server or from -f (iptables, ipsets, routes, WireGuard peers)" plan_matches_state

check "a reconcile with nothing to change performs zero firewall operations" reapply_is_noop

foreign_kept() {  # outputs captured first, so a failure can say what changed
    local save routes rules
    save=$(nsx n1 iptables-save) routes=$(nsx n1 ip route show 10.98.0.0/16) rules=$(nsx n1 ip rule)
    [ "$(grep -iE 'foreign|10\.99\.' <<< "$save")" = "$foreign_before" ] || { echo "foreign iptables lines changed:"; grep -iE 'foreign|10\.99\.' <<< "$save"; return 1; }
    grep -q 'proto static' <<< "$routes" || { echo "foreign route changed: $routes"; return 1; }
    grep -q '10.97.0.0/16 lookup 100' <<< "$rules" || { echo "foreign rule changed: $rules"; return 1; }
}
check "foreign rules, chains, routes and policy rules planted before kg are untouched" foreign_kept

event_with() {  # node fragment: an Event on the node whose message or reason contains fragment
    kctl get events --field-selector "involvedObject.name=$1" -o json \
        | jq -e --arg m "$2" '.items[] | select((.message | contains($m)) or (.reason == $m))' > /dev/null
}
bad_annotations() {
    kctl annotate node n3 --overwrite kilo.squat.ai/persistent-keepalive=abc 'kilo.squat.ai/force-endpoint=::::' > /dev/null
    poll 10 event_with n3 'kilo.squat.ai/persistent-keepalive="abc"' || { echo "no keepalive Event"; kctl get events; return 1; }
    poll 10 event_with n3 'kilo.squat.ai/force-endpoint="::::"' || { echo "no force-endpoint Event"; kctl get events; return 1; }
    kctl get events | grep -q 'persistent-keepalive' || { echo "not in kubectl get events"; return 1; }
    "$LAB" matrix --deadline 10 > /dev/null || { "$LAB" matrix; return 1; }
    kctl annotate node n3 kilo.squat.ai/persistent-keepalive- kilo.squat.ai/force-endpoint- > /dev/null
}
check "bad annotations (keepalive=abc, force-endpoint=::::) → Node Events in kubectl get events; the mesh keeps working" bad_annotations

source "$HERE/e2e-mixed.sh"
source "$HERE/e2e-egress.sh"
source "$HERE/e2e-lan.sh"
source "$HERE/e2e-peers.sh"
source "$HERE/e2e-resilience.sh"

summary
