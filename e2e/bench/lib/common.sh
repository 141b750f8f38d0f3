# common.sh - what every benchmark part shares: root check, installs, release builds, the
# OUTDIR argument, summary statistics and the "median (min–max)" cells. Sourced by
# e2e/bench/<part>.sh from the repository root.
# shellcheck shell=bash disable=SC2034

bench_init() {  # part OUTDIR: checks root, sets PART OUT QUICK STATS; dies with usage otherwise
    PART=$1 OUT=${2:-}
    [ -n "$OUT" ] || { echo "usage: bash e2e/bench/$PART.sh OUTDIR" >&2; exit 2; }
    [ "$(id -u)" = 0 ] || { echo "$PART: needs root" >&2; exit 1; }
    mkdir -p "$OUT"
    OUT=$(cd "$OUT" && pwd)
    QUICK=${BENCH_QUICK:-0}
    STATS="python3 e2e/bench/lib/stats.py"
    export PATH=$PATH:/usr/sbin:/sbin
}

need_cmd() {  # command debian-package: installs the package when the command is missing
    command -v "$1" > /dev/null && return
    echo "$PART: installing $2" >&2
    DEBIAN_FRONTEND=noninteractive apt-get install -y -q "$2" > /dev/null \
        || { apt-get update -q > /dev/null && DEBIAN_FRONTEND=noninteractive apt-get install -y -q "$2" > /dev/null; } \
        || { echo "$PART: cannot install $2 (for $1)" >&2; exit 1; }
    command -v "$1" > /dev/null || { echo "$PART: $1 still missing after installing $2" >&2; exit 1; }
}

need_matplotlib() {
    python3 -c 'import matplotlib' 2> /dev/null && return
    python3 -m pip install --quiet matplotlib >&2 || { echo "$PART: pip install matplotlib failed" >&2; exit 1; }
}

release_build() {  # cargo packages...: release builds into target/release (quietly)
    local args=()
    for p in "$@"; do args+=(-p "$p"); done
    cargo build --release -q "${args[@]}" || { echo "$PART: cargo build --release ${args[*]} failed" >&2; exit 1; }
}

cell() {  # "median min max ...": "median (min–max)"
    read -r m lo hi _ <<< "$1"
    echo "$m ($lo–$hi)"
}

tsv_cell() {  # "median min max ...": "median:min:max" (plot.py's cell)
    read -r m lo hi _ <<< "$1"
    echo "$m:$lo:$hi"
}

met() {  # value op limit: "met" or "not met" (a report, never an exit status)
    if awk -v v="$1" -v l="$3" "BEGIN { exit !(v $2 l) }"; then echo met; else echo "not met"; fi
}

plot() {  # out.png title xlabel ylabel data.tsv [flags]: a plot, or a note on stderr if it fails
    need_matplotlib
    python3 e2e/bench/plot.py "$@" || echo "$PART: plot $1 failed" >&2
}
