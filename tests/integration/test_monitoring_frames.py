"""A monitoring window end to end on tiny data: in memory and streamed, HTML, MLflow."""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, datetime, timedelta

import numpy as np
import pandas as pd
import pytest

from loopwatch.config import MonitoringParams
from loopwatch.monitoring import policy, report, tracking
from loopwatch.monitoring.fairness import DP
from loopwatch.monitoring.stream import monitor_frames, monitor_stream
from tests.conftest import tiny_table

PARAMS = MonitoringParams(n_boot=300)
END = datetime(2025, 3, 2, tzinfo=UTC)


def scored(frame: pd.DataFrame) -> pd.DataFrame:
    """What the serving model would log: score = P(yes), prediction = class label."""
    logit = 2.0 * frame["x1"] + 1.5 * (frame["color"] == "red") - 0.3 * (frame["x2"] - 5)
    score = 1 / (1 + np.exp(-logit))
    return frame.assign(score=score, prediction=np.where(score >= 0.5, "yes", "no"))


@pytest.fixture(scope="module")
def window():
    spec, reference = tiny_table(3_000, seed=0)
    _, current = tiny_table(2_000, seed=1)
    rng = np.random.default_rng(2)
    current["x1"] += 0.6  # injected data drift in one column
    current = scored(current)
    unfair = (current["group"] == "b") & (rng.random(len(current)) < 0.5)
    current.loc[unfair, "prediction"] = "no"  # injected gap: group b approved half as often
    current.loc[:9, "group"] = "c"  # a tiny third group
    current.loc[rng.random(len(current)) < 0.3, "label"] = None  # labels not yet arrived
    current["timestamp"] = pd.Timestamp(END) - pd.to_timedelta(rng.random(len(current)), "D")
    current["model_version"] = "3"
    return spec, scored(reference), current


@pytest.fixture(scope="module")
def in_memory(window):
    spec, reference, current = window
    return monitor_frames(current, reference, spec, PARAMS, "adult-income", "3",
                          END - timedelta(days=1), END)


def test_known_answers(in_memory):
    r = in_memory
    drifted = {c.column for c in r.drift.columns if c.drifted}
    assert drifted == {"x1"} and not r.drift.dataset_drift
    assert r.n_rows == 2_000 and 0.6 < r.labelled_share < 0.8
    assert r.quality.n_labelled == r.n_labelled and r.quality.accuracy > 0.6
    fair = r.fairness[0]
    assert fair.gaps[DP].groups == ("a", "b") and fair.gaps[DP].ci_low > 0
    assert fair.group("c").too_small
    by_group = {g.group: g for g in r.group_drift}
    assert by_group["c"].drift is None and "not in the reference" in by_group["c"].note
    assert by_group["a"].drift.column("x1").drifted
    x1 = r.drift.column("x1")  # ours beside Evidently's (its default test for 3,000 rows)
    assert x1.verdict == "drift" and x1.test == "K-S" and x1.p_adjusted < 0.05
    assert x1.evidently_method == "Wasserstein distance (normed)" and x1.evidently_drifted
    assert x1.statistic == pytest.approx(x1.evidently_statistic, abs=3e-3)


def test_stream_path_agrees_with_memory(window, in_memory):
    spec, reference, current = window
    chunks = (current.iloc[i:i + 300] for i in range(0, len(current), 300))
    streamed = monitor_stream(chunks, reference, spec, PARAMS, "adult-income", "3",
                              END - timedelta(days=1), END)
    assert (streamed.mode, in_memory.mode) == ("stream", "memory")
    for ours, theirs in zip(streamed.drift.columns, in_memory.drift.columns, strict=True):
        # One engine: the same sketches, so the same verdicts to the bit.
        assert (ours.column, ours.method, ours.drifted, ours.p_value, ours.statistic) == (
            theirs.column, theirs.method, theirs.drifted, theirs.p_value, theirs.statistic)
    assert streamed.fairness == in_memory.fairness  # exact: same counts, same seed
    assert streamed.quality.accuracy == pytest.approx(in_memory.quality.accuracy)
    mem = {(g.group, g.drift is None) for g in in_memory.group_drift}
    assert {(g.group, g.drift is None) for g in streamed.group_drift} == mem


def test_html_report(in_memory, tmp_path):
    decision = policy.Decision("none", ("dataset drift share 0.25 (threshold 0.50)",))
    index = report.write_html_report(in_memory, tmp_path / "report", decision)
    html = index.read_text()
    for text in ("Data drift", "Group fairness: group", "demographic_parity_difference",
                 "too small", "Drift per sensitive group", "evidently_drift.html",
                 "Benjamini-Hochberg", "smallest detectable", "not in the reference",
                 "Dataset drift (≥ 0.50 of the columns", "by the retraining policy"):
        assert text in html
    assert (tmp_path / "report" / "evidently_quality.html").stat().st_size > 10_000


def test_mlflow_run_and_history_round_trip(in_memory, tmp_path):
    from mlflow.tracking import MlflowClient

    client = MlflowClient(f"sqlite:///{tmp_path / 'mlflow.db'}")
    history = []
    for day in range(2):
        result = replace(in_memory, window_end=END + timedelta(days=day))
        summary = tracking.summarize(result, baseline_accuracy=0.95)
        decision = policy.decide(summary, history, PARAMS)
        run_id = tracking.log_to_mlflow(result, client, "adult-income", "3",
                                        experiment="monitoring-test", decision=decision,
                                        baseline_accuracy=0.95)
        history = tracking.load_history(client, "adult-income", experiment="monitoring-test")
    run = client.get_run(run_id)
    assert run.data.tags[tracking.TAG_VERSION] == "3"
    assert run.data.tags[tracking.TAG_STAGE] == "monitor"
    assert run.data.metrics["drift_share"] == in_memory.drift.share
    assert "fairness.group.demographic_parity_difference.ci_low" in run.data.metrics
    assert [h.end for h in history] == [END, END + timedelta(days=1)]
    # Accuracy far below the 0.95 baseline in both windows: the second decides to retrain.
    assert [h.action for h in history] == ["none", "retrain"]
    assert history[-1].gaps == tracking.summarize(in_memory).gaps


def test_a_trivial_shift_on_big_data_is_significant_but_small():
    spec, reference = tiny_table(20_000, seed=5)
    _, current = tiny_table(20_000, seed=6)
    current["x1"] += 0.05  # 5% of a std: real, and too small to matter
    ks = PARAMS.model_copy(update={"num_method": "ks", "n_boot": 50})
    result = monitor_frames(scored(current), scored(reference), spec, ks)
    x1 = result.drift.column("x1")
    assert x1.evidently_drifted  # KS on 20k rows calls it drift
    assert x1.verdict == "significant, small" and not x1.drifted and x1.statistic < 0.1


def test_one_bad_row_never_fails_a_window(window):
    spec, reference, current = window
    current = current.copy()
    current["x2"] = current["x2"].astype(float)
    current.loc[5, "x2"] = 1e308  # a value only a careless client sends
    current.loc[6, ["prediction", "score"]] = None  # a row logged without a prediction
    result = monitor_frames(current, reference, spec, PARAMS, "adult-income", "3")
    assert result.n_rows == len(current) - 1
    assert not result.drift.column("x2").drifted
    notes = " ".join(result.notes)
    assert "1 logged rows had no prediction" in notes and "1 extreme values clipped" in notes
