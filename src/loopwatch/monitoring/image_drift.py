"""Drift of image traffic: backbone embeddings, image statistics, the predicted-class mix.

Like ``drift.py``, this module may import Evidently (the project keeps every Evidently
import under ``monitoring/``: its API churns). Three signals, each with a calibrated verdict
(calibrated.py: a stated false-alarm rate at any window size), Evidently's beside it:

- **embeddings**: every embedding dimension tested as a numeric column, Benjamini-Hochberg
  across them; drift when any dimension drifts (false alarms <= alpha where nothing
  changed). Beside it, Evidently's embedding drift method (default ``model``: a domain
  classifier's ROC AUC against 0.55, a threshold that ignores the window's size);
- **image statistics** (brightness, contrast, sharpness) and the **predicted class**: one
  calibrated column each, with Evidently's ``ValueDrift`` verdict beside.

Why the Evidently embedding score is computed by calling its drift-method object and not
through an ``EmbeddingsDrift`` metric in the Report: in 0.7 that metric always runs a t-SNE
of up to 5,000 points for its plot — 60-100 s for only 600 points on this 2-core machine
(measured). ``plot=True`` adds the metric (and its t-SNE) to the report for a human to look
at; the numbers are the same.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import datetime
from typing import Any

import pandas as pd

from loopwatch.config import MonitoringParams
from loopwatch.monitoring import calibrated
from loopwatch.monitoring.drift import parse_value_drift
from loopwatch.monitoring.frame import EMBEDDING_PREFIX, embedding_columns
from loopwatch.monitoring.results import ColumnDrift, DriftResult

EMBEDDING_NAME = "backbone"
METHODS = ("model", "mmd", "ratio", "distance")


@dataclass(frozen=True)
class ImageDriftResult:
    embedding_method: str  # Evidently's, beside ours
    embedding_score: float  # its ROC AUC (model), MMD, share of drifted components, or distance
    embedding_drift: bool  # ours: any embedding dimension drifted
    columns: tuple[ColumnDrift, ...]  # image statistics, then the prediction
    n_current: int
    n_reference: int
    drift_share_threshold: float = 0.5  # as monitoring.drift_share
    embeddings: DriftResult | None = None  # the per-dimension verdicts behind embedding_drift
    evidently_embedding_drift: bool | None = None

    @property
    def drifted_columns(self) -> list[str]:
        return [c.column for c in self.columns if c.drifted]

    @property
    def drift(self) -> bool:
        """Embedding drift, or drift in at least ``drift_share_threshold`` of the columns."""
        share = len(self.drifted_columns) / len(self.columns) if self.columns else 0.0
        return self.embedding_drift or share >= self.drift_share_threshold

    def summary(self) -> str:
        dims = self.embeddings
        drifted = f"{dims.n_drifted} of {len(dims.columns)} dimensions drifted" if dims else ""
        lines = [f"embeddings: {drifted} -> {'DRIFT' if self.embedding_drift else 'ok'} "
                 f"(Evidently {self.embedding_method}: {self.embedding_score:.3f})"]
        for c in self.columns:
            lines.append(f"{c.column:>11} ({c.method}): {c.statistic:.3g}, {c.verdict} -> "
                         f"{'DRIFT' if c.drifted else 'ok'}")
        return "\n".join(lines)


def drift_method(method: str = "model", bootstrap: bool | None = None):
    """One of Evidently's embedding drift methods, with its default thresholds."""
    from evidently.metrics.embeddings import (
        DistanceDriftMethod,
        MMDDriftMethod,
        ModelDriftMethod,
        RatioDriftMethod,
    )

    if method == "ratio":  # no bootstrap: it thresholds the share of drifted components
        return RatioDriftMethod()
    kinds = {"model": ModelDriftMethod, "mmd": MMDDriftMethod, "distance": DistanceDriftMethod}
    if method not in kinds:
        raise ValueError(f"unknown embedding drift method {method!r}; available: {METHODS}")
    return kinds[method](bootstrap=bootstrap)


NOT_STATISTICS = frozenset({"prediction", "label", "score", "propensity"})


def statistic_columns(frame: pd.DataFrame) -> tuple[str, ...]:
    """The numeric per-input statistics beside the embeddings (an image's brightness...)."""
    return tuple(c for c in frame.columns if not c.startswith(EMBEDDING_PREFIX)
                 and c not in NOT_STATISTICS and pd.api.types.is_numeric_dtype(frame[c])
                 and not pd.api.types.is_bool_dtype(frame[c]))


def embedding_drift(current: pd.DataFrame, reference: pd.DataFrame, method: str = "model"
                    ) -> tuple[float, bool, str]:
    """(score, drifted, method name) over the ``emb_*`` columns of both frames."""
    cols = embedding_columns(reference)
    if not cols or embedding_columns(current) != cols:
        raise ValueError(f"reference has {len(cols)} embedding columns, current "
                         f"{len(embedding_columns(current))}: not the same model's embeddings")
    # Evidently's default: bootstrap the threshold when the reference is small.
    fn = drift_method(method, bootstrap=len(reference) < 1000)
    # The methods add a "target" column to the frames they get: hand them copies.
    score, drifted, name = fn(current[cols].copy(), reference[cols].copy())
    return float(score), bool(drifted), str(name)


def _dataset(frame: pd.DataFrame, statistics: tuple[str, ...], embeddings: list[str] | None):
    from evidently import DataDefinition, Dataset

    numerical = [*statistics, *(embeddings or [])]
    definition = DataDefinition(
        numerical_columns=numerical, categorical_columns=["prediction"],
        embeddings={EMBEDDING_NAME: embeddings} if embeddings else None)
    return Dataset.from_pandas(frame[[*numerical, "prediction"]], data_definition=definition)


def image_drift_report(current: pd.DataFrame, reference: pd.DataFrame, *,
                       params: MonitoringParams | None = None,
                       method: str = "model", plot: bool = False,
                       timestamp: datetime | None = None,
                       tags: tuple[str, ...] = ()) -> tuple[ImageDriftResult, Any]:
    """Drift of ``current`` against ``reference`` (``images.monitor_frame`` columns).

    Returns the result and the Evidently snapshot (``.save_html(path)`` for people).
    """
    from evidently import Report
    from evidently.metrics import EmbeddingsDrift, ValueDrift

    params = params or MonitoringParams()
    score, evidently_drifted, name = embedding_drift(current, reference, method)
    dims, _ = calibrated.drift_frames(current, reference, embedding_columns(reference), [],
                                      params)
    statistics = statistic_columns(reference)
    metrics: list = [ValueDrift(column=c) for c in (*statistics, "prediction")]
    embeddings = None
    if plot:
        embeddings = embedding_columns(reference)
        metrics.append(EmbeddingsDrift(embeddings_name=EMBEDDING_NAME,
                                       drift_method=drift_method(method, len(reference) < 1000)))
    snapshot = Report(metrics, include_tests=True).run(
        _dataset(current, statistics, embeddings), _dataset(reference, statistics, embeddings),
        timestamp=timestamp, tags=list(tags))
    ours, _ = calibrated.drift_frames(current.astype({"prediction": str}),
                                      reference.astype({"prediction": str}), statistics,
                                      ["prediction"], params)
    evidently = parse_value_drift(json.loads(snapshot.json()), set(statistics))
    result = ImageDriftResult(name, score, dims.n_drifted > 0,
                              calibrated.beside(ours.columns, evidently), len(current),
                              len(reference), params.drift_share, dims, evidently_drifted)
    return result, snapshot
