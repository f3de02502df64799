"""The served recommender's own loop, read back from the prediction log.

``GET /recommend/{user}`` logs every shown item (``serving.recommend_app``) and the user's
rating arrives through ``POST /feedback``. This module turns a window of that log into what
the loop simulation measures per generation, for the live system:

- ``read_slates``: the window's shown items with rank, propensity, exploration and rating;
- ``interactions``: the rated ones as training rows with provenance (``origin``,
  ``propensity``): what a retrain appends, and what IPS weighting needs;
- ``window_metrics``: exposure concentration and coverage over the catalogue, popularity of
  what was shown measured on the model's own training data (``recsys_loop.live_popularity``),
  the decision-dependent share of labels, and the naive vs self-normalised IPS mean rating;
- ``monitor_live``: all of that plus Evidently's recsys report, stored as snapshots in the
  ``<model>-live`` project and as one MLflow run.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

import numpy as np
import pandas as pd

from loopwatch.monitoring import feedback_loop as fl
from loopwatch.monitoring import recsys_loop as rl
from loopwatch.tasks.recsys.params import RecsysParams

SLATE_COLUMNS = ["prediction_id", "timestamp", "model_version", "request_id", "user_id",
                 "item_id", "rank", "score", "propensity", "explored", "rating"]


def read_slates(store, model_name: str, start=None, end=None) -> pd.DataFrame:
    """Shown items of ``model_name`` in ``[start, end)`` with their rating (NaN if none yet)."""
    from loopwatch.tasks.recsys.routes import SHOWN

    frame = store.read(start, end, model_name=model_name)
    if frame.empty:
        return pd.DataFrame(columns=SLATE_COLUMNS)
    frame = frame[frame["decision"] == SHOWN]
    rating = pd.to_numeric(frame["label"], errors="coerce")
    return frame.assign(rating=rating)[SLATE_COLUMNS].reset_index(drop=True)


def interactions(slates: pd.DataFrame) -> pd.DataFrame:
    """Rated shown items as training rows: user_id, item_id, rating, origin, propensity.

    The origin says why the rating exists: ``exploration`` when the slate was a random one,
    ``model-selected`` when the model chose the item (``feedback_loop.ORIGINS``).
    """
    _, model_selected, exploration = fl.ORIGINS
    rated = slates[slates["rating"].notna()]
    return pd.DataFrame({
        "user_id": rated["user_id"].astype(int), "item_id": rated["item_id"].astype(int),
        "rating": rated["rating"].astype(np.float32),
        "origin": np.where(rated["explored"].astype(bool), exploration, model_selected),
        "propensity": rated["propensity"].astype(float)}).reset_index(drop=True)


def window_metrics(slates: pd.DataFrame, predictor, liked: float = 4.0) -> dict[str, float]:
    """One window's loop numbers; ``predictor`` gives the catalogue and its training data."""
    if slates.empty:
        raise ValueError("no recommendations in this window: serve some first "
                         "(GET /recommend/{user})")
    items = pd.Index(predictor.items.ids)
    shown = items.get_indexer(slates["item_id"].astype(int))
    if (shown < 0).any():
        raise ValueError(f"{int((shown < 0).sum())} logged items are not in the model's "
                         "catalogue: was the log written by another model?")
    trained = items.get_indexer([i for rated in predictor.seen.values() for i in rated])
    out: dict[str, float] = {
        "slates": float(slates["request_id"].nunique()),
        "users": float(slates["user_id"].nunique()),
        "explored_share": float(slates["explored"].astype(bool).mean()),
        **{f"exposure_{k}": v for k, v in fl.exposure_concentration(
            np.bincount(shown, minlength=len(items))).items()},
        **rl.live_popularity(shown, trained[trained >= 0], len(items)),
    }
    rated = interactions(slates)
    out["rated_share"] = len(rated) / len(slates)
    if len(rated):
        out["rho"] = fl.decision_dependent_share(rated["origin"])
        out["mean_rating"] = float(rated["rating"].mean())
        out["liked_share"] = float((rated["rating"] >= liked).mean())
        out["liked_share_ips"], out["liked_share_ips_se"] = fl.snips_mean(
            (rated["rating"] >= liked).astype(float), rated["propensity"])
    return out


@dataclass
class LiveOutcome:
    metrics: dict[str, float]
    rows: int
    run_id: str
    snapshots: int


def monitor_live(settings, start: datetime | None = None, end: datetime | None = None,
                 model_name: str | None = None, window: str | None = None) -> LiveOutcome:
    """Read the window, measure it, and store an Evidently report + headline and an MLflow run.

    The window is ``[start, end)``; ``window`` ("6h", "1d") sets ``start`` as that long before
    ``end`` (default now); with neither, everything logged before ``end``.
    """
    import mlflow

    from loopwatch.monitoring.window import parse_window
    from loopwatch.serving.log_store import LogStore
    from loopwatch.tasks.recsys.routes import champion_source
    from loopwatch.training import tracking

    p = RecsysParams.from_settings(settings)
    name = model_name or p.model_name
    end = end or datetime.now(UTC)
    if window is not None:
        start = end - parse_window(window)
    with LogStore(settings.prediction_log_url) as store:
        slates = read_slates(store, name, start, end)
    # the catalogue and the data it trained on
    champion = champion_source(settings, name, poll=False).current()
    predictor, version = champion.predictor, champion.info.version
    metrics = window_metrics(slates, predictor, p.relevant_rating)
    snapshots = _snapshots(settings, name, slates, predictor, metrics, end)
    tracking.configure(settings)
    with mlflow.start_run(run_name=f"{name}-live-{end:%Y%m%dT%H%M%S}") as run:
        mlflow.set_tags({**tracking.lineage_tags(settings), "loopwatch.stage": "monitor-live",
                         "loopwatch.model_name": name, "loopwatch.model_version": version,
                         "loopwatch.window_end": end.isoformat()})
        mlflow.log_metrics(metrics)
        mlflow.log_dict(interactions(slates).head(10_000).to_dict("list"),
                        "feedback/interactions.json")
    return LiveOutcome(metrics, len(slates), run.info.run_id, snapshots)


def _snapshots(settings, name: str, slates: pd.DataFrame, predictor, metrics: dict[str, Any],
               when: datetime) -> int:
    from loopwatch.monitoring.drift import headline_snapshot
    from loopwatch.monitoring.recsys_report import recsys_report
    from loopwatch.monitoring.window import workspace_path
    from loopwatch.monitoring.workspace import open_workspace, project_for

    p = RecsysParams.from_settings(settings)
    workspace = open_workspace(workspace_path(settings))
    project = project_for(workspace, f"{name}-live")
    shown = slates.assign(target=(slates["rating"] >= p.relevant_rating).astype(int))
    train = pd.DataFrame([(u, i) for u, rated in predictor.seen.items() for i in rated],
                         columns=["user_id", "item_id"])
    snaps = [recsys_report(shown, train, int(slates["rank"].max()), timestamp=when,
                           tags=["recsys", "live"]),
             headline_snapshot(metrics, timestamp=when, tags=["recsys", "headline"])]
    for snap in snaps:
        workspace.add_run(project.id, snap, include_data=False)
    return len(snaps)
