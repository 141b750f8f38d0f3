#!/usr/bin/env bash
# shellcheck source-path=SCRIPTDIR
# lab.sh - the kilo-rs network-namespace lab: nodes, an L2 underlay, an external host, one
# wireguard-go per node (kilo0, configured later by kg over UAPI), pods via CNI. See docs/lab.md.
#
#   up [--nodes N] [--locations L1,L2,..] [--static-mesh]   build the lab (default 3 nodes)
#   pods [--per-node K]      K pods per node (default 2) via CNI (CNI_PLUGIN, CNI_PLUGIN_BIN, CNI_CONFLIST)
#   down                     CNI DEL, kill what the lab started, delete ${LAB_PREFIX}* netns, rm $LAB_DIR
#   status                   namespaces, processes, kilo0 state, pods (exit 1 if unhealthy)
#   nodex N CMD...           run CMD in node N's netns + private mount ns (how kg and wg run)
#   nsx NS CMD...            run CMD in lab netns NS (n1, n1-p2, ext, underlay or full name)
#   wg N ARGS...             'wg ARGS' on node N
#   matrix [--deadline S] [--family 4|6]   pod-to-pod reachability table (exit 1 unless all reachable)
#   probe-egress POD DST [--timeout S]     address ext sees from POD (DST: v4, v6 or an address)
#   restart-wg N             kill node N's wireguard-go and start a fresh one (empty kilo0)
#   static-mesh              (re)program a static full WireGuard mesh + routes (no kg needed)
#
# Environment: LAB_PREFIX (kl-), LAB_DIR (/tmp/kilo-lab), LAB_LOCATIONS (loc-a,loc-a,loc-b),
# LAB_WIREGUARD_GO (1; 0: up starts no wireguard-go).
# Only addresses inside the lab's namespaces are used as traffic targets.
set -euo pipefail
HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
# shellcheck source=lib.sh
source "$HERE/lib.sh"
# shellcheck source=cni.sh
source "$HERE/cni.sh"
# shellcheck source=state.sh
source "$HERE/state.sh"
# shellcheck source=checks.sh
source "$HERE/checks.sh"

usage() { awk 'NR > 2 && /^#/ {sub(/^# ?/, ""); print; next} NR > 2 {exit}' "$0"; exit 2; }

# ------------------------------------------------------------------ up
preflight() {
    [ "$(id -u)" = 0 ] || die "must run as root"
    local b
    for b in ip nsenter unshare setsid wireguard-go wg jq "$PY" timeout; do
        command -v "$b" > /dev/null || die "missing '$b' (source e2e/lib/deps.sh; install_deps)"
    done
    [ -c /dev/net/tun ] || die "/dev/net/tun is missing (wireguard-go needs TUN)"
}

attach_underlay() {  # NS PORT V4 V6
    local ns=$1 port=$2
    ip netns add "$ns"
    ip -n "$ns" link set lo up
    # the veth is created between two lab namespaces, never in the root netns
    ip -n "${LAB_PREFIX}underlay" link add "$port" type veth peer name eth0 netns "$ns"
    ip -n "${LAB_PREFIX}underlay" link set "$port" master br0 up
    ip -n "$ns" addr add "$3/24" dev eth0
    ip -n "$ns" addr add "$4/64" dev eth0 nodad
    ip -n "$ns" link set eth0 up
}

up_underlay() {
    local u=${LAB_PREFIX}underlay i
    ip netns add "$u"
    ip -n "$u" link set lo up
    ip -n "$u" link add br0 type bridge
    ip -n "$u" link set br0 up
    # control-plane address on the bridge (e.g. for the test API server), reachable from every node
    ip -n "$u" addr add "$UL4.254/24" dev br0
    ip -n "$u" addr add "${UL6}:254/64" dev br0 nodad
    for i in $(nodes); do
        attach_underlay "$(node_ns "$i")" "n$i" "$UL4.1$i" "${UL6}:1$i"
        ip netns exec "$(node_ns "$i")" sysctl -qw net.ipv4.ip_forward=1 net.ipv6.conf.all.forwarding=1
    done
    attach_underlay "${LAB_PREFIX}ext" ext "$UL4.200" "${UL6}:200"
    # egress addresses on n1: v4 secondary (never auto-selected); v6 deprecated (preferred_lft 0)
    # so that source selection and MASQUERADE keep ::11 while SNAT can use ::101 explicitly
    ip -n "$(node_ns 1)" addr add "$UL4.101/24" dev eth0
    ip -n "$(node_ns 1)" addr add "${UL6}:101/64" dev eth0 nodad preferred_lft 0
}

cmd_up() {
    local n=3 locs=${LAB_LOCATIONS:-loc-a,loc-a,loc-b} static=0 i loc
    while [ $# -gt 0 ]; do
        case $1 in
            --nodes) n=${2:?}; shift 2 ;;
            --locations) locs=${2:?}; shift 2 ;;
            --static-mesh) static=1; shift ;;
            *) die "up: unknown argument $1" ;;
        esac
    done
    [[ $n =~ ^[1-9][0-9]?$ ]] || die "up: --nodes must be 1..99"
    preflight
    [ -z "$(lab_namespaces)" ] || die "a lab with prefix $LAB_PREFIX exists ($(lab_namespaces | xargs)); run 'lab.sh down' first"
    [ ! -e "$LAB_DIR" ] || die "$LAB_DIR exists; run 'lab.sh down' first"
    mkdir -p "$RUN"
    echo "$LAB_PREFIX" > "$LAB_DIR/.kilo-lab"
    trap 'warn "up failed; logs in $RUN; clean up with: LAB_PREFIX=$LAB_PREFIX $0 down"' EXIT
    IFS=, read -r -a locs <<< "$locs"
    for ((i = 1; i <= n; i++)); do
        loc=${locs[i - 1]:-${locs[${#locs[@]} - 1]}}
        printf '%s %s\n' "$i" "$loc" >> "$LAB_DIR/nodes"
        mkdir -p "$(node_dir "$i")/pods"
    done
    echo 0 > "$LAB_DIR/static-mesh"
    log "underlay ${LAB_PREFIX}underlay, $n nodes, ext"
    up_underlay
    log "anchors and wireguard-go ($WG_IF) per node"
    for i in $(nodes); do start_anchor "$i"; done
    # LAB_WIREGUARD_GO=0: no lab wireguard-go (the containerized suite runs the manifest's sidecar)
    if [ "${LAB_WIREGUARD_GO:-1}" = 1 ]; then
        for i in $(nodes); do start_wgd "$i"; done
        for i in $(nodes); do wait_wgd "$i"; done
    fi
    if [ $static = 1 ]; then cmd_static_mesh; fi
    write_lab_json
    trap - EXIT
    log "lab is up: $LAB_DIR/lab.json"
}

# ------------------------------------------------------------------ static mesh
cmd_static_mesh() {
    local i j d args routes
    for i in $(nodes); do
        d=$(node_dir "$i")/static-mesh
        mkdir -p "$d"
        [ -s "$d/private.key" ] || { (umask 077; wg genkey > "$d/private.key"); wg pubkey < "$d/private.key" > "$d/public.key"; }
    done
    for i in $(nodes); do
        args=(set "$WG_IF" private-key "$(node_dir "$i")/static-mesh/private.key" listen-port "$WG_PORT")
        for j in $(nodes); do
            [ "$i" = "$j" ] && continue
            args+=(peer "$(cat "$(node_dir "$j")/static-mesh/public.key")" endpoint "$UL4.1$j:$WG_PORT"
                allowed-ips "10.4.0.$j/32,fd00:4::$j/128,10.42.$j.0/24,fd00:10:42:$j::/64")
        done
        nodex_run "$i" wg "${args[@]}"
        routes=$(for j in $(nodes); do [ "$i" = "$j" ] || printf 'route replace 10.42.%s.0/24 dev %s\nroute replace fd00:10:42:%s::/64 dev %s\n' "$j" "$WG_IF" "$j" "$WG_IF"; done)
        ip -n "$(node_ns "$i")" -batch - <<EOF
address replace 10.4.0.$i/16 dev $WG_IF
address replace fd00:4::$i/64 dev $WG_IF nodad
link set $WG_IF up
$routes
EOF
    done
    echo 1 > "$LAB_DIR/static-mesh"
    [ ! -f "$LAB_DIR/lab.json" ] || write_lab_json
}

# ------------------------------------------------------------------ pods
add_pod() {  # I J
    local i=$1 pod=n$1-p$2 pd ns
    pd=$(node_dir "$i")/pods/$pod
    ns=$(pod_ns "$pod")
    if [ -e "/run/netns/$ns" ]; then   # left by an interrupted ADD
        warn "pod $pod: removing the leftovers of an interrupted ADD"
        [ ! -f "$pd/conflist.json" ] || cni_del "$i" "$pod" "$pd/conflist.json" "$pd/result.json" 2> /dev/null || true
        ip netns del "$ns"
    fi
    ip netns add "$ns"
    ip -n "$ns" link set lo up
    mkdir -p "$pd"
    pod_conflist "$i" > "$pd/conflist.json"
    if ! cni_add "$i" "$pod" "$pd/conflist.json" "$pd/result.json"; then
        cni_del "$i" "$pod" "$pd/conflist.json" "$pd/result.json" 2> /dev/null || true
        ip netns del "$ns"
        rm -rf "$pd"
        die "pod $pod: CNI ADD failed"
    fi
}

no_tentative() { [ -z "$(ip -n "$1" -6 -o addr show scope global tentative)" ]; }

cmd_pods() {
    local k=2 i j
    while [ $# -gt 0 ]; do
        case $1 in
            --per-node) k=${2:?}; shift 2 ;;
            *) die "pods: unknown argument $1" ;;
        esac
    done
    [[ $k =~ ^[0-9]+$ ]] || die "pods: --per-node must be a number"
    [ -f "$LAB_DIR/lab.json" ] || die "no lab at $LAB_DIR (run 'lab.sh up')"
    # nodes in parallel (as on real nodes), the pods of one node one after the other
    local pids=() failed=0 p
    for i in $(nodes); do
        (for ((j = 1; j <= k; j++)); do
            [ -f "$(node_dir "$i")/pods/n$i-p$j/result.json" ] || add_pod "$i" "$j"
        done) &
        pids+=($!)
    done
    for p in "${pids[@]}"; do wait "$p" || failed=1; done
    [ $failed = 0 ] || { write_lab_json; die "pods: CNI ADD failed (see above)"; }
    # global IPv6 addresses usable (duplicate address detection done) in nodes and pods
    for ns in $(lab_namespaces); do
        wait_for 10 "IPv6 DAD in $ns" no_tentative "$ns" || die "tentative IPv6 addresses in $ns"
    done
    write_lab_json
    jq -r '.pods[] | "  \(.name)  \(.v4 // "-")  \(.v6 // "-")"' "$LAB_DIR/lab.json"
}

# ------------------------------------------------------------------ down
# procs_in_ns KIND INODE...: "pid(comm) " of every process in one of these namespaces
procs_in_ns() {
    local kind=$1 pid; shift
    [ $# -gt 0 ] || return 0
    stat -L -c '%i %n' /proc/[0-9]*/ns/"$kind" 2> /dev/null | awk -v want=" $* " 'index(want, " " $1 " ") {split($2, p, "/"); print p[3]}' |
        while read -r pid; do printf '%s(%s) ' "$pid" "$(cat "/proc/$pid/comm" 2> /dev/null)"; done
    return 0
}

cmd_down() {
    set +e   # best effort: every step runs, whatever state a partial 'up' left
    local rc=0 nd pd i pod ns left mnts=()
    # 1. CNI DEL while the node mount namespaces (with their /var/lib/cni) still exist
    #    (nodes in parallel, the pods of one node one after the other)
    for nd in "$RUN"/n*/; do
        i=$(basename "$nd") i=${i#n}
        proc_pid "$nd/anchor.pid" > /dev/null || continue
        for pd in "$nd"/pods/*/; do
            [ -f "$pd/conflist.json" ] || continue
            pod=$(basename "$pd")
            cni_del "$i" "$pod" "$pd/conflist.json" "$pd/result.json" || warn "CNI DEL of $pod failed"
        done &
    done
    wait
    # 2. processes the lab started, by recorded PID + comm + start time
    kill_proc "$RUN/ext/echo.pid" || rc=1
    for pd in "$RUN"/n*/; do
        [ -d "$pd" ] || continue
        [ -f "$pd/anchor.mntns" ] && mnts+=("$(cat "$pd/anchor.mntns")")
        kill_proc "$pd/wireguard-go.pid" || rc=1
        kill_proc "$pd/anchor.pid" || rc=1
    done
    # 3. namespaces (pods first); processes we did not start are reported, never killed
    for ns in $(lab_namespaces | sort -r); do
        left=$(procs_in_ns net "$(ns_inode "$ns")")
        [ -z "$left" ] || { warn "$ns still has processes the lab did not start: $left"; rc=1; }
        ip netns del "$ns" || rc=1
    done
    if [ ${#mnts[@]} -gt 0 ]; then
        left=$(procs_in_ns mnt "${mnts[@]}")
        [ -z "$left" ] || { warn "processes still hold a node mount namespace (/run/wireguard etc.): $left"; rc=1; }
    fi
    # 4. host mount points we created, then our directory
    [ ! -d "$LAB_DIR" ] || cleanup_host_dirs
    if [ $rc != 0 ] && [ -d "$LAB_DIR" ]; then
        warn "kept $LAB_DIR (its records let a later 'down' finish the job once the above is fixed)"
    elif [ -f "$LAB_DIR/.kilo-lab" ] && [ "$(cat "$LAB_DIR/.kilo-lab")" = "$LAB_PREFIX" ]; then
        rm -rf "$LAB_DIR"
    elif [ -e "$LAB_DIR" ]; then
        warn "$LAB_DIR is not a lab directory of prefix $LAB_PREFIX; left alone"; rc=1
    fi
    left=$(lab_namespaces | xargs)
    [ -z "$left" ] || { warn "namespaces left: $left"; rc=1; }
    [ $rc = 0 ] && log "lab $LAB_PREFIX is down"
    return $rc
}

# ------------------------------------------------------------------ run things
cmd_nodex() {
    local i pid
    [ $# -ge 2 ] || die "usage: lab.sh nodex N CMD..."
    i=$(node_index "$1"); shift
    pid=$(anchor_pid "$i")
    [ "$(readlink "/proc/$pid/ns/net")" = "net:[$(ns_inode "$(node_ns "$i")")]" ] || die "node n$i: anchor $pid is not in $(node_ns "$i")"
    # exec: '$!' of 'lab.sh nodex 1 kg ... &' ends up being kg's own PID
    exec nsenter --target "$pid" --mount --net --wd="$PWD" "$@"
}
cmd_nsx() {
    local ns
    [ $# -ge 2 ] || die "usage: lab.sh nsx NS CMD..."
    ns=$(ns_name "$1"); shift
    exec ip netns exec "$ns" "$@"
}

wg_link_gone() { ! ip -n "$(node_ns "$1")" link show "$WG_IF" > /dev/null 2>&1; }
cmd_restart_wg() {
    local i d
    [ $# = 1 ] || die "usage: lab.sh restart-wg N"
    i=$(node_index "$1"); d=$(node_dir "$i")
    kill_proc "$d/wireguard-go.pid" || die "node n$i: cannot stop wireguard-go"
    # the TUN device disappears once the daemon's file descriptor is closed
    wait_for 5 "$WG_IF to disappear on n$i" wg_link_gone "$i" || die "node n$i: $WG_IF still exists"
    start_wgd "$i"
    wait_wgd "$i"
    write_lab_json
    log "n$i: fresh wireguard-go pid $(proc_pid "$d/wireguard-go.pid"), empty $WG_IF"
}

case ${1:-} in -h | --help | help | "") usage ;; esac
check_prefix
case $1 in
    up) shift; cmd_up "$@" ;;
    pods) shift; cmd_pods "$@" ;;
    down) cmd_down ;;
    status) cmd_status ;;
    nodex) shift; cmd_nodex "$@" ;;
    nsx) shift; cmd_nsx "$@" ;;
    wg) shift; [ $# -ge 1 ] || die "usage: lab.sh wg N ARGS..."; n=$1; shift; cmd_nodex "$n" wg "$@" ;;
    matrix) shift; cmd_matrix "$@" ;;
    probe-egress) shift; cmd_probe_egress "$@" ;;
    restart-wg) shift; cmd_restart_wg "$@" ;;
    static-mesh) [ -f "$LAB_DIR/lab.json" ] || die "no lab at $LAB_DIR"; cmd_static_mesh ;;
    *) usage ;;
esac
