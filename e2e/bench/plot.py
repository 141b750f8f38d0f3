#!/usr/bin/env python3
"""One benchmark plot from a TSV file (the shared contract of e2e/bench/*.sh).

    python3 e2e/bench/plot.py OUT.png TITLE XLABEL YLABEL DATA.tsv [--logx] [--logy]

DATA.tsv is tab-separated. Its first line is the header `x<TAB>series A<TAB>series B...`;
every further line is one x value followed by one cell per series. A cell is `median` or
`median:low:high` (low/high drawn as an error band around the line); an empty cell means no
point for that series at that x. When every x is a number the x axis is numeric (log with
--logx), otherwise the x values are categories in file order.

matplotlib (PyPI) is installed with pip when it is missing; the Agg backend is used so no
display is needed. Exits non-zero with a message on stderr when the input is malformed.
"""

import subprocess
import sys


def load_matplotlib():
    """Import matplotlib's pyplot on the Agg backend, installing matplotlib with pip if missing."""
    try:
        import matplotlib  # noqa: F401
    except ImportError:
        subprocess.run(
            [sys.executable, "-m", "pip", "install", "--quiet", "matplotlib"],
            check=True,
            stdout=sys.stderr,
        )
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    return plt


def parse_cell(text, where):
    """`median` or `median:low:high` -> (median, low, high); empty -> None."""
    text = text.strip()
    if not text:
        return None
    parts = text.split(":")
    try:
        nums = [float(p) for p in parts]
    except ValueError:
        raise SystemExit(f"plot.py: {where}: not a number: {text!r}")
    if len(nums) == 1:
        return nums[0], nums[0], nums[0]
    if len(nums) == 3:
        return nums[0], min(nums[1], nums[2]), max(nums[1], nums[2])
    raise SystemExit(f"plot.py: {where}: expected median or median:low:high, got {text!r}")


def read_tsv(path):
    """Returns (series names, x values as text, rows of parsed cells)."""
    with open(path, encoding="utf-8") as f:
        lines = [line.rstrip("\r\n") for line in f if line.strip()]
    if not lines:
        raise SystemExit(f"plot.py: {path}: empty file")
    header = lines[0].split("\t")
    if len(header) < 2:
        raise SystemExit(f"plot.py: {path}: header needs x and at least one series")
    names = header[1:]
    xs, rows = [], []
    for n, line in enumerate(lines[1:], start=2):
        cells = line.split("\t")
        if len(cells) > len(header):
            raise SystemExit(f"plot.py: {path}:{n}: {len(cells)} cells, header has {len(header)}")
        cells += [""] * (len(header) - len(cells))
        xs.append(cells[0].strip())
        rows.append([parse_cell(c, f"{path}:{n}") for c in cells[1:]])
    if not xs:
        raise SystemExit(f"plot.py: {path}: no data lines")
    return names, xs, rows


def numeric_x(xs):
    """The x values as floats when all are numbers, else None (categorical axis)."""
    try:
        return [float(x) for x in xs]
    except ValueError:
        return None


def main(argv):
    flags = {a for a in argv if a in ("--logx", "--logy")}
    args = [a for a in argv if a not in flags]
    if len(args) != 5:
        raise SystemExit(
            "usage: plot.py OUT.png TITLE XLABEL YLABEL DATA.tsv [--logx] [--logy]"
        )
    out, title, xlabel, ylabel, data = args
    names, xs, rows = read_tsv(data)
    xnum = numeric_x(xs)
    positions = xnum if xnum is not None else list(range(len(xs)))

    plt = load_matplotlib()
    fig, ax = plt.subplots(figsize=(7, 4.2), dpi=110)
    for i, name in enumerate(names):
        pts = [(positions[j], row[i]) for j, row in enumerate(rows) if row[i] is not None]
        pts.sort(key=lambda p: p[0])
        if not pts:
            continue
        px = [p[0] for p in pts]
        med = [p[1][0] for p in pts]
        (line,) = ax.plot(px, med, marker="o", label=name)
        low = [p[1][1] for p in pts]
        high = [p[1][2] for p in pts]
        if low != med or high != med:
            ax.fill_between(px, low, high, alpha=0.2, color=line.get_color(), linewidth=0)
    if xnum is None:
        ax.set_xticks(positions)
        ax.set_xticklabels(xs)
    if "--logx" in flags and xnum is not None:
        ax.set_xscale("log")
    if "--logy" in flags:
        ax.set_yscale("log")
    elif ax.get_ylim()[0] > 0:
        ax.set_ylim(bottom=0)
    ax.set_title(title)
    ax.set_xlabel(xlabel)
    ax.set_ylabel(ylabel)
    ax.grid(True, alpha=0.3)
    ax.legend()
    fig.tight_layout()
    fig.savefig(out, format="png")
    plt.close(fig)


if __name__ == "__main__":
    main(sys.argv[1:])
