#!/usr/bin/env bash
# run.sh - the kilo-rs lab cluster: the netns lab (lab.sh), the test API server, a real kg on
# every node (userspace WireGuard, --encapsulate never), pods attached by kilo-cni through the
# conflist kg wrote, and the result: kgctl graph, a reachability matrix, how to poke it.
#
#   run.sh [up]            build, bring everything up, print the result (leaves it running)
#   run.sh infra | start   the two halves of up: lab + API server + Nodes, then kg + pods
#   run.sh down            stop kg and the API server, tear the lab down (nothing left behind)
#   run.sh kubectl ARGS    kubectl against the lab's API server
#   run.sh kgctl ARGS      kgctl against it (kgctl status: roles, readiness, egress per node)
#   run.sh kg-start N      (re)start kg on node N          run.sh kg-stop N [SIGNAL]
#   run.sh api-stop        stop the API server              run.sh api-start
#   run.sh wait-ready      wait until every kg answers /readyz   run.sh ready N   node N's kg is ready
#   run.sh metrics N       /metrics of node N's kg
#   run.sh http N PATH     GET PATH from node N's kg: "STATUS content-type", then the body
#
# Environment: LAB_PREFIX, LAB_DIR (as lab.sh), NODES (3), KG_ARGS (extra kg flags).
set -euo pipefail
HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
ROOT=$(cd "$HERE/../.." && pwd)
LAB="$HERE/lab.sh"
export LAB_PREFIX=${LAB_PREFIX:-kl-}
if [ "$LAB_PREFIX" = kl- ]; then export LAB_DIR=${LAB_DIR:-/tmp/kilo-lab}; else export LAB_DIR=${LAB_DIR:-/tmp/kilo-lab-${LAB_PREFIX%-}}; fi
NODES=${NODES:-3}
BIN=${BIN:-${CARGO_TARGET_DIR:-$ROOT/target}/debug}
CP=$LAB_DIR/cluster
API=192.168.77.254:6443
PY=/usr/bin/python3

log() { printf '=== %s\n' "$*" >&2; }
die() { printf 'run.sh: %s\n' "$*" >&2; exit 1; }

build() {
    log "building kg, kgctl, kilo-cni and the test API server"
    (cd "$ROOT" && cargo build -q -p kg -p kgctl -p kilo-cni -p kilo-test-apiserver)
}

# ---- processes this script starts: PID + comm recorded, killed only if both still match
record() { echo "$2 $3" > "$CP/$1.pid"; }
alive() { [ -d "/proc/$1" ] && ! grep -q '^State:.*Z' "/proc/$1/status" 2>/dev/null; }  # zombies count as gone
stop_recorded() {  # name [signal]
    local f=$CP/$1.pid pid comm
    [ -f "$f" ] || return 0
    read -r pid comm < "$f"
    if [ "$(cat "/proc/$pid/comm" 2>/dev/null)" = "$comm" ]; then
        kill "-${2:-TERM}" "$pid" 2>/dev/null || true
        # a grace period like a pod's (kg finishes its apply and cleans up first)
        for _ in $(seq 1000); do alive "$pid" || break; sleep 0.02; done
        if alive "$pid"; then
            log "$1 (pid $pid) still running 20 s after SIG${2:-TERM}: killing it"
            kill -KILL "$pid" 2>/dev/null
        fi
    fi
    rm -f "$f"
}

kctl() { "$LAB" nsx underlay kubectl --kubeconfig "$CP/kubeconfig" "$@"; }
kgctl() { KUBECONFIG=$CP/kubeconfig "$LAB" nsx underlay "$BIN/kgctl" "$@"; }

api_start() {
    log "API server on https://$API (in the underlay namespace, state in $CP/state.json, TLS and token keys in $CP/pki)"
    rm -f "$CP/api.addr"
    "$LAB" nsx underlay "$BIN/kilo-test-apiserver" --listen "$API" --kubeconfig-out "$CP/kubeconfig" \
        --addr-file "$CP/api.addr" --state-file "$CP/state.json" --pki-dir "$CP/pki" > "$CP/apiserver.log" 2>&1 &
    record apiserver $! kilo-test-apise
    for _ in $(seq 500); do [ -s "$CP/api.addr" ] && return 0; sleep 0.02; done
    die "the API server did not come up: $(tail -5 "$CP/apiserver.log")"
}

nodes_yaml() {  # from lab.json: Node objects as a kubelet would register them
    jq -r '.nodes[] | @json' "$LAB_DIR/lab.json" | while read -r n; do
        jq -n --argjson n "$n" '{
          apiVersion: "v1", kind: "Node",
          metadata: { name: $n.name, labels: { "topology.kubernetes.io/region": $n.location, "kubernetes.io/hostname": $n.name } },
          spec: { podCIDR: $n.pod_cidrs[0], podCIDRs: $n.pod_cidrs },
          status: { addresses: [ {type: "InternalIP", address: $n.underlay.v4}, {type: "InternalIP", address: $n.underlay.v6}, {type: "Hostname", address: $n.name} ] } }'
    done
}

kg_start() {  # node index
    local i=$1
    "$LAB" nodex "$i" "$BIN/kg" --hostname "n$i" --kubeconfig "$CP/kg-n$i.kubeconfig" \
        --wireguard-backend userspace --create-interface=false --encapsulate never \
        --cni-bin-dir "$BIN" --resync-period 30s ${KG_ARGS:-} > "$CP/kg-n$i.log" 2>&1 &
    record "kg-n$i" $! kg
}

readyz() {  # node index -> exit 0 when kg answers 200 on /readyz
    local i=$1
    "$LAB" nsx underlay "$PY" - "192.168.77.1$i" <<'PYEOF' > /dev/null 2>&1
import sys, urllib.request
urllib.request.urlopen(f"http://{sys.argv[1]}:1107/readyz", timeout=1).read()
PYEOF
}

wait_ready() {
    local i deadline=$((SECONDS + ${1:-60}))
    for i in $(seq "$NODES"); do
        until readyz "$i"; do
            [ $SECONDS -lt $deadline ] || die "kg on n$i is not ready: $(tail -5 "$CP/kg-n$i.log")"
            sleep 0.2
        done
    done
}

wait_mesh() {  # every node's published key and every leader's peers are in place
    local deadline=$((SECONDS + ${1:-60}))
    until [ "$(kctl get nodes -o json | jq '[.items[] | select(.metadata.annotations["kilo.squat.ai/key"] // "" | length > 0)] | length')" = "$NODES" ]; do
        [ $SECONDS -lt $deadline ] || die "not every node published its key"
        sleep 0.2
    done
}

http_get() {  # node-index path -> "STATUS content-type" on the first line, then the body
    "$LAB" nsx underlay "$PY" - "192.168.77.1$1" "$2" <<'PYEOF'
import sys, urllib.error, urllib.request
try:
    r = urllib.request.urlopen(f"http://{sys.argv[1]}:1107{sys.argv[2]}", timeout=5)
except urllib.error.HTTPError as e:
    r = e
print(r.status, r.headers.get("Content-Type", "-"))
sys.stdout.write(r.read().decode(errors="replace"))
PYEOF
}
metrics() { http_get "$1" /metrics | tail -n +2; }

cmd_infra() {  # everything but kg: lab, API server, registered Nodes
    [ "$(id -u)" = 0 ] || die "must run as root"
    # shellcheck source=../lib/deps.sh
    source "$ROOT/e2e/lib/deps.sh"; install_deps
    command -v kubectl > /dev/null || die "kubectl is missing"
    [ -n "${NO_BUILD:-}" ] || build
    log "lab: $NODES nodes, two locations"
    "$LAB" up --nodes "$NODES"
    mkdir -p "$CP"
    api_start
    register
}

register() {
    log "applying the CRDs, kg's RBAC and admission policy (manifests/), as a user does"
    kctl apply -f "$ROOT/manifests/crds.yaml" > /dev/null
    kctl apply -f "$ROOT/manifests/kg-rbac.yaml" > /dev/null
    kctl apply -f "$ROOT/manifests/kg-admission-policy.yaml" > /dev/null
    log "registering the Nodes"
    nodes_yaml > "$CP/nodes.json"
    kctl create -f "$CP/nodes.json" > /dev/null
    kg_credentials
}

kg_credentials() {  # per node: a token of kube-system/kilo bound to its Node (TokenRequest), in
    # a kubeconfig of its own, as a kubelet hands a projected token to kg's pod on that node
    local i token
    log "issuing kg's ServiceAccount tokens, one bound to each Node"
    for i in $(seq "$NODES"); do
        jq -n --arg n "n$i" '{apiVersion: "authentication.k8s.io/v1", kind: "TokenRequest",
            spec: {boundObjectRef: {kind: "Node", apiVersion: "v1", name: $n}}}' > "$CP/token-request-n$i.json"
        token=$(kctl create --raw /api/v1/namespaces/kube-system/serviceaccounts/kilo/token \
            -f "$CP/token-request-n$i.json" | jq -er .status.token) || die "no token for n$i"
        kubectl --kubeconfig "$CP/kubeconfig" config view --raw --minify -o json \
            | jq --arg t "$token" '.users = [{name: "kilo", user: {token: $t}}] | .contexts[0].context.user = "kilo"' \
            > "$CP/kg-n$i.kubeconfig"
    done
}

cmd_start() {  # kg on every node, then pods
    log "starting kg on every node"
    for i in $(seq "$NODES"); do kg_start "$i"; done
    wait_ready 90
    wait_mesh 60
    log "pods through kilo-cni and the conflist kg wrote"
    CNI_CONFLIST=node CNI_PLUGIN_BIN="$BIN/kilo-cni" "$LAB" pods
}

cmd_up() {
    cmd_infra
    cmd_start
    result
}

result() {
    log "kgctl graph (as seen from n1)"
    kgctl graph --hostname n1
    log "kgctl status"
    kgctl status
    log "pod-to-pod reachability"
    "$LAB" matrix --deadline 20
    cat <<EOT

The lab is running. Poke it:
  $0 kubectl get nodes -o wide
  $0 kubectl annotate node n1 kilo.squat.ai/egress-ip=192.168.77.101,fd00:77::101
  $0 kubectl get events
  $0 kgctl status
  $0 kgctl showconf node n1
  $0 kgctl check --probe
  $LAB probe-egress n1-p1 v4
  $LAB wg 1 show
  $0 metrics 1
  $0 down
EOT
}

cmd_down() {
    for f in "$CP"/kg-n*.pid; do [ -f "$f" ] && stop_recorded "$(basename "$f" .pid)"; done
    stop_recorded apiserver
    "$LAB" down
}

case "${1:-up}" in
    up) cmd_up ;;
    infra) cmd_infra ;;
    start) cmd_start ;;
    register) register ;;
    kg-credentials) kg_credentials ;;
    down) cmd_down ;;
    kubectl) shift; kctl "$@" ;;
    kgctl) shift; kgctl "$@" ;;
    kg-start) kg_start "$2" ;;
    kg-stop) stop_recorded "kg-n$2" "${3:-TERM}" ;;
    api-start) api_start ;;
    api-stop) stop_recorded apiserver ;;
    wait-ready) wait_ready "${2:-60}" ;;
    ready) readyz "$2" ;;
    metrics) metrics "$2" ;;
    http) http_get "$2" "$3" ;;
    result) result ;;
    *) sed -n '2,15p' "$0"; exit 2 ;;
esac
