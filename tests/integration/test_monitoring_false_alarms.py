"""False-alarm rates of the drift verdicts on i.i.d. splits, over many seeds (known answers).

An i.i.d. split has no drift, so every verdict is a false alarm and its rate is computable:
per column it is the test's level (5%) for KS; the dataset verdict (>= half of the columns)
then fires at a binomial tail. Evidently's chi-square for categorical columns is a one-sample
goodness-of-fit test against the reference's frequencies taken as exact, so with equal sizes
its statistic is ~2x a chi-square and the rate is far above 5%: pinned here so a change in
Evidently is noticed (and documented in MonitoringParams: set cat_method to avoid it).
"""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from scipy import stats

from loopwatch.config import MonitoringParams
from loopwatch.monitoring import drift

P = MonitoringParams()


def _split(seed: int, n: int, numeric: int, categorical: int = 0, levels: int = 4):
    rng = np.random.default_rng(seed)
    data = {f"n{i}": rng.normal(size=2 * n) for i in range(numeric)}
    data |= {f"c{i}": rng.choice([f"v{k}" for k in range(levels)], 2 * n)
             for i in range(categorical)}
    frame = pd.DataFrame(data)
    return frame.iloc[n:], frame.iloc[:n]


def _within(count: int, trials: int, rate: float, sds: float = 4.0) -> bool:
    mean, sd = trials * rate, np.sqrt(trials * rate * (1 - rate))
    return mean - sds * sd <= count <= mean + sds * sd


@pytest.mark.slow
def test_ks_regime_false_alarms_at_the_expected_rate():
    seeds, numeric = 150, ["n0", "n1"]
    dataset_alarms = column_alarms = 0
    for seed in range(seeds):
        current, reference = _split(seed, 300, numeric=2)
        result, _, _ = drift.drift_report(current, reference, numeric, [], P)
        assert {c.method for c in result.columns} == {"K-S p_value"}
        dataset_alarms += result.dataset_drift
        column_alarms += result.n_drifted
    # Two independent columns at 5%: dataset drift (>= 1 of 2) at 1 - 0.95^2 = 9.75%.
    assert _within(column_alarms, 2 * seeds, 0.05)
    assert _within(dataset_alarms, seeds, 1 - 0.95**2)


@pytest.mark.slow
def test_distance_regime_does_not_alarm_on_iid_data():
    numeric = [f"n{i}" for i in range(4)]
    for seed in range(25):
        current, reference = _split(seed, 2_000, numeric=4, categorical=2)
        result, _, _ = drift.drift_report(current, reference, numeric, ["c0", "c1"], P)
        # The normed Wasserstein of two i.i.d. samples of 2,000 is ~0.03, far below 0.1.
        assert result.n_drifted == 0 and not result.dataset_drift


@pytest.mark.slow
def test_evidently_chi_square_false_alarm_rate_is_inflated():
    seeds, columns = 30, [f"c{i}" for i in range(10)]
    alarms = 0
    for seed in range(seeds):
        current, reference = _split(seed, 300, numeric=0, categorical=10)
        result, _, _ = drift.drift_report(current, reference, [], columns, P)
        assert {c.method for c in result.columns} == {"chi-square p_value"}
        alarms += result.n_drifted
    # Goodness of fit with expected counts from an equally large sample: X ~ 2 chi2(3).
    expected = stats.chi2.sf(stats.chi2.ppf(0.95, 3) / 2, 3)  # = 0.27
    assert _within(alarms, seeds * len(columns), expected)
    assert alarms / (seeds * len(columns)) > 0.15  # not the nominal 5%
