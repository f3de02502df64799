"""The collab model's build, fit and predictor (``training.run.fit_task`` seeds and drives
them); the baselines it must beat and their metrics.

Deterministic on the CPU. fastai's recipe: a fixed number of one-cycle epochs
and the last epoch kept (the schedule ends at a tiny learning rate, so the last epoch is
the settled one); the validation curve is logged per epoch to show over-fitting.
"""

from __future__ import annotations

import logging
import warnings
from collections.abc import Iterator
from contextlib import contextmanager

import lightning as L
import numpy as np
import pandas as pd
import torch
from torch.utils.data import DataLoader

from loopwatch.tasks.recsys.model import CollabConfig, CollabRegressor
from loopwatch.tasks.recsys.params import RecsysParams
from loopwatch.tasks.recsys.predictor import CollabPredictor, IdIndex, seen_items
from loopwatch.training.run import Built
from loopwatch.training.trainer import batch_loader, build_trainer, fit


def make_loader(users: IdIndex, items: IdIndex, frame: pd.DataFrame, batch_size: int,
                shuffle: bool) -> DataLoader:
    """(user, item, rating, weight) batches; every weight is 1 (the module's loss takes one)."""
    return batch_loader(torch.from_numpy(users.encode(frame["user_id"])),
                        torch.from_numpy(items.encode(frame["item_id"])),
                        torch.from_numpy(frame["rating"].to_numpy(np.float32)),
                        torch.from_numpy(np.ones(len(frame), np.float32)),
                        batch_size=batch_size, shuffle=shuffle)


def build_collab(train: pd.DataFrame, valid: pd.DataFrame | None, params: RecsysParams, *,
                 user_ids=None, item_ids=None) -> Built:
    """The collab module and its loaders; ``user_ids``/``item_ids`` fix the catalogue
    (default: the ids in ``train``), so items nobody rated yet still get a row."""
    users = IdIndex.of(train["user_id"] if user_ids is None else user_ids)
    items = IdIndex.of(train["item_id"] if item_ids is None else item_ids)
    config = CollabConfig(n_users=len(users), n_items=len(items), kind=params.kind,
                          n_factors=params.n_factors, y_range=tuple(params.y_range),
                          layers=list(params.layers), dropout=params.dropout)
    module = CollabRegressor(config.to_dict(), lr=params.lr, weight_decay=params.weight_decay)
    val_loader = None
    if valid is not None and len(valid):
        val_loader = make_loader(users, items, valid, params.batch_size * 8, shuffle=False)
    return Built(module, make_loader(users, items, train, params.batch_size, True),
                 val_loader, state={"users": users, "items": items, "config": config})


def collab_predictor(built: Built, train: pd.DataFrame) -> CollabPredictor:
    s = built.state
    module = built.module.cpu().eval()
    return CollabPredictor(s["config"], s["users"], s["items"], module.net, seen_items(train))


def fit_built(built: Built, params: RecsysParams, callbacks: list[L.Callback]) -> None:
    """One one-cycle fit on one intra-op thread (see ``one_thread``)."""
    trainer = build_trainer(params, callbacks=callbacks)
    with one_thread():
        fit(trainer, built.module, built.train, built.valid)


@contextmanager
def one_thread():
    """One intra-op thread while training: a batch of embedding lookups is too small to
    split, and on a busy 2-core machine two threads spun against other processes and made
    an epoch 20x slower (measured: 1.5 s vs 29 s). The previous setting is restored."""
    before = torch.get_num_threads()
    torch.set_num_threads(1)
    try:
        yield
    finally:
        torch.set_num_threads(before)


@contextmanager
def quiet() -> Iterator[None]:
    """For a caller that fits dozens of models (the loop simulation): Lightning's per-fit
    INFO lines (devices, 'fit stopped') raised to WARNING and its per-fit warnings (no
    validation loader, LeafSpec) hidden, so the output keeps to the caller's own lines.
    Restored afterwards."""
    # rank_zero is where Lightning logs those lines, with a level of its own.
    loggers = [logging.getLogger(n) for n in ("lightning.pytorch",
                                              "lightning.pytorch.utilities.rank_zero")]
    before = [logger.level for logger in loggers]
    for logger in loggers:
        logger.setLevel(logging.WARNING)
    try:
        with warnings.catch_warnings():
            warnings.filterwarnings("ignore", message=".*(val_dataloader|LeafSpec).*")
            yield
    finally:
        for logger, level in zip(loggers, before, strict=True):
            logger.setLevel(level)


def rmse(pred: np.ndarray, truth: np.ndarray) -> float:
    return float(np.sqrt(np.mean((np.asarray(pred, float) - np.asarray(truth, float)) ** 2)))


def baseline_predictions(train: pd.DataFrame, test: pd.DataFrame,
                         damping: float = 5.0) -> dict[str, np.ndarray]:
    """Global mean, and the damped item mean (an item's popularity-weighted average rating:
    (sum + m * global) / (count + m), so an item rated twice is not taken at its word)."""
    mu = float(train["rating"].mean())
    stats = train.groupby("item_id")["rating"].agg(["sum", "count"])
    item_mean = (stats["sum"] + damping * mu) / (stats["count"] + damping)
    return {"global_mean": np.full(len(test), mu),
            "item_mean": test["item_id"].map(item_mean).fillna(mu).to_numpy(float)}


def precision_at_k(recommended: dict[int, list[int]], relevant: dict[int, set[int]],
                   k: int) -> float:
    """Mean over users with at least one relevant item of |top-k ∩ relevant| / k."""
    scores = [len(set(recommended.get(u, [])[:k]) & rel) / k
              for u, rel in relevant.items() if rel]
    return float(np.mean(scores)) if scores else float("nan")


def popular_items(train: pd.DataFrame) -> list[int]:
    """Items by number of ratings, most rated first (the popularity recommender)."""
    counts = train.groupby("item_id").size()
    return [int(i) for i in counts.sort_values(ascending=False, kind="stable").index]
