# e2e-egress.sh - egress-IP checks (issue 6), sourced by e2e.sh (uses its helpers).
# n1 has 192.168.77.101 and fd00:77::101 on its underlay besides its own addresses.

echo "### egress IP"
node_address_seen() { sees n1-p1 v4 192.168.77.11 && sees n1-p1 v6 fd00:77::11; }
check "before the annotation ext sees n1's node address (v4 and v6)" node_address_seen

egress_step() {  # value expect-v4 expect-v6 -> sets the annotation (or removes it with '-') and checks
    local b4 b6; b4=$(nat_rules 1 iptables-save); b6=$(nat_rules 1 ip6tables-save)
    annotate_egress "$1" "$2" "$3" || return 1
    only_snat_diff "$b4" "$(nat_rules 1 iptables-save)" || { echo "v4 iptables-save changed beyond the SNAT line"; return 1; }
    only_snat_diff "$b6" "$(nat_rules 1 ip6tables-save)" || { echo "v6 ip6tables-save changed beyond the SNAT line"; return 1; }
    nsx n1 iptables-save -t nat | grep -A1 -- '-j SNAT' | tail -1 | grep -q MASQUERADE || [ "$2" = 192.168.77.11 ] \
        || { echo "SNAT is not directly before MASQUERADE"; return 1; }
}
nsx n1 ip addr add 192.168.77.102/24 dev eth0
check "annotate v4+v6: ext sees the egress addresses; only the SNAT lines changed" egress_step "192.168.77.101,fd00:77::101" 192.168.77.101 fd00:77::101
status_says() { local out; out=$("$RUN" kgctl status) && grep -qE "^$1 +$2 +$3\$" <<< "$out"; }
status_in_force() { poll 10 status_says n1 IPv4 "SNAT --to-source 192.168.77.101" && status_says n1 IPv6 "SNAT --to-source fd00:77::101" \
    && status_says n2 IPv4 "MASQUERADE \(no egress-ip for this family\)" || { "$RUN" kgctl status; return 1; }; }
check "kgctl status (from the API server) shows the egress address in force per node and family" status_in_force
check "change the v4 address, drop v6: v6 back to MASQUERADE; only SNAT lines changed" egress_step "192.168.77.102" 192.168.77.102 fd00:77::11
check "remove the annotation: back to the node address; only the SNAT line changed" egress_step - 192.168.77.11 fd00:77::11

invalid_form() {  # value expected-message-fragment
    local before; before=$(nat_rules 2 iptables-save | grep -v SNAT)
    kctl annotate node n2 --overwrite "kilo.squat.ai/egress-ip=$1" > /dev/null
    poll 10 event_with n2 "$2" || { echo "no Event containing: $2"; kctl get events; return 1; }
    sees n2-p1 v4 192.168.77.12 || { echo "n2-p1 egress broke: $(probe n2-p1 v4)"; return 1; }
    pods_reach n2-p1 "$(pod_ip n3-p1)" || { echo "n2-p1 cannot reach n3-p1"; return 1; }
    [ "$(nat_rules 2 iptables-save | grep -v SNAT)" = "$before" ] || { echo "n2's NAT rules changed"; return 1; }
}
check "invalid: a CIDR → Event, MASQUERADE, connectivity unchanged" invalid_form "10.0.0.1/32" "is a CIDR"
check "invalid: garbage → Event" invalid_form "garbage" '"garbage" is not an IP address'
check "invalid: two IPv4 of three → warning Event, first wins" invalid_form "192.168.77.12,192.168.77.13,fd00:77::12" "ignored: IPv4 already uses 192.168.77.12"
check "invalid: IPv4-mapped IPv6 → Event" invalid_form "::ffff:192.168.77.12" "IPv4-mapped"
check "invalid: zone-scoped IPv6 → Event" invalid_form "fe80::1%eth0" "has a zone"
check "invalid: empty → Event" invalid_form "" "value is empty"
errors_counted() { [ "$(metric_sum 2 'kilo_errors_total{event="annotation"}')" -ge 5 ]; }
check "kilo_errors_total counts the annotation problems" errors_counted

not_assigned_then_appears() {
    kctl annotate node n2 --overwrite kilo.squat.ai/egress-ip=192.168.77.112 > /dev/null
    poll 10 event_with n2 EgressIPNotAssigned || { echo "no EgressIPNotAssigned Event"; return 1; }
    sees n2-p1 v4 192.168.77.12 || { echo "unassigned address used: $(probe n2-p1 v4)"; return 1; }
    poll 10 status_says n2 IPv4 "MASQUERADE \(192.168.77.112 is not assigned on the node\)" || { "$RUN" kgctl status; return 1; }
    local t; t=$(date +%s%N)
    nsx n2 ip addr add 192.168.77.112/24 dev eth0
    poll 10 sees n2-p1 v4 192.168.77.112 || { echo "SNAT did not follow the new address"; return 1; }
    echo "measured: address added → SNAT in force after $(ms "$t") ms (resync period is 30 s)" >&2
    poll 10 status_says n2 IPv4 "SNAT --to-source 192.168.77.112" || { "$RUN" kgctl status; return 1; }
}
check "an unassigned egress IP is not used (Event, kgctl status says why); adding the address activates it without a resync" not_assigned_then_appears

each_own() {
    kctl annotate node n1 --overwrite kilo.squat.ai/egress-ip=192.168.77.101 > /dev/null
    poll 10 sees n1-p1 v4 192.168.77.101 && sees n2-p1 v4 192.168.77.112 \
        && ! nsx n1 iptables-save -t nat | grep -q 192.168.77.112 && ! nsx n2 iptables-save -t nat | grep -q 192.168.77.101
}
check "with egress IPs on two nodes each node SNATs to its own" each_own
kctl annotate node n1 kilo.squat.ai/egress-ip- > /dev/null
kctl annotate node n2 kilo.squat.ai/egress-ip- > /dev/null
