"""The recommender task as the registry sees it (entry point ``loopwatch.tasks: recsys``):
MovieLens-100k ratings, fastai's dot-product collab model, RMSE against baselines."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import pandas as pd

from loopwatch.tasks.recsys.params import PROMOTION_METRIC, RecsysParams


@dataclass
class RecsysSplits:
    ml: Any  # data.MovieLens: ratings, users (with gender), items (with titles)
    parts: dict[str, pd.DataFrame]  # train / valid / test rating rows


class RecsysTask:
    name = "recsys"
    params_model = RecsysParams
    promotion_metric = PROMOTION_METRIC

    def load_splits(self, settings, params: RecsysParams) -> RecsysSplits:
        from loopwatch.tasks.recsys import data, pipeline

        ml = data.load(pipeline.raw_dir(settings))
        return RecsysSplits(ml, pipeline.splits(ml, params))

    def describe(self, splits: RecsysSplits) -> dict[str, Any]:
        return ({f"split.{k}_rows": len(v) for k, v in splits.parts.items()}
                | {"split.rule": "seeded random rows: test_fraction of all, "
                                 "valid_fraction of the rest"})

    def build(self, splits: RecsysSplits, params: RecsysParams):
        from loopwatch.tasks.recsys.fit import build_collab

        return build_collab(splits.parts["train"], splits.parts["valid"], params,
                            user_ids=splits.ml.users["user_id"],
                            item_ids=splits.ml.items["item_id"])

    def fit(self, built, params: RecsysParams, callbacks: list) -> None:
        from loopwatch.tasks.recsys.fit import fit_built

        fit_built(built, params, callbacks)

    def predictor(self, built, splits: RecsysSplits):
        from loopwatch.tasks.recsys.fit import collab_predictor

        predictor = collab_predictor(built, splits.parts["train"])
        items = splits.ml.items
        predictor.titles = dict(zip(items["item_id"].astype(int), items["title"], strict=True))
        return predictor

    def evaluate(self, predictor, splits: RecsysSplits, params: RecsysParams):
        from loopwatch.tasks.recsys.pipeline import evaluate
        from loopwatch.training.run import Evaluation

        return Evaluation(evaluate(predictor, splits.parts["train"], splits.parts["test"],
                                   splits.ml.users, params))

    def example(self, splits: RecsysSplits) -> pd.DataFrame:
        return splits.parts["train"][["user_id", "item_id"]].head(5)

    def monitor_window(self, settings, window: str | None = None,
                       model_name: str | None = None) -> list[str]:
        """``loopwatch monitor --task recsys``: the served recommender's loop (exposure,
        popularity against the training data, naive vs IPS liked share), as lines to show."""
        from loopwatch.tasks.recsys.live import monitor_live

        out = monitor_live(settings, window=window or "1d", model_name=model_name)
        name = model_name or RecsysParams.from_settings(settings).model_name
        return [f"{out.rows} shown items, {out.metrics['slates']:.0f} slates, "
                f"{out.metrics['rated_share']:.0%} rated",
                *(f"  {key:<22} {value:.4g}" for key, value in out.metrics.items()),
                f"MLflow run {out.run_id}; {out.snapshots} Evidently snapshots in project "
                f"{name}-live"]

    def mount(self, settings, *, seed: int | None = None):
        """``GET /recommend/{user}`` over the champion, hot-reloaded."""
        from loopwatch.tasks.recsys.routes import champion_source, recsys_mount

        params = RecsysParams.from_settings(settings)
        return recsys_mount(champion_source(settings), epsilon=params.epsilon, seed=seed)


def train(settings, *, register: bool = True):
    """Fit on the train split, evaluate on test, log everything to MLflow, register (through
    the one training path)."""
    from loopwatch.training.run import train_task

    params = RecsysParams.from_settings(settings)
    return train_task(settings, RecsysTask(), params, register=register,
                      tags={"loopwatch.dataset": params.dataset}, log=lambda m: None)
