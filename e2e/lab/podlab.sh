#!/usr/bin/env bash
# podlab.sh - kg as a user deploys it, in the netns lab: the image from e2e/image/build.sh loaded
# into podman, and on every lab node the pod template of the DaemonSet the kustomization
# e2e/lab/pod renders (the userspace overlay a user applies, plus the lab's kubeconfig) run by
# pod.py, a kubelet for the lab. The lab itself (lab.sh up with LAB_WIREGUARD_GO=0, the API
# server, the Nodes) comes from run.sh infra; see docs/lab.md.
#
#   podlab.sh image            build the image (KILO_IMAGE_PROFILE, default debug) and load it
#   podlab.sh render           render the DaemonSet to $LAB_DIR/cluster/daemonset.yaml
#   podlab.sh start [N...]     start the pod on nodes N (default: all), wait until ready
#   podlab.sh replace N C      replace container C of node N's pod (a new container, same template)
#   podlab.sh stop-container N C | start-container N C    the two halves of replace
#   podlab.sh stop [N...]      stop the pods (SIGTERM, then the grace period)
#   podlab.sh ready N          exit 0 when node N's pod passes its readiness probes
#   podlab.sh show N           the podman command lines of node N's pod
#   podlab.sh logs N C         the logs of container C on node N
#
# Environment: LAB_PREFIX, LAB_DIR (as run.sh), NODES (3), KILO_IMAGE_PROFILE.
set -euo pipefail
HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
ROOT=$(cd "$HERE/../.." && pwd)
export LAB_PREFIX=${LAB_PREFIX:-kl-}
if [ "$LAB_PREFIX" = kl- ]; then export LAB_DIR=${LAB_DIR:-/tmp/kilo-lab}; else export LAB_DIR=${LAB_DIR:-/tmp/kilo-lab-${LAB_PREFIX%-}}; fi
NODES=${NODES:-3}
CP=$LAB_DIR/cluster
MANIFEST=$CP/daemonset.yaml
PY=/usr/bin/python3
PODMAN=(podman --runtime runc --cgroup-manager=cgroupfs)

log() { printf '=== %s\n' "$*" >&2; }
die() { printf 'podlab.sh: %s\n' "$*" >&2; exit 1; }

node_json() {  # i: where node i's host paths are in the lab (see lib.sh NODE_DIRS)
    local d=$LAB_DIR/run/n$1 modules=/lib/modules
    # a kernel without modules (these machines) has no /lib/modules: the node gets an empty one
    [ -d "$modules" ] || { modules=$d/lib-modules; mkdir -p "$modules"; }
    jq -n --arg i "$1" --arg d "$d" --arg p "$LAB_PREFIX" --arg cp "$CP" --arg modules "$modules" '{
        name: "n\($i)", netns: "/run/netns/\($p)n\($i)", ip: "192.168.77.1\($i)", prefix: $p,
        empty_dir_root: "\($d)/empty",
        host_paths: {
            "/var/lib/kilo": "\($d)/kilo", "/etc/cni/net.d": "\($d)/cni-net.d",
            "/opt/cni/bin": "\($d)/cni-bin", "/run/wireguard": "\($d)/wg", "/var/lib/cni": "\($d)/cni-lib",
            "/lib/modules": $modules, "/run/xtables.lock": "/run/xtables.lock",
            "/dev/net/tun": "/dev/net/tun", "/etc/kilo-lab": $cp } }'
}
pod() { "$PY" "$HERE/pod.py" "$1" "$MANIFEST" "$(node_json "$2")" "${@:3}"; }

cmd_image() {
    local archive t=$SECONDS
    archive=$(KILO_IMAGE_PROFILE=${KILO_IMAGE_PROFILE:-debug} bash "$ROOT/e2e/image/build.sh")
    "${PODMAN[@]}" load --quiet -i "$archive" >&2
    echo "measured: image built and loaded in $((SECONDS - t)) s" >&2
    echo "$archive"
}

cmd_render() {
    mkdir -p "$CP"
    kubectl kustomize "$HERE/pod" > "$MANIFEST.tmp" && mv "$MANIFEST.tmp" "$MANIFEST"
}

ready_in_netns() { ip netns exec "${LAB_PREFIX}n$1" "$PY" "$HERE/pod.py" ready "$MANIFEST" "$(node_json "$1")"; }
wait_ready() {  # i [seconds]
    local deadline=$((SECONDS + ${2:-90}))
    until ready_in_netns "$1" 2> /dev/null; do
        [ $SECONDS -lt $deadline ] && running "$1" || { cmd_logs "$1" kg | tail -5 >&2; die "node n$1: the pod is not ready"; }
        sleep 0.2
    done
}

running() { [ -n "$("${PODMAN[@]}" ps --filter "name=^${LAB_PREFIX}n$1-kilo-kg\$" --filter status=running --format '{{.Names}}')" ]; }
all_nodes() { if [ $# -gt 0 ]; then echo "$@"; else seq "$NODES"; fi; }
cmd_start() {
    local i
    [ -f "$MANIFEST" ] || cmd_render
    for i in $(all_nodes "$@"); do mkdir -p "$LAB_DIR/run/n$i/cni-bin"; pod start "$i"; done
    for i in $(all_nodes "$@"); do wait_ready "$i"; done
}
cmd_stop() {
    local i
    [ -f "$MANIFEST" ] || return 0
    for i in $(all_nodes "$@"); do pod stop "$i"; done
}
cmd_logs() { "${PODMAN[@]}" logs "${LAB_PREFIX}n$1-kilo-$2" 2>&1; }

case "${1:-}" in
    image) cmd_image ;;
    render) cmd_render ;;
    start) shift; cmd_start "$@" ;;
    stop) shift; cmd_stop "$@" ;;
    replace) [ $# = 3 ] || die "usage: podlab.sh replace N CONTAINER"; pod replace "$2" "$3"; wait_ready "$2" ;;
    stop-container) [ $# = 3 ] || die "usage: podlab.sh stop-container N CONTAINER"; pod stop-container "$2" "$3" ;;
    start-container) [ $# = 3 ] || die "usage: podlab.sh start-container N CONTAINER"; pod start-container "$2" "$3"; wait_ready "$2" ;;
    ready) ready_in_netns "$2" ;;
    show) pod show "$2" ;;
    logs) cmd_logs "$2" "$3" ;;
    *) sed -n '2,18p' "$0"; exit 2 ;;
esac
