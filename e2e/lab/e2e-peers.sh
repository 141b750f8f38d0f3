# e2e-peers.sh - Peer resources end to end, sourced by e2e.sh (uses its helpers).
# The external host plays a laptop: its own wireguard-go (interface laptop<pid>, 10.5.0.1) joins
# the mesh the way an operator would: `kubectl apply` a Peer, then `kgctl showconf peer laptop`
# piped into `wg addconf`; it then reaches pods behind both location leaders.

echo "### Peers"
LAPTOP_DIR=$LAB_DIR/laptop
LAPTOP_IF=laptop$$  # wireguard-go's socket directory is shared by every netns: unique per run
LAPTOP_SOCK=/var/run/wireguard/$LAPTOP_IF.sock

ext_wireguard_go() {  # interface name: wireguard-go in ext; PID in $LAPTOP_DIR/<name>.pid
    mkdir -p "$LAPTOP_DIR"
    # ip netns exec execs wireguard-go, so $! is wireguard-go's own PID
    ip netns exec "${LAB_PREFIX}ext" wireguard-go -f "$1" < /dev/null > "$LAPTOP_DIR/$2.log" 2>&1 &
    echo $! > "$LAPTOP_DIR/$2.pid"
    poll 10 test -S "/var/run/wireguard/$1.sock" || { echo "wireguard-go ($1) did not start" >&2; return 1; }
}
laptop_up() {  # wireguard-go in ext with a key and 10.5.0.1, no peers yet
    ext_wireguard_go "$LAPTOP_IF" wg-laptop || return 1
    (umask 077; wg genkey > "$LAPTOP_DIR/key")
    nsx ext wg set "$LAPTOP_IF" private-key "$LAPTOP_DIR/key"
    nsx ext ip addr add 10.5.0.1/32 dev "$LAPTOP_IF"
    nsx ext ip link set "$LAPTOP_IF" up
    # only the pod network goes through the tunnel (the AllowedIPs also hold node addresses)
    nsx ext ip route add 10.42.0.0/16 dev "$LAPTOP_IF" src 10.5.0.1
}
laptop_down() {  # ends only the wireguard-go this file started, by its PID
    end_started "$LAPTOP_DIR/wg-laptop.pid" wireguard-go
    rm -f "$LAPTOP_SOCK"
}
peer_yaml() {  # name public-key allowed-ip
    printf 'apiVersion: kilo.squat.ai/v1alpha1\nkind: Peer\nmetadata:\n  name: %s\nspec:\n  allowedIPs: [%s]\n  publicKey: "%s"\n  persistentKeepalive: 10\n' "$1" "$3" "$2"
}
laptop_reaches() { nsx ext ping -c1 -W1 -q "$(pod_ip "$1")" > /dev/null 2>&1; }
leader_has_peer() { "$LAB" wg "$1" show kilo0 peers | grep -qF "$2"; }

peer_joins() {
    laptop_up || return 1
    local key err; key=$(wg pubkey < "$LAPTOP_DIR/key")
    err=$("$RUN" kgctl showconf peer laptop 2>&1) && { echo "showconf before the Peer exists: $err"; return 1; }
    grep -q 'peer laptop does not exist' <<< "$err" || { echo "kgctl showconf said: $err"; return 1; }
    peer_yaml laptop "$key" 10.5.0.1/32 > "$LAPTOP_DIR/peer.yaml"
    local t; t=$(date +%s%N)
    kctl apply -f - < "$LAPTOP_DIR/peer.yaml" > /dev/null || return 1
    # what an operator does on the laptop: kgctl showconf peer NAME | wg addconf
    "$RUN" kgctl showconf peer laptop > "$LAPTOP_DIR/laptop.conf" || return 1
    [ "$(grep -c '^\[Peer\]' "$LAPTOP_DIR/laptop.conf")" = 2 ] || { echo "want one [Peer] per location:"; cat "$LAPTOP_DIR/laptop.conf"; return 1; }
    nsx ext wg addconf "$LAPTOP_IF" "$LAPTOP_DIR/laptop.conf" || return 1
    poll 15 laptop_reaches n1-p1 || { echo "laptop cannot reach n1-p1"; "$LAB" wg 1 show kilo0; return 1; }
    echo "measured: kubectl apply peer + kgctl showconf peer | wg addconf → the laptop pings a pod after $(ms "$t") ms" >&2
    poll 10 laptop_reaches n2-p1 || { echo "laptop cannot reach n2-p1 (through n1)"; return 1; }
    poll 10 laptop_reaches n3-p1 || { echo "laptop cannot reach n3-p1 (through n3)"; return 1; }
    leader_has_peer 3 "$key" || { echo "n3 (leader of loc-b) lacks the peer"; return 1; }
}
check "kubectl apply a Peer; kgctl showconf peer configures the laptop; it reaches pods in both locations" peer_joins

bad_peer() {
    peer_yaml broken not-a-key 10.5.0.2/32 | kctl apply -f - > /dev/null || return 1
    poll 10 event_with broken 'publicKey' || { echo "no Event on the Peer"; kctl get events; return 1; }
    [ "$(kctl get events --field-selector involvedObject.name=broken -o json | jq '.items | length')" = 1 ] \
        || { echo "more than one Event for one problem"; kctl get events; return 1; }
    laptop_reaches n1-p1 || { echo "the mesh broke"; return 1; }
    kctl delete peer broken > /dev/null
}
check "an invalid Peer is rejected with one Event on the Peer; the mesh keeps working" bad_peer

# A hostile Peer and a hostile allowed-location-ips, applied with kubectl while pod-to-pod
# (across the tunnel) and node-to-node (underlay) pings run: the guard refuses each hijacking
# value with an Event, keeps the sane rest, and no ping is lost.
allowed_ips_of() { "$LAB" wg "$1" show kilo0 allowed-ips | awk -v k="$2" '$1 == k { $1 = ""; print substr($0, 2) }'; }
hostile_objects() {
    local log=$LAB_DIR/hostile-ping.log pinger target key
    target=$(pod_ip n3-p1)
    (
        end=$((SECONDS + 12)) okc=0 failc=0
        while [ $SECONDS -lt $end ]; do
            if nsx n2-p1 "$PY" "$HERE/labnet.py" ping 0.5 "$target" | grep -q ' ok ' \
                && nsx n1 "$PY" "$HERE/labnet.py" ping 0.5 192.168.77.13 | grep -q ' ok '; then
                okc=$((okc + 1)); else failc=$((failc + 1)); fi
        done
        echo "ok=$okc fail=$failc"
    ) > "$log" 2>&1 &
    pinger=$!
    key=$(wg genkey | wg pubkey)
    printf 'apiVersion: kilo.squat.ai/v1alpha1\nkind: Peer\nmetadata:\n  name: hijack\nspec:\n  allowedIPs: [0.0.0.0/0, 192.168.77.0/24, 169.254.169.254/32, 10.5.0.9/32]\n  publicKey: "%s"\n' "$key" \
        | kctl apply -f - > /dev/null || return 1
    kctl annotate node n3 --overwrite 'kilo.squat.ai/allowed-location-ips=192.168.77.11/32,0.0.0.0/0' > /dev/null || return 1
    local want
    for want in 'hijack spec.allowedIPs=0.0.0.0/0' 'hijack spec.allowedIPs=192.168.77.0/24' 'hijack spec.allowedIPs=169.254.169.254/32' \
        'n3 kilo.squat.ai/allowed-location-ips=192.168.77.11/32' 'n3 kilo.squat.ai/allowed-location-ips=0.0.0.0/0'; do
        poll 15 event_with "${want%% *}" "${want#* }" || { echo "no Event on ${want%% *} naming ${want#* }"; kctl get events | tail -8; return 1; }
    done
    poll 10 leader_has_peer 1 "$key" || { echo "n1 did not configure the sane rest of the Peer"; return 1; }
    [ "$(allowed_ips_of 1 "$key")" = 10.5.0.9/32 ] || { echo "n1's AllowedIPs for the Peer: $(allowed_ips_of 1 "$key")"; return 1; }
    [ -z "$(nsx n1 ip route show 192.168.77.11/32 dev kilo0)" ] || { echo "n1 routes a node endpoint into kilo0"; return 1; }
    wait "$pinger"
    echo "measured: pings while the hostile objects were applied: $(cat "$log")" >&2
    grep -q 'fail=0' "$log" || { echo "pings lost: $(cat "$log")"; return 1; }
    kctl delete peer hijack > /dev/null
    kctl annotate node n3 kilo.squat.ai/allowed-location-ips- > /dev/null
}
check "a hostile Peer and hostile allowed-location-ips (kubectl): every hijacking value is an Event, the sane rest is kept, no pod-to-pod or node-to-node ping is lost" hostile_objects

peer_leaves() {
    local key; key=$(wg pubkey < "$LAPTOP_DIR/key")
    kctl delete peer laptop > /dev/null || return 1
    poll 10 eval '! leader_has_peer 1 "$key"' || { echo "n1 still has the peer"; return 1; }
    poll 10 eval '! leader_has_peer 3 "$key"' || { echo "n3 still has the peer"; return 1; }
    ! laptop_reaches n1-p1 || { echo "the laptop still reaches pods"; return 1; }
}
check "kubectl delete peer removes it from every leader" peer_leaves
laptop_down

# ---- kgctl connect: a second host joins with one command (creates its Peer, configures itself)
CONNECT_IF=lapc$$
connect_down() {
    end_started "$LAPTOP_DIR/connect.pid" kgctl
    end_started "$LAPTOP_DIR/wg-connect.pid" wireguard-go
    rm -f "/var/run/wireguard/$CONNECT_IF.sock"
}
ext_reaches_from() {  # pod source-address
    nsx ext ping -c1 -W1 -q -I "$2" "$(pod_ip "$1")" > /dev/null 2>&1
}
kgctl_connect() {
    ext_wireguard_go "$CONNECT_IF" wg-connect || return 1
    local t; t=$(date +%s%N)
    ip netns exec "${LAB_PREFIX}ext" "${CARGO_TARGET_DIR:-$ROOT/target}/debug/kgctl" connect laptop2 \
        --allowed-ip 10.5.0.2/32 --interface "$CONNECT_IF" --wireguard-backend userspace \
        --private-key "$LAPTOP_DIR/connect.key" --resync-period 2s --kubeconfig "$LAB_DIR/cluster/kubeconfig" \
        < /dev/null > "$LAPTOP_DIR/connect.log" 2>&1 &
    echo $! > "$LAPTOP_DIR/connect.pid"
    poll 30 ext_reaches_from n1-p1 10.5.0.2 || { echo "no ping to n1-p1"; cat "$LAPTOP_DIR/connect.log"; return 1; }
    echo "measured: kgctl connect started → the host pings a pod after $(ms "$t") ms (its first handshake usually reaches n1 before n1 has the Peer: one 5 s retry)" >&2
    poll 10 ext_reaches_from n3-p1 10.5.0.2 || { echo "no ping to n3-p1"; return 1; }
    kctl get peer laptop2 -o json | jq -e '.spec.allowedIPs == ["10.5.0.2/32"]' > /dev/null || { echo "Peer laptop2 missing or wrong"; return 1; }
    end_started "$LAPTOP_DIR/connect.pid" kgctl
    ! kctl get peer laptop2 > /dev/null 2>&1 || { echo "Peer laptop2 left after SIGTERM"; return 1; }
    [ -z "$(nsx ext ip route show proto 107)" ] || { echo "routes left: $(nsx ext ip route show proto 107)"; return 1; }
    ! nsx ext ip addr show dev "$CONNECT_IF" | grep -q 10.5.0.2 || { echo "address left"; return 1; }
    grep -q 'created Peer laptop2' "$LAPTOP_DIR/connect.log" || { cat "$LAPTOP_DIR/connect.log"; return 1; }
}
check "kgctl connect creates its Peer and reaches pods in both locations; SIGTERM removes its routes, address and Peer" kgctl_connect
connect_down
