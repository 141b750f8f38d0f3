# e2e-mixed.sh - a Go Kilo node in a kilo-rs cluster (issue 11 item 5,
# docs/migrating-from-kilo.md "WireGuard IPs in a mixed cluster"), sourced by e2e.sh (uses its
# helpers). A Node published the way Go Kilo publishes (no kilo.squat.ai/implementation marker)
# joins as location loc-c: every kg switches to Kilo's numbering by segment order (loc-a
# 10.4.0.1, loc-b 10.4.0.2, loc-c 10.4.0.3); when it goes, they switch back to stable
# allocation without renumbering. Before: the stable (hashed) addresses 10.4.236.49, 10.4.253.74.

echo "### mixed Go Kilo / kilo-rs cluster"
marker_matches() {  # node: its marker was written with its published last-seen (one read)
    kctl get node "$1" -o json | jq -e '.metadata.annotations as $a
        | $a["kilo.squat.ai/implementation"] == "kilo-rs; last-seen=" + $a["kilo.squat.ai/last-seen"]' > /dev/null
}
allocation_is() {  # jq-json: kgctl plan's allocation from the API server
    "$RUN" kgctl plan --hostname n1 --encapsulate never -o json | jq -e --argjson want "$1" '.plan.allocation == $want' > /dev/null
}
wg_ips_are() {  # n1's and n3's published wireguard-ip
    [ "$(ann n1 wireguard-ip)" = "$1" ] && [ "$(ann n3 wireguard-ip)" = "$2" ]
}
go_node_json() {
    local key; key=$(wg genkey | wg pubkey)
    jq -n --arg key "$key" --arg now "$(date +%s)" '{apiVersion: "v1", kind: "Node",
        metadata: {name: "go1", annotations: {"kilo.squat.ai/location": "loc-c", "kilo.squat.ai/key": $key,
            "kilo.squat.ai/endpoint": "192.168.77.97:51820", "kilo.squat.ai/internal-ip": "192.168.77.97/24",
            "kilo.squat.ai/last-seen": $now, "kilo.squat.ai/wireguard-ip": "10.4.0.3/16",
            "kilo.squat.ai/granularity": "location", "kilo.squat.ai/discovered-endpoints": "{}"}},
        spec: {podCIDR: "10.42.97.0/24", podCIDRs: ["10.42.97.0/24"]}}'
}
go_node_joins() {
    local i
    for i in 1 2 3; do marker_matches "n$i" || { echo "n$i: marker does not match last-seen"; return 1; }; done
    wg_ips_are 10.4.236.49/16 10.4.253.74/16 || { echo "not the stable addresses before: $(ann n1 wireguard-ip) $(ann n3 wireguard-ip)"; return 1; }
    allocation_is '{"mode":"stable"}' || { echo "kgctl plan: not stable before"; return 1; }
    go_node_json | kctl create -f - > /dev/null || return 1
    poll 20 wg_ips_are 10.4.0.1/16 10.4.0.2/16 \
        || { echo "leaders publish $(ann n1 wireguard-ip) $(ann n3 wireguard-ip), not Kilo's numbering"; return 1; }
    allocation_is '{"mode":"kilo","go_kilo_nodes":["go1"]}' || { echo "kgctl plan: not Kilo's numbering"; return 1; }
    nsx n1 ip -4 addr show kilo0 | grep -q 'inet 10.4.0.1/16' || { echo "n1 kilo0: $(nsx n1 ip -4 addr show kilo0)"; return 1; }
    "$LAB" matrix --deadline 20 > /dev/null || { "$LAB" matrix --deadline 5; return 1; }
}
check "a Go Kilo node joining: every kg numbers the segments as Go Kilo does; pods keep reaching each other" go_node_joins

wg_peers_are() { [ "$("$LAB" wg "$1" show kilo0 peers | grep -c .)" = "$2" ]; }
go_node_leaves() {
    local i
    kctl delete node go1 > /dev/null 2>&1
    poll 20 allocation_is '{"mode":"stable"}' || { echo "kgctl plan: not stable after"; return 1; }
    # both leaders applied a plan without go1 (one WireGuard peer left: the other location)
    for i in 1 3; do
        poll 20 wg_peers_are "$i" 1 || { echo "n$i still has $("$LAB" wg "$i" show kilo0 peers | grep -c .) peers"; return 1; }
    done
    nsx n1 ip -4 addr show kilo0 | grep -q 'inet 10.4.0.1/16' || { echo "n1 kilo0: $(nsx n1 ip -4 addr show kilo0)"; return 1; }
    wg_ips_are 10.4.0.1/16 10.4.0.2/16 || { echo "renumbered: $(ann n1 wireguard-ip) $(ann n3 wireguard-ip)"; return 1; }
    [ -n "$(ann n1 wireguard-ip-since)" ] || { echo "n1 publishes no wireguard-ip-since"; return 1; }
    "$LAB" matrix --deadline 20 > /dev/null || { "$LAB" matrix --deadline 5; return 1; }
}
check "the Go Kilo node leaving: back to stable allocation, nothing renumbered" go_node_leaves
