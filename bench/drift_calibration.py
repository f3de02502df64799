"""False alarms and power of the drift verdicts at every window size: ours vs Evidently's.

Adult-like data (6 numeric columns: ages, a log-normal weight, years of education, a
zero-inflated capital gain, hours, a normal; 4 categorical: work class, education, sex,
race with a 0.8% minority), a 30,000-row reference (Adult's training split is 26,000).
For each current-window size, trials draw the reference and the window afresh:

- no drift (both from the same generator): every alarm is false. Printed per size: the
  share of column verdicts that alarm (the per-column false-alarm rate) and of windows
  with any alarm (the per-table rate), ours (calibrated.py) and Evidently's default tests
  (with this reference size: normed Wasserstein / Jensen-Shannon >= 0.1).
- a known shift: age + 2.5 years (0.18 reference std) and the share of women 33% -> 50%
  (Jensen-Shannon 0.12), both over the 0.1 floor, so both should be caught: the share of
  windows that catch each one (power), and ours' "smallest detectable" figure.

A last block repeats the no-drift case with an 800-row reference (a small group's slice),
where Evidently switches to p-value tests. Target: ours <= 5% per column at every size.
Default run ~6 min on 2 cores; ``--quick`` ~1 min (fewer trials, sizes up to 100k).

    python bench/drift_calibration.py [--quick]
"""

from __future__ import annotations

import argparse
import time
import warnings

import numpy as np
import pandas as pd

NUMERIC = ["age", "fnlwgt", "education_num", "capital_gain", "hours", "score"]
CATEGORICAL = ["workclass", "education", "sex", "race"]
SIZES = [50, 150, 500, 1_000, 10_000, 100_000, 1_000_000]
OURS_TRIALS = {50: 200, 150: 200, 500: 150, 1_000: 150, 10_000: 60, 100_000: 20, 1_000_000: 6}
EVIDENTLY_TRIALS = {50: 40, 150: 40, 500: 30, 1_000: 30, 10_000: 10, 100_000: 3, 1_000_000: 1}


def generate(n: int, rng: np.random.Generator, shifted: bool = False) -> pd.DataFrame:
    women = 0.5 if shifted else 0.33
    work = np.array([70, 8, 6, 4, 4, 3, 3, 2], float)
    return pd.DataFrame({
        "age": np.clip(rng.normal(38.6 + (2.5 if shifted else 0), 13.6, n).round(), 17, 90),
        "fnlwgt": rng.lognormal(12.0, 0.5, n).round(),
        "education_num": rng.choice(np.arange(1, 17), n, p=np.arange(1, 17) / 136).astype(float),
        "capital_gain": np.where(rng.random(n) < 0.92, 0.0, rng.exponential(4000, n).round()),
        "hours": np.clip(rng.normal(40, 12, n).round(), 1, 99),
        "score": rng.normal(0, 1, n),
        "workclass": rng.choice([f"w{i}" for i in range(8)], n, p=work / work.sum()),
        "education": rng.choice([f"e{i}" for i in range(16)], n, p=np.arange(16, 0, -1) / 136),
        "sex": rng.choice(["Female", "Male"], n, p=[women, 1 - women]),
        "race": rng.choice(["White", "Black", "Asian", "Amer-Indian", "Other"], n,
                           p=[0.854, 0.096, 0.031, 0.011, 0.008]),
    })


def ours(current: pd.DataFrame, reference: pd.DataFrame, params) -> dict[str, bool]:
    from loopwatch.monitoring.calibrated import drift_frames

    result, _ = drift_frames(current, reference, NUMERIC, CATEGORICAL, params)
    return {c.column: c.drifted for c in result.columns}


def detectable(current, reference, params) -> dict[str, float]:
    from loopwatch.monitoring.calibrated import drift_frames

    result, _ = drift_frames(current, reference, NUMERIC, CATEGORICAL, params)
    return {c.column: c.detectable for c in result.columns}


def evidently(current: pd.DataFrame, reference: pd.DataFrame, params) -> dict[str, bool]:
    from loopwatch.monitoring.drift import drift_report

    found, _ = drift_report(current, reference, NUMERIC, CATEGORICAL, params)
    return {c: v.drifted for c, v in found.items()}


def rates(side, n: int, n_ref: int, trials: int, params, seed: int) -> dict[str, float]:
    """Per-column and per-table false alarms, and power on the two shifted columns."""
    rng = np.random.default_rng(seed)
    column = table = age = sex = 0
    started = time.perf_counter()
    for _ in range(trials):
        found = side(generate(n, rng), generate(n_ref, rng), params)
        column += sum(found.values())
        table += any(found.values())
        shifted = side(generate(n, rng, shifted=True), generate(n_ref, rng), params)
        age += shifted["age"]
        sex += shifted["sex"]
    return {"column": column / (trials * len(NUMERIC + CATEGORICAL)), "table": table / trials,
            "age": age / trials, "sex": sex / trials, "trials": trials,
            "seconds": (time.perf_counter() - started) / trials}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--quick", action="store_true", help="fewer trials, sizes <= 100k")
    args = parser.parse_args()
    warnings.filterwarnings("ignore")  # Evidently's small-sample chi-square warnings
    from loopwatch.config import MonitoringParams

    params = MonitoringParams()
    sizes = SIZES[:-1] if args.quick else SIZES
    scale = 0.25 if args.quick else 1.0
    print(f"reference 30,000 rows; alpha {params.drift_alpha}, floor {params.drift_floor}; "
          "columns: " + ", ".join(NUMERIC + CATEGORICAL))
    print(f"{'rows':>9} | {'false alarms per column':^23} | {'per table':^15} | "
          f"{'power: age +0.18 sd':^19} | {'power: women 33->50%':^20} | ours can detect")
    print(f"{'':>9} | {'ours':>10} {'Evidently':>12} | {'ours':>6} {'Evid.':>8} | "
          f"{'ours':>8} {'Evid.':>10} | {'ours':>8} {'Evid.':>11} | (age sd, sex JS)")
    worst = 0.0
    for n in sizes:
        o = rates(ours, n, 30_000, max(3, int(OURS_TRIALS[n] * scale)), params, n)
        e = rates(evidently, n, 30_000, max(1, int(EVIDENTLY_TRIALS[n] * scale)), params, n + 1)
        d = detectable(generate(n, np.random.default_rng(0)),
                       generate(30_000, np.random.default_rng(1)), params)
        worst = max(worst, o["column"])
        print(f"{n:>9,} | {o['column']:>10.3f} {e['column']:>12.3f} | {o['table']:>6.2f} "
              f"{e['table']:>8.2f} | {o['age']:>8.2f} {e['age']:>10.2f} | {o['sex']:>8.2f} "
              f"{e['sex']:>11.2f} | {d['age']:.2f}, {d['sex']:.2f}   "
              f"[{o['trials']}/{e['trials']} trials, {o['seconds']:.2f}/{e['seconds']:.2f} s]")
    print("small reference (800 rows, e.g. one group's slice): no drift")
    for n in (50, 150, 500):
        o = rates(ours, n, 800, max(3, int(200 * scale)), params, 7 * n)
        e = rates(evidently, n, 800, max(1, int(40 * scale)), params, 7 * n + 1)
        worst = max(worst, o["column"])
        print(f"{n:>9,} | {o['column']:>10.3f} {e['column']:>12.3f} | {o['table']:>6.2f} "
              f"{e['table']:>8.2f} | power age {o['age']:.2f} / {e['age']:.2f}, "
              f"women {o['sex']:.2f} / {e['sex']:.2f}")
    verdict = "OK" if worst <= params.drift_alpha else "ABOVE TARGET"
    print(f"worst per-column false-alarm rate of ours: {worst:.3f} (target <= "
          f"{params.drift_alpha}): {verdict}")


if __name__ == "__main__":
    main()
