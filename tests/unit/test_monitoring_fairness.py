"""Group fairness: known answers, the minimum group size, and parity with fairlearn."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from fairlearn.metrics import (
    MetricFrame,
    false_positive_rate,
    selection_rate,
    true_positive_rate,
)
from sklearn.metrics import accuracy_score

from loopwatch.monitoring import fairness
from loopwatch.monitoring.fairness import CELLS, DI, DP, EO


def logged(n: int = 4_000, rate_a: float = 0.6, rate_b: float = 0.4, tiny: int = 0,
           labelled: float = 0.7, seed: int = 0) -> pd.DataFrame:
    """Predictions whose selection rate (and TPR) depends on the group as given."""
    rng = np.random.default_rng(seed)
    group = np.where(rng.random(n) < 0.6, "a", "b").astype(object)
    group[:tiny] = "tiny"
    label = rng.integers(0, 2, n).astype(float)
    label[rng.random(n) > labelled] = np.nan
    rate = np.where(group == "a", rate_a, rate_b)
    prediction = (rng.random(n) < rate).astype(int)
    return pd.DataFrame({"sex": group, "label": label, "prediction": prediction})


def test_injected_gap_is_reported_with_an_interval_excluding_zero():
    result = fairness.group_fairness(fairness.cell_counts(logged(), "sex"), "sex", 50,
                                     n_boot=500, seed=1)
    dp, eo, di = result.gaps[DP], result.gaps[EO], result.gaps[DI]
    assert dp.groups == ("a", "b")
    assert dp.value == pytest.approx(0.2, abs=0.05)
    assert dp.ci_low > 0 and dp.excludes(0.0)
    assert eo.ci_low > 0
    assert di.value == pytest.approx(0.4 / 0.6, abs=0.06)
    assert di.ci_high < 0.8  # fails the four-fifths rule, beyond noise


def test_no_gap_gives_an_interval_around_zero():
    # max - min of noisy rates is always > 0; the signed pair interval must still cover 0.
    covered = 0
    for seed in range(20):
        result = fairness.group_fairness(
            fairness.cell_counts(logged(rate_a=0.5, rate_b=0.5, seed=seed), "sex"), "sex", 50,
            n_boot=300, seed=seed)
        covered += not result.gaps[DP].excludes(0.0)
    assert covered >= 16  # ~95% expected; 16 of 20 is far in the tail if coverage were 95%


def test_tiny_group_is_too_small_not_scored():
    result = fairness.group_fairness(fairness.cell_counts(logged(tiny=20), "sex"), "sex", 50,
                                     n_boot=100)
    tiny = result.group("tiny")
    assert tiny.too_small and tiny.n == 20
    assert tiny.selection_rate is None and tiny.tpr is None
    assert "tiny" not in result.gaps[DP].groups


def test_one_group_left_gives_no_gap_with_a_reason():
    frame = logged()
    frame["sex"] = np.where(frame.index < 30, "b", "a")
    result = fairness.group_fairness(fairness.cell_counts(frame, "sex"), "sex", 50, n_boot=100)
    assert result.gaps[DP].value is None
    assert "fewer than 2 groups" in result.gaps[DP].note


def test_point_estimates_equal_metricframe_on_the_rows():
    frame = logged(seed=3)
    result = fairness.group_fairness(fairness.cell_counts(frame, "sex"), "sex", 50, n_boot=50)
    lab = frame[frame["label"].notna()]
    mf = MetricFrame(metrics={"tpr": true_positive_rate, "fpr": false_positive_rate,
                              "accuracy": accuracy_score},
                     y_true=lab["label"].astype(int), y_pred=lab["prediction"],
                     sensitive_features=lab["sex"])
    sel = MetricFrame(metrics=selection_rate, y_true=frame["prediction"],
                      y_pred=frame["prediction"], sensitive_features=frame["sex"])
    for g in ("a", "b"):
        got = result.group(g)
        assert got.selection_rate == pytest.approx(sel.by_group[g])
        assert got.tpr == pytest.approx(mf.by_group.loc[g, "tpr"])
        assert got.fpr == pytest.approx(mf.by_group.loc[g, "fpr"])
        assert got.accuracy == pytest.approx(mf.by_group.loc[g, "accuracy"])
    assert result.gaps[DP].value == pytest.approx(sel.difference())


def test_bootstrap_rates_are_fairlearns_definitions():
    draws = np.random.default_rng(0).integers(1, 40, size=(5, len(CELLS))).astype(float)
    rates = fairness._rates(draws)
    label = np.array([c[0] for c in CELLS])
    pred = np.array([c[1] for c in CELLS])
    on = label >= 0
    for i, w in enumerate(draws):
        assert rates["selection_rate"][i] == pytest.approx(selection_rate(pred, pred,
                                                                          sample_weight=w))
        assert rates["tpr"][i] == pytest.approx(
            true_positive_rate(label[on], pred[on], sample_weight=w[on]))
        assert rates["fpr"][i] == pytest.approx(
            false_positive_rate(label[on], pred[on], sample_weight=w[on]))
        assert rates["accuracy"][i] == pytest.approx(
            accuracy_score(label[on], pred[on], sample_weight=w[on]))


def test_cells_from_chunks_add_up_to_the_whole():
    frame = logged(seed=4)
    whole = fairness.cell_counts(frame, "sex")
    summed = None
    for start in range(0, len(frame), 900):
        part = frame.iloc[start:start + 900]
        summed = fairness.add_cells(summed, fairness.cell_counts(part, "sex"))
    key = ["group", "label", "prediction"]
    pd.testing.assert_frame_equal(whole.sort_values(key).reset_index(drop=True),
                                  summed.sort_values(key).reset_index(drop=True),
                                  check_dtype=False)


def test_seeded_intervals_are_reproducible():
    cells = fairness.cell_counts(logged(), "sex")
    a = fairness.group_fairness(cells, "sex", 50, n_boot=200, seed=5)
    b = fairness.group_fairness(cells, "sex", 50, n_boot=200, seed=5)
    assert a.gaps == b.gaps
