#!/usr/bin/env bash
# e2e-rbac.sh - kg with exactly the RBAC of manifests/kg-rbac.yaml (and the admission policy of
# manifests/kg-admission-policy.yaml), run as root by CI (e2e/test-all.sh): a fresh lab cluster
# whose kg run as kube-system/kilo with tokens bound to their Nodes. For every rule kg is
# granted, the rule is removed, kg on n1 restarted, and the kg feature that needs it is shown to
# fail (and the API server to have refused exactly that request); then the rule comes back. Also:
# kg's token cannot read Secrets, patch Peers or delete Nodes, nor write another Node. The last
# line is "N passed, M failed". Tears everything down on exit.
HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
export E2E_NAME=${E2E_NAME:-rbac}
# shellcheck source=e2e-lib.sh
source "$HERE/e2e-lib.sh"
infra_up
CP=$LAB_DIR/cluster
RBAC=$ROOT/manifests/kg-rbac.yaml

check "kg on every node, running as kube-system/kilo, brings the mesh up" "$RUN" start
check "full pod-to-pod reachability, IPv4 and IPv6" "$LAB" matrix --deadline 20

token() { jq -r '.users[0].user.token' "$CP/kg-n1.kubeconfig"; }
as_kg() { kctl --token "$(token)" "$@"; }
forbidden() {  # kubectl args...: the request is refused with a 403 Forbidden
    local out; out=$(as_kg "$@" 2>&1) && { echo "allowed: $out"; return 1; }
    grep -q 'Error from server (Forbidden).*User "system:serviceaccount:kube-system:kilo" cannot' <<< "$out" || { echo "$out"; return 1; }
}
check "kg's token cannot read Secrets" forbidden get secrets -n kube-system
check "kg's token cannot patch Peers" forbidden patch peer anything --type=merge -p '{}'
check "kg's token cannot delete Nodes" forbidden delete node n2
another_node() {  # the admission policy: kg on n1 may not write n2's kilo annotations (kg writes
    # by server-side apply, which needs no get)
    local out
    printf 'apiVersion: v1\nkind: Node\nmetadata:\n  name: n2\n  annotations:\n    kilo.squat.ai/location: evil\n' > "$CP/evil.yaml"
    out=$(as_kg apply --server-side --field-manager kg -f "$CP/evil.yaml" 2>&1) && { echo "allowed: $out"; return 1; }
    grep -q "ValidatingAdmissionPolicy 'kilo-node-confinement' with binding 'kilo-node-confinement' denied request: kg on n1 may only update its own Node, not UPDATE n2" <<< "$out" \
        || { echo "$out"; return 1; }
}
check "kg's token (bound to n1) cannot annotate n2: the ValidatingAdmissionPolicy" another_node

# ---------------------------------------------------------------- every rule is needed
refused() {  # verb resource: the API server refused kg that request since the last restart
    sed 's/\x1b\[[0-9;]*m//g' "$CP/apiserver.log" | tail -n "+$(cat "$CP/log-mark")" \
        | grep -q "forbidden user=system:serviceaccount:kube-system:kilo verb=$1 resource=$2 "
}
without_rule() {  # kind name namespace jq-filter [command...]: stop kg on n1, edit the rules of
    # the ClusterRole or Role with the filter, run the command (while kg is down), start kg again
    local kind=$1 name=$2 ns=${3:-} filter=$4 nsarg=()
    shift 4
    [ -z "$ns" ] || nsarg=(-n "$ns")
    "$RUN" kg-stop 1
    kctl get "$kind" "$name" "${nsarg[@]}" -o json | jq "$filter" > "$CP/edited.json"
    kctl replace -f "$CP/edited.json" > /dev/null || return 1
    [ $# = 0 ] || "$@" > /dev/null || return 1
    echo $(( $(wc -l < "$CP/apiserver.log") + 1 )) > "$CP/log-mark"
    "$RUN" kg-start 1
}
restore() {
    kctl apply -f "$RBAC" > /dev/null
    "$RUN" kg-stop 1; "$RUN" kg-start 1; "$RUN" wait-ready 30 > /dev/null
}
drop_verb() { printf '(.rules[] | select(.resources == ["%s"]) | .verbs) |= map(select(. != "%s"))' "$1" "$2"; }
not_ready() { ! poll 8 "$RUN" ready 1; }
metric() { "$RUN" metrics 1 | awk -v m="$1" '$1 == m {print $2}'; }
metric_is() { test "$(metric "$1")" = "$2"; }  # name value: read afresh on every poll

rule_nodes_list() {  # kg's Node reflector starts with a list: without it kg never becomes ready
    without_rule clusterrole kilo "" "$(drop_verb nodes list)" || return 1
    not_ready || { echo "kg became ready without listing Nodes"; return 1; }
    poll 30 refused list nodes || { echo "no refused list of nodes"; return 1; }
}
check "without nodes/list: kg's Node watch cannot start, kg is never ready" rule_nodes_list
restore

n9_json() {  # a fourth node in its own location, as another kg would have published it
    jq -n --arg key "$(wg genkey | wg pubkey)" --arg now "$(date +%s)" '{apiVersion: "v1", kind: "Node", metadata: {name: "n9",
        labels: {"topology.kubernetes.io/region": "loc-c"},
        annotations: {"kilo.squat.ai/key": $key, "kilo.squat.ai/endpoint": "192.168.77.19:51820",
          "kilo.squat.ai/internal-ip": "192.168.77.19/24", "kilo.squat.ai/granularity": "location",
          "kilo.squat.ai/last-seen": $now}},
        spec: {podCIDR: "10.42.9.0/24", podCIDRs: ["10.42.9.0/24"]}}' > "$CP/n9.json"
}
rule_nodes_watch() {  # the reflector lists, then watches: without watch kg misses new Nodes
    without_rule clusterrole kilo "" "$(drop_verb nodes watch)" || return 1
    poll 30 refused watch nodes || { echo "no refused watch of nodes"; return 1; }
    "$RUN" wait-ready 30 > /dev/null || return 1
    n9_json; kctl create -f "$CP/n9.json" > /dev/null || return 1
    ! poll 5 metric_is kilo_nodes 4 || { echo "n1 saw a Node it cannot watch"; return 1; }
}
check "without nodes/watch: kg does not follow Node changes (a new Node stays unseen)" rule_nodes_watch
restore
n9_seen() {  # the control: with watch back, the same Node is seen (and then removed)
    poll 30 metric_is kilo_nodes 4 || { echo "kilo_nodes $(metric kilo_nodes)"; return 1; }
    kctl delete node n9 > /dev/null
    poll 30 metric_is kilo_nodes 3
}
check "with nodes/watch back, n1's kg counts that Node (the check above is not vacuous)" n9_seen

rule_nodes_patch() {  # kg publishes its key, endpoint and addresses by server-side apply
    without_rule clusterrole kilo "" "$(drop_verb nodes patch)" \
        kctl annotate node n1 kilo.squat.ai/key- || return 1
    poll 30 refused patch nodes || { echo "no refused patch of nodes"; return 1; }
    [ -z "$(ann n1 key)" ] || { echo "n1's key was published without patch"; return 1; }
}
check "without nodes/patch: kg cannot publish its Node's annotations (kilo.squat.ai/key stays unset)" rule_nodes_patch
restore

apply_peer() {  # a Peer the leaders must configure
    printf 'apiVersion: kilo.squat.ai/v1alpha1\nkind: Peer\nmetadata:\n  name: rbac-peer\nspec:\n  allowedIPs: [10.5.9.1/32]\n  publicKey: "%s"\n' \
        "$(wg genkey | wg pubkey)" > "$CP/peer.yaml"
    kctl apply -f "$CP/peer.yaml" > /dev/null
}
rule_peers_list() {  # Peers come from a reflector too: no list, no Peers
    without_rule clusterrole kilo "" "$(drop_verb peers list)" || return 1
    apply_peer
    poll 30 refused list peers || { echo "no refused list of peers"; return 1; }
    ! poll 5 metric_is kilo_peers 1 || { echo "n1 uses a Peer it cannot list"; return 1; }
    kctl delete -f "$CP/peer.yaml" > /dev/null
}
check "without peers/list: kg on the leader n1 never configures a Peer" rule_peers_list
restore

rule_peers_watch() {
    without_rule clusterrole kilo "" "$(drop_verb peers watch)" || return 1
    poll 30 refused watch peers || { echo "no refused watch of peers"; return 1; }
    apply_peer
    ! poll 5 metric_is kilo_peers 1 || { echo "n1 saw a Peer it cannot watch"; return 1; }
}
check "without peers/watch: kg on n1 does not see a Peer applied after it started" rule_peers_watch
restore
peer_seen() {  # the control: with the Peer rules back, n1 configures that same Peer
    poll 30 metric_is kilo_peers 1 || { echo "kilo_peers $(metric kilo_peers)"; return 1; }
    kctl delete -f "$CP/peer.yaml" > /dev/null
    poll 30 metric_is kilo_peers 0
}
check "with peers/watch back, n1's kg configures that Peer (the Peer checks are not vacuous)" peer_seen

rule_events_create() {  # kg reports annotation problems as core/v1 Events in "default"
    without_rule role kilo-events default '.rules = []' || return 1
    "$RUN" wait-ready 30 > /dev/null
    kctl annotate node n1 --overwrite kilo.squat.ai/persistent-keepalive=rbac-abc > /dev/null
    poll 30 refused create events || { echo "no refused create of events"; return 1; }
    ! kctl get events -o json | jq -e '.items[] | select(.message | contains("rbac-abc"))' > /dev/null \
        || { echo "an Event was created"; return 1; }
    kctl annotate node n1 kilo.squat.ai/persistent-keepalive- > /dev/null
}
check "without events/create in default: kg cannot report annotation problems as Events" rule_events_create
restore

with_all_rules() {  # and back with exactly the manifests' RBAC: the mesh is whole again
    "$RUN" wait-ready 30 > /dev/null && "$LAB" matrix --deadline 20 > /dev/null && [ -n "$(ann n1 key)" ]
}
check "with the manifests' RBAC restored, n1's kg is ready, publishes its key and the mesh is whole" with_all_rules
summary
