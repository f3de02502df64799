"""Evidently's recsys metrics on our slate rows agree with our own computation."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from loopwatch.monitoring.recsys_report import recsys_report
from tests import snapshots


def test_evidently_precision_matches_ours_and_popularity_metrics_are_read():
    rng = np.random.default_rng(0)
    k, users, items = 5, 40, 30
    slates = np.array([rng.choice(items, k, replace=False) for _ in range(users)])
    target = (rng.random((users, k)) < 0.3).astype(int)
    frame = pd.DataFrame({"user_id": np.repeat(np.arange(users), k),
                          "item_id": slates.ravel(), "rank": np.tile(np.arange(1, k + 1), users),
                          "target": target.ravel()})
    train = pd.DataFrame({"user_id": rng.integers(0, users, 400),
                          "item_id": rng.integers(0, items, 400)})
    values = snapshots.recsys(recsys_report(frame, train, k), k)
    with_feedback = target.sum(axis=1) > 0  # Evidently skips users without any relevant row
    assert values["precision_at_5"] == pytest.approx(target[with_feedback].mean())
    assert values["hit_rate_at_5"] == pytest.approx(1.0)  # only users with a hit are counted
    assert 0 < values["personalization"] <= 1
    assert values["popularity_coverage"] == pytest.approx(
        len(np.unique(slates)) / train["item_id"].nunique())
    assert 0 <= values["popularity_gini"] < 1 and values["popularity_arp"] > 0
