# shellcheck shell=bash
# e2e-lan.sh - a LAN host behind a location (issue 11, items 1 and 2), sourced by e2e.sh (uses its
# helpers). The host lives in its own namespace on a network only n3 (loc-b's leader) is attached
# to: 10.77.3.50/24, no default route and no route to the pod CIDRs, so it can only answer an
# address of 10.77.3.0/24. It answers a pod only once loc-b has allowed-location-ips covering it
# and the traffic is MASQUERADEd (as Go Kilo does); with an egress-ip on n3 or on the sending
# node, traffic to it still leaves with the address the LAN can answer, never the egress IP.

echo "### a LAN host behind a location (allowed-location-ips)"
LAN_NS=${LAB_PREFIX}lan
LAN_IP=10.77.3.50
LAN_GW=10.77.3.1
LAN_PORT=8081
LAN_PID=$LAB_DIR.lan-echo.pid

lan_down() {
    end_started "$LAN_PID" python3
    ip netns del "$LAN_NS" 2> /dev/null || true
}
lan_up() {
    ip netns add "$LAN_NS" && ip -n "$LAN_NS" link set lo up || return 1
    # the veth is created between two lab namespaces, never in the root netns
    ip -n "${LAB_PREFIX}n3" link add lan0 type veth peer name eth0 netns "$LAN_NS" || return 1
    ip -n "${LAB_PREFIX}n3" addr add "$LAN_GW/24" dev lan0 && ip -n "${LAB_PREFIX}n3" link set lan0 up
    ip -n "$LAN_NS" addr add "$LAN_IP/24" dev eth0 && ip -n "$LAN_NS" link set eth0 up
    ip netns exec "$LAN_NS" "$PY" -u "$HERE/labnet.py" serve "$LAN_PORT" > "$LAB_DIR.lan-echo.log" 2>&1 &
    echo $! > "$LAN_PID"
    poll 5 lan_source_is n3 "$LAN_GW" || { echo "the LAN echo server did not answer n3"; cat "$LAB_DIR.lan-echo.log"; return 1; }
}
lan_source() { nsx "$1" "$PY" "$HERE/labnet.py" probe "$LAN_IP" "$LAN_PORT" 2 2> /dev/null; }  # the source the LAN host saw
lan_source_is() { [ "$(lan_source "$1")" = "$2" ]; }
lan_ping() { nsx "$1" "$PY" "$HERE/labnet.py" ping 2 "$LAN_IP" | grep -q ' ok '; }

no_route_to_pods() {
    [ -z "$(ip -n "$LAN_NS" route show default)" ] && ! ip -n "$LAN_NS" route get 10.42.1.2 > /dev/null 2>&1 \
        || { ip -n "$LAN_NS" route; return 1; }
    ! lan_ping n1-p1 || { echo "n1-p1 reached the LAN host before allowed-location-ips"; return 1; }
}
check "a LAN host behind n3 (loc-b), no route to pods; before allowed-location-ips a pod of loc-a cannot reach it" \
    eval 'lan_up && no_route_to_pods'

every_pod_reaches_lan() {  # the LAN host answers a pod of every node, and saw n3's LAN address
    local p src
    for p in n1-p1 n2-p1 n3-p1; do
        poll 15 lan_ping "$p" || { echo "$p cannot ping $LAN_IP"; return 1; }
        src=$(lan_source "$p")
        [ "$src" = "$LAN_GW" ] || { echo "$p: the LAN host saw $src, wanted $LAN_GW (MASQUERADE on n3)"; return 1; }
    done
}
lan_allowed() {
    kctl annotate node n3 --overwrite "kilo.squat.ai/allowed-location-ips=10.77.3.0/24" > /dev/null
    every_pod_reaches_lan || return 1
    [ "$(ann n3 internal-ip)" = "192.168.77.13/24" ] || { echo "n3's internal IP moved: $(ann n3 internal-ip)"; return 1; }
    nsx n3 ipset list kilo-nat-dst-v4 | grep -qx '10.77.3.0/24' && ! nsx n1 ipset list kilo-mesh-v4 | grep -q '10.77.3.0' \
        || { echo "n3's nat-dst or n1's mesh set is wrong"; return 1; }
}
check "allowed-location-ips=10.77.3.0/24 on n3: pods of n1, n2 and n3 ping the LAN host, which sees n3's LAN address" lan_allowed

egress_on() {  # node address: make address n's egress IP and wait until ext sees it from n's pod
    kctl annotate node "$1" --overwrite "kilo.squat.ai/egress-ip=$2" > /dev/null
    poll 10 sees "$1-p1" v4 "$2" || { echo "ext saw $(probe "$1-p1" v4) from $1-p1, wanted the egress IP $2"; return 1; }
}
lan_with_egress_on_n3() {
    nsx n3 ip addr add 192.168.77.103/24 dev eth0 || return 1
    egress_on n3 192.168.77.103 && every_pod_reaches_lan
}
check "egress-ip on n3 (in force for the internet): the LAN host still answers every pod and sees n3's LAN address" lan_with_egress_on_n3
lan_with_egress_on_n1() { egress_on n1 192.168.77.101 && every_pod_reaches_lan; }
check "egress-ip on n1 too: n1's pods still reach the LAN host behind n3 (not SNATed to n1's egress IP)" lan_with_egress_on_n1

lan_removed() {
    kctl annotate node n1 kilo.squat.ai/egress-ip- > /dev/null
    kctl annotate node n3 kilo.squat.ai/egress-ip- kilo.squat.ai/allowed-location-ips- > /dev/null
    nsx n3 ip addr del 192.168.77.103/24 dev eth0
    poll 15 eval '! lan_ping n1-p1' || { echo "n1-p1 still reaches the LAN host"; return 1; }
    poll 10 sees n3-p1 v4 192.168.77.13
}
check "annotations removed: the LAN host is out of reach of loc-a again; n3's pods leave with its node address" lan_removed
lan_down
