"""Recommender loop metrics and the recommender alert, on hand-checked cases."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from loopwatch.monitoring import recsys_loop as rl


def sets(*rows, n_items=6):
    out = np.zeros((len(rows), n_items), dtype=bool)
    for u, items in enumerate(rows):
        out[u, list(items)] = True
    return out


def test_pairwise_jaccard_known_values():
    # Pairs: {0,1}-{1,2}: 1/3; {0,1}-{3}: 0; {1,2}-{3}: 0; the empty user is ignored.
    assert rl.pairwise_jaccard(sets({0, 1}, {1, 2}, {3}, set())) == pytest.approx(1 / 9)
    assert rl.pairwise_jaccard(sets({0, 1}, {0, 1})) == 1.0
    assert np.isnan(rl.pairwise_jaccard(sets({0})))


def test_popularity_lift_overall_and_per_group():
    popularity = np.array([0.9, 0.5, 0.1, 0.1])
    slates = np.array([[0, 1], [0, 1], [2, 3]])  # mean rec popularity 0.7, 0.7, 0.1
    profiles = sets({2}, {1}, {2, 3}, n_items=4)  # mean own popularity 0.1, 0.5, 0.1
    groups = np.array(["F", "M", "M"])
    out = rl.popularity_lift(slates, profiles, popularity, groups)
    assert out["rec_popularity"] == pytest.approx(0.5)
    assert out["profile_popularity"] == pytest.approx(0.7 / 3)
    assert out["popularity_lift"] == pytest.approx(0.5 / (0.7 / 3))
    assert out["popularity_lift.F"] == pytest.approx(7.0)
    assert out["popularity_lift.M"] == pytest.approx(0.4 / 0.3)
    assert out["popularity_lift_gap"] == pytest.approx(7.0 - 0.4 / 0.3)


def test_precision_at_k_and_group_means():
    relevant = sets({0, 1}, {5}, n_items=6)
    ranked = np.array([[0, 2, 1], [3, 4, 1]])
    precision = rl.precision_at_k(ranked, relevant)
    assert precision.tolist() == pytest.approx([2 / 3, 0.0])
    assert rl.group_means({"p": precision}, np.array(["F", "M"])) == {"p.F": pytest.approx(2 / 3),
                                                                      "p.M": 0.0}
    assert rl.group_means({"p": precision}, None) == {}


def history(**columns):
    return pd.DataFrame(columns)


RISING = [0.10, 0.12, 0.15, 0.19, 0.22, 0.26]
FLAT = [0.10, 0.11, 0.10, 0.11, 0.10, 0.11]


def test_alert_fires_on_a_rising_gap_and_falling_coverage_not_on_flat_series():
    loop = rl.detect_recsys_loop(history(popularity_lift_gap=RISING,
                                         exposure_coverage=[0.6, 0.55, 0.5, 0.46, 0.4, 0.35]))
    assert loop.suspected and len(loop.reasons) == 2
    assert any("exposure_coverage fell" in r for r in loop.reasons)
    assert loop.evidence["popularity_lift_gap"]["change"] == pytest.approx(0.16)
    quiet = rl.detect_recsys_loop(history(popularity_lift_gap=FLAT, exposure_coverage=FLAT))
    assert not quiet.suspected and quiet.reasons == []


def test_jaccard_counts_only_beyond_a_random_baseline_arm():
    # Cumulative consumed sets overlap more every round under any recommender.
    alone = rl.detect_recsys_loop(history(jaccard=RISING))
    assert not alone.suspected and "jaccard" not in alone.evidence
    same_rise = rl.detect_recsys_loop(history(jaccard=RISING), history(jaccard=RISING))
    assert not same_rise.suspected
    random_arm = history(jaccard=[0.002, 0.004, 0.006, 0.008, 0.010, 0.012])
    beyond = rl.detect_recsys_loop(history(jaccard=RISING), random_arm)
    assert beyond.suspected
    assert beyond.evidence["jaccard"]["baseline_change"] == pytest.approx(0.010)


def test_live_popularity_is_measured_on_the_training_rows():
    # 8 training rows over 4 items: counts 4, 2, 2, 0 -> shares x 4 items = 2, 1, 1, 0.
    train = np.array([0, 0, 0, 0, 1, 1, 2, 2])
    assert rl.interaction_popularity(train, 4).tolist() == [2.0, 1.0, 1.0, 0.0]
    slates = np.array([[0, 3], [1, 2]])  # recommended: (2 + 0 + 1 + 1) / 4
    out = rl.live_popularity(slates, train, 4)
    assert out["rec_popularity_live"] == pytest.approx(1.0)
    # A training row's item has popularity 2 (4 rows), 1 (2) or 1 (2): mean 12/8.
    assert out["train_popularity"] == pytest.approx(1.5)
    # Doubling the log with the same mix changes nothing: the yardstick is a share.
    twice = rl.live_popularity(slates, np.tile(train, 2), 4)
    assert twice == pytest.approx(out)
    flat = rl.live_popularity(slates, np.arange(4).repeat(3), 4)
    assert flat["train_popularity"] == pytest.approx(1.0)


def test_concentrating_training_data_counts_only_beyond_the_random_arm():
    concentrating = [2.9, 3.9, 5.1, 6.4, 7.3, 8.0]
    alone = rl.detect_recsys_loop(history(train_popularity=concentrating))
    assert "train_popularity" not in alone.evidence  # the ideal's data concentrates too
    flattening = history(train_popularity=[2.9, 2.7, 2.6, 2.5, 2.45, 2.4])
    loop = rl.detect_recsys_loop(history(train_popularity=concentrating), flattening)
    assert loop.suspected and any("train_popularity rose" in r for r in loop.reasons)
    assert loop.evidence["train_popularity"]["baseline_change"] == pytest.approx(-0.5)
    same = rl.detect_recsys_loop(history(train_popularity=concentrating),
                                 history(train_popularity=concentrating))
    assert not same.suspected
