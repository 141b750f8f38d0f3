#!/usr/bin/env bash
# Benchmark part "firewall": kg's firewall at 100 / 1 000 / 5 000 / 20 000 per-CIDR entries —
# full sync, one node joining (the whole apply), no-op resync — for kilo-rs's iptables+ipset
# and nftables backends, Go Kilo 0.7's one-iptables-process-per-rule controller, and the floor
# (one ipset restore + one iptables-restore per family of the same content).
#
#   bash e2e/bench/firewall.sh OUTDIR     (root, from the repository root)
#
# Writes OUTDIR/firewall.md and OUTDIR/firewall-join.png. BENCH_QUICK=1: N = 100 and 1000, one
# repetition. Reports, never asserts times: exits non-zero only when it could not run.
set -euo pipefail

out=${1:?usage: e2e/bench/firewall.sh OUTDIR}
mkdir -p "$out"
[ "$(id -u)" = 0 ] || { echo "firewall.sh: needs root" >&2; exit 1; }
if [ ! -f Cargo.toml ] || [ ! -d pkg/firewall ]; then
    echo "firewall.sh: run from the repository root" >&2
    exit 1
fi

need=()
for tool in iptables:iptables ip6tables:iptables ipset:ipset nft:nftables ip:iproute2 python3:python3; do
    command -v "${tool%%:*}" >/dev/null || need+=("${tool#*:}")
done
if [ ${#need[@]} -gt 0 ]; then
    apt-get update -qq && apt-get install -y -qq "${need[@]}" >/dev/null
fi
plot=${BENCH_PLOT:-e2e/bench/plot.py}
[ -f "$plot" ] || { echo "firewall.sh: $plot is missing" >&2; exit 1; }

if [ "${BENCH_QUICK:-0}" = 1 ]; then
    reps=1 sizes="100 1000"
else
    reps=5 sizes="100 1000 5000 20000"
fi
full_max=${KILO_BENCH_KILO07_FULL_MAX:-1000}

work=$(mktemp -d "/tmp/kilo-bench-firewall.$$.XXXXXX")
trap 'rm -rf "$work"' EXIT

cargo bench -q -p kilo-firewall --bench apply --no-run
# shellcheck disable=SC2086
KILO_BENCH_KILO07_FULL_MAX=$full_max \
    cargo bench -q -p kilo-firewall --bench apply -- "$reps" $sizes >"$work/raw.tsv"

python3 - "$work/raw.tsv" "$out" "$work" "$reps" "$full_max" "$plot" <<'EOF'
import subprocess, sys

raw, out, work, reps, full_max, plot = sys.argv[1:7]
data = {}
for line in open(raw):
    if line.startswith("#") or not line.strip():
        continue
    side, scen, n, med, lo, hi, count = line.split("\t")
    data[(side, scen, int(n))] = (float(med), float(lo), float(hi), int(count))
sizes = sorted({k[2] for k in data})
IPT, NFT, K07, FLOOR = "kilo-rs-iptables", "kilo-rs-nftables", "kilo-0.7", "floor"
names = {IPT: "kilo-rs iptables+ipset", NFT: "kilo-rs nftables", K07: "Kilo 0.7", FLOOR: "floor"}

def fmt(v):
    return f"{v:.0f}" if v >= 100 else f"{v:.1f}" if v >= 10 else f"{v:.2f}"

def cell(side, scen, n):
    d = data.get((side, scen, n))
    if d is None:
        return "not run"
    med, lo, hi, count = d
    return fmt(med) if count == 1 else f"{fmt(med)} ({fmt(lo)}–{fmt(hi)})"

def ratio(a, b, scen, n):
    x, y = data.get((a, scen, n)), data.get((b, scen, n))
    if not x or not y or y[0] == 0:
        return "–"
    r = x[0] / y[0]
    return f"{r:.3f}×" if r < 0.1 else f"{r:.2f}×"

def table(scen, extra=()):
    cols = [IPT, NFT, K07, FLOOR]
    head = ["N"] + [names[c] for c in cols] + [h for h, _ in extra]
    head += ["iptables ÷ Kilo 0.7", "iptables ÷ floor", "nftables ÷ Kilo 0.7", "nftables ÷ floor"]
    rows = ["| " + " | ".join(head) + " |", "|" + "---|" * len(head)]
    for n in sizes:
        r = [f"{n:,}".replace(",", " ")] + [cell(c, scen, n) for c in cols]
        r += [cell(side, s, n) for _, (side, s) in extra]
        r += [ratio(IPT, K07, scen, n), ratio(IPT, FLOOR, scen, n),
              ratio(NFT, K07, scen, n), ratio(NFT, FLOOR, scen, n)]
        rows.append("| " + " | ".join(r) + " |")
    return "\n".join(rows)

big = max(sizes)
goal = []
for side in (IPT, NFT):
    d = data.get((side, "join", big))
    ok = d is not None and d[0] < 10
    goal.append(f"{names[side]} {cell(side, 'join', big)} ms: {'met' if ok else 'not met'}")

# the plot: join time against N, per side
tsv = f"{work}/join.tsv"
with open(tsv, "w") as f:
    f.write("x\t" + "\t".join(names[s] for s in (IPT, NFT, K07, FLOOR)) + "\n")
    for n in sizes:
        cells = []
        for s in (IPT, NFT, K07, FLOOR):
            d = data.get((s, "join", n))
            cells.append("" if d is None else f"{d[0]}:{d[1]}:{d[2]}")
        f.write(f"{n}\t" + "\t".join(cells) + "\n")
subprocess.run(["python3", plot, f"{out}/firewall-join.png", "One node joining, end to end",
                "per-CIDR entries (N)", "milliseconds", tsv, "--logx", "--logy"], check=True)

k07_full = [n for n in sizes if n > int(full_max)]
md = f"""## Firewall

kg's firewall with N extra per-CIDR entries (IPv4 /32s in the mesh set, on top of a 10-node
plan of both families), each side in a fresh network namespace per repetition, its programs
spawned directly inside it:

- **kilo-rs iptables+ipset** and **kilo-rs nftables**: `Firewall::apply` of the backend kg runs.
  *Full sync*: into an empty namespace. *Join*: a plan with one more CIDR, the whole apply end to
  end, as kg runs it between resyncs (what the last apply read back is trusted; the member goes
  over netlink: `IPSET_CMD_ADD`, or one nftables `NEWSETELEM` batch); *join by process* is the
  same without the netlink writer (`ipset restore` / `nft -f`). *No-op resync*: a backend that
  trusts nothing applies the same plan (reads everything back, writes nothing).
- **Kilo 0.7**: what Go Kilo 0.7's `pkg/iptables` controller runs through go-iptables for the same
  content — one RETURN rule per mesh CIDR prepended in `KILO-NAT`, one `iptables` process per
  check and per rule (`-C` then `-I … 1`; `-C` then `-A`; `-N` per chain); a join is `Set` with
  one more rule (`-C`, `-I`); a no-op resync is `reconcile` (`-t nat -S` and `-S <chain>` per
  chain, rules looked up in memory). Its in-memory work is done with a hash set, so this side is
  a lower bound of Kilo 0.7.{f" Its full sync is not run above N = {int(full_max):,}".replace(",", " ") + " (one `iptables -C` costs about a second at 20 000 rules: hours); there the same rules are preloaded by `iptables-restore` and its join and resync measured on one repetition." if k07_full else ""}
- **floor**: the same content kilo-rs writes, in one `ipset restore` and one
  `iptables-restore`/`ip6tables-restore` (full sync); one `ipset restore` of the one member
  (join); `ipset save` + `iptables-save` + `ip6tables-save` without any comparison (resync).

Milliseconds, median (min–max) over {reps} repetitions; a join is {5} joins per repetition.
Ratios are the kilo-rs median divided by the other side's, measured in the same run.
Re-run only this part: `bash e2e/bench/firewall.sh /tmp/out` (the numbers come from
`cargo bench -p kilo-firewall --bench apply -- {reps} {' '.join(map(str, sizes))}`).

**Goal** — a join under 10 ms end to end at {big:,} entries on both backends:
{'; '.join(goal)}.

### One node joining (end to end)

{table("join", [("iptables by process", (IPT, "join-process")), ("nftables by process", (NFT, "join-process")), ("iptables in memory", (IPT, "in-memory")), ("nftables in memory", (NFT, "in-memory"))])}

*By process*: the same join written by `ipset restore` / `nft -f` instead of netlink (`nft`
loads the interval set's elements for each transaction, so it grows with N). *In memory*: a
trusted apply of the unchanged plan — the rendering and comparison a join does, with nothing to
write; the rest of a join is its write.

![One node joining, end to end, against N](benchmarks/firewall-join.png)

### Full sync

{table("full")}

### No-op resync (read back, nothing to write)

{table("noop")}
""".replace(f"{big:,}", f"{big:,}".replace(",", " "))
open(f"{out}/firewall.md", "w").write(md)
EOF
echo "firewall.sh: wrote $out/firewall.md and $out/firewall-join.png"
