# lib.sh - configuration, process and namespace helpers of the netns lab. Sourced by lab.sh.
# Everything here acts only on the lab's own namespaces (${LAB_PREFIX}*), on processes the lab
# recorded by PID (+ start time + comm), and on files under $LAB_DIR.
# shellcheck shell=bash disable=SC2034  # the variables are used by the files sourcing this one

LAB_PREFIX=${LAB_PREFIX:-kl-}
if [ "$LAB_PREFIX" = kl- ]; then LAB_DIR=${LAB_DIR:-/tmp/kilo-lab}; else LAB_DIR=${LAB_DIR:-/tmp/kilo-lab-${LAB_PREFIX%-}}; fi
LAB_HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
RUN=$LAB_DIR/run
WG_IF=kilo0
WG_PORT=51820
UL4=192.168.77        # node i = .1i, ext = .200, n1 egress = .101, control plane (br0) = .254
UL6=fd00:77:          # node i = ::1i, ext = ::200, n1 egress = ::101 (deprecated), br0 = ::254
LAB_ECHO_PORT=${LAB_ECHO_PORT:-8080}
LAB_WG_LOG_LEVEL=${LAB_WG_LOG_LEVEL:-error}
if [ -x /usr/bin/python3 ]; then PY=${PY:-/usr/bin/python3}; else PY=${PY:-python3}; fi
# Node-private directories: host path -> subdirectory of $RUN/n<i>, bind-mounted in the node's
# private mount namespace (so kg, wg and CNI plugins of each node see their own copy).
NODE_DIRS=(/run/wireguard:wg /var/lib/kilo:kilo /etc/cni/net.d:cni-net.d /var/lib/cni:cni-lib)

die() { printf 'lab: %s\n' "$*" >&2; exit 1; }
log() { printf '### %s\n' "$*" >&2; }
warn() { printf 'lab: warning: %s\n' "$*" >&2; }

# ------------------------------------------------------------------ names
check_prefix() {
    [[ $LAB_PREFIX =~ ^kl-([a-z0-9]+-)*$ ]] || die "LAB_PREFIX must look like 'kl-' or 'kl-xyz-' (got '$LAB_PREFIX')"
    case $LAB_DIR in /|/tmp|/tmp/|"") die "refusing LAB_DIR=$LAB_DIR" ;; /*) ;; *) die "LAB_DIR must be absolute" ;; esac
}
# every namespace a lab with this prefix can create, and nothing else
ns_regex() { printf '^%s(underlay|ext|n[0-9]+(-p[0-9]+)?)$' "$LAB_PREFIX"; }
# (the directory, not 'ip netns list', which queries every netns and trips over half-created ones)
lab_namespaces() { find /run/netns -mindepth 1 -maxdepth 1 -printf '%f\n' 2> /dev/null | grep -E "$(ns_regex)" | sort || true; }
node_ns() { printf '%sn%s' "$LAB_PREFIX" "$1"; }
pod_ns() { printf '%s%s' "$LAB_PREFIX" "$1"; }    # pod name n<i>-p<j>
node_dir() { printf '%s/n%s' "$RUN" "$1"; }
# "3", "n3" or "kl-n3" -> 3
node_index() {
    local n=${1#"$LAB_PREFIX"}; n=${n#n}
    [ -f "$LAB_DIR/nodes" ] || die "no lab at $LAB_DIR (LAB_PREFIX=$LAB_PREFIX)"
    if ! [[ $n =~ ^[0-9]+$ ]] || [ ! -d "$(node_dir "$n")" ]; then die "no such node: $1"; fi
    printf '%s' "$n"
}
# short name (ext, underlay, n1, n1-p2) or full name -> full namespace name
ns_name() {
    local n=$1
    [[ $n == "$LAB_PREFIX"* ]] || n=$LAB_PREFIX$n
    [[ $n =~ $(ns_regex) ]] || die "not a lab namespace: $1"
    printf '%s' "$n"
}
nodes() { [ -f "$LAB_DIR/nodes" ] && awk '{print $1}' "$LAB_DIR/nodes"; }
node_location() { awk -v i="$1" '$1 == i {print $2}' "$LAB_DIR/nodes"; }
ns_inode() { stat -L -c %i "/run/netns/$1" 2>/dev/null; }

# ------------------------------------------------------------------ recorded processes
# A pid file holds "PID COMM STARTTIME"; a process is ours only if all three still match.
proc_starttime() {
    local s; s=$(cat "/proc/$1/stat" 2>/dev/null) || return 1
    s=${s##*) }
    # shellcheck disable=SC2086  # split the stat fields
    set -- $s
    [ "$1" != Z ] || return 1
    printf '%s' "${20}"
}
# note_proc FILE PID COMM: record a process we just started (right after '&', so that even an
# interrupted 'up' leaves a record); COMM is the program it execs into. The start time does not
# change on exec, so PID + start time identify the process whatever it runs at the moment.
note_proc() {
    local start
    start=$(proc_starttime "$2") || return 1
    printf '%s %s %s\n' "$2" "$3" "$start" > "$1"
}
# await_proc FILE: wait until the recorded process has exec'd its COMM
await_proc() {
    local deadline=$((SECONDS + 10))
    until proc_pid "$1" > /dev/null; do
        proc_ours "$1" > /dev/null && [ $SECONDS -lt $deadline ] || return 1
        sleep 0.02
    done
}
# proc_pid FILE: the PID if the recorded process is alive, ours and running its COMM
proc_pid() {
    local pid comm start
    [ -f "$1" ] || return 1
    read -r pid comm start < "$1" || return 1
    [ "$(proc_starttime "$pid")" = "$start" ] && [ "$(cat "/proc/$pid/comm" 2> /dev/null)" = "$comm" ] || return 1
    printf '%s' "$pid"
}
# proc_ours FILE: the PID if the recorded process is alive and ours, possibly still in one of the
# launchers that exec into COMM (setsid, ip, unshare, sh, nsenter)
proc_ours() {
    local pid comm start
    [ -f "$1" ] || return 1
    read -r pid comm start < "$1" || return 1
    [ "$(proc_starttime "$pid")" = "$start" ] || return 1
    case $(cat "/proc/$pid/comm" 2> /dev/null) in
        "$comm" | setsid | ip | unshare | sh | nsenter) printf '%s' "$pid" ;;
        *) return 1 ;;
    esac
}
# kill_proc FILE: SIGTERM (then SIGKILL) the recorded process, wait for it, remove FILE
kill_proc() {
    local pid deadline
    if pid=$(proc_ours "$1"); then
        kill "$pid" 2> /dev/null || true
        deadline=$((SECONDS + 3))
        while proc_ours "$1" > /dev/null; do
            if [ $SECONDS -ge $deadline ]; then kill -KILL "$pid" 2> /dev/null || true; fi
            [ $SECONDS -lt $((deadline + 3)) ] || { warn "pid $pid does not die"; return 1; }
            sleep 0.02
        done
    fi
    rm -f "$1"
}

# ------------------------------------------------------------------ polling
# wait_for SECONDS DESCRIPTION CMD...: poll CMD every 20 ms until it succeeds or the deadline
wait_for() {
    local limit=$1 what=$2 deadline; shift 2
    deadline=$(($(date +%s%N) + limit * 1000000000))
    until "$@" >/dev/null 2>&1; do
        [ "$(date +%s%N)" -lt "$deadline" ] || { warn "timed out after ${limit}s waiting for $what"; return 1; }
        sleep 0.02
    done
}

# ------------------------------------------------------------------ node anchors
anchor_pid() { proc_pid "$(node_dir "$1")/anchor.pid" || die "node n$1: anchor process is gone (run 'lab.sh down' and 'up' again)"; }
# nodex_run I CMD...: run CMD in node I's netns and private mount namespace (not exec'd)
nodex_run() {
    local i=$1 pid; shift
    pid=$(anchor_pid "$i")
    [ "$(readlink "/proc/$pid/ns/net")" = "net:[$(ns_inode "$(node_ns "$i")")]" ] || die "node n$i: anchor $pid is not in $(node_ns "$i")"
    nsenter --target "$pid" --mount --net "$@"
}

# A host directory used as a mount point in the node mount namespaces. Missing components are
# created and recorded (down removes them again); a keep file stops a foreign `rmdir` of an empty
# mount point, which would lazily detach our bind mounts in the node mount namespaces.
ensure_host_dir() {
    local d=$1 missing=()
    while [ ! -e "$d" ]; do missing=("$d" "${missing[@]}"); d=$(dirname "$d"); done
    if [ ${#missing[@]} -gt 0 ]; then
        mkdir -p "$1"
        printf '%s\n' "${missing[@]}" >> "$LAB_DIR/created-host-dirs"
    fi
    : > "$1/.kilo-lab-${LAB_PREFIX%-}.keep"
}
mounted_anywhere() { grep -qsF " $1 " /proc/[0-9]*/mountinfo; }
cleanup_host_dirs() {
    local spec d
    for spec in "${NODE_DIRS[@]}"; do rm -f "${spec%%:*}/.kilo-lab-${LAB_PREFIX%-}.keep"; done
    [ -f "$LAB_DIR/created-host-dirs" ] || return 0
    # deepest first; keep anything another lab or test still uses
    tac "$LAB_DIR/created-host-dirs" | while read -r d; do
        if [ -d "$d" ] && ! mounted_anywhere "$d"; then rmdir "$d" 2> /dev/null || true; fi
    done
}

start_anchor() {
    local i=$1 d script="" spec host sub
    d=$(node_dir "$i")
    for spec in "${NODE_DIRS[@]}"; do
        host=${spec%%:*} sub=${spec#*:}
        mkdir -p "$d/$sub"
        ensure_host_dir "$host"
        script+="mount --bind '$d/$sub' '$host' && "
    done
    # slave propagation: netns created later (pods) appear in /run/netns of the node too, while
    # the node's own bind mounts never leak to the host. setsid detaches it from our terminal;
    # setsid, ip, unshare and sh all exec in place, so $! ends up being the sleep.
    setsid ip netns exec "$(node_ns "$i")" unshare --mount --propagation slave \
        sh -c "${script}exec sleep infinity" < /dev/null > /dev/null 2> "$d/anchor.log" &
    note_proc "$d/anchor.pid" $! sleep || true
    await_proc "$d/anchor.pid" || { cat "$d/anchor.log" >&2; die "node n$i: anchor did not start"; }
    stat -L -c %i "/proc/$(anchor_pid "$i")/ns/mnt" > "$d/anchor.mntns"
}

start_wgd() {
    local i=$1 d pid
    d=$(node_dir "$i")
    pid=$(anchor_pid "$i")
    rm -f "$d/wg/$WG_IF.sock"   # stale socket of a killed daemon
    LOG_LEVEL=$LAB_WG_LOG_LEVEL setsid nsenter --target "$pid" --mount --net \
        wireguard-go -f "$WG_IF" < /dev/null >> "$d/wireguard-go.log" 2>&1 &
    note_proc "$d/wireguard-go.pid" $! wireguard-go || true
    await_proc "$d/wireguard-go.pid" || { tail -5 "$d/wireguard-go.log" >&2; die "node n$i: wireguard-go did not start"; }
}
wgd_ready() { [ -S "$(node_dir "$1")/wg/$WG_IF.sock" ] && ip -n "$(node_ns "$1")" link show "$WG_IF" > /dev/null 2>&1; }
wait_wgd() {
    wait_for 10 "wireguard-go on n$1" wgd_ready "$1" || { tail -5 "$(node_dir "$1")/wireguard-go.log" >&2; die "node n$1: no $WG_IF / UAPI socket"; }
}
