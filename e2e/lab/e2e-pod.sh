#!/usr/bin/env bash
# e2e-pod.sh - kg installed as a user installs it: the image (e2e/image/build.sh) checked and
# loaded into podman, then on every lab node the pod template of the userspace DaemonSet run by a
# real container runtime (podlab.sh, pod.py): the install-cni init container fills the node's
# CNI bin dir, from which the lab's pods are attached; the wireguard-go sidecar creates kilo0.
# Checks: mesh up, pod-to-pod v4 and v6, egress SNAT, and kg's container replaced on the leader
# with a pod-to-pod and a pod-to-external flow running: no packet lost, no connection reset,
# nothing flushed. Same output contract as e2e.sh ("N passed, M failed" last).
HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
export E2E_NAME=pod
# shellcheck source=e2e-lib.sh
source "$HERE/e2e-lib.sh"
export LAB_WIREGUARD_GO=0   # the DaemonSet's sidecar runs wireguard-go
PODLAB="$HERE/podlab.sh"
PODMAN=(podman --runtime runc --cgroup-manager=cgroupfs)
RUNC=("${PODMAN[@]}" run --rm --ulimit nofile=1024:1024 --ulimit nproc=1024:1024 --pull never)
FLOWS=()  # pid files of the flow processes this suite started

pods_down() {
    local f
    for f in "${FLOWS[@]}"; do end_started "$f" python3; done
    "$PODLAB" stop > /dev/null 2>&1
    [ -z "${SCRATCH:-}" ] || ip netns del "$SCRATCH" 2> /dev/null
}
trap 'pods_down; cleanup' EXIT

# ---------------------------------------------------------------- the image
t=$(date +%s%N)
if ARCHIVE=$("$PODLAB" image 2> "$LAB_DIR.image.log"); then ok "the image builds (e2e/image/build.sh) and podman loads it"
else bad "the image builds (e2e/image/build.sh) and podman loads it" "$(tail -8 "$LAB_DIR.image.log")"; summary; exit 1; fi
grep '^measured:' "$LAB_DIR.image.log"; rm -f "$LAB_DIR.image.log"
echo "measured: image step $(ms "$t") ms"
IMAGE=localhost/kilo-rs:$(awk -F'"' '/^\[workspace.package\]/ {p = 1} p && /^version/ {print $2; exit}' "$ROOT/Cargo.toml")

archive_formats() {  # skopeo, an independent reader, takes the archive both as OCI and as Docker
    skopeo inspect --raw "oci-archive:$ARCHIVE" | jq -e '.layers | length == 2' > /dev/null || { echo "oci-archive"; return 1; }
    skopeo inspect --raw "docker-archive:$ARCHIVE" | jq -e '.layers | length == 2' > /dev/null || { echo "docker-archive"; return 1; }
    tar -xOf "$ARCHIVE" manifest.json | jq -e --arg i "$IMAGE" '.[0].RepoTags == [$i]' > /dev/null || { echo "RepoTags"; return 1; }
}
check "the archive is an OCI layout and a Docker archive (skopeo reads both), tagged $IMAGE" archive_formats

image_contents() {
    local out
    out=$("${RUNC[@]}" "$IMAGE" sh -c 'for b in kg kgctl kilo-cni wg wireguard-go ip ipset nft dot iptables-legacy iptables-nft; do command -v $b > /dev/null || echo "missing $b"; done
        ls /usr/local/lib/kilo-rs/cni') || return 1
    [ "$out" = "$(printf 'loopback\nportmap')" ] || { echo "$out"; return 1; }
}
check "the image holds kg, kgctl, kilo-cni, wg, wireguard-go, ip, ipset, nft, dot, iptables legacy and nft, loopback, portmap" image_contents

versions() {  # every binary says which build it is: version and the git revision
    local want b out
    want="${IMAGE##*:} ($(git -C "$ROOT" rev-parse --short=12 HEAD))"
    for b in kg kgctl kilo-cni; do
        out=$("${RUNC[@]}" "$IMAGE" "$b" --version) || return 1
        [ "$out" = "$b $want" ] || { echo "$b --version: $out, wanted $b $want"; return 1; }
    done
}
check "kg, kgctl and kilo-cni --version print the version and the git revision" versions

static_everywhere() {  # each binary copied onto hosts runs in an empty root: no libc, no loader
    local root b out
    root=$(mktemp -d)
    "${RUNC[@]}" -v "$root:/out" "$IMAGE" cp /usr/local/bin/kilo-cni /usr/local/lib/kilo-rs/cni/loopback /usr/local/lib/kilo-rs/cni/portmap /out/
    for b in kilo-cni loopback portmap; do
        out=$(echo '{"cniVersion":"1.0.0"}' | CNI_COMMAND=VERSION chroot "$root" "/$b") || { echo "$b: $out"; rm -rf "$root"; return 1; }
        jq -e '.supportedVersions | index("1.0.0")' <<< "$out" > /dev/null || { echo "$b: $out"; rm -rf "$root"; return 1; }
    done
    rm -rf "$root"
}
check "kilo-cni, loopback and portmap run in an empty root (statically linked: any Linux host)" static_everywhere

SCRATCH=${LAB_PREFIX}scratch
mode_in_scratch() { "${RUNC[@]}" --privileged --network "ns:/run/netns/$SCRATCH" "$@" "$IMAGE" iptables -V 2> /dev/null; }
iptables_mode() {
    ip netns add "$SCRATCH" || return 1
    mode_in_scratch | grep -q 'nf_tables' || { echo "no rules: $(mode_in_scratch)"; return 1; }
    ip netns exec "$SCRATCH" iptables-legacy -t nat -A POSTROUTING -s 10.99.0.0/16 -j MASQUERADE
    mode_in_scratch | grep -q '(legacy)' || { echo "legacy rules: $(mode_in_scratch)"; return 1; }
    ip netns exec "$SCRATCH" iptables-nft -t mangle -N KUBE-IPTABLES-HINT
    mode_in_scratch | grep -q 'nf_tables' || { echo "kubelet hint: $(mode_in_scratch)"; return 1; }
    mode_in_scratch -e KILO_IPTABLES_MODE=legacy | grep -q '(legacy)' || { echo "forced legacy"; return 1; }
    ! mode_in_scratch -e KILO_IPTABLES_MODE=nftables > /dev/null || { echo "a bad KILO_IPTABLES_MODE was accepted"; return 1; }
    ip netns del "$SCRATCH"
}
check "iptables in the image picks the host's mode: nft when empty, legacy when legacy holds the rules, nft on the kubelet's hint, KILO_IPTABLES_MODE forces, a bad value fails" iptables_mode

# ---------------------------------------------------------------- the DaemonSet on every node
infra_up
started=$(date +%s%N)
check "every node runs the DaemonSet's pod (install-cni, then kg and wireguard-go) from the image and is ready" "$PODLAB" start
echo "measured: from the first podman run to every pod ready: $(ms "$started") ms"

installed_plugins() {
    local i b
    for i in 1 2 3; do
        for b in kilo-cni loopback portmap; do
            file -L "$LAB_DIR/run/n$i/cni-bin/$b" | grep -q 'static' || { echo "n$i: $b: $(file -L "$LAB_DIR/run/n$i/cni-bin/$b")"; return 1; }
        done
    done
}
check "install-cni put static kilo-cni, loopback and portmap into every node's CNI bin dir" installed_plugins

keys_published() { [ "$(kctl get nodes -o json | jq '[.items[] | select(.metadata.annotations["kilo.squat.ai/key"] // "" | length > 0)] | length')" = 3 ]; }
mesh_up() { poll 60 keys_published || { kctl get nodes -o yaml | grep kilo.squat.ai | head; return 1; }; }
check "mesh up: every node published its key" mesh_up

attach() { CNI_CONFLIST=node CNI_PLUGIN=kilo-cni LAB_CNI_PATH="$LAB_DIR/run/n{i}/cni-bin" "$LAB" pods; }
check "pods attached through the conflist kg wrote and the plugins install-cni installed (kilo-cni, portmap chained)" attach
check "pod-to-pod reachability, IPv4 and IPv6" "$LAB" matrix --deadline 30

host_sees_device() {  # the socket dir is the host's: wg on the node (not in the pod) sees kilo0
    "$LAB" wg 1 show kilo0 peers | grep -q . || { "$LAB" wg 1 show; return 1; }
}
check "the wireguard-go socket is in the node's /var/run/wireguard: wg on the node shows kilo0's peers" host_sees_device

egress() {
    annotate_egress 192.168.77.101,fd00:77::101 192.168.77.101 fd00:77::101 || return 1
    annotate_egress - 192.168.77.11 fd00:77::11
}
check "egress SNAT: n1's egress-ip annotation changes the source ext sees (v4, v6) and back" egress

# ---------------------------------------------------------------- replacing kg's container
flow_start() {  # name ns cmd...: a flow process in netns ns, its output in $LAB_DIR/flow-name
    # ip netns exec execs python3: $! is the flow's own PID (end_started checks its comm)
    ip netns exec "${LAB_PREFIX}$2" "$PY" "$HERE/flow.py" "${@:3}" > "$LAB_DIR/flow-$1" 2>&1 &
    echo "$!" > "$LAB_DIR/flow-$1.pid"; FLOWS+=("$LAB_DIR/flow-$1.pid")
}
flow_ready() { grep -q ready "$LAB_DIR/flow-$1"; }
node_state() {  # n: what kg programs on node n (counters and handshakes left out)
    nsx "n$1" iptables-save | sed -E 's/\[[0-9]+:[0-9]+\]//; /^#/d'
    nsx "n$1" ip6tables-save | sed -E 's/\[[0-9]+:[0-9]+\]//; /^#/d'
    nsx "n$1" ipset save | sed -E 's/ initval 0x[0-9a-f]+//' | sort   # a re-created set gets a new hash seed
    nsx "n$1" ip route show table all proto 107; nsx "n$1" ip -6 route show table all proto 107
    nsx "n$1" ip rule; "$LAB" wg "$1" show kilo0 allowed-ips | sort; "$LAB" wg "$1" show kilo0 endpoints | sort
    cat "$LAB_DIR/run/n$1/cni-net.d/10-kilo.conflist"
}
stop_flows() {  # ends the flows (SIGTERM: each prints its totals)
    local k   # senders first (they were started last)
    for ((k = ${#FLOWS[@]} - 1; k >= 0; k--)); do end_started "${FLOWS[k]}" python3; done
    FLOWS=()
}
rollout() {
    local before between after sent got
    flow_start sink n1-p1 udp-sink 7001; flow_start echo ext tcp-echo 7002
    poll 5 flow_ready sink && poll 5 flow_ready echo || { echo "flow servers did not start"; return 1; }
    flow_start source n3-p1 udp-source "$(pod_ip n1-p1)" 7001   # across WireGuard, to the leader n1
    flow_start client n1-p1 tcp-client 192.168.77.200 7002     # out through n1's SNAT
    before=$(node_state 1)
    "$PODLAB" stop-container 1 kg || return 1
    between=$(node_state 1)   # what the stopping kg left (KILO_CLEAN_UP=false: everything)
    "$PODLAB" start-container 1 kg || return 1
    after=$(node_state 1)   # start-container returns once the new kg is ready (its first apply done)
    stop_flows
    [ "$between" = "$before" ] || { echo "the stopping kg changed the node:"; diff <(echo "$before") <(echo "$between") | head; return 1; }
    [ "$after" = "$before" ] || { echo "the new kg changed the node:"; diff <(echo "$before") <(echo "$after") | head; return 1; }
    sent=$(grep -o 'sent [0-9]*' "$LAB_DIR/flow-source") got=$(grep -o 'received.*' "$LAB_DIR/flow-sink")
    grep -q 'missing 0$' <<< "$got" || { echo "pod-to-pod: $sent, $got"; return 1; }
    grep -q '^ok [1-9]' "$LAB_DIR/flow-client" || { echo "pod-to-external: $(cat "$LAB_DIR/flow-client")"; return 1; }
    echo "measured: during the replacement $sent, $got; tcp $(cat "$LAB_DIR/flow-client")" >&2
}
check "kg's container on the leader replaced (SIGTERM, new container from the same template) with flows running: no datagram lost, no TCP reset, nothing flushed or rewritten" rollout

# ---------------------------------------------------------------- per-node firewall backend
backend_of() {  # n: "<KILO chains in iptables> <kilo tables in nft>" on node n
    echo "$(nsx "n$1" iptables-save | grep -c '^:KILO-') $(nsx "n$1" nft list tables | grep -c ' kilo$')"
}
on_iptables() { [ "$(backend_of 1 | cut -d' ' -f2)" = 0 ] && [ "$(backend_of 1 | cut -d' ' -f1)" -gt 0 ]; }
on_nftables() { [ "$(backend_of 1)" = "0 2" ]; }
sampler() {  # samples n1's backends until the stop file appears
    while [ ! -e "$LAB_DIR/sampler.stop" ]; do backend_of 1; done > "$LAB_DIR/samples"
}
switch_backend() {  # value check: annotate n1 and wait until its firewall is on that backend
    kctl annotate node n1 --overwrite "kilo.squat.ai/firewall-backend=$1" > /dev/null || return 1
    poll 30 "$2" || { echo "n1 is not on $1: $(backend_of 1)"; "$PODLAB" logs 1 kg | tail -3; return 1; }
}
live_switch() {
    local before others t
    before=$(node_state 1) others=$(node_state 2; node_state 3)
    on_iptables || { echo "n1 does not start on iptables: $(backend_of 1)"; return 1; }
    flow_start sink n1-p1 udp-sink 7003; flow_start echo ext tcp-echo 7004
    poll 5 flow_ready sink && poll 5 flow_ready echo || { echo "flow servers did not start"; return 1; }
    flow_start source n3-p1 udp-source "$(pod_ip n1-p1)" 7003
    flow_start client n1-p1 tcp-client 192.168.77.200 7004
    rm -f "$LAB_DIR/sampler.stop"; sampler & local sampler_pid=$!
    t=$(date +%s%N)
    switch_backend nftables on_nftables || { touch "$LAB_DIR/sampler.stop"; wait "$sampler_pid"; return 1; }
    echo "measured: iptables+ipset -> nftables in $(ms "$t") ms" >&2
    t=$(date +%s%N)
    switch_backend iptables on_iptables || { touch "$LAB_DIR/sampler.stop"; wait "$sampler_pid"; return 1; }
    echo "measured: nftables -> iptables+ipset in $(ms "$t") ms" >&2
    touch "$LAB_DIR/sampler.stop"; wait "$sampler_pid"
    stop_flows
    grep -q 'missing 0$' "$LAB_DIR/flow-sink" || { echo "pod-to-pod: $(cat "$LAB_DIR/flow-source" "$LAB_DIR/flow-sink")"; return 1; }
    grep -q '^ok [1-9]' "$LAB_DIR/flow-client" || { echo "pod-to-external: $(cat "$LAB_DIR/flow-client")"; return 1; }
    # never without kg's firewall: the old backend's rules go only once the new ones are in force
    ! grep -qx '0 0' "$LAB_DIR/samples" || { echo "a moment with neither backend's rules: $(uniq -c "$LAB_DIR/samples")"; return 1; }
    grep -qx '0 2' "$LAB_DIR/samples" || { echo "nftables alone never seen: $(uniq -c "$LAB_DIR/samples")"; return 1; }
    echo "measured: n1's backends as sampled ($(wc -l < "$LAB_DIR/samples") samples of 'iptables-chains nft-tables'): $(uniq "$LAB_DIR/samples" | paste -sd,)" >&2
    [ "$(node_state 2; node_state 3)" = "$others" ] || { echo "n2 or n3 changed"; return 1; }
    [ "$(node_state 1)" = "$before" ] || { echo "n1 is not back as it was:"; diff <(echo "$before") <(node_state 1) | head; return 1; }
}
check "n1 alone switched iptables+ipset -> nftables -> back (kilo.squat.ai/firewall-backend) with flows running: no datagram lost, no TCP reset, never without rules, n2 and n3 untouched" live_switch

bad_override() {  # an unknown value keeps the backend in force
    local r0; r0=$(metric_sum 1 kilo_reconciles_total)
    kctl annotate node n1 --overwrite kilo.squat.ai/firewall-backend=nft > /dev/null
    poll 10 reconciled_since "$r0" || { echo "no reconcile"; return 1; }
    on_iptables || { echo "n1 left iptables: $(backend_of 1)"; return 1; }
    "$PODLAB" logs 1 kg | grep -q 'firewall-backend=.*nft.*expected' || { echo "no warning in kg's log"; "$PODLAB" logs 1 kg | tail -3; return 1; }
    kctl annotate node n1 kilo.squat.ai/firewall-backend- > /dev/null
}
check "kilo.squat.ai/firewall-backend=nft (not a backend): kg warns and keeps iptables" bad_override

summary
