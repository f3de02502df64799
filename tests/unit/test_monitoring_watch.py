"""The generic monitor's numbers on hand-checked frames, and the argmax policy's propensities."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from loopwatch.monitoring.frame import FrameSchema, MonitorFrame
from loopwatch.monitoring.watch import group_quality, loop_signals, quality
from loopwatch.serving.policy import ClassPolicy, decide_argmax


def test_ips_accuracy_reweights_what_the_decisions_revealed():
    # Two rows seen with certainty, both right; one explored row seen with p=0.25, wrong.
    rows = pd.DataFrame({"prediction": ["a", "b", "a"], "label": ["a", "b", "b"],
                         "propensity": [1.0, 1.0, 0.25]})
    q = quality(rows)
    assert q["accuracy"] == pytest.approx(2 / 3)
    assert q["accuracy_ips"] == pytest.approx(2 / 6)  # the wrong row stands for 4
    assert q["min_propensity"] == 0.25
    assert q["effective_sample_size"] == pytest.approx(36 / 18)


def test_rho_is_the_share_of_labels_a_decision_revealed():
    rows = pd.DataFrame({"origin": ["organic", None, "model-selected", "exploration"]})
    assert loop_signals(rows)["decision_dependent_label_share"] == 0.5


def test_a_small_group_is_named_not_scored():
    rows = pd.DataFrame({"prediction": ["a"] * 60 + ["b"] * 60 + ["a"] * 5,
                         "label": ["a"] * 60 + ["a"] * 60 + ["b"] * 5,
                         "group": ["x"] * 60 + ["y"] * 60 + ["z"] * 5})
    metrics, notes = group_quality(rows, "group", min_group_size=50)
    assert metrics == {"accuracy.group.x": 1.0, "accuracy.group.y": 0.0,
                       "accuracy_gap.group": 1.0}
    assert notes == ["group=z: 5 labelled rows < 50, not scored"]


def test_the_frame_infers_types_and_refuses_missing_columns():
    frame = pd.DataFrame({"x": [1.0, 2.0], "n": [1, 2], "c": ["u", "v"], "g": ["a", "b"]})
    schema = FrameSchema.infer(frame, ["x", "n", "c"], sensitive=["g"])
    assert schema.continuous == ("x", "n") and schema.categorical == ("c", "g")
    with pytest.raises(ValueError, match=r"lacks column\(s\) \['c'\]"):
        MonitorFrame(schema, frame.drop(columns="c"))
    logged = MonitorFrame.from_log(frame.assign(ts=1, label_origin="organic"), schema)
    assert {"timestamp", "origin", "label", "propensity"} <= set(logged.rows.columns)


def test_argmax_exploration_logs_the_probability_of_each_action():
    proba = np.tile([0.1, 0.7, 0.2], (20_000, 1))
    d = decide_argmax(proba, 0.3, np.random.default_rng(0))
    greedy = d.action == 1
    assert np.allclose(d.propensity[greedy], 1 - 0.3 + 0.1)
    assert np.allclose(d.propensity[~greedy], 0.1)
    assert d.explored.mean() == pytest.approx(0.3, abs=0.01)
    assert (~greedy).mean() == pytest.approx(0.2, abs=0.01)  # 2 of 3 random draws differ
    policy = ClassPolicy(("x", "y", "z"))
    assert policy.names(policy.decide(proba[:2], None)) == ["y", "y"]
    with pytest.raises(ValueError, match="generator"):
        decide_argmax(proba, 0.1, None)
