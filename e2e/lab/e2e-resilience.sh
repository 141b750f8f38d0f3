# e2e-resilience.sh - repair, restart, API outage, topology changes (issues 3 and 4), sourced by
# e2e.sh (uses its helpers). Runs after e2e-egress.sh.

echo "### repair and restarts"
has_route() { nsx "$1" ip route show "$2" proto 107 | grep -q .; }
route_repaired() {
    local dst=10.42.3.0/24
    nsx n1 ip route show "$dst" proto 107 | grep -q . || { echo "no kg route to $dst"; return 1; }
    nsx n1 ip route del "$dst" proto 107
    poll 10 has_route n1 "$dst" || { echo "not repaired"; return 1; }
}
check "deleting one of kg's routes by hand is repaired by the netlink monitor" route_repaired

peer_count_is() { [ "$("$LAB" wg "$1" show kilo0 peers | grep -c .)" = "$2" ]; }
wg_repaired() {
    "$LAB" restart-wg 1 > /dev/null || return 1
    poll 40 peer_count_is 1 1 || { echo "peers not restored"; return 1; }
    pods_reach n1-p1 "$(pod_ip n3-p1)" || { echo "n1-p1 cannot reach n3-p1"; return 1; }
}
check "killing and restarting wireguard-go is repaired by the next reconcile" wg_repaired

restart_without_flush() {
    local target log=$LAB_DIR/ping.log t ops pinger
    target=$(pod_ip n3-p1)
    # n2-p1 → n3-p1 crosses the leader n1 (loc-a) into loc-b; one echo every ~100 ms, each
    # allowed 0.5 s (labnet resends every 200 ms), while kg on n1 is SIGKILLed and restarted
    (
        end=$((SECONDS + 10)) okc=0 failc=0
        while [ $SECONDS -lt $end ]; do
            if nsx n2-p1 "$PY" "$HERE/labnet.py" ping 0.5 "$target" | grep -q ' ok '; then okc=$((okc + 1)); else failc=$((failc + 1)); fi
        done
        echo "ok=$okc fail=$failc"
    ) > "$log" 2>&1 &
    pinger=$!
    "$RUN" kg-stop 1 KILL
    t=$(date +%s%N)
    "$RUN" kg-start 1
    "$RUN" wait-ready 30 > /dev/null || { echo "kg did not come back"; return 1; }
    echo "measured: kg on the leader back to ready $(ms "$t") ms after SIGKILL" >&2
    wait "$pinger"
    ops=$(metric_sum 1 kilo_firewall_operations_total)
    echo "measured: pings during the kill/restart: $(cat "$log")" >&2
    grep -q 'fail=0' "$log" || { echo "packets lost: $(cat "$log")"; return 1; }
    [ "$ops" = 0 ] || { echo "the restarted kg performed $ops firewall operations"; return 1; }
}
check "SIGKILL of kg on a leader: no packet loss, and the restart rewrites nothing (0 firewall operations)" restart_without_flush

keepalive_of() {  # node-index peer-key -> the keepalive node's kilo0 uses for that peer
    "$LAB" wg "$1" show kilo0 persistent-keepalive | awk -v k="$2" '$1 == k { print $2 }'
}
api_outage() {
    local key1; key1=$(ann n1 key)
    "$RUN" api-stop
    pods_reach n1-p1 "$(pod_ip n3-p1)" || { echo "dataplane broke while the API server was away"; return 1; }
    pods_reach n3-p2 "$(pod_ip n2-p2 true)" || { echo "IPv6 dataplane broke"; return 1; }
    # a kg that starts while the API server is away still obeys SIGTERM (it once waited for the
    # first Node list and ignored the signal until the grace period's SIGKILL)
    local out t; "$RUN" kg-stop 2 TERM > /dev/null
    "$RUN" kg-start 2
    poll 10 grep -q 'watch failed' "$LAB_DIR/cluster/kg-n2.log" || { echo "kg on n2 did not start watching"; tail -5 "$LAB_DIR/cluster/kg-n2.log"; return 1; }
    t=$(date +%s%N)
    out=$("$RUN" kg-stop 2 TERM 2>&1)
    echo "measured: SIGTERM to exit of a kg waiting for the API server: $(ms "$t") ms" >&2
    ! grep -q 'killing it' <<< "$out" || { echo "kg ignored SIGTERM while the API server was away: $out"; return 1; }
    grep -q 'shutting down before the first Node list' "$LAB_DIR/cluster/kg-n2.log" || { echo "kg did not say why it stopped"; tail -5 "$LAB_DIR/cluster/kg-n2.log"; return 1; }
    "$RUN" kg-start 2
    # the same API server comes back with its stored state (as kube-apiserver does with etcd);
    # nothing is registered again: kg's watches must resume on their own
    "$RUN" api-start > /dev/null 2>&1 || { echo "the API server did not restart"; return 1; }
    [ "$(ann n1 key)" != "" ] || { echo "the restarted API server lost the nodes"; return 1; }
    kctl annotate node n3 --overwrite kilo.squat.ai/persistent-keepalive=7 > /dev/null || return 1
    # n3's keepalive applies to n3's own peers (as in Kilo)
    poll 30 eval '[ "$(keepalive_of 3 "$key1")" = 7 ]' \
        || { echo "n3 did not apply its new keepalive: $(keepalive_of 3 "$key1")"; tail -5 "$LAB_DIR/cluster/kg-n3.log"; return 1; }
    kctl annotate node n3 kilo.squat.ai/persistent-keepalive- > /dev/null
    poll 30 eval '[ "$(keepalive_of 3 "$key1")" = off ]' || { echo "n3 kept the keepalive"; return 1; }
    "$RUN" wait-ready 60 > /dev/null || { echo "kg on n2 not ready after the API server returned"; return 1; }
    "$LAB" matrix --deadline 20 > /dev/null || { echo "matrix"; return 1; }
}
check "API server away: the dataplane keeps working; a kg starting meanwhile obeys SIGTERM; when it returns (same state, nothing re-registered) kg follows new changes" api_outage

echo "### topology changes"
link_up() { ip -n "${LAB_PREFIX}$1" link show kilo0 | grep -q ',UP'; }
location_move() {
    local t; t=$(date +%s%N)
    kctl annotate node n2 --overwrite kilo.squat.ai/location=loc-b > /dev/null
    poll 10 link_up n2 || { echo "n2 did not become the leader of loc-b"; return 1; }
    echo "measured: kubectl annotate location → n2 leads loc-b with kilo0 up after $(ms "$t") ms" >&2
    "$LAB" matrix --deadline 20 > /dev/null || { "$LAB" matrix --deadline 5; return 1; }
}
check "moving a node to another location re-converges the mesh" location_move

no_route() { ! nsx "$1" ip route show "$2" | grep -q .; }
delete_node() {
    local key3; key3=$(wg pubkey < "$LAB_DIR/run/n3/kilo/key")
    "$RUN" kg-stop 3 KILL
    local t; t=$(date +%s%N)
    kctl delete node n3 > /dev/null
    poll 10 no_route n1 10.42.3.0/24 || { echo "n1 still routes n3's pods"; return 1; }
    echo "measured: kubectl delete node → n1's route to n3 gone after $(ms "$t") ms" >&2
    ! "$LAB" wg 2 show kilo0 peers | grep -qF "$key3" || { echo "n2 still has n3 as a peer"; return 1; }
}
check "kubectl delete node removes it everywhere" delete_node

clean_up_on_term() {
    "$RUN" kg-stop 1 TERM
    ! nsx n1 iptables-save | grep -q KILO || { echo "KILO rules left"; return 1; }
    ! nsx n1 ipset list -n | grep -q kilo- || { echo "kilo sets left"; return 1; }
    [ -z "$( (nsx n1 ip -4 route show table all proto 107; nsx n1 ip -6 route show table all proto 107))" ] || { echo "routes left"; return 1; }
    local left; left=$(kctl get node n1 -o json | jq -r '.metadata.annotations // {} | keys[] | select(startswith("kilo.squat.ai/"))')
    [ -z "$left" ] || { echo "annotations left: $left"; return 1; }
    foreign_kept || { echo "foreign state changed"; return 1; }
    nsx n1 ip link show kilo0 > /dev/null || { echo "kilo0 deleted without --clean-up-interface"; return 1; }
}
check "SIGTERM with --clean-up removes kg's rules, sets, routes and annotations, and nothing foreign" clean_up_on_term

clean_up_interface() {
    KG_ARGS=--clean-up-interface "$RUN" kg-start 1
    poll 30 "$RUN" ready 1 || { echo "kg on n1 not ready again"; return 1; }
    # SIGTERM right after /readyz: the handler must already be installed (it once was not, and
    # the default action killed kg before it could clean up)
    "$RUN" kg-stop 1 TERM
    grep -q 'SIGTERM' "$LAB_DIR/cluster/kg-n1.log" || { echo "kg did not handle SIGTERM"; tail -6 "$LAB_DIR/cluster/kg-n1.log"; return 1; }
    ! nsx n1 ip link show kilo0 > /dev/null 2>&1 || { echo "kilo0 still there"; tail -6 "$LAB_DIR/cluster/kg-n1.log"; return 1; }
}
check "--clean-up-interface: SIGTERM also deletes kilo0" clean_up_interface
