"""Monitoring at scale: our chunked monitor vs a plain Evidently DataDriftPreset, same frames.

One run on the same generated parquet files (default 1M rows x 20 feature columns, with
drift injected in some columns, near the threshold in others):

- Evidently: read both files into pandas, ``Report([DataDriftPreset()]).run(current,
  reference)`` over the 20 columns. What a user would write.
- ours: ``monitor_stream`` reading the current file in ``chunk_rows`` batches and the reference
  column by column: data drift over all rows, plus what Evidently's side does not do
  (prediction drift, per-group drift, group fairness with bootstrap intervals, quality and
  an Evidently report on a 100k-row sample).

Each side runs in its own process, so peak memory (VmHWM) is its own. Printed: the time
ratio (ours / Evidently), the peak-memory ratio, and the agreement of the per-column drift
verdicts, with the statistics of any column where they differ. Default run ~3 min on 2
cores (Evidently's side is ~2 of them); ``--rows`` shrinks it.

    python bench/monitoring.py [--rows 1000000] [--chunk-rows 100000]
"""

from __future__ import annotations

import argparse
import json
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import pandas as pd

NUMERIC = [f"x{i}" for i in range(14)]
CATEGORICAL = ["c0", "c1", "c2", "c3", "sex", "race"]
RACES = ["white", "black", "asian", "amer-indian", "other"]


def generate(n: int, seed: int, drifted: bool) -> pd.DataFrame:
    """20 feature columns of assorted shapes; ``drifted`` shifts some clearly, some barely."""
    rng = np.random.default_rng(seed)
    d = 1.0 if drifted else 0.0
    cols = {
        "x0": rng.normal(0.5 * d, 1, n),  # clear shift: normed W = 0.5
        "x1": rng.normal(0.13 * d, 1, n),  # near the 0.1 threshold
        "x2": rng.normal(0, 1 + 0.4 * d, n),  # spread grows
        "x3": rng.normal(0.03 * d, 1, n),  # trivial shift: no drift at 0.1
        "x4": rng.lognormal(0.2 * d, 1.0, n),  # heavy tail
        "x5": rng.integers(17, 90 + int(8 * d), n).astype(float),  # ages, range widens
        "x6": np.where(rng.random(n) < 0.9 - 0.05 * d, 0.0, rng.exponential(5000, n)),
        "x7": rng.uniform(0, 1, n),
    }
    for i in range(8, 14):
        cols[f"x{i}"] = rng.normal(i, 1 + i / 10, n)
    cols["c0"] = rng.choice(["a", "b", "c"], n, p=[0.5, 0.3, 0.2] if not d else [0.3, 0.3, 0.4])
    cols["c1"] = rng.choice(["u", "v"], n, p=[0.5, 0.5] if not d else [0.55, 0.45])
    cols["c2"] = rng.choice([f"k{i}" for i in range(12)], n)
    cols["c3"] = rng.choice(["p", "q", "r", "s"], n, p=[0.4, 0.3, 0.2, 0.1])
    cols["sex"] = rng.choice(["female", "male"], n, p=[0.33, 0.67])
    cols["race"] = rng.choice(RACES, n, p=[0.85, 0.1, 0.03, 0.0015, 0.0185])
    frame = pd.DataFrame(cols)
    logit = 0.8 * frame["x0"] - 0.5 * frame["x2"] + (frame["sex"] == "male") - 0.5
    score = 1 / (1 + np.exp(-logit))
    frame["score"] = score
    frame["prediction"] = (score >= 0.5).astype(int)
    label = (rng.random(n) < score).astype(float)
    label[rng.random(n) < 0.3] = np.nan  # labels still to arrive
    frame["label" if drifted else "income"] = label if drifted else np.nan_to_num(label)
    return frame


def spec():
    from loopwatch.tasks.tabular.spec import TabularSpec

    return TabularSpec(target="income", positive_label="1", negative_label="0",
                       categorical=tuple(CATEGORICAL), continuous=tuple(NUMERIC),
                       sensitive=("sex", "race"), sensitive_as_inputs=True)


def side_evidently(data: Path) -> dict:
    from evidently import DataDefinition, Dataset, Report
    from evidently.presets import DataDriftPreset

    from loopwatch.monitoring.drift import parse_value_drift

    start = time.perf_counter()
    cols = NUMERIC + CATEGORICAL
    current = pd.read_parquet(data / "current.parquet", columns=cols)
    reference = pd.read_parquet(data / "reference.parquet", columns=cols)
    definition = DataDefinition(numerical_columns=NUMERIC, categorical_columns=CATEGORICAL)
    snapshot = Report([DataDriftPreset()], include_tests=True).run(  # its default tests
        Dataset.from_pandas(current, data_definition=definition),
        Dataset.from_pandas(reference, data_definition=definition))
    columns = parse_value_drift(json.loads(snapshot.json()), set(NUMERIC))
    return {"seconds": time.perf_counter() - start,
            "columns": {c: [d.method, d.statistic, d.drifted] for c, d in columns.items()}}


def side_ours(data: Path, chunk_rows: int) -> dict:
    import pyarrow.parquet as pq

    from loopwatch.config import MonitoringParams
    from loopwatch.monitoring.stream import monitor_stream

    start = time.perf_counter()
    params = MonitoringParams(chunk_rows=chunk_rows)
    batches = pq.ParquetFile(data / "current.parquet").iter_batches(chunk_rows)
    result = monitor_stream((b.to_pandas() for b in batches), data / "reference.parquet",
                            spec(), params, "bench", "1")
    return {"seconds": time.perf_counter() - start,
            "columns": {c.column: [c.method, c.statistic, c.drifted]
                        for c in result.drift.columns},
            "extra": f"{len(result.group_drift)} group slices, "
                     f"{sum(len(f.groups) for f in result.fairness)} fairness groups, "
                     f"quality on {result.quality.n_used} of {result.n_labelled} labelled"}


def peak_mb() -> float:
    """This process's peak RSS. VmHWM, not ru_maxrss: Linux keeps ru_maxrss across exec, so a
    child forked from a parent holding the generated frames would report the parent's size."""
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) / 1024
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024  # not Linux


def run_side(side: str, data: Path, chunk_rows: int) -> dict:
    out = subprocess.run([sys.executable, __file__, "--side", side, "--data", str(data),
                          "--chunk-rows", str(chunk_rows)],
                         capture_output=True, text=True, check=False)
    if out.returncode != 0:
        raise SystemExit(f"{side} side failed:\n{out.stderr[-3000:]}")
    return json.loads(out.stdout.strip().splitlines()[-1])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--rows", type=int, default=1_000_000)
    parser.add_argument("--chunk-rows", type=int, default=100_000)
    parser.add_argument("--side", choices=["evidently", "ours"], help=argparse.SUPPRESS)
    parser.add_argument("--data", type=Path, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.side:  # child process: one side, JSON on stdout
        import warnings

        import evidently.presets  # noqa: F401  (both sides import the same stack first)
        import fairlearn.metrics  # noqa: F401

        import loopwatch.monitoring.stream  # noqa: F401

        warnings.filterwarnings("ignore")
        import_mb = peak_mb()
        result = (side_evidently(args.data) if args.side == "evidently"
                  else side_ours(args.data, args.chunk_rows))
        result["peak_mb"] = peak_mb()
        result["import_mb"] = import_mb
        print(json.dumps(result))
        return
    with tempfile.TemporaryDirectory() as tmp:
        data = Path(tmp)
        t0 = time.perf_counter()
        generate(args.rows, 1, drifted=False).to_parquet(data / "reference.parquet", index=False)
        generate(args.rows, 2, drifted=True).to_parquet(data / "current.parquet", index=False)
        print(f"data: {args.rows:,} rows x {len(NUMERIC) + len(CATEGORICAL)} columns, "
              f"generated in {time.perf_counter() - t0:.0f} s")
        theirs = run_side("evidently", data, args.chunk_rows)
        ours = run_side("ours", data, args.chunk_rows)
    report(theirs, ours)


def report(theirs: dict, ours: dict) -> None:
    agree = [c for c in theirs["columns"] if theirs["columns"][c][2] == ours["columns"][c][2]]
    diffs = {c: abs(theirs["columns"][c][1] - ours["columns"][c][1]) for c in theirs["columns"]}
    worst = max(diffs, key=diffs.get)
    for name, side in (("Evidently DataDriftPreset", theirs), ("loopwatch monitor_stream ", ours)):
        print(f"{name} : {side['seconds']:6.1f} s, peak {side['peak_mb']:5.0f} MB "
              f"(of which {side['import_mb']:.0f} MB after imports)")
    print(f"  ours also did: {ours['extra']}")
    print(f"time ratio (ours/Evidently)   : {ours['seconds'] / theirs['seconds']:.2f}")
    print(f"peak-memory ratio             : {ours['peak_mb'] / theirs['peak_mb']:.2f}")
    print(f"per-column verdict agreement  : {len(agree)}/{len(theirs['columns'])}; "
          f"max |statistic difference| {diffs[worst]:.4f} ({worst}: {theirs['columns'][worst][0]}"
          f" {theirs['columns'][worst][1]:.4f})")
    drifted = sorted(c for c, v in theirs["columns"].items() if v[2])
    print(f"drifted per Evidently         : {', '.join(drifted)}")
    for c in sorted(set(theirs["columns"]) - set(agree)):
        print(f"  disagree on {c}: Evidently {theirs['columns'][c]} vs ours {ours['columns'][c]}")


if __name__ == "__main__":
    main()
