#!/usr/bin/env bash
# Fast checks of the benchmark machinery (no measurement unless a quick part is asked for):
# Runs shellcheck on e2e/bench/*.sh, plot.py on tiny TSVs (a valid PNG; malformed input refused),
# run.sh's assembly on canned fragments, and the quick mode of the cheapest part
# (BENCH_CHECK_QUICK=0 skips it). Last line: "N passed, M failed".
#
#   bash e2e/bench/check.sh
set -uo pipefail
cd "$(dirname "$0")/../.." || exit 1
source e2e/lib/report.sh
TMP=$(mktemp -d /tmp/kilo-bench-check.XXXX)
trap 'rm -rf "$TMP"' EXIT

if command -v shellcheck > /dev/null; then
    mapfile -t scripts < <(find e2e/bench -name '*.sh' | sort)
    check "shellcheck e2e/bench/*.sh" shellcheck -x "${scripts[@]}"
else
    bad "shellcheck e2e/bench/*.sh" "shellcheck is not installed (apt-get install shellcheck)"
fi

png_ok() {  # file: a PNG that decodes to a non-empty image
    python3 - "$1" <<'PY'
import sys
import matplotlib.image as mpimg
with open(sys.argv[1], "rb") as f:
    assert f.read(8) == b"\x89PNG\r\n\x1a\n", "not a PNG signature"
img = mpimg.imread(sys.argv[1])
assert img.shape[0] > 100 and img.shape[1] > 100, img.shape
PY
}

printf 'x\tkilo-rs\tbaseline\n100\t0.05:0.04:0.07\t0.06\n20000\t0.05:0.04:0.06\t\n1000\t\t0.9:0.8:1.2\n' > "$TMP/num.tsv"
check "plot.py: numeric x, bands, empty cells, --logx --logy -> valid PNG" \
    bash -c "python3 e2e/bench/plot.py '$TMP/num.png' 'T' 'CIDRs' 'ms' '$TMP/num.tsv' --logx --logy"
check "plot.py: the PNG decodes" png_ok "$TMP/num.png"
printf 'x\tADD\tDEL\nrun 1\t0.36\t0.69:0.6:0.7\nrun 2\t0.31\t\n' > "$TMP/cat.tsv"
check "plot.py: categorical x -> valid PNG" \
    bash -c "$(declare -f png_ok); python3 e2e/bench/plot.py '$TMP/cat.png' 'T' 'run' 'ratio' '$TMP/cat.tsv' && png_ok '$TMP/cat.png'"
refuses() {  # tsv-content: plot.py must exit non-zero and write no PNG
    printf '%b' "$1" > "$TMP/bad.tsv"; rm -f "$TMP/bad.png"
    ! python3 e2e/bench/plot.py "$TMP/bad.png" T X Y "$TMP/bad.tsv" 2> /dev/null && [ ! -e "$TMP/bad.png" ]
}
check "plot.py refuses a non-number cell" refuses 'x\ta\n1\tfast\n'
check "plot.py refuses a two-part cell" refuses 'x\ta\n1\t1:2\n'
check "plot.py refuses more cells than the header" refuses 'x\ta\n1\t1\t2\n'
check "plot.py refuses a header-only file" refuses 'x\ta\n'
check "plot.py refuses a wrong argument count" bash -c "! python3 e2e/bench/plot.py '$TMP/x.png' 2> /dev/null"

# run.sh's assembly on canned fragments: two parts present (one with a plot), the rest missing.
FRAG=$TMP/frag OUT=$TMP/out
mkdir -p "$FRAG"
printf '## Packet path vs number of CIDRs\n\ncanned packet-path text\n\n![p](benchmarks/packet-path-rtt.png)\n' > "$FRAG/packet-path.md"
cp "$TMP/num.png" "$FRAG/packet-path-rtt.png"
printf '## kilo-cni vs bridge + host-local\n\n| op | ratio |\n|---|---|\n| ADD | 0.36 |\n' > "$FRAG/cni.md"
cp "$TMP/num.png" "$FRAG/firewall-stale.png"  # no firewall.md: its PNG must not be copied
check "run.sh --assemble on canned fragments" bash e2e/bench/run.sh --assemble "$FRAG" --out "$OUT"
DOC=$OUT/benchmarks.md
has() { grep -qF -- "$1" "$DOC"; }
check "assembled: header with the command and machine facts" \
    bash -c "$(declare -f has); DOC='$DOC'; has '# Benchmarks' && has 'bash e2e/bench/run.sh' && has '| cores | $(nproc) |' && has '| kernel | $(uname -r) |' && has 'never assert'"
check "assembled: contents list every part in order" bash -c "
    grep -o '^- \[[^]]*\](#[^)]*)' '$DOC' | sed 's/](.*//; s/^- \[//' | tr '\n' '|' | grep -qx \
    'Firewall apply time|Packet path vs number of CIDRs|Churn|Reconcile|Scale: topology and plan computation|Scale: kg against the API server|kilo-cni vs bridge + host-local|Pod-to-pod throughput over wireguard-go|'"
check "assembled: anchors follow GitHub's slugs" \
    grep -qF -- '- [kilo-cni vs bridge + host-local](#kilo-cni-vs-bridge--host-local)' "$DOC"
check "assembled: fragments in order, missing parts say not run" bash -c "
    awk '/^## /{print}' '$DOC' | tr '\n' '|' | grep -qx '## Contents|## Firewall apply time|## Packet path vs number of CIDRs|## Churn|## Reconcile|## Scale: topology and plan computation|## Scale: kg against the API server|## kilo-cni vs bridge + host-local|## Pod-to-pod throughput over wireguard-go|' &&
    grep -qF 'canned packet-path text' '$DOC' && grep -qF '| ADD | 0.36 |' '$DOC' &&
    [ \"\$(grep -c '^Not run: ' '$DOC')\" = 6 ]"
check "assembled: the present part's PNG copied, no other" \
    bash -c "[ \"\$(ls '$OUT/benchmarks')\" = packet-path-rtt.png ]"

if [ "${BENCH_CHECK_QUICK:-1}" = 1 ] && [ "$(id -u)" = 0 ]; then
    check "quick scale-plan part (BENCH_QUICK=1) writes its fragment" bash -c "
        BENCH_QUICK=1 bash e2e/bench/scale-plan.sh '$TMP/q' && head -n 1 '$TMP/q/scale-plan.md' | grep -q '^## '"
fi
report
