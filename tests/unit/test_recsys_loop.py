"""The recommender loop on a tiny world with a numpy 'model': provenance and invariants."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from loopwatch.monitoring.feedback_loop import ORIGINS
from loopwatch.simulation.recommender.loop import build_world, run_arm, top_k
from loopwatch.tasks.recsys.params import LoopParams
from tests.synthetic_movielens import synthetic_movielens

ML = synthetic_movielens(n_users=60, n_items=80, per_user=12, seed=1)
PARAMS = LoopParams(generations=4, k=5, epsilon=0.2, consume=2, start_ratings=400,
                    eval_pairs_per_user=10, relevant_top=8, seed=3)


class ItemMean:
    """Retrained 'model': every user gets the damped mean rating of each item."""

    def __init__(self, log: pd.DataFrame, item_ids: np.ndarray):
        mu = log["rating"].mean()
        stats = log.groupby("item_id")["rating"].agg(["sum", "count"])
        mean = (stats["sum"] + 3 * mu) / (stats["count"] + 3)
        self.scores = pd.Series(item_ids).map(mean).fillna(mu).to_numpy(float)

    def score_matrix(self, users) -> np.ndarray:
        return np.tile(self.scores, (len(users), 1))


@pytest.fixture(scope="module")
def world():
    rng = np.random.default_rng(0)
    truth = np.clip(3 + rng.normal(0, 0.8, (60, 80)), 1, 5)
    return build_world(truth, ML.users["user_id"].to_numpy(), ML.items["item_id"].to_numpy(),
                       ML.users["gender"].to_numpy(), ML.ratings, PARAMS)


@pytest.fixture(scope="module")
def arms(world):
    calls = []

    def trainer(log, generation):
        calls.append((len(log), generation))
        return ItemMean(log, world.item_ids)

    out = {arm: run_arm(world, arm, PARAMS, trainer) for arm in ("model", "random", "ideal")}
    out["calls"] = calls
    return out


def test_top_k_skips_excluded_items_and_orders_best_first():
    scores = np.array([[0.1, 0.9, 0.5, 0.7]])
    assert top_k(scores, np.array([[False, True, False, False]]), 2).tolist() == [[3, 2]]


def test_log_rows_carry_provenance(arms, world):
    log = arms["model"].log
    assert set(log["origin"]) <= set(ORIGINS)
    organic = log[log["origin"] == "organic"]
    assert len(organic) == PARAMS.start_ratings and (organic["propensity"] == 1).all()
    assert (organic["generation"] == -1).all()
    loop_rows = log[log["origin"] != "organic"]
    assert len(loop_rows) == PARAMS.generations * 60 * PARAMS.consume
    assert loop_rows["propensity"].between(0, 1, inclusive="right").all()
    explored = loop_rows[loop_rows["origin"] == "exploration"]
    assert 0 < len(explored) < len(loop_rows)  # ε = 0.2 of users per generation
    # Exploration items outside the top-k were shown with probability ε·k/|unseen| only.
    assert explored["propensity"].min() < 0.2 * 5 / 60
    # A top-k item shown by the model carries at least 1 - ε.
    assert (loop_rows[loop_rows["origin"] == "model-selected"]["propensity"] >= 0.8).all()


def test_nobody_is_recommended_an_item_twice(arms):
    for arm in ("model", "random", "ideal"):
        log = arms[arm].log
        assert not log.duplicated(["user_id", "item_id"]).any(), arm


def test_random_arm_is_uniform_and_arms_share_draws(arms):
    random_rows = arms["random"].log.query("origin != 'organic'")
    assert set(random_rows["origin"]) == {"exploration"}
    # Same active users and the same number of rows per generation in every arm.
    counts = [arms[a].log.groupby("generation").size().tolist() for a in ("model", "random")]
    assert counts[0] == counts[1]


def test_retraining_happens_each_generation_on_the_growing_log(arms):
    model_calls = arms["calls"][:PARAMS.generations]
    sizes = [n for n, _ in model_calls]
    assert [g for _, g in model_calls] == list(range(PARAMS.generations))
    assert sizes == [PARAMS.start_ratings + g * 60 * PARAMS.consume
                     for g in range(PARAMS.generations)]


def test_metrics_per_generation_and_the_popularity_model_concentrates_exposure(arms):
    model, random = arms["model"].metrics, arms["random"].metrics
    assert model["generation"].tolist() == list(range(PARAMS.generations))
    for column in ("exposure_gini", "exposure_coverage", "jaccard", "slate_jaccard",
                   "popularity_lift", "popularity_lift.F", "popularity_lift.M", "rho", "rmse",
                   "rmse.F", "precision_at_5.M", "naive_ips_gap"):
        assert model[column].notna().all(), column
    # The same list for everyone (item means) vs uniform slates.
    assert (model["exposure_gini"] > random["exposure_gini"] + 0.3).all()
    assert (model["exposure_coverage"] < random["exposure_coverage"]).all()
    assert (model["slate_jaccard"] > 5 * random["slate_jaccard"]).all()
    assert model["rho"].is_monotonic_increasing  # decision-made labels pile up
    assert arms["ideal"].metrics.get("rmse") is None  # the oracle is not a trained model


def test_slate_frames_are_evidently_shaped(arms):
    frame = arms["model"].slates[0]
    assert list(frame.columns) == ["user_id", "item_id", "rank", "target"]
    assert len(frame) == 60 * PARAMS.k and set(frame["rank"]) == set(range(1, 6))
    assert set(frame["target"]) <= {0, 1}


def test_popularity_is_measured_on_the_fixed_organic_yardstick(arms, world):
    # Item popularity and profiles come from the organic start only: the loop's own
    # consumption never changes the yardstick, so profile popularity is constant.
    organic = world.start.groupby("item_id").size() / world.shape[0]
    own = organic.reindex(world.item_ids, fill_value=0.0).to_numpy()
    for arm in ("model", "random", "ideal"):
        profile = arms[arm].metrics["profile_popularity"]
        assert np.allclose(profile, profile.iloc[0]), arm
    slates = arms["random"].slates[0]
    rec = pd.Series(own, index=world.item_ids.astype(str))[slates["item_id"]].to_numpy()
    assert arms["random"].metrics["rec_popularity"].iloc[0] == pytest.approx(rec.mean())


def test_live_popularity_follows_the_training_log(arms, world):
    # Recomputed by hand for the model arm's generation 2: shares of the rows it trained on.
    log = arms["model"].log
    trained = log[log["generation"] < 2]
    share = trained.groupby("item_id").size().reindex(world.item_ids, fill_value=0)
    share = share / share.sum() * len(world.item_ids)
    expected = share.loc[trained["item_id"]].mean()
    assert arms["model"].metrics["train_popularity"].iloc[2] == pytest.approx(expected)
    slates = arms["model"].slates[2]["item_id"].astype(int)
    assert arms["model"].metrics["rec_popularity_live"].iloc[2] == pytest.approx(
        share.loc[slates].mean())
    # One list for everyone keeps piling the loop's rows onto a few items, while uniform
    # slates (and here the ideal: this truth has no shared taste) flatten the data.
    model, random, ideal = (arms[a].metrics for a in ("model", "random", "ideal"))
    assert random["train_popularity"].iloc[-1] < random["train_popularity"].iloc[0] - 0.5
    assert ideal["train_popularity"].iloc[-1] < ideal["train_popularity"].iloc[0] - 0.5
    assert model["train_popularity"].iloc[-1] > random["train_popularity"].iloc[-1] + 0.5
    assert random["rec_popularity_live"].between(0.7, 1.3).all()
