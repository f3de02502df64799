"""The rows a monitoring window reads, checked and put in one shape.

Column convention of the CURRENT frame (one row per logged prediction, labels joined):

==================  ==========================================================================
column              meaning
==================  ==========================================================================
spec.categorical,   the model's input columns and the sensitive columns, named and typed as in
spec.continuous     the training data (a ``FrameSchema``, or the tabular spec that has the
                    same attributes); missing values allowed
``prediction``      the predicted class: 0/1, bool, or the class labels of ``spec.classes``
``score``           P(positive class), float in [0, 1]
``label``           the ground truth once it has arrived (same forms as ``prediction``);
                    NaN/None while it has not
``timestamp``       when the prediction was made (UTC; used for the window, not tested)
``model_version``   the registry version that served it (not tested)
==================  ==========================================================================

Extra columns (prediction id, propensity, ...) are ignored. The REFERENCE frame is the data
the serving version was trained on (``spec.target`` holds the class labels), optionally with
the model's ``prediction``/``score`` on it: prediction drift needs them and is tested only
when they are there. Data drift is tested on every spec column, sensitive ones included (a
change in who is scored is drift worth seeing).
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from loopwatch.monitoring.frame import FrameSchema

PREDICTION_COLUMNS = ("score", "prediction")  # prediction drift: kept out of the drift share


def as_binary(values: pd.Series, spec: FrameSchema, column: str) -> pd.Series:
    """0/1 floats (NaN kept) from 0/1, bools or the spec's class labels; raises on others."""
    if values.dtype == bool:
        return values.astype(np.float64)
    mapped = values.map({spec.positive_label: 1.0, spec.negative_label: 0.0})
    numeric = pd.to_numeric(values.where(mapped.isna()), errors="coerce")
    out = mapped.fillna(numeric)
    bad = values.notna() & ~out.isin([0.0, 1.0])
    if bad.any():
        found = sorted(map(str, values[bad].unique()))[:5]
        raise ValueError(f"column {column!r} must hold 0/1, bools or {spec.classes}; "
                         f"found {found}")
    return out.astype(np.float64)


def prepare_current(frame: pd.DataFrame, spec: FrameSchema) -> pd.DataFrame:
    """The convention's columns, with ``prediction``/``label`` as 0/1 (label NaN if unknown)."""
    missing = [c for c in (*spec.categorical, *spec.continuous, "prediction", "score")
               if c not in frame.columns]
    if missing:
        raise ValueError(f"current frame lacks columns {missing}: see loopwatch.monitoring."
                         "prepare for the column convention")
    out = frame[[*spec.categorical, *spec.continuous]].copy()
    out["prediction"] = as_binary(frame["prediction"], spec, "prediction")
    # A row logged without a prediction (a model that could not score it) cannot be judged:
    # it is left out, and counted by the caller, so one bad row never fails a window.
    out = out[out["prediction"].notna()].copy()
    frame = frame.loc[out.index]
    out["score"] = frame["score"].astype(np.float64)
    label = frame["label"] if "label" in frame.columns else pd.Series(np.nan, index=frame.index)
    out["label"] = as_binary(label, spec, "label")
    return out.reset_index(drop=True)


def prepare_reference(frame: pd.DataFrame, spec: FrameSchema) -> pd.DataFrame:
    """Spec columns, ``label`` from ``spec.target``, and prediction columns when present."""
    out = frame[[*spec.categorical, *spec.continuous]].copy()
    if "prediction" in frame.columns:
        out["prediction"] = as_binary(frame["prediction"], spec, "prediction")
    if "score" in frame.columns:
        out["score"] = frame["score"].astype(np.float64)
    if spec.target in frame.columns:
        out["label"] = as_binary(frame[spec.target], spec, spec.target)
    return out.reset_index(drop=True)
