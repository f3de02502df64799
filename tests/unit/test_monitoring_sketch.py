"""The streaming sketches reproduce Evidently's large-reference drift statistics."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from scipy import stats
from scipy.spatial import distance

from loopwatch.monitoring import sketch

RNG = np.random.default_rng(7)
CASES = {
    "normal, tiny shift": (RNG.normal(0, 1, 20_000), RNG.normal(0.05, 1.1, 30_000)),
    "normal, shifted": (RNG.normal(0, 1, 20_000), RNG.normal(0.3, 1, 30_000)),
    "log-normal (heavy tail)": (RNG.lognormal(0, 1.5, 20_000), RNG.lognormal(0.1, 1.5, 30_000)),
    "mostly zeros (capital gain)": (
        np.where(RNG.random(20_000) < 0.9, 0, RNG.exponential(5000, 20_000)),
        np.where(RNG.random(30_000) < 0.85, 0, RNG.exponential(6000, 30_000))),
    "current outside the reference range": (RNG.normal(0, 1, 20_000), RNG.normal(3, 2, 30_000)),
}


def _streamed(reference: np.ndarray, current: np.ndarray, chunks: int = 7):
    ref = sketch.NumericSketch.from_reference(reference, bins=2_000)
    cur = ref.empty_like()
    for part in np.array_split(current, chunks):
        cur.update(part)
    return ref, cur


@pytest.mark.parametrize("name", list(CASES))
def test_wasserstein_sketch_matches_scipy(name):
    reference, current = CASES[name]
    ref, cur = _streamed(reference, current)
    exact = stats.wasserstein_distance(reference, current) / np.std(reference)
    method, value = sketch.distance_test(ref, cur)
    assert method == sketch.WASSERSTEIN
    # Far below the 0.1 threshold, and relative for large distances.
    assert abs(value - exact) <= max(0.003, 0.01 * exact)


def test_integer_column_on_edges_is_exact():
    reference = RNG.integers(17, 90, 20_000).astype(float)
    current = RNG.integers(20, 95, 30_000).astype(float)
    ref, cur = _streamed(reference, current)
    exact = stats.wasserstein_distance(reference, current) / np.std(reference)
    assert sketch.wasserstein_normed(ref, cur) == pytest.approx(exact, rel=1e-9)


def test_moments_over_chunks_match_numpy():
    values = RNG.normal(1e6, 3, 50_000)  # large mean: the naive sum-of-squares would lose it
    ref, cur = _streamed(values[:10], values)
    assert cur.std == pytest.approx(np.std(values), rel=1e-9)
    assert cur.n == len(values)


def test_nan_and_inf_are_dropped_like_evidently():
    ref = sketch.NumericSketch.from_reference(np.array([0.0, 1.0, 2.0, np.nan]), bins=10)
    cur = ref.empty_like()
    cur.update(np.array([np.inf, -np.inf, np.nan, 1.0]))
    assert (ref.n, cur.n) == (3, 1)


def test_few_distinct_values_switch_to_jensen_shannon():
    reference = RNG.choice([0.0, 1.0, 2.0], 5_000, p=[0.5, 0.3, 0.2])
    current = RNG.choice([0.0, 1.0, 2.0], 5_000, p=[0.3, 0.3, 0.4])
    ref, cur = _streamed(reference, current)
    method, value = sketch.distance_test(ref, cur)
    ref_p = np.bincount(reference.astype(int)) / len(reference)
    cur_p = np.bincount(current.astype(int)) / len(current)
    assert method == sketch.JENSEN_SHANNON
    assert value == pytest.approx(distance.jensenshannon(ref_p, cur_p))


def test_categorical_counts_over_chunks():
    reference = pd.Series(RNG.choice(["a", "b", "c", None], 4_000))
    current = pd.Series(RNG.choice(["a", "b", "d"], 3_000))
    ref, cur = sketch.ValueCounts(), sketch.ValueCounts()
    ref.update(reference)
    for start in range(0, len(current), 1_000):
        cur.update(current.iloc[start:start + 1_000])
    keys = ["a", "b", "c", "d"]
    ref_p = np.array([(reference == k).sum() for k in keys]) / reference.notna().sum()
    cur_p = np.array([(current == k).sum() for k in keys]) / len(current)
    assert ref.n == reference.notna().sum()
    assert sketch.distance_test(ref, cur)[1] == pytest.approx(distance.jensenshannon(ref_p,
                                                                                      cur_p))


def test_reservoir_is_bounded_and_uniform():
    frame = pd.DataFrame({"i": np.arange(20_000)})
    means = []
    for seed in range(20):
        reservoir = sketch.Reservoir(capacity=500, seed=seed)
        for start in range(0, len(frame), 1_537):
            reservoir.add(frame.iloc[start:start + 1_537])
        sample = reservoir.frame()
        assert len(sample) == 500 and sample["i"].is_unique
        means.append(sample["i"].mean())
    assert reservoir.seen == 20_000
    # The mean of a uniform sample of 0..19999 is 9999.5 (sd of one sample's mean ~258).
    assert abs(np.mean(means) - 9_999.5) < 3 * 258 / np.sqrt(20)
