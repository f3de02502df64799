"""Evidently drift and quality reports and our calibrated verdicts: known answers."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from sklearn.metrics import accuracy_score, roc_auc_score

from loopwatch.config import MonitoringParams
from loopwatch.monitoring import calibrated, drift
from loopwatch.monitoring.results import MonitoringResult, headline, headline_key
from tests import snapshots

NUM, CAT = ["x1", "x2", "x3"], ["color"]
P = MonitoringParams()


def frame(n: int, seed: int, shift: float = 0.0) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    score = rng.random(n)
    return pd.DataFrame({
        "x1": rng.normal(shift, 1, n), "x2": rng.normal(5, 2, n), "x3": rng.exponential(1, n),
        "color": rng.choice(["red", "green"], n),
        "score": score, "prediction": (score >= 0.5).astype(int),
    })


@pytest.mark.parametrize("n, method", [(400, "K-S p_value"),
                                       (3_000, "Wasserstein distance (normed)")])
def test_shift_in_one_column_flags_that_column(n, method):
    cur, ref = frame(n, 1, shift=0.8), frame(n, 2)
    evidently, snapshot = drift.drift_report(cur, ref, NUM, CAT, P)
    assert evidently["x1"].drifted and evidently["x1"].method == method
    assert not any(evidently[c].drifted for c in ("x2", "x3", "color"))
    assert snapshots.drift_share(snapshot) == pytest.approx(0.25)
    ours, _ = calibrated.drift_frames(cur, ref, NUM, CAT, P)  # the verdict acted on agrees
    assert [c.column for c in ours.columns if c.drifted] == ["x1"]
    assert ours.share == pytest.approx(0.25) and not ours.dataset_drift


def test_iid_split_gives_no_dataset_drift():
    data = frame(1_200, 3)
    ours, _ = calibrated.drift_frames(data.iloc[600:], data.iloc[:600], NUM, CAT, P)
    assert not ours.dataset_drift and ours.n_drifted == 0


def test_dataset_drift_at_half_of_the_columns():
    cur = frame(500, 4, shift=1.0)
    cur["x2"] += 3
    ours, _ = calibrated.drift_frames(cur, frame(500, 5), NUM, CAT, P)
    assert {"x1", "x2"} == {c.column for c in ours.columns if c.drifted}
    assert ours.dataset_drift


def test_prediction_drift_is_reported_apart():
    cur, ref = frame(600, 6), frame(600, 7)
    cur["score"] = cur["score"] ** 0.3  # the model now scores everyone higher
    cur["prediction"] = (cur["score"] >= 0.5).astype(int)
    extra = ["score", "prediction"]
    evidently, _ = drift.drift_report(cur, ref, [*NUM, "score"], [*CAT, "prediction"], P,
                                      extra=extra)
    assert evidently["score"].drifted and evidently["prediction"].drifted
    result, prediction = calibrated.drift_frames(cur, ref, [*NUM, "score"],
                                                 [*CAT, "prediction"], P, extra=extra)
    assert {c.column for c in prediction} == set(extra) and all(c.drifted for c in prediction)
    assert {c.column for c in result.columns} == set(NUM + CAT)


def test_evidently_thresholds_and_methods_pass_through():
    params = P.model_copy(update={"num_method": "wasserstein", "drift_threshold": 0.5})
    evidently, _ = drift.drift_report(frame(300, 1, shift=0.8), frame(300, 2), NUM, CAT, params)
    x1 = evidently["x1"]
    assert x1.method == "Wasserstein distance (normed)" and x1.threshold == 0.5
    assert x1.drifted == (x1.statistic >= 0.5)


def test_quality_matches_sklearn():
    rng = np.random.default_rng(0)
    label = rng.integers(0, 2, 800)
    score = np.clip(0.35 * label + 0.65 * rng.random(800), 0, 1)
    data = pd.DataFrame({"label": label, "score": score, "prediction": (score >= 0.5)})
    quality, _ = drift.quality_report(data)
    assert quality.accuracy == pytest.approx(accuracy_score(label, score >= 0.5))
    assert quality.roc_auc == pytest.approx(roc_auc_score(label, score))
    assert quality.n_labelled == 800


def test_quality_with_one_class_only():
    data = pd.DataFrame({"label": [0] * 50, "score": np.linspace(0, 1, 50)})
    data["prediction"] = (data["score"] >= 0.5).astype(int)
    quality, _ = drift.quality_report(data)
    assert quality.accuracy == pytest.approx(25 / 50) and quality.roc_auc is None


def test_headline_snapshot_round_trip():
    values = {"drift_share": 0.25, headline_key("fairness", "race", "x"): 0.1, "four": 0.8}
    assert snapshots.headline(drift.headline_snapshot(values)) == values


def test_headline_keys_are_safe_and_complete():
    result, prediction = calibrated.drift_frames(frame(300, 1), frame(300, 2), NUM, CAT, P)
    window = MonitoringResult("m", "1", 300, 0, result, prediction, None, (), (), "memory")
    numbers = headline(window)
    assert numbers["drift_share"] == result.share
    assert {f"drift_score.{c}" for c in NUM + CAT} <= set(numbers)
    assert headline_key("fairness", "native country/region", "gap") == \
        "fairness.native_country_region.gap"
