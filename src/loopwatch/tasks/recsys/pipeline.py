"""The recommender's stages: fetch + version, train + evaluate + register, recommend.

Each a function of the settings, called by ``loopwatch recsys ...``. Training logs to
MLflow like the tabular pipeline (params, per-epoch curves, lineage tags, the model) and
registers ``recsys.model_name``; the registry promotes on a higher-is-better metric, so
the test RMSE is also logged negated as ``test_neg_rmse``.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from loopwatch.config import Settings
from loopwatch.data import versioning
from loopwatch.data.sources import Log
from loopwatch.data.splits import split_frame
from loopwatch.tasks.recsys import data
from loopwatch.tasks.recsys.params import PROMOTION_METRIC, RecsysParams


def raw_dir(settings: Settings):
    return settings.raw_dir / data.NAME


def fetch(settings: Settings, *, try_url: bool = True, version: bool = True,
          log: Log = print) -> versioning.DataVersion | None:
    """MovieLens-100k into ``data/raw/ml-100k``, then ``dvc add data`` and push."""
    data.fetch(raw_dir(settings), settings.cache_dir, try_url=try_url, log=log)
    if not version:
        return None
    return versioning.version_and_push(settings.root, settings.dvc_remote_dir, log)


def splits(ml: data.MovieLens, p: RecsysParams) -> dict[str, pd.DataFrame]:
    """test: a seeded random ``test_fraction`` of the ratings; valid: ``valid_fraction`` of
    the rest (another seed), for the per-epoch curves; train: the remainder.

    Rating rows, not users, are split (fastai's collab split), so nearly every test user
    and item also has training rows.
    """
    rest, test = split_frame(ml.ratings, p.test_fraction, p.split_seed)
    train, valid = split_frame(rest, p.valid_fraction, p.split_seed + 1)
    return {"train": train, "valid": valid, "test": test}


def evaluate(predictor, train: pd.DataFrame, test: pd.DataFrame, users: pd.DataFrame,
             p: RecsysParams) -> dict[str, float]:
    """Test RMSE (overall and per gender) against the global-mean and damped item-mean
    baselines; precision@k of the top-k (unseen items) against the most-popular list."""
    from loopwatch.tasks.recsys.fit import baseline_predictions, popular_items, precision_at_k, rmse

    pred = predictor.predict(test["user_id"], test["item_id"])
    truth = test["rating"].to_numpy(float)
    out = {"test_rmse": rmse(pred, truth)}
    out[PROMOTION_METRIC] = -out["test_rmse"]
    for name, base in baseline_predictions(train, test).items():
        out[f"baseline_{name}_rmse"] = rmse(base, truth)
    gender = test["user_id"].map(users.set_index("user_id")["gender"]).to_numpy()
    for group in sorted(pd.unique(gender)):
        sel = gender == group
        out[f"test_rmse.gender.{group}"] = rmse(pred[sel], truth[sel])
    relevant = {int(u): set(map(int, g["item_id"]))
                for u, g in test[test["rating"] >= p.relevant_rating].groupby("user_id")}
    seen = predictor.seen
    ids = np.asarray(predictor.items.ids)
    scores = predictor.score_matrix(list(relevant))
    model_top, popular_top = {}, {}
    popular = popular_items(train)
    for row, user in zip(scores, relevant, strict=True):
        unseen = ~np.isin(ids, seen.get(user, []))
        order = np.argsort(-np.where(unseen, row, -np.inf), kind="stable")[:p.k]
        model_top[user] = ids[order].tolist()
        seen_set = set(seen.get(user, []))
        popular_top[user] = [i for i in popular if i not in seen_set][:p.k]
    out[f"test_precision_at_{p.k}"] = precision_at_k(model_top, relevant, p.k)
    out[f"baseline_popular_precision_at_{p.k}"] = precision_at_k(popular_top, relevant, p.k)
    return out


def recommend(settings: Settings, user: int, k: int | None = None,
              model_uri: str | None = None) -> pd.DataFrame:
    """Top-k unseen items for ``user`` from the champion (or ``model_uri``)."""
    import mlflow

    from loopwatch.training import tracking

    tracking.configure(settings)
    p = RecsysParams.from_settings(settings)
    uri = model_uri or f"models:/{p.model_name}@champion"
    # The CollabPredictor inside the logged pyfunc: top-k needs it, not pyfunc's predict.
    predictor = mlflow.pyfunc.load_model(uri).unwrap_python_model().predictor
    return predictor.recommend(user, k or p.k)
