"""The big-data guard: off by default, then an effect-size floor and Benjamini-Hochberg."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from scipy import stats

from loopwatch.monitoring import guard
from loopwatch.monitoring.results import ColumnDrift, DriftResult


def col(name: str, p: float, method: str = "K-S p_value", threshold: float = 0.05):
    flagged = p <= threshold
    return ColumnDrift(name, "numerical", method, p, threshold, flagged, flagged)


def result(*columns: ColumnDrift) -> DriftResult:
    return DriftResult(columns, 0.5, 100_000, 100_000, "evidently")


def test_off_by_default_changes_nothing():
    r = result(col("a", 0.001), col("b", 0.5))
    assert guard.apply_guard(r, {"a": 0.01}, None, False) is r


def test_effect_floor_clears_a_trivial_but_significant_shift():
    r = result(col("tiny", 1e-6), col("big", 1e-9), col("none", 0.4))
    out = guard.apply_guard(r, {"tiny": 0.02, "big": 0.3, "none": 0.01}, 0.1, False)
    assert [c.drifted for c in out.columns] == [False, True, False]
    assert [c.evidently_drifted for c in out.columns] == [True, True, False]
    assert out.columns[0].effect_size == 0.02
    assert "1 verdict(s) cleared" in out.guard


def test_benjamini_hochberg_across_columns():
    ps = [0.001, 0.02, 0.03, 0.04, 0.2, 0.5, 0.6, 0.7, 0.8, 0.9]
    r = result(*(col(f"c{i}", p) for i, p in enumerate(ps)))
    out = guard.apply_guard(r, {}, None, True)
    expected = stats.false_discovery_control(ps, method="bh")
    assert [c.p_adjusted for c in out.columns] == pytest.approx(expected)
    assert [c.drifted for c in out.columns] == list(expected <= 0.05)
    assert sum(c.evidently_drifted for c in out.columns) == 4
    assert out.n_drifted == 1


def test_guard_never_adds_drift_and_leaves_distances_alone():
    distance = ColumnDrift("w", "numerical", "Wasserstein distance (normed)", 0.3, 0.1, True,
                           True)
    r = result(col("p", 0.5), distance)
    out = guard.apply_guard(r, {"p": 0.9, "w": 0.3}, 0.1, True)
    assert out.column("p").drifted is False
    assert out.column("w") == distance


def test_effect_sizes_are_evidently_style_distances():
    rng = np.random.default_rng(0)
    ref = pd.DataFrame({"x": rng.normal(0, 2, 5_000), "c": rng.choice(["a", "b"], 5_000)})
    cur = pd.DataFrame({"x": rng.normal(0.5, 2, 5_000), "c": rng.choice(["a", "b"], 5_000,
                                                                       p=[0.8, 0.2])})
    effects = guard.effect_sizes(cur, ref, ["x"], ["c"])
    exact = stats.wasserstein_distance(ref["x"], cur["x"]) / np.std(ref["x"])
    assert effects["x"] == pytest.approx(exact, abs=0.003)
    assert 0.2 < effects["c"] < 0.3
