"""The recommender feedback loop: users consume from the model's top-k, the model retrains.

A semi-synthetic world after Chaney et al. (2018): every user has a true expected rating
for every item (an oracle fitted to all of MovieLens, ``truth``), the first model sees a
sample of the real (organic) ratings, and then, generation after generation,

1. the model is retrained on everything logged so far;
2. each active user is shown a slate of ``k`` unseen items: the model's top-k, or with
   probability ε a uniformly random slate (exploration). Every shown item's propensity,
   (1−ε)·[in top-k] + ε·k/|candidates|, is logged;
3. the user consumes the ``consume`` slate items they truly like best and rates them
   (oracle + noise); the rows are appended with their origin, generation and propensity.

Arms share the world and the random draws (same active users, coins and noise), so they
differ only in how slates are chosen: ``model`` (the retrained recommender), ``random``
(ε = 1: a uniformly random recommender; its own retrained model is only evaluated) and
``ideal`` (slates ranked by the oracle, Chaney's normaliser).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Protocol

import numpy as np
import pandas as pd

from loopwatch.monitoring import feedback_loop as fl
from loopwatch.monitoring import recsys_loop as rl
from loopwatch.tasks.recsys.params import LoopParams

ORGANIC, MODEL, EXPLORATION = fl.ORIGINS
ARMS = ("model", "random", "ideal")
LIKED = 4.0  # a rating this high is a positive label for the naive-vs-IPS gap


class Scorer(Protocol):
    def score_matrix(self, users) -> np.ndarray: ...


Trainer = Callable[[pd.DataFrame, int], Scorer]  # (logged ratings, generation) -> model


@dataclass(frozen=True)
class World:
    user_ids: np.ndarray  # (U,) raw ids, the user axis of every matrix
    item_ids: np.ndarray  # (I,)
    groups: np.ndarray  # (U,) sensitive group per user (gender)
    truth: np.ndarray  # (U, I) expected rating of each user for each item
    start: pd.DataFrame  # the organic ratings the first model sees: user_id, item_id, rating
    eval_users: np.ndarray  # MCAR evaluation pairs (indices): uniform, not what was shown
    eval_items: np.ndarray

    @property
    def shape(self) -> tuple[int, int]:
        return self.truth.shape


def build_world(truth: np.ndarray, user_ids, item_ids, groups, organic: pd.DataFrame,
                params: LoopParams) -> World:
    """Sample the organic start and the uniform evaluation pairs (seeded by ``params.seed``)."""
    rng = np.random.default_rng([params.seed, 10_000])
    n_start = min(params.start_ratings, len(organic))
    start = organic.iloc[np.sort(rng.choice(len(organic), n_start, replace=False))]
    n_users, n_items = truth.shape
    eval_users = np.repeat(np.arange(n_users), params.eval_pairs_per_user)
    eval_items = rng.integers(0, n_items, len(eval_users))
    return World(np.asarray(user_ids), np.asarray(item_ids), np.asarray(groups), truth,
                 start[["user_id", "item_id", "rating"]].reset_index(drop=True),
                 eval_users, eval_items)


@dataclass
class ArmResult:
    arm: str
    metrics: pd.DataFrame  # one row per generation
    log: pd.DataFrame  # every training row with provenance
    slates: list[pd.DataFrame] = field(default_factory=list)  # per generation, for Evidently


def membership(world: World, rows: pd.DataFrame) -> np.ndarray:
    """Boolean users x items matrix of the (user, item) pairs in ``rows``."""
    out = np.zeros(world.shape, dtype=bool)
    u = pd.Index(world.user_ids).get_indexer(rows["user_id"])
    i = pd.Index(world.item_ids).get_indexer(rows["item_id"])
    out[u, i] = True
    return out


def top_k(scores: np.ndarray, excluded: np.ndarray, k: int) -> np.ndarray:
    """Per row, the indices of the ``k`` highest scores outside ``excluded``, best first."""
    masked = np.where(excluded, -np.inf, scores)
    part = np.argpartition(-masked, k - 1, axis=1)[:, :k]
    order = np.argsort(-np.take_along_axis(masked, part, axis=1), axis=1, kind="stable")
    return np.take_along_axis(part, order, axis=1)


def run_arm(world: World, arm: str, params: LoopParams, trainer: Trainer | None) -> ArmResult:
    if arm not in ARMS:
        raise ValueError(f"unknown arm {arm!r}; choose from {ARMS}")
    n_users, n_items = world.shape
    k, eps = params.k, 1.0 if arm == "random" else params.epsilon
    log = world.start.assign(origin=ORGANIC, generation=-1, propensity=1.0)
    consumed = membership(world, log)
    # Two yardsticks. Fixed: item popularity and user profiles of the organic start, never
    # updated, so a fall there is popular items being used up (no item is shown twice).
    # Live (``rl.live_popularity``, Mansoury et al.): shares of the rows each generation's
    # model trained on, where the loop's own interactions count: the rich-get-richer channel.
    profiles = consumed.copy()  # the organic profiles popularity is compared against
    popularity = consumed.mean(axis=0)  # share of users who rated each item organically
    loop_consumed = np.zeros_like(consumed)
    rows, slate_frames = [], []
    for g in range(params.generations):
        # Common random numbers: the same draws in the same order for every arm.
        rng = np.random.default_rng([params.seed, g])
        active = rng.random(n_users) < params.users_per_generation
        coins = rng.random(n_users)
        keys = rng.random((n_users, n_items))
        noise = rng.normal(0.0, params.truth_noise, (n_users, params.consume))
        trains = arm == "model" or (arm == "random" and params.train_random_arm)
        model = trainer(log[["user_id", "item_id", "rating"]], g) \
            if trainer is not None and trains else None
        scores = model.score_matrix(world.user_ids) if model is not None else None
        ranking = world.truth if arm == "ideal" else scores
        explore = coins < eps
        random_slates = top_k(keys, consumed, k)  # k uniform unseen items, no replacement
        ranked = top_k(ranking, consumed, k) if ranking is not None else random_slates
        slates = np.where(explore[:, None], random_slates, ranked)
        n_cand = (~consumed).sum(axis=1)
        if n_cand.min() < max(k, params.relevant_top):
            raise ValueError(f"a user has only {n_cand.min()} unseen items left: fewer than "
                             f"k={k} or relevant_top={params.relevant_top}")
        in_top = np.zeros((n_users, n_items), dtype=bool)
        np.put_along_axis(in_top, ranked, True, axis=1)
        shown_in_top = np.take_along_axis(in_top, slates, axis=1)
        propensity = (1 - eps) * shown_in_top + eps * k / n_cand[:, None]
        # Users consume the slate items they truly like best.
        utility = np.take_along_axis(world.truth, slates, axis=1)
        best = np.argsort(-utility, axis=1, kind="stable")[:, :params.consume]
        picks = np.take_along_axis(slates, best, axis=1)
        ratings = np.clip(np.rint(np.take_along_axis(world.truth, picks, axis=1) + noise), 1, 5)
        u_idx = np.repeat(np.flatnonzero(active), params.consume)
        i_idx = picks[active].ravel()
        new = pd.DataFrame({
            "user_id": world.user_ids[u_idx], "item_id": world.item_ids[i_idx],
            "rating": ratings[active].ravel().astype(np.float32),
            "origin": np.where(explore[u_idx], EXPLORATION, MODEL), "generation": g,
            "propensity": np.take_along_axis(propensity, best, axis=1)[active].ravel()})
        loop_consumed[u_idx, i_idx] = True
        # Relevant: the user's true top-N among the items they could still be shown.
        relevant = np.zeros((n_users, n_items), dtype=bool)
        np.put_along_axis(relevant, top_k(world.truth, consumed, params.relevant_top), True, 1)
        metrics = _generation_metrics(world, log, new, slates, active, profiles, popularity,
                                      loop_consumed, consumed, relevant, scores, params)
        rows.append({"generation": g, **metrics})
        slate_frames.append(_slate_frame(world, slates, active, relevant))
        consumed[u_idx, i_idx] = True
        log = pd.concat([log, new], ignore_index=True)
    return ArmResult(arm, pd.DataFrame(rows), log, slate_frames)


def _generation_metrics(world: World, log: pd.DataFrame, new: pd.DataFrame, slates, active,
                        profiles, popularity, loop_consumed, consumed, relevant, scores,
                        params: LoopParams) -> dict[str, float]:
    n_items = world.shape[1]
    exposure = np.bincount(slates[active].ravel(), minlength=n_items)
    rows = pd.concat([log, new], ignore_index=True)
    fl_rows = pd.DataFrame({"unit": rows["item_id"], "label": (rows["rating"] >= LIKED) * 1.0,
                            "origin": rows["origin"], "propensity": rows["propensity"]})
    out = fl.generation_metrics(fl_rows, exposure, world.item_ids)
    groups = world.groups
    out |= rl.popularity_lift(slates[active], profiles[active], popularity, groups[active])
    # ...and on the moving yardstick: the data this generation's model was trained on.
    trained_on = pd.Index(world.item_ids).get_indexer(log["item_id"])
    out |= rl.live_popularity(slates[active], trained_on, n_items)
    # Chaney's homogenisation: overlap of everything users consumed in the loop so far
    # (it grows with the sets, in every arm), and of this generation's slates alone (flat
    # for a random recommender, so a rise there is the model narrowing).
    out["jaccard"] = rl.pairwise_jaccard(loop_consumed)
    shown = np.zeros(world.shape, dtype=bool)
    np.put_along_axis(shown, slates, True, axis=1)
    out["slate_jaccard"] = rl.pairwise_jaccard(shown[active])
    for group in sorted(pd.unique(groups)):
        out[f"jaccard.{group}"] = rl.pairwise_jaccard(loop_consumed[groups == group])
    if scores is not None:  # the model as retrained on this arm's data, judged on MCAR pairs
        err = (scores[world.eval_users, world.eval_items]
               - world.truth[world.eval_users, world.eval_items]) ** 2
        per_user = np.bincount(world.eval_users, err, minlength=len(groups)) / np.maximum(
            np.bincount(world.eval_users, minlength=len(groups)), 1)
        precision = rl.precision_at_k(top_k(scores, consumed, params.k), relevant)
        out["rmse"] = float(np.sqrt(err.mean()))
        out[f"precision_at_{params.k}"] = float(precision.mean())
        for name, value in rl.group_means({"mse": per_user, "precision": precision},
                                          groups).items():
            key, group = name.split(".", 1)
            if key == "mse":
                out[f"rmse.{group}"] = float(np.sqrt(value))
            else:
                out[f"precision_at_{params.k}.{group}"] = value
    return out


def _slate_frame(world: World, slates, active, relevant) -> pd.DataFrame:
    """Shown slates as Evidently's recsys rows: user, item, rank, and the truth's verdict."""
    users = np.flatnonzero(active)
    k = slates.shape[1]
    items = slates[users]
    return pd.DataFrame({
        "user_id": np.repeat(world.user_ids[users], k).astype(str),
        "item_id": world.item_ids[items.ravel()].astype(str),
        "rank": np.tile(np.arange(1, k + 1), len(users)),
        "target": relevant[np.repeat(users, k), items.ravel()].astype(int),
    })
