#!/usr/bin/env bash
# e2e/kind/run.sh - kilo-rs on a real Kubernetes: a kind cluster (Docker) with the default CNI
# disabled, the image loaded into it, the kind overlay applied, then scenarios ported from Go
# Kilo's e2e: location mesh, full mesh, egress-ip, Peers and `kgctl showconf peer`, multi-cluster
# through `kgctl showconf node --as-peer`, the HTTP handlers, `kgctl connect`, `kgctl check
# --probe`. Prints "ok"/"FAIL" lines and "N passed, M failed" last. Needs Docker, kind, kubectl,
# wg and root (kgctl connect); .github/workflows/kind.yaml runs it.
#
#   e2e/kind/run.sh                 everything, then deletes the cluster (KEEP=1 keeps it)
#   e2e/kind/run.sh --dry-run DIR   run nothing: write every manifest it would apply into DIR
#
# Environment: KIND_CLUSTER (kilo-rs-e2e), KILO_IMAGE_ARCHIVE (an archive from e2e/image/build.sh;
# built when unset), KGCTL (target/debug/kgctl).
set -uo pipefail
HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
ROOT=$(cd "$HERE/../.." && pwd)
CLUSTER=${KIND_CLUSTER:-kilo-rs-e2e}
KGCTL=${KGCTL:-$ROOT/target/debug/kgctl}
DRY=""
if [ "${1:-}" = --dry-run ]; then DRY=${2:?usage: run.sh --dry-run DIR}; mkdir -p "$DRY"; fi
# shellcheck source=../lib/report.sh
source "$ROOT/e2e/lib/report.sh"
WORK=$(mktemp -d)

poll() {  # seconds cmd...
    local deadline=$((SECONDS + $1)); shift
    until "$@" > /dev/null 2>&1; do [ $SECONDS -lt "$deadline" ] || return 1; sleep 1; done
}
k() { kubectl --context "kind-$CLUSTER" "$@"; }
kg_exec() { k -n kube-system exec "$(kilo_pod "$1")" -c kg -- "${@:2}"; }
kilo_pod() { k -n kube-system get pods -l app.kubernetes.io/name=kilo-rs --field-selector "spec.nodeName=$1" -o name; }
nodes() { k get nodes -o jsonpath='{.items[*].metadata.name}'; }

# apply FILE...: kubectl apply, or in a dry run the manifest into $DRY (numbered, in order; the
# number from the files already there, as apply runs in check's subshells)
apply() {
    local f n
    for f in "$@"; do
        if [ -n "$DRY" ]; then
            n=$(find "$DRY" -name '[0-9]*.yaml' | wc -l)
            cp "$f" "$DRY/$(printf '%02d' $((n + 1)))-$(basename "$f")"
        else
            k apply -f "$f" > /dev/null || return 1
        fi
    done
}
render_overlay() { kubectl kustomize "$ROOT/deploy/kind" > "$WORK/kilo-rs.yaml"; }

cleanup() {
    [ -z "${CONNECT_PID:-}" ] || kill "$CONNECT_PID" 2> /dev/null
    [ -n "$DRY" ] || [ -n "${KEEP:-}" ] || kind delete cluster --name "$CLUSTER" > /dev/null 2>&1
    rm -rf "$WORK"
}
trap cleanup EXIT

# ---------------------------------------------------------------- set-up
setup_cluster() {
    local archive=${KILO_IMAGE_ARCHIVE:-}
    [ -n "$archive" ] || archive=$(bash "$ROOT/e2e/image/build.sh") || return 1
    kind create cluster --name "$CLUSTER" --config "$HERE/cluster.yaml" --wait 0s || return 1
    kind load image-archive --name "$CLUSTER" "$archive" || return 1
}
label_locations() {  # the control plane in loc-a, the workers in loc-b
    local n
    for n in $(nodes); do
        case $n in *control-plane) k label node "$n" --overwrite topology.kubernetes.io/region=loc-a ;;
                   *) k label node "$n" --overwrite topology.kubernetes.io/region=loc-b ;; esac > /dev/null
    done
}
install() {
    render_overlay || return 1
    apply "$WORK/kilo-rs.yaml" || return 1
    [ -n "$DRY" ] && return 0
    k -n kube-system rollout status ds/kilo --timeout 180s || return 1
    k wait --for=condition=Ready nodes --all --timeout 180s
}
pingers() {
    apply "$HERE/pinger.yaml" || return 1
    [ -n "$DRY" ] && return 0
    k rollout status ds/pinger --timeout 180s
}

# ---------------------------------------------------------------- scenarios
pod_ips() { k get pods -l app.kubernetes.io/name=pinger -o jsonpath='{range .items[*]}{.metadata.name} {.status.podIPs[*].ip}{"\n"}{end}'; }
all_pairs_reach() {  # every pinger pings every other pinger's IPv4 and IPv6 address
    local from ip rc=0
    while read -r from _; do
        for ip in $(pod_ips | awk '{print $2, $3}'); do
            k exec "$from" -- ping -c 1 -W 2 "$ip" > /dev/null || { echo "$from -> $ip: no answer"; rc=1; }
        done
    done < <(pod_ips)
    return $rc
}
mesh_reaches() { poll 60 all_pairs_reach || all_pairs_reach; }

set_granularity() {
    k -n kube-system set env ds/kilo -c kg "KILO_MESH_GRANULARITY=$1" > /dev/null || return 1
    k -n kube-system rollout status ds/kilo --timeout 180s
}
full_mesh() { set_granularity full && mesh_reaches; }
location_mesh() { set_granularity location && mesh_reaches; }

egress_ip() {  # a worker's egress-ip annotation shows up as its egress source in kgctl status
    local node ip
    node=$(nodes | tr ' ' '\n' | grep -v control-plane | head -1)
    ip=$(k get node "$node" -o jsonpath='{.status.addresses[?(@.type=="InternalIP")].address}' | awk '{print $1}')
    k annotate node "$node" --overwrite "kilo.squat.ai/egress-ip=$ip" > /dev/null || return 1
    poll 60 sh -c "'$KGCTL' status --kubeconfig '$KUBECONFIG' | grep '$node' | grep -qF '$ip'" || { "$KGCTL" status --kubeconfig "$KUBECONFIG"; return 1; }
    k annotate node "$node" kilo.squat.ai/egress-ip- > /dev/null
}

peer_file() {  # the Peer manifest with a fresh public key
    sed "s#PUBLIC_KEY#$(wg genkey | wg pubkey)#" "$HERE/peer.yaml" > "$WORK/peer.yaml"
}
peers() {
    local key leader
    peer_file || return 1
    apply "$WORK/peer.yaml" || return 1
    key=$(k get peer laptop -o jsonpath='{.spec.publicKey}')
    leader=$(nodes | tr ' ' '\n' | grep control-plane)
    poll 60 sh -c "kubectl --context 'kind-$CLUSTER' -n kube-system exec '$(kilo_pod "$leader")' -c kg -- wg show kilo0 peers | grep -qF '$key'" \
        || { echo "the leader's kilo0 lacks the Peer"; return 1; }
    "$KGCTL" showconf peer laptop --kubeconfig "$KUBECONFIG" | grep -q '^\[Peer\]' || { echo "kgctl showconf peer laptop"; return 1; }
    k delete peer laptop > /dev/null
}
multi_cluster() {  # this cluster's segment as a Peer of another cluster: the CRD accepts it
    local leader
    leader=$(nodes | tr ' ' '\n' | grep control-plane)
    "$KGCTL" showconf node "$leader" --as-peer -o yaml --kubeconfig "$KUBECONFIG" > "$WORK/as-peer.yaml" || return 1
    k apply --dry-run=server -f "$WORK/as-peer.yaml"
}
http_handlers() {
    local node=${CLUSTER}-control-plane p
    for p in /health /healthz /readyz /metrics /graph '/graph?format=dot'; do
        docker exec "$node" curl -sf -o /dev/null "http://127.0.0.1:1107$p" || { echo "GET $p failed"; return 1; }
    done
    docker exec "$node" curl -sf http://127.0.0.1:1107/metrics | grep -q '^kilo_nodes 3$' || { echo "kilo_nodes is not 3"; return 1; }
}
connect() {  # this host joins as a Peer and reaches a pod; SIGTERM removes the Peer
    local ip
    "$KGCTL" connect runner --allowed-ip 10.5.0.2/32 --private-key "$WORK/connect.key" --interface kilo-e2e \
        --kubeconfig "$KUBECONFIG" > "$WORK/connect.log" 2>&1 &
    CONNECT_PID=$!
    ip=$(pod_ips | awk 'NR == 1 {print $2}')
    poll 60 ping -c 1 -W 2 "$ip" || { tail -5 "$WORK/connect.log"; return 1; }
    kill "$CONNECT_PID"; wait "$CONNECT_PID"; CONNECT_PID=""
    poll 30 sh -c "! kubectl --context 'kind-$CLUSTER' get peer runner" || { echo "the Peer is still there"; return 1; }
}
check_probe() { "$KGCTL" check --probe --kubeconfig "$KUBECONFIG"; }
dry_peer() { sed "s#PUBLIC_KEY#$(printf '%043d=' 0)#" "$HERE/peer.yaml" > "$WORK/peer.yaml" && apply "$WORK/peer.yaml"; }

if [ -n "$DRY" ]; then
    check "dry run: the kind overlay renders" install
    check "dry run: the reachability pods" pingers
    check "dry run: the Peer" dry_peer
    cp "$HERE/cluster.yaml" "$DRY/kind-cluster.yaml"
    echo "dry run: $(find "$DRY" -name '*.yaml' | wc -l) manifests in $DRY"
    report; exit
fi

for b in docker kind kubectl wg; do command -v "$b" > /dev/null || { echo "missing $b" >&2; exit 1; }; done
export KUBECONFIG=$WORK/kubeconfig
check "a kind cluster without a default CNI, the kilo-rs image loaded" setup_cluster
kind get kubeconfig --name "$CLUSTER" > "$KUBECONFIG"
check "nodes placed in two locations" label_locations
check "the kind overlay applied: kg ready on every node, every node Ready" install
check "a pod on every node" pingers
check "location mesh: every pod reaches every pod (IPv4, IPv6)" mesh_reaches
check "full mesh (KILO_MESH_GRANULARITY=full, rolled out): every pod reaches every pod" full_mesh
check "back to the location mesh: every pod reaches every pod" location_mesh
check "egress-ip: the annotation shows in kgctl status" egress_ip
check "a Peer reaches the leader's kilo0; kgctl showconf peer prints its configuration" peers
check "multi-cluster: kgctl showconf node --as-peer is a Peer the API server accepts" multi_cluster
check "the HTTP handlers: /health, /healthz, /readyz, /metrics, /graph (SVG, DOT)" http_handlers
check "kgctl connect: this host joins as a Peer, reaches a pod, and leaves" connect
check "kgctl check --probe: no problems" check_probe
report
