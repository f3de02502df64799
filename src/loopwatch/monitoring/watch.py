"""Monitoring of any task's served classifier, on the one monitoring frame.

For a window of logged predictions (``MonitorFrame``) against the reference the model was
trained to serve (its validation rows scored at training time, logged with the run):

- data drift of every feature column and prediction drift: calibrated verdicts
  (calibrated.py), Evidently's DataDriftPreset and ValueDrift beside them;
- quality once labels arrive: accuracy of the labelled rows, naive and inverse-propensity
  weighted (SNIPS) — labels revealed by the model's own decisions are not a random sample;
- group quality: accuracy per sensitive group, and the gap, only for groups with at least
  ``min_group_size`` labelled rows (a smaller group is named, not scored: it is noise);
- the feedback-loop signals of the window: the decision-dependent label share ρ (labels
  that exist because a model decided so), the smallest propensity and the effective
  sample size of the IPS weights.

The task-specific monitors (the tabular policy loop, image embeddings, recommender
exposure) build on the same pieces; this one needs nothing from a task but its schema.
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace
from datetime import datetime
from typing import Any

import pandas as pd

from loopwatch.config import MonitoringParams
from loopwatch.monitoring.frame import MonitorFrame
from loopwatch.monitoring.results import ColumnDrift, DriftResult

ORGANIC = "organic"


@dataclass
class WatchResult:
    drift: DriftResult
    prediction_drift: tuple[ColumnDrift, ...]
    metrics: dict[str, float]
    notes: list[str] = field(default_factory=list)
    snapshot: Any = None


def _as_text(values: pd.Series) -> pd.Series:
    return values.astype(object).where(values.notna(), None).map(
        lambda v: None if v is None else str(v))


def quality(labelled: pd.DataFrame) -> dict[str, float]:
    """Accuracy of the labelled rows, naive and SNIPS-weighted by 1/propensity."""
    from loopwatch.monitoring.feedback_loop import snips_mean

    correct = (_as_text(labelled["prediction"]) == _as_text(labelled["label"])).astype(float)
    p = pd.to_numeric(labelled["propensity"], errors="coerce").fillna(1.0).to_numpy()
    ips, se = snips_mean(correct.to_numpy(), p)
    w = 1.0 / p
    return {"accuracy": float(correct.mean()), "accuracy_ips": ips, "accuracy_ips_se": se,
            "min_propensity": float(p.min()),
            "effective_sample_size": float(w.sum() ** 2 / (w ** 2).sum())}


def loop_signals(labelled: pd.DataFrame) -> dict[str, float]:
    origin = labelled["origin"].fillna(ORGANIC).astype(str)
    return {"decision_dependent_label_share": float((origin != ORGANIC).mean())}


def group_quality(labelled: pd.DataFrame, attribute: str, min_group_size: int
                  ) -> tuple[dict[str, float], list[str]]:
    correct = (_as_text(labelled["prediction"]) == _as_text(labelled["label"])).astype(float)
    by = correct.groupby(labelled[attribute].astype(str))
    sizes, means = by.size(), by.mean()
    scored = means[sizes >= min_group_size]
    small = sorted(sizes[sizes < min_group_size].index)
    notes = [f"{attribute}={g}: {int(sizes[g])} labelled rows < {min_group_size}, not scored"
             for g in small]
    metrics = {f"accuracy.{attribute}.{g}": float(v) for g, v in scored.items()}
    if len(scored) >= 2:
        metrics[f"accuracy_gap.{attribute}"] = float(scored.max() - scored.min())
    return metrics, notes


def watch(current: MonitorFrame, reference: MonitorFrame, params: MonitoringParams, *,
          timestamp: datetime | None = None, tags: tuple[str, ...] = ()) -> WatchResult:
    """Drift, quality, group quality and loop signals of ``current`` against ``reference``."""
    from loopwatch.monitoring import calibrated
    from loopwatch.monitoring.drift import drift_report

    schema = current.schema
    numerical, categorical = list(schema.continuous), list(schema.categorical)
    columns = [*numerical, *categorical]
    cur = current.rows[columns].assign(prediction=_as_text(current.rows["prediction"]))
    ref = reference.rows[columns].assign(prediction=_as_text(reference.rows["prediction"]))
    categorical = [*categorical, "prediction"]
    drift, prediction_drift = calibrated.drift_frames(cur, ref, numerical, categorical, params,
                                                      extra=("prediction",))
    evidently, snapshot = drift_report(cur, ref, numerical, categorical, params,
                                       extra=("prediction",), timestamp=timestamp, tags=tags)
    drift = replace(drift, columns=calibrated.beside(drift.columns, evidently))
    prediction_drift = calibrated.beside(prediction_drift, evidently)
    metrics = {"rows": float(len(current)), "drift_share": drift.share,
               "drifted_columns": float(drift.n_drifted),
               "prediction_drifted": float(any(c.drifted for c in prediction_drift))}
    labelled = current.labelled
    metrics["labelled_rows"] = float(len(labelled))
    notes = []
    if len(labelled):
        metrics |= quality(labelled) | loop_signals(labelled)
        for attribute in schema.sensitive:
            found, why = group_quality(labelled, attribute, params.min_group_size)
            metrics |= found
            notes += why
    else:
        notes.append("no labels have arrived in this window: quality not measured")
    return WatchResult(drift, prediction_drift, metrics, notes, snapshot)
