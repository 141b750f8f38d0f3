# checks.sh - connectivity checks of the lab: the pod-to-pod 'matrix' and 'probe-egress'.
# Traffic goes only to addresses inside the lab's namespaces. Sourced by lab.sh.
# shellcheck shell=bash

# cell TEXT WIDTH: a left-aligned table cell; mark SYMBOL WIDTH: the same for a one-character
# (multi-byte) symbol, which printf would pad by bytes
cell() { printf '%-*s' "$2" "$1"; }
mark() { printf '%s%*s' "$1" $(($2 - 1)) ''; }

cmd_matrix() {
    local deadline=${LAB_PING_DEADLINE:-2} fams="4 6" tmp names=() nss=() v4s=() v6s=() k s d fam
    local w=6 ok total okf totalf summary=() targets addr res
    while [ $# -gt 0 ]; do
        case $1 in
            --deadline) deadline=${2:?}; shift 2 ;;
            --family) fams=${2:?}; shift 2 ;;
            *) die "matrix: unknown argument $1" ;;
        esac
    done
    [ -f "$LAB_DIR/lab.json" ] || die "no lab at $LAB_DIR"
    while IFS=$'\t' read -r k s d fam; do names+=("$k") nss+=("$s") v4s+=("$d") v6s+=("$fam"); done \
        < <(jq -r '.pods[] | [.name, .netns, (.v4 // "-"), (.v6 // "-")] | @tsv' "$LAB_DIR/lab.json")
    [ ${#names[@]} -ge 2 ] || die "matrix: need at least 2 pods (run 'lab.sh pods')"
    for k in "${names[@]}"; do [ ${#k} -lt $w ] || w=$((${#k} + 1)); done
    tmp=$(mktemp -d "$LAB_DIR/matrix.XXXXXX")
    # one pinger per source pod, all in parallel, one echo per destination (resent until deadline)
    for s in "${!names[@]}"; do
        targets=()
        for d in "${!names[@]}"; do
            [ "$s" = "$d" ] && continue
            [[ " $fams " == *" 4 "* ]] && [ "${v4s[d]}" != - ] && targets+=("${v4s[d]}")
            [[ " $fams " == *" 6 "* ]] && [ "${v6s[d]}" != - ] && targets+=("${v6s[d]}")
        done
        if [ ${#targets[@]} -gt 0 ]; then
            ip netns exec "${nss[s]}" "$PY" "$LAB_HERE/labnet.py" ping "$deadline" "${targets[@]}" > "$tmp/$s" 2>&1 &
        fi
    done
    wait
    ok=0 total=0
    for fam in $fams; do
        okf=0 totalf=0
        printf '\n'
        cell "IPv$fam" $((w + 1))
        for d in "${names[@]}"; do cell "$d" "$w"; done
        echo
        for s in "${!names[@]}"; do
            cell "${names[s]}" $((w + 1))
            for d in "${!names[@]}"; do
                if [ "$s" = "$d" ]; then mark - "$w"; continue; fi
                if [ "$fam" = 4 ]; then addr=${v4s[d]}; else addr=${v6s[d]}; fi
                res=$(awk -v a="$addr" '$1 == a {print $2}' "$tmp/$s" 2> /dev/null)
                totalf=$((totalf + 1))
                if [ "$addr" != - ] && [ "$res" = ok ]; then okf=$((okf + 1)); mark ✓ "$w"; else mark ✗ "$w"; fi
            done
            echo
        done
        summary+=("IPv$fam $okf/$totalf")
        ok=$((ok + okf)) total=$((total + totalf))
    done
    rm -rf "$tmp"
    printf '\n%s/%s reachable (%s, %s)\n' "$ok" "$total" "${summary[0]}" "${summary[1]:-}" | sed 's/, )/)/'
    [ "$ok" = "$total" ]
}

echo_ready() { grep -q '^ready' "$RUN/ext/echo.log"; }
# the peer-address echo server in ext, started once (flock: concurrent probes start one server)
ensure_echo() {
    mkdir -p "$RUN/ext"
    exec 9> "$RUN/ext/echo.lock"
    flock 9
    if ! proc_pid "$RUN/ext/echo.pid" > /dev/null; then
        setsid ip netns exec "${LAB_PREFIX}ext" "$PY" -u "$LAB_HERE/labnet.py" serve "$LAB_ECHO_PORT" \
            < /dev/null > "$RUN/ext/echo.log" 2>&1 9>&- &
        note_proc "$RUN/ext/echo.pid" $! "$(basename "$PY")" || true
        wait_for 5 "the echo server in ${LAB_PREFIX}ext" echo_ready || { cat "$RUN/ext/echo.log" >&2; die "echo server did not start"; }
        proc_pid "$RUN/ext/echo.pid" > /dev/null || die "echo server: pid $(cat "$RUN/ext/echo.pid") does not run $(basename "$PY")"
        write_lab_json
    fi
    exec 9>&-
}

cmd_probe_egress() {
    local pod dst timeout=2 ns
    [ $# -ge 2 ] || die "usage: lab.sh probe-egress POD v4|v6|ADDR [--timeout S]"
    pod=$1 dst=$2; shift 2
    while [ $# -gt 0 ]; do
        case $1 in
            --timeout) timeout=${2:?}; shift 2 ;;
            *) die "probe-egress: unknown argument $1" ;;
        esac
    done
    [ -f "$LAB_DIR/lab.json" ] || die "no lab at $LAB_DIR"
    ns=$(ns_name "$pod")
    [[ $ns =~ -p[0-9]+$ ]] || die "probe-egress: $pod is not a pod"
    case $dst in
        v4|4) dst=$UL4.200 ;;
        v6|6) dst=${UL6}:200 ;;
    esac
    ensure_echo
    ip netns exec "$ns" "$PY" "$LAB_HERE/labnet.py" probe "$dst" "$LAB_ECHO_PORT" "$timeout"
}
