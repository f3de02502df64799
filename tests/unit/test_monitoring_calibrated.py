"""Calibrated drift verdicts: each piece against SciPy or a known answer."""

from __future__ import annotations

import warnings
from collections import Counter

import numpy as np
import pandas as pd
import pytest
from scipy import stats

from loopwatch.config import MonitoringParams
from loopwatch.monitoring import calibrated, sketch

P = MonitoringParams()


def numeric_pair(ref: np.ndarray, cur: np.ndarray, bins: int = 2000):
    reference = sketch.NumericSketch.from_reference(ref, bins)
    current = reference.empty_like()
    current.update(cur)
    return reference, current


def test_ks_on_sketches_never_exceeds_raw_ks_and_matches_it_on_discrete_data():
    rng = np.random.default_rng(0)
    ref, cur = rng.normal(size=3000), rng.normal(0.2, 1.1, size=400)
    binned = calibrated.ks_statistic(*numeric_pair(ref, cur, bins=50))
    raw = stats.ks_2samp(cur, ref).statistic
    assert binned <= raw + 1e-12 and binned > 0.8 * raw  # conservative, and close
    ages_ref, ages_cur = rng.integers(17, 90, 5000), rng.integers(20, 90, 700)
    exact = stats.ks_2samp(ages_cur, ages_ref).statistic  # every value sits on an edge
    assert calibrated.ks_statistic(*numeric_pair(ages_ref, ages_cur)) == pytest.approx(exact)


def test_ks_p_value_is_scipys_asymptotic_one():
    rng = np.random.default_rng(1)
    ref, cur = rng.normal(size=2000), rng.normal(0.1, 1, size=300)
    d = stats.ks_2samp(cur, ref).statistic
    expected = stats.ks_2samp(cur, ref, method="asymp").pvalue
    assert calibrated.ks_p_value(d, 300, 2000) == pytest.approx(expected)


def test_chi_square_without_pooling_is_scipys_homogeneity_test():
    ref = Counter({"a": 500, "b": 300, "c": 200})
    cur = Counter({"a": 90, "b": 60, "c": 50})
    p, _ = calibrated.chi_square(ref, cur, 0.05)
    table = [[500, 300, 200], [90, 60, 50]]
    assert p == pytest.approx(stats.chi2_contingency(table, correction=False).pvalue)


def test_rare_categories_are_pooled_until_expected_counts_reach_five():
    ref = Counter({f"k{i}": n for i, n in enumerate([3000, 900, 80, 12, 5, 1])})
    cur = Counter({"k0": 40, "k1": 8, "k3": 1, "new": 1})
    table = calibrated.pooled(ref, cur)
    expected = np.outer(table.sum(axis=1), table.sum(axis=0)) / table.sum()
    assert expected.min() >= calibrated.MIN_EXPECTED
    assert table.sum() == sum(ref.values()) + sum(cur.values())  # nothing dropped
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # no divide-by-zero or small-count warnings
        p, detectable = calibrated.chi_square(ref, cur, 0.05)
    assert 0 <= p <= 1 and 0 < detectable < 1


def test_too_few_rows_to_test_is_said_not_guessed():
    p, detectable = calibrated.chi_square(Counter({"a": 900, "b": 100}), Counter({"a": 3}),
                                          0.05)
    assert p is None and detectable == float("inf")
    assert calibrated.verdict(0.4, None, 0.05, 0.1) == calibrated.UNTESTED


@pytest.mark.parametrize("effect, q, expected", [
    (0.30, 0.001, calibrated.DRIFT),
    (0.02, 0.001, calibrated.SMALL),  # big data sees a trivial shift
    (0.30, 0.400, calibrated.UNDERPOWERED),  # a small group's noisy distance
    (0.02, 0.400, calibrated.NO_DRIFT),
])
def test_two_axis_verdict(effect, q, expected):
    assert calibrated.verdict(effect, q, 0.05, 0.1) == expected


def test_benjamini_hochberg_matches_scipy_and_skips_untestable_columns():
    ps = [0.001, None, 0.02, 0.04, 0.3]
    out = calibrated.bh_adjust(ps)
    assert out[1] is None
    kept = stats.false_discovery_control([0.001, 0.02, 0.04, 0.3])
    assert [out[i] for i in (0, 2, 3, 4)] == pytest.approx(list(kept))


def test_what_a_window_can_detect_shrinks_with_its_size_down_to_the_floor():
    shifts = [calibrated.ks_detectable(n, 25_000, 0.05) for n in (50, 150, 1_000, 100_000)]
    assert shifts == sorted(shifts, reverse=True)
    assert 0.4 < shifts[0] < 0.6 and shifts[-1] < 0.05  # in reference standard deviations
    rng = np.random.default_rng(2)
    ref = rng.normal(size=25_000)
    small = calibrated.column_test(*numeric_pair(ref, rng.normal(size=50)), 0.05)
    assert small.detectable == pytest.approx(shifts[0])


def caught(test, trials: int = 300) -> float:
    return float(np.mean([test() < 0.05 for _ in range(trials)]))


def test_a_shift_of_the_detectable_size_is_caught_at_least_half_the_time():
    rng = np.random.default_rng(3)
    ref = sketch.NumericSketch.from_reference(rng.normal(size=20_000), 2000)
    shift = calibrated.ks_detectable(150, 20_000, 0.05)

    def ks(delta):
        cur = ref.empty_like()
        cur.update(rng.normal(delta, 1, 150))
        return calibrated.column_test(ref, cur, 0.05).p_value

    assert caught(lambda: ks(shift)) > 0.5 and caught(lambda: ks(shift / 2)) < 0.5
    counts = Counter({"a": 10_000, "b": 10_000})
    _, js = calibrated.chi_square(counts, Counter({"a": 75, "b": 75}), 0.05)
    share = 0.5 + np.sqrt(2) * js  # near p = 0.5 the JS distance is ~ |p - q| / sqrt(2)

    def chi(q):
        k = rng.binomial(150, q)
        return calibrated.chi_square(counts, Counter({"a": k, "b": 150 - k}), 0.05)[0]

    assert 0.4 < caught(lambda: chi(share)) < 0.65 and caught(lambda: chi(0.5)) < 0.1


def test_judge_adjusts_data_and_prediction_columns_apart():
    rng = np.random.default_rng(4)
    ref = pd.DataFrame({"x": rng.normal(size=2000), "c": rng.choice(["u", "v"], 2000),
                        "prediction": rng.choice(["0", "1"], 2000)})
    cur = pd.DataFrame({"x": rng.normal(0.5, 1, 300), "c": rng.choice(["u", "v"], 300),
                        "prediction": rng.choice(["0", "1"], 300, p=[0.2, 0.8])})
    data, prediction = calibrated.drift_frames(cur, ref, ["x"], ["c", "prediction"], P,
                                               extra=["prediction"])
    assert [c.column for c in data.columns] == ["x", "c"]
    assert data.column("x").drifted and data.column("x").test == "K-S"
    assert data.column("c").verdict == calibrated.NO_DRIFT
    assert prediction[0].drifted and prediction[0].test == "chi-square"
    assert data.column("x").detectable >= P.drift_floor
