# e2e-lib.sh - shared by the lab tests (e2e.sh, e2e-nftables.sh): a lab of their own
# (LAB_PREFIX=kl-<name><pid>-), check/poll helpers, readers of the lab, and a clean-up trap that
# tears everything down (keeping kg's logs when a check failed). Source it, then call infra_up.
# No pipefail: checks are `producer | grep -q …`, and grep -q leaving early may SIGPIPE the producer,
# which pipefail would turn into a false result (and `! …` into a false pass).
set -u
HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
ROOT=$(cd "$HERE/../.." && pwd)
export LAB_PREFIX=kl-${E2E_NAME:-e2e}$$-
export LAB_DIR=/tmp/kilo-lab-${E2E_NAME:-e2e}$$
export NODES=3
RUN="$HERE/run.sh"
LAB="$HERE/lab.sh"
PY=/usr/bin/python3
PASS=0
FAIL=0

ok() { PASS=$((PASS + 1)); echo "ok   - $1"; }
bad() { FAIL=$((FAIL + 1)); echo "FAIL - $1"; [ -z "${2:-}" ] || sed 's/^/       /' <<< "$2"; }
check() {  # name cmd...
    local name=$1 out; shift
    if out=$("$@"); then ok "$name"; else bad "$name" "$(tail -8 <<< "$out")"; fi
}
poll() {  # seconds cmd... : retry until the command succeeds or the deadline passes
    local deadline=$((SECONDS + $1)); shift
    until "$@" > /dev/null 2>&1; do [ $SECONDS -lt "$deadline" ] || return 1; sleep 0.1; done
}
ms() { echo $(( ($(date +%s%N) - $1) / 1000000 )); }
kctl() { "$RUN" kubectl "$@"; }
nsx() { ip netns exec "${LAB_PREFIX}$1" "${@:2}"; }
ann() { kctl get node "$1" -o json | jq -r --arg k "kilo.squat.ai/$2" '.metadata.annotations[$k] // ""'; }
probe() { "$LAB" probe-egress "$1" "$2" --timeout 2 2>/dev/null | tail -1; }
sees() { [ "$(probe "$1" "$2")" = "$3" ]; }
metric_sum() {  # node metric-name-prefix -> sum of the samples
    "$RUN" metrics "$1" | awk -v m="$2" 'index($1, m) == 1 { s += $2 } END { printf "%d\n", s }'
}
nat_rules() { nsx "n$1" "$2" -t nat | grep -v '^#'; }
only_snat_diff() {  # before after [pattern] -> every changed line is a SNAT rule (iptables form by default)
    local d; d=$(diff <(echo "$1") <(echo "$2") | grep '^[<>]' || true)
    ! grep -v -- "${3:-SNAT --to-source}" <<< "$d" | grep -q . || { echo "diff: $d"; return 1; }
}
annotate_egress() {  # value expect-v4 expect-v6 [label]: set n1's egress-ip ('-' removes it), wait
    # until ext sees the expected sources and report how long that took
    local value=$1 want4=$2 want6=$3 t; t=$(date +%s%N)
    if [ "$value" = - ]; then kctl annotate node n1 kilo.squat.ai/egress-ip- > /dev/null
    else kctl annotate node n1 --overwrite "kilo.squat.ai/egress-ip=$value" > /dev/null; fi
    poll 10 sees n1-p1 v4 "$want4" || { echo "v4: ext saw $(probe n1-p1 v4), wanted $want4"; return 1; }
    poll 10 sees n1-p1 v6 "$want6" || { echo "v6: ext saw $(probe n1-p1 v6), wanted $want6"; return 1; }
    echo "measured: ${4:-}egress-ip=$value in force after $(ms "$t") ms" >&2
}
end_started() {  # pidfile comm: SIGTERM a process the test started (by PID, if its comm still
    # matches) and wait up to 10 s for it to be gone (a zombie counts as gone)
    local pid; pid=$(cat "$1" 2> /dev/null) || return 0
    if [ "$(cat "/proc/$pid/comm" 2> /dev/null)" = "$2" ]; then
        kill "$pid"
        for _ in $(seq 100); do [ -d "/proc/$pid" ] && ! grep -q '^State:.*Z' "/proc/$pid/status" 2> /dev/null || break; sleep 0.1; done
    fi
    rm -f "$1"
}
pods_reach() { nsx "$1" "$PY" "$HERE/labnet.py" ping 3 "$2" | grep -q ' ok '; }
pod_ip() {  # pod [true for IPv6]
    jq -r --arg p "$1" --argjson v6 "${2:-false}" '.pods[] | select(.name == $p) | if $v6 then .v6 else .v4 end' "$LAB_DIR/lab.json"
}

cleanup() {
    if [ "$FAIL" != 0 ] && [ -d "$LAB_DIR/cluster" ]; then  # keep kg and API server logs for a post-mortem
        cp -r "$LAB_DIR/cluster" "/tmp/kilo-e2e-logs-$$" && echo "logs kept in /tmp/kilo-e2e-logs-$$"
    fi
    ! declare -F laptop_down > /dev/null || laptop_down
    ! declare -F connect_down > /dev/null || connect_down
    ! declare -F lan_down > /dev/null || lan_down
    ip netns del "${LAB_PREFIX}scratch" 2> /dev/null
    "$RUN" down > /dev/null 2>&1 || "$RUN" down; rm -f "$LAB_DIR.infra.log"
}
trap cleanup EXIT

reconciled_since() { [ "$(metric_sum 1 kilo_reconciles_total)" -gt "$1" ]; }
reapply_is_noop() {  # a change kg must reconcile but that leaves n1's plan as it is: no firewall op
    local before r0; before=$(metric_sum 1 kilo_firewall_operations_total); r0=$(metric_sum 1 kilo_reconciles_total)
    kctl label node n1 e2e=reapply --overwrite > /dev/null
    poll 10 reconciled_since "$r0" || { echo "no reconcile"; return 1; }
    [ "$(metric_sum 1 kilo_firewall_operations_total)" = "$before" ] || { echo "operations $before -> $(metric_sum 1 kilo_firewall_operations_total)"; return 1; }
}
infra_up() {  # the lab, the API server and the registered Nodes; no kg yet
    echo "### lab cluster (prefix $LAB_PREFIX)"
    if ! "$RUN" infra > "$LAB_DIR.infra.log" 2>&1; then
        cat "$LAB_DIR.infra.log"; bad "lab infrastructure comes up"; echo "$PASS passed, $FAIL failed"; exit 1
    fi
}
summary() {
    echo "### summary"
    echo "$PASS passed, $FAIL failed"
    [ "$FAIL" = 0 ]
}
