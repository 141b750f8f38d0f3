# state.sh - $LAB_DIR/lab.json (the machine-readable description tests consume) and 'status'.
# Sourced by lab.sh.
# shellcheck shell=bash

pid_or_null() { proc_pid "$1" || printf null; }

node_json() {  # I
    local i=$1 d egress=null
    d=$(node_dir "$i")
    [ "$i" != 1 ] || egress=$(jq -nc --arg a "$UL4.101" --arg b "${UL6}:101" '{v4: $a, v6: $b}')
    jq -nc --argjson i "$i" --arg ns "$(node_ns "$i")" --arg loc "$(node_location "$i")" \
        --argjson anchor "$(pid_or_null "$d/anchor.pid")" --argjson wgd "$(pid_or_null "$d/wireguard-go.pid")" \
        --arg v4 "$UL4.1$i" --arg v6 "${UL6}:1$i" --arg d "$d" --arg wgif "$WG_IF" --argjson port "$WG_PORT" \
        --argjson egress "$egress" '{
        name: "n\($i)", index: $i, netns: $ns, location: $loc,
        anchor_pid: $anchor, wireguard_go_pid: $wgd,
        underlay: {interface: "eth0", v4: $v4, v6: $v6, v4_cidr: "\($v4)/24", v6_cidr: "\($v6)/64"},
        pod_cidrs: ["10.42.\($i).0/24", "fd00:10:42:\($i)::/64"],
        wireguard: {interface: $wgif, port: $port, uapi_dir: "\($d)/wg", uapi_socket: "\($d)/wg/\($wgif).sock",
                    log: "\($d)/wireguard-go.log"},
        private_dirs: {"/run/wireguard": "\($d)/wg", "/var/lib/kilo": "\($d)/kilo",
                       "/etc/cni/net.d": "\($d)/cni-net.d", "/var/lib/cni": "\($d)/cni-lib"},
        egress: $egress}'
}

pod_json() {  # POD-STATE-DIR
    local pod
    pod=$(basename "$1")
    jq -c --arg pod "$pod" --arg ns "$(pod_ns "$pod")" --arg node "${pod%%-*}" '
        [.ips[]?.address] as $ips | {
        name: $pod, node: $node, netns: $ns, container_id: $ns, ips: $ips,
        v4: ([$ips[] | select(test(":") | not) | sub("/.*"; "")] | first),
        v6: ([$ips[] | select(test(":")) | sub("/.*"; "")] | first)}' "$1/result.json"
}

write_lab_json() {
    local i pd nodes_json=() pods_json=()
    for i in $(nodes); do nodes_json+=("$(node_json "$i")"); done
    for pd in "$RUN"/n*/pods/*; do [ -f "$pd/result.json" ] && pods_json+=("$(pod_json "$pd")"); done
    jq -n --arg prefix "$LAB_PREFIX" --arg dir "$LAB_DIR" --arg u "${LAB_PREFIX}underlay" \
        --arg ext "${LAB_PREFIX}ext" --argjson port "$LAB_ECHO_PORT" \
        --argjson echo "$(pid_or_null "$RUN/ext/echo.pid")" \
        --argjson static "$([ "$(cat "$LAB_DIR/static-mesh" 2>/dev/null)" = 1 ] && echo true || echo false)" \
        --slurpfile nodes <(printf '%s\n' "${nodes_json[@]}") \
        --slurpfile pods <(if [ ${#pods_json[@]} -gt 0 ]; then printf '%s\n' "${pods_json[@]}"; fi) '{
        prefix: $prefix, dir: $dir, static_mesh: $static,
        underlay: {netns: $u, bridge: "br0", v4_cidr: "192.168.77.0/24", v6_cidr: "fd00:77::/64"},
        control_plane: {netns: $u, interface: "br0", v4: "192.168.77.254", v6: "fd00:77::254"},
        ext: {name: "ext", netns: $ext, v4: "192.168.77.200", v6: "fd00:77::200", echo_port: $port, echo_pid: $echo},
        egress: [$nodes[] | select(.egress != null) | {node: .name} + .egress],
        nodes: $nodes,
        pods: ($pods | sort_by(.name | capture("n(?<n>[0-9]+)-p(?<p>[0-9]+)") | [(.n | tonumber), (.p | tonumber)]))}' > "$LAB_DIR/lab.json.tmp"
    mv "$LAB_DIR/lab.json.tmp" "$LAB_DIR/lab.json"
}

cmd_status() {
    local i d ok=0 a w k wgstate
    if [ ! -f "$LAB_DIR/lab.json" ]; then
        echo "no lab at $LAB_DIR (namespaces with prefix $LAB_PREFIX: $(lab_namespaces | xargs))"
        return 1
    fi
    printf 'lab %s in %s, static mesh: %s\n' "$LAB_PREFIX" "$LAB_DIR" "$(jq -r .static_mesh "$LAB_DIR/lab.json")"
    printf 'namespaces: %s\n' "$(lab_namespaces | xargs)"
    printf '%-4s %-10s %-6s %-28s %-14s %-18s %s\n' node netns loc underlay anchor wireguard-go "$WG_IF"
    for i in $(nodes); do
        d=$(node_dir "$i")
        a=$(proc_pid "$d/anchor.pid") || { a=DEAD; ok=1; }
        w=$(proc_pid "$d/wireguard-go.pid") || { w=DEAD; ok=1; }
        if [ "$a" != DEAD ] && wgstate=$(nodex_run "$i" wg show "$WG_IF" dump 2> /dev/null); then
            if [ "$(head -1 <<< "$wgstate" | cut -f1)" = "(none)" ]; then k="no key"; else k=key; fi
            wgstate="$k, port $(head -1 <<< "$wgstate" | cut -f3), $(($(wc -l <<< "$wgstate") - 1)) peers"
            [ "$(ip -n "$(node_ns "$i")" -br link show "$WG_IF" | awk '{print $2}')" = DOWN ] && wgstate="down, $wgstate"
        else
            wgstate="no UAPI"; ok=1
        fi
        printf '%-4s %-10s %-6s %-28s %-14s %-18s %s\n' "n$i" "$(node_ns "$i")" "$(node_location "$i")" \
            "$UL4.1$i ${UL6}:1$i" "$a" "$w" "$wgstate"
    done
    printf 'ext %s: 192.168.77.200 fd00:77::200; control plane (br0 in %sunderlay): 192.168.77.254 fd00:77::254\n' \
        "${LAB_PREFIX}ext" "$LAB_PREFIX"
    jq -r '.pods[] | "pod \(.name) (\(.netns)): \(.ips | join(" "))"' "$LAB_DIR/lab.json"
    return $ok
}
