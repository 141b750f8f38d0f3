# cni.sh - a minimal CNI runtime for the lab (what libcni/containerd do): conflist chaining with
# prevResult, result cache for DEL, plugins executed inside the node's netns and mount namespace
# (so /var/lib/cni and /etc/cni/net.d are the node's own). Sourced by lab.sh.
# shellcheck shell=bash

CNI_PLUGIN_BIN=${CNI_PLUGIN_BIN:-}
if [ -n "$CNI_PLUGIN_BIN" ]; then
    CNI_PLUGIN=${CNI_PLUGIN:-$(basename "$CNI_PLUGIN_BIN")}
    LAB_CNI_PATH=${LAB_CNI_PATH:-$(cd "$(dirname "$CNI_PLUGIN_BIN")" && pwd):/usr/lib/cni}
fi
CNI_PLUGIN=${CNI_PLUGIN:-bridge}
LAB_CNI_PATH=${LAB_CNI_PATH:-/usr/lib/cni}
CNI_CONFLIST=${CNI_CONFLIST:-}
if [ "$CNI_PLUGIN" = bridge ]; then CNI_IPAM=${CNI_IPAM-host-local}; else CNI_IPAM=${CNI_IPAM-}; fi
if [ "$CNI_PLUGIN" = bridge ]; then CNI_VERSION=${CNI_VERSION:-1.0.0}; else CNI_VERSION=${CNI_VERSION:-1.1.0}; fi

# The lab's own conflist for node I: the shape kg writes (pkg/mesh/src/plan/cni.rs), main plugin
# $CNI_PLUGIN, IPAM $CNI_IPAM (empty = the plugin's built-in IPAM), dual-stack pod CIDRs.
generated_conflist() {
    local i=$1
    jq -n --arg v "$CNI_VERSION" --arg type "$CNI_PLUGIN" --arg ipam "$CNI_IPAM" \
        --arg s4 "10.42.$i.0/24" --arg s6 "fd00:10:42:$i::/64" '{
        cniVersion: $v, name: "kilo",
        plugins: [ {
            type: $type, bridge: "kube-bridge", isDefaultGateway: true, forceAddress: true,
            hairpinMode: true, mtu: 1420,
            ipam: ((if $ipam == "" then {} else {type: $ipam} end)
                   + {ranges: [[{subnet: $s4}], [{subnet: $s6}]]})
        } ] }'
}

# The conflist a new pod on node I gets: CNI_CONFLIST=node -> the first config in the node's
# /etc/cni/net.d (where kg writes it, like a container runtime picks it); CNI_CONFLIST=PATH
# ({i}, {node} and {dir} are replaced) -> that file; unset -> generated_conflist.
pod_conflist() {
    local i=$1 f
    case $CNI_CONFLIST in
        "") generated_conflist "$i" ;;
        node)
            f=$(find "$(node_dir "$i")/cni-net.d" -maxdepth 1 -type f \
                \( -name '*.conflist' -o -name '*.conf' -o -name '*.json' \) | LC_ALL=C sort | head -1)
            [ -n "$f" ] || die "node n$i: no CNI config in its /etc/cni/net.d ($(node_dir "$i")/cni-net.d)"
            jq . "$f"
            ;;
        *)
            f=${CNI_CONFLIST//\{i\}/$i}; f=${f//\{node\}/n$i}; f=${f//\{dir\}/$LAB_DIR}
            jq . "$f" || die "cannot read CNI config $f"
            ;;
    esac
}

# cni_plugin I POD CMD NETCONF_JSON: execute one plugin; its stdout is the result or error
cni_plugin() {
    local i=$1 pod=$2 cmd=$3 conf=$4 type bin="" dir dirs
    type=$(jq -r .type <<< "$conf")
    local LAB_CNI_PATH=${LAB_CNI_PATH//\{i\}/$i}   # {i}: node I's own plugin directory
    IFS=: read -r -a dirs <<< "$LAB_CNI_PATH"
    for dir in "${dirs[@]}"; do [ -x "$dir/$type" ] && { bin=$dir/$type; break; }; done
    [ -n "$bin" ] || { echo "CNI plugin '$type' not found in $LAB_CNI_PATH" >&2; return 1; }
    nodex_run "$i" env CNI_COMMAND="$cmd" CNI_CONTAINERID="$(pod_ns "$pod")" \
        CNI_NETNS="/run/netns/$(pod_ns "$pod")" CNI_IFNAME=eth0 CNI_PATH="$LAB_CNI_PATH" \
        CNI_ARGS="IgnoreUnknown=1;K8S_POD_NAMESPACE=lab;K8S_POD_NAME=$pod;K8S_POD_INFRA_CONTAINER_ID=$(pod_ns "$pod")" \
        timeout 30 "$bin" <<< "$conf"
}

# netconf CONFLIST INDEX PREV: plugin INDEX of the list as a network config, with prevResult
netconf() {
    jq -c --argjson n "$2" --argjson prev "$3" '
        (if has("plugins") then . else {cniVersion, name, plugins: [.]} end) as $l
        | $l.plugins[$n] as $p
        | $p + {cniVersion: $l.cniVersion, name: $l.name}
        + (if $prev == null then {} else {prevResult: $prev} end)
        + (if $p.capabilities.portMappings? // false then {runtimeConfig: {portMappings: []}} else {} end)' <<< "$1"
}
plugin_count() { jq 'if has("plugins") then (.plugins | length) else 1 end' <<< "$1"; }

# cni_add I POD CONFLIST_FILE RESULT_FILE: ADD through the whole chain; the CNI_PATH used is
# kept next to the result for DEL
cni_add() {
    local i=$1 pod=$2 list result=null n k out
    list=$(cat "$3")
    echo "$LAB_CNI_PATH" > "$(dirname "$4")/cni-path"
    n=$(plugin_count "$list")
    for ((k = 0; k < n; k++)); do
        if ! out=$(cni_plugin "$i" "$pod" ADD "$(netconf "$list" "$k" "$result")"); then
            printf 'CNI ADD of %s failed in plugin %s: %s\n' "$pod" "$(jq -r ".plugins[$k].type // .type" <<< "$list")" \
                "$(if [ -z "$out" ]; then echo "(no output)"; else jq -c . <<< "$out" 2> /dev/null || echo "$out"; fi)" >&2
            return 1
        fi
        [ -z "$out" ] || result=$out
    done
    jq . <<< "$result" > "$4"
}

# cni_del I POD CONFLIST_FILE RESULT_FILE: DEL in reverse order with the cached result
cni_del() {
    local i=$1 pod=$2 list prev=null n k rc=0 LAB_CNI_PATH=$LAB_CNI_PATH
    list=$(cat "$3")
    [ ! -s "$(dirname "$4")/cni-path" ] || LAB_CNI_PATH=$(cat "$(dirname "$4")/cni-path")
    [ -s "$4" ] && prev=$(cat "$4")
    n=$(plugin_count "$list")
    for ((k = n - 1; k >= 0; k--)); do
        cni_plugin "$i" "$pod" DEL "$(netconf "$list" "$k" "$prev")" > /dev/null || rc=1
    done
    return $rc
}
