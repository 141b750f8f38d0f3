#!/usr/bin/env python3
"""Summary statistics for the benchmark parts (no I/O but stdin/stdout).

    python3 e2e/bench/lib/stats.py [--scale F] [--digits D] < numbers
        -> "median min max p99 count"  (one number per input line; blank lines ignored)
    python3 e2e/bench/lib/stats.py --ratio A_FILE B_FILE
        -> the same over the ratios a[i]/b[i] of paired runs
    python3 e2e/bench/lib/stats.py --criterion DIR
        -> the same over criterion's samples in DIR/new/sample.json, in milliseconds per iteration

The median of an even count is the mean of the two middle values; p99 is the nearest-rank
percentile. Exits non-zero on no input or a non-number.
"""

import json
import math
import sys


def summary(values):
    if not values:
        raise SystemExit("stats.py: no values")
    v = sorted(values)
    n = len(v)
    med = v[n // 2] if n % 2 else (v[n // 2 - 1] + v[n // 2]) / 2
    p99 = v[max(0, math.ceil(0.99 * n) - 1)]
    return med, v[0], v[-1], p99, n


def numbers(lines):
    out = []
    for line in lines:
        line = line.strip()
        if line:
            try:
                out.append(float(line))
            except ValueError:
                raise SystemExit(f"stats.py: not a number: {line!r}")
    return out


def main(argv):
    scale, digits = 1.0, 3
    if "--scale" in argv:
        i = argv.index("--scale")
        scale = float(argv[i + 1])
        del argv[i : i + 2]
    if "--digits" in argv:
        i = argv.index("--digits")
        digits = int(argv[i + 1])
        del argv[i : i + 2]
    if argv[:1] == ["--ratio"] and len(argv) == 3:
        with open(argv[1]) as fa, open(argv[2]) as fb:
            a, b = numbers(fa), numbers(fb)
        if len(a) != len(b) or 0 in b:
            raise SystemExit("stats.py: --ratio needs paired, non-zero runs")
        values = [x / y for x, y in zip(a, b)]
    elif argv[:1] == ["--criterion"] and len(argv) == 2:
        with open(f"{argv[1]}/new/sample.json") as f:
            s = json.load(f)
        values = [t / i / 1e6 for t, i in zip(s["times"], s["iters"])]
    elif not argv:
        values = numbers(sys.stdin)
    else:
        raise SystemExit(__doc__)
    med, lo, hi, p99, n = summary([x * scale for x in values])
    print(" ".join(f"{x:.{digits}f}" for x in (med, lo, hi, p99)), n)


if __name__ == "__main__":
    main(sys.argv[1:])
