#!/usr/bin/env bash
# The one benchmark command: runs every part of e2e/bench/ and regenerates docs/benchmarks.md
# and its plots docs/benchmarks/*.png. Parts report and never assert times.
#
#   bash e2e/bench/run.sh                     (root, from the repository root) the full set -> docs/
#   bash e2e/bench/run.sh --quick [--out DIR] smallest sizes, 1-2 repetitions -> DIR (default a
#                                             temp dir); add --docs to write docs/ all the same
#   bash e2e/bench/run.sh --parts "cni throughput"   only these parts (the others say "not run")
#   bash e2e/bench/run.sh --not-run "cni:why" ...   skip a part, saying why in its section
#   bash e2e/bench/run.sh --assemble FRAGDIR --out DIR   no measurement: assemble the fragments
#                                             and PNGs already in FRAGDIR (check.sh uses it)
#
# Each part is `e2e/bench/<part>.sh OUTDIR` writing OUTDIR/<part>.md (and OUTDIR/<part>-*.png);
# a part that is missing, fails or writes no fragment gets a "not run: <reason>" section
# instead of aborting the run. BENCH_PART_TIMEOUT (seconds, default 2400) bounds each part;
# the parts' logs are kept in a temp dir when one failed (or with BENCH_KEEP=1).
set -euo pipefail
cd "$(dirname "$0")/../.."
ROOT=$PWD

PARTS_ALL="firewall packet-path churn reconcile scale-plan kg-scale cni throughput"
declare -A TITLE=(
    [firewall]="Firewall apply time"
    [packet-path]="Packet path vs number of CIDRs"
    [churn]="Churn"
    [reconcile]="Reconcile"
    [scale-plan]="Scale: topology and plan computation"
    [kg-scale]="Scale: kg against the API server"
    [cni]="kilo-cni vs bridge + host-local"
    [throughput]="Pod-to-pod throughput over wireguard-go"
)

QUICK=${BENCH_QUICK:-0} OUT="" DOCS="" ONLY="" ASSEMBLE=""
declare -A SKIP=()
while [ $# -gt 0 ]; do
    case $1 in
        --quick) QUICK=1 ;;
        --out) OUT=$2; shift ;;
        --docs) DOCS=1 ;;
        --parts) ONLY=$2; shift ;;
        --assemble) ASSEMBLE=$2; shift ;;
        --not-run) SKIP[${2%%:*}]=${2#*:}; shift ;;
        *) echo "usage: run.sh [--quick] [--out DIR] [--docs] [--parts \"P...\"] [--not-run PART:REASON] [--assemble FRAGDIR]" >&2; exit 2 ;;
    esac
    shift
done
if [ "$QUICK" = 1 ]; then export BENCH_QUICK=1; else unset BENCH_QUICK; fi

# Where the document goes: docs/ for the real run, OUT for --quick / --assemble unless --docs.
if [ -n "$DOCS" ] || { [ "$QUICK" != 1 ] && [ -z "$ASSEMBLE" ] && [ -z "$OUT" ]; }; then
    DEST=$ROOT/docs
else
    DEST=${OUT:-$(mktemp -d /tmp/kilo-bench-out.XXXX)}
fi
mkdir -p "$DEST/benchmarks"

if [ -n "$ASSEMBLE" ]; then
    WORK=$ASSEMBLE
else
    [ "$(id -u)" = 0 ] || { echo "run.sh: needs root (the parts build network namespaces)" >&2; exit 1; }
    WORK=$(mktemp -d /tmp/kilo-bench.XXXX)
fi
declare -A NOTE=() SECS=()

run_part() {  # part: runs it into WORK, or records why it did not run
    local p=$1 script=e2e/bench/$1.sh t0 rc=0
    if [ -n "${SKIP[$p]:-}" ]; then NOTE[$p]=${SKIP[$p]}; return; fi
    if [ -n "$ONLY" ] && ! grep -qw -- "$p" <<< "$ONLY"; then
        NOTE[$p]="not selected in this run (\`--parts\`)"; return
    fi
    if [ ! -f "$script" ]; then NOTE[$p]="\`$script\` is not in this tree"; return; fi
    echo "=== $p ($(date -u +%H:%M:%S))" >&2
    t0=$(date +%s)
    timeout "${BENCH_PART_TIMEOUT:-2400}" bash "$script" "$WORK" > "$WORK/$p.log" 2>&1 || rc=$?
    SECS[$p]=$(( $(date +%s) - t0 ))
    if [ "$rc" != 0 ]; then
        NOTE[$p]="\`bash $script /tmp/out\` exited $rc after ${SECS[$p]} s; the end of its log:"
        NOTE[$p]+=$'\n\n```\n'"$(tail -n 15 "$WORK/$p.log")"$'\n```'
        rm -f "$WORK/$p.md"
    elif [ ! -s "$WORK/$p.md" ]; then
        NOTE[$p]="\`bash $script /tmp/out\` wrote no \`$p.md\`"
    fi
    echo "    $p: ${NOTE[$p]:-ok} (${SECS[$p]} s)" >&2
}

title_of() {  # part: the fragment's `## ` line, or the part's default title
    if [ -s "$WORK/$1.md" ] && [ -z "${NOTE[$1]:-}" ]; then
        sed -n '1s/^## *//p' "$WORK/$1.md"
    else
        echo "${TITLE[$1]}"
    fi
}

slug() {  # GitHub's heading anchor
    tr '[:upper:]' '[:lower:]' <<< "$1" | sed 's/[^a-z0-9 _-]//g; s/ /-/g'
}

machine() {
    local cpu mem commit
    cpu=$(sed -n 's/^model name[[:space:]]*: //p' /proc/cpuinfo | head -n 1)
    mem=$(awk '/^MemTotal/ {printf "%.1f GiB", $2 / 1048576}' /proc/meminfo)
    commit=$(git rev-parse --short=12 HEAD 2>/dev/null || echo unknown)
    git diff --quiet HEAD 2>/dev/null || commit+=" (with uncommitted changes)"
    echo "| date (UTC) | $(date -u '+%Y-%m-%d %H:%M') |"
    echo "| git commit | \`$commit\` |"
    echo "| CPU | ${cpu:-unknown} |"
    echo "| cores | $(nproc) |"
    echo "| kernel | $(uname -r) |"
    echo "| memory | $mem |"
    echo "| mode | $([ "$QUICK" = 1 ] && echo "quick (\`--quick\`: smallest sizes, 1–2 repetitions; a smoke test, not figures to quote)" || echo full) |"
}

assemble() {  # -> DEST/benchmarks.md and DEST/benchmarks/*.png
    local doc=$DEST/benchmarks.md.tmp p t
    {
        echo "# Benchmarks"
        echo
        echo "Generated by \`bash e2e/bench/run.sh\` (as root, from the repository root), which runs"
        echo "every part below and rewrites this file and the plots in \`docs/benchmarks/\`. Each"
        echo "part can be re-run alone with the command given in its section. The parts report and"
        echo "never assert times: a missed goal is stated as \"not met\", it fails nothing. Every"
        echo "figure is the median with its spread over repeated runs, and each comparison measures"
        echo "both sides in the same run on the same machine and is stated as a ratio."
        echo
        echo "| machine | |"
        echo "|---|---|"
        machine
        echo
        echo "## Contents"
        echo
        for p in $PARTS_ALL; do
            t=$(title_of "$p")
            echo "- [$t](#$(slug "$t"))${NOTE[$p]:+ — not run}${SECS[$p]:+ (${SECS[$p]} s)}"
        done
        for p in $PARTS_ALL; do
            echo
            if [ -z "${NOTE[$p]:-}" ]; then
                cat "$WORK/$p.md"
            else
                echo "## $(title_of "$p")"
                echo
                echo "Not run: ${NOTE[$p]}"
            fi
        done
    } > "$doc"
    mv "$doc" "$DEST/benchmarks.md"
    rm -f "$DEST"/benchmarks/*.png
    for p in $PARTS_ALL; do
        [ -z "${NOTE[$p]:-}" ] || continue
        for png in "$WORK/$p"-*.png; do [ -e "$png" ] && cp "$png" "$DEST/benchmarks/"; done
    done
    echo "wrote $DEST/benchmarks.md" >&2
}

T0=$(date +%s)
for p in $PARTS_ALL; do
    if [ -n "$ASSEMBLE" ]; then
        if [ -n "${SKIP[$p]:-}" ]; then NOTE[$p]=${SKIP[$p]}
        elif [ ! -f "e2e/bench/$p.sh" ]; then NOTE[$p]="\`e2e/bench/$p.sh\` is not in this tree"
        elif [ ! -s "$WORK/$p.md" ]; then NOTE[$p]="no fragment \`$p.md\` in $WORK"; fi
    else
        run_part "$p"
    fi
done
assemble
echo "total: $(( $(date +%s) - T0 )) s" >&2
if [ -z "$ASSEMBLE" ]; then
    if [ -n "${BENCH_KEEP:-}" ] || grep -q ' exited ' <<< "${NOTE[*]}"; then
        echo "fragments and logs kept in $WORK" >&2
    else
        rm -rf "$WORK"
    fi
fi
