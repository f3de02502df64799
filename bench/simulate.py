"""Benchmark: the vectorised Pólya-urn simulator against the per-step Python loop.

Why: the acceptance figures need thousands of runs over 10^5 days; this shows
what vectorising across runs buys, measured against its peer in the same process.
The Python loop would take minutes for all runs, so it is timed on a few runs of
the same length and scaled per run (its cost is linear in runs); the output says so.

    python bench/simulate.py                      # 1000 runs x 10^5 days (~2 s + ~1 s)
    python bench/simulate.py --runs 200 --days 20000 --ref-runs 2   # quick check
"""

from __future__ import annotations

import argparse
import platform
import sys
import time
from collections.abc import Callable
from dataclasses import replace

import numpy as np

from loopwatch.simulation.policing import UrnConfig, simulate_urn
from loopwatch.simulation.policing_reference import simulate_urn_reference

TARGET_SPEEDUP = 50.0


def _timed(fn: Callable, *args: object) -> tuple[float, object]:
    start = time.perf_counter()
    result = fn(*args)
    return time.perf_counter() - start, result


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=1000, help="runs for the vectorised urn")
    parser.add_argument("--days", type=int, default=100_000, help="days per run")
    parser.add_argument("--ref-runs", type=int, default=3, help="runs timed with the Python loop")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--strict", action="store_true", help="exit 1 when below the target")
    args = parser.parse_args(argv)

    config = UrnConfig(rates=(0.3, 0.2), prior=(1.0, 1.0), days=args.days, runs=args.runs,
                       seed=args.seed)
    ref_runs = max(1, min(args.ref_runs, args.runs))
    simulate_urn(replace(config, days=200, runs=10))  # warm-up: imports, allocator
    simulate_urn_reference(replace(config, days=200, runs=1))

    fast_s, fast = _timed(simulate_urn, config)
    slow_s, slow = _timed(simulate_urn_reference, replace(config, runs=ref_runs))
    slow_scaled = slow_s / ref_runs * args.runs
    speedup = slow_scaled / fast_s
    run_days = args.runs * args.days

    print(f"Pólya urn, rates {config.rates}, prior {config.prior}, no fix; "
          f"python {platform.python_version()}, numpy {np.__version__}, {platform.machine()}")
    print(f"{'implementation':<34}{'runs':>7}{'days':>9}{'seconds':>10}{'ns/run-day':>12}"
          f"{'mean share A':>14}")
    rows = [
        ("vectorised (numpy, all runs)", args.runs, fast_s, fast.final_shares[:, 0].mean()),
        (f"python loop (measured, {ref_runs} runs)", ref_runs, slow_s,
         slow.final_shares[:, 0].mean()),
        (f"python loop (scaled to {args.runs} runs)", args.runs, slow_scaled, None),
    ]
    for name, runs, seconds, share in rows:
        per = seconds / (runs * args.days) * 1e9
        shown = "-" if share is None else f"{share:.3f}"
        print(f"{name:<34}{runs:>7}{args.days:>9}{seconds:>10.2f}{per:>12.1f}{shown:>14}")
    print(f"The Python loop was timed on {ref_runs} run(s) x {args.days} days and scaled "
          f"linearly to {args.runs} runs ({run_days:.2e} run-days).")
    verdict = "PASS" if speedup >= TARGET_SPEEDUP else "FAIL"
    print(f"speed-up: {speedup:.1f}x   target: >= {TARGET_SPEEDUP:.0f}x   {verdict}")
    if args.runs < 1000:
        print("(the target is set for 1000 runs; with fewer runs numpy's fixed cost per call "
              "weighs more, so expect a smaller ratio)")
    return 1 if args.strict and verdict == "FAIL" else 0


if __name__ == "__main__":
    sys.exit(main())
