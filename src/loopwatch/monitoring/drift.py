"""Evidently 0.7 reports: data drift, prediction drift, classification quality, headlines.

The only module in the project that runs Evidently reports (its API churns: 0.7 broke 0.6).
Reports keep Evidently's default tests; their verdicts are shown beside ours (calibrated.py),
which are the ones acted on. We read results from ``snapshot.json()`` by ``config["type"]``
and verdicts from the report's own tests (``FAIL`` = drift), never re-deriving them: a
ValueDrift value is a p-value for KS/chi-square/Z (reference <= 1000 rows) and a distance for
Wasserstein/Jensen-Shannon.

``Report.run(current, reference)`` takes the current data FIRST.
"""

from __future__ import annotations

import json
import warnings
from collections.abc import Sequence
from datetime import datetime
from typing import Any, NamedTuple

import pandas as pd
from sklearn.exceptions import UndefinedMetricWarning

from loopwatch.config import MonitoringParams
from loopwatch.monitoring.results import QualityResult

VALUE_DRIFT = "evidently:metric_v2:ValueDrift"
QUALITY_TYPES = {  # ClassificationPreset metric type -> QualityResult field
    "evidently:metric_v2:Accuracy": "accuracy",
    "evidently:metric_v2:Precision": "precision",
    "evidently:metric_v2:Recall": "recall",
    "evidently:metric_v2:F1Score": "f1",
    "evidently:metric_v2:RocAuc": "roc_auc",
}


class EvidentlyVerdict(NamedTuple):
    method: str  # e.g. "K-S p_value", "Wasserstein distance (normed)"
    statistic: float  # a p-value or a distance, as the method says
    threshold: float
    drifted: bool


def _dataset(frame: pd.DataFrame, numerical: Sequence[str], categorical: Sequence[str]):
    from evidently import DataDefinition, Dataset

    # Explicit column types: Evidently would otherwise call a small-int column categorical.
    definition = DataDefinition(numerical_columns=list(numerical),
                                categorical_columns=list(categorical))
    return Dataset.from_pandas(frame[[*numerical, *categorical]], data_definition=definition)


def drift_report(
    current: pd.DataFrame,
    reference: pd.DataFrame,
    numerical: Sequence[str],
    categorical: Sequence[str],
    params: MonitoringParams,
    extra: Sequence[str] = (),
    timestamp: datetime | None = None,
    tags: Sequence[str] = (),
    metadata: dict[str, str] | None = None,
) -> tuple[dict[str, EvidentlyVerdict], Any]:
    """DataDriftPreset over the columns not in ``extra``; one ValueDrift per ``extra`` column.

    ``extra`` holds the prediction columns (score, predicted label): their drift is prediction
    drift. Returns ({column: Evidently's (method, statistic, drifted)}, the snapshot). These
    are shown beside our calibrated verdicts (calibrated.py), never acted on.
    """
    from evidently import Report
    from evidently.metrics import ValueDrift
    from evidently.presets import DataDriftPreset

    features = [c for c in (*numerical, *categorical) if c not in extra]
    method = {c: params.num_method for c in numerical} | {c: params.cat_method for c in categorical}
    report = Report(
        [DataDriftPreset(columns=features, drift_share=params.drift_share,
                         num_method=params.num_method, cat_method=params.cat_method,
                         threshold=params.drift_threshold)]
        + [ValueDrift(column=c, method=method[c], threshold=params.drift_threshold)
           for c in extra],
        include_tests=True,
    )
    snapshot = report.run(_dataset(current, numerical, categorical),
                          _dataset(reference, numerical, categorical),
                          timestamp=timestamp, tags=list(tags), metadata=dict(metadata or {}))
    return parse_value_drift(json.loads(snapshot.json()), set(numerical)), snapshot


def parse_value_drift(payload: dict, numerical: set[str]) -> dict[str, EvidentlyVerdict]:
    """Every ValueDrift metric of a snapshot's JSON, with its test verdict, by column.

    The verdict is the report's own test result: run the Report with ``include_tests=True``.
    """
    if not payload.get("tests") and any(m["config"]["type"] == VALUE_DRIFT
                                         for m in payload["metrics"]):
        raise ValueError("the report has no tests: run it with include_tests=True")
    failed = {t["metric_config"]["metric_id"] for t in payload.get("tests", [])
              if t.get("status") == "FAIL"}
    out: dict[str, EvidentlyVerdict] = {}
    for metric in payload["metrics"]:
        config = metric["config"]
        if config["type"] != VALUE_DRIFT:
            continue
        column = config["column"]
        out[column] = EvidentlyVerdict(_display_name(config["method"], column in numerical),
                                       float(metric["value"]), float(config["threshold"]),
                                       metric["id"] in failed)
    return out


def _display_name(method: str, numerical: bool) -> str:
    """An explicitly chosen method comes back as its short name ("ks"): use the display name
    ("K-S p_value") Evidently reports for defaults, which says whether it is a p-value."""
    from evidently.legacy.calculations.stattests.registry import get_registered_stattest
    from evidently.legacy.core import ColumnType

    kind = ColumnType.Numerical if numerical else ColumnType.Categorical
    try:
        return get_registered_stattest(method, kind).display_name
    except (KeyError, ValueError):  # a display name already, or a custom callable's
        return method


def quality_report(
    labelled: pd.DataFrame,
    timestamp: datetime | None = None,
    tags: Sequence[str] = (),
    metadata: dict[str, str] | None = None,
) -> tuple[QualityResult, Any]:
    """ClassificationPreset on labelled rows with int ``label``/``prediction`` and ``score``."""
    from evidently import BinaryClassification, DataDefinition, Dataset, Report
    from evidently.metrics import Accuracy, F1Score, Precision, Recall
    from evidently.presets import ClassificationPreset

    definition = DataDefinition(
        numerical_columns=["score"],
        classification=[BinaryClassification(target="label", prediction_labels="prediction",
                                             prediction_probas="score", pos_label=1)],
    )
    frame = labelled[["label", "prediction", "score"]].astype(
        {"label": "int64", "prediction": "int64", "score": "float64"})
    # With one class only (a quiet window) the preset's per-class ROC AUC raises: fall back to
    # the metrics that stay defined.
    one_class = frame["label"].nunique() < 2
    metrics = ([Accuracy(), Precision(), Recall(), F1Score()] if one_class
               else [ClassificationPreset()])
    with warnings.catch_warnings():
        if one_class:  # sklearn warns that recall/F1 are ill-defined: expected, and reported
            warnings.simplefilter("ignore", UndefinedMetricWarning)
            warnings.simplefilter("ignore", RuntimeWarning)
        snapshot = Report(metrics, include_tests=True).run(
            Dataset.from_pandas(frame, data_definition=definition), None,
            timestamp=timestamp, tags=list(tags), metadata=dict(metadata or {}))
    values: dict[str, float | None] = {}
    for metric in json.loads(snapshot.json())["metrics"]:
        field = QUALITY_TYPES.get(metric["config"]["type"])
        if field is not None and isinstance(metric["value"], int | float):
            values[field] = float(metric["value"])
    if "accuracy" not in values:
        raise ValueError("ClassificationPreset returned no Accuracy: Evidently's output changed")
    return QualityResult(n_labelled=len(labelled), n_used=len(labelled), **values), snapshot


def headline_snapshot(
    values: dict[str, float],
    timestamp: datetime | None = None,
    tags: Sequence[str] = (),
    metadata: dict[str, str] | None = None,
) -> Any:
    """One window's headline numbers as an Evidently snapshot the dashboard panels can plot.

    Each number is the MeanValue of a one-row column of that name: built-in metrics only, so
    the Evidently UI reads these snapshots without importing loopwatch, and a panel selects a
    number with ``metric_labels={"column": name}``.
    """
    from evidently import DataDefinition, Dataset, Report
    from evidently.metrics import MeanValue

    frame = pd.DataFrame({k: [float(v)] for k, v in values.items()})
    dataset = Dataset.from_pandas(frame, data_definition=DataDefinition(
        numerical_columns=list(frame.columns)))
    return Report([MeanValue(column=c) for c in frame.columns], include_tests=False).run(
        dataset, None, timestamp=timestamp, tags=list(tags), metadata=dict(metadata or {}))
