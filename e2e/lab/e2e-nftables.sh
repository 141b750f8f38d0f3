#!/usr/bin/env bash
# e2e-nftables.sh - the lab cluster with kg's nftables firewall backend (--firewall-backend
# nftables), run as root by CI (e2e/test-all.sh): the mesh comes up, kg's state lives only in its
# own tables `ip kilo` and `ip6 kilo`, a reconcile with nothing to change writes nothing, egress
# SNAT appears, changes and disappears as the only changed rule, and SIGTERM with --clean-up
# removes the tables. Last line "N passed, M failed".
HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
export E2E_NAME=nft
# shellcheck source=e2e-lib.sh
source "$HERE/e2e-lib.sh"
export KG_ARGS="--firewall-backend nftables"
infra_up

check "kg with --firewall-backend nftables brings the mesh up" "$RUN" start
check "full pod-to-pod reachability, IPv4 and IPv6" "$LAB" matrix --deadline 20

nft_table() { nsx "$1" nft list table "$2" kilo; }
own_tables_only() {
    local i t
    for i in 1 2 3; do
        for t in ip ip6; do
            nft_table "n$i" "$t" | grep -q 'chain postrouting' || { echo "n$i: no $t kilo table"; return 1; }
        done
        ! nsx "n$i" iptables-save | grep -q KILO || { echo "n$i: KILO rules in iptables"; return 1; }
        ! nsx "n$i" ipset list -n | grep -q kilo- || { echo "n$i: kilo ipsets"; return 1; }
    done
    nft_table n1 ip | grep -q "$(pod_ip n3-p1 | cut -d. -f1-3).0/24" || { echo "n1's mesh set lacks n3's pods"; return 1; }
}
check "kg's firewall is in its own tables ip/ip6 kilo on every node; no iptables rules or ipsets" own_tables_only

plan_matches_tables() {  # kgctl plan --firewall-backend nftables, loaded into a scratch netns, lists the same
    local scratch=${LAB_PREFIX}scratch rc=0 fam script
    kctl get nodes -o yaml > "$LAB_DIR/c.yaml"
    "${CARGO_TARGET_DIR:-$ROOT/target}/debug/kgctl" plan -f "$LAB_DIR/c.yaml" --hostname n1 --encapsulate never \
        --firewall-backend nftables --now "$(date +%s)" -o json > "$LAB_DIR/plan.json" || return 1
    ip netns add "$scratch" || return 1
    for fam in v4 v6; do
        script=$(jq -r --arg f $fam '.firewallText[$f].nft' "$LAB_DIR/plan.json")
        ip netns exec "$scratch" nft -f - <<< "$script" || { rc=1; break; }
    done
    if [ $rc = 0 ]; then
        for fam in ip ip6; do
            diff <(ip netns exec "$scratch" nft list table $fam kilo) <(nft_table n1 $fam) || { echo "$fam kilo differs from kgctl plan"; rc=1; }
        done
    fi
    ip netns del "$scratch"
    return $rc
}
check "n1's tables equal kgctl plan --firewall-backend nftables (loaded into a scratch netns)" plan_matches_tables

nft_reapply_is_noop() {
    reapply_is_noop || return 1
    "$RUN" metrics 1 | grep -q '^kilo_firewall_operations_total{backend="nftables"' || { echo "no nftables operations counted"; return 1; }
}
check "a reconcile with nothing to change performs zero nftables operations" nft_reapply_is_noop

egress_step() {  # value expect-v4 expect-v6
    local b4 b6; b4=$(nft_table n1 ip); b6=$(nft_table n1 ip6)
    annotate_egress "$1" "$2" "$3" "(nftables) " || return 1
    only_snat_diff "$b4" "$(nft_table n1 ip)" 'snat to' || return 1
    only_snat_diff "$b6" "$(nft_table n1 ip6)" 'snat to' || return 1
    [ "$1" = - ] || nft_table n1 ip | grep -A1 'snat to' | tail -1 | grep -q masquerade \
        || { echo "snat is not directly before masquerade"; return 1; }
}
check "before the annotation ext sees n1's node address (v4 and v6)" eval 'sees n1-p1 v4 192.168.77.11 && sees n1-p1 v6 fd00:77::11'
check "annotate v4+v6: ext sees the egress addresses; only the snat rules changed" egress_step "192.168.77.101,fd00:77::101" 192.168.77.101 fd00:77::101
check "remove the annotation: back to the node address; only the snat rules changed" egress_step - 192.168.77.11 fd00:77::11

clean_up_on_term() {
    "$RUN" kg-stop 1 TERM
    ! nsx n1 nft list tables | grep -q 'kilo' || { echo "kilo tables left: $(nsx n1 nft list tables)"; return 1; }
}
check "SIGTERM with --clean-up deletes kg's nftables tables" clean_up_on_term

summary
