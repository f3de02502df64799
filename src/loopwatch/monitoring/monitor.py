"""One monitoring window, in memory: drift, prediction drift, quality, fairness, group drift.

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
the model's ``prediction``/``score`` on it: prediction drift needs them and is skipped with a
note otherwise. Data drift is tested on every spec column, sensitive ones included (a change
in who is scored is drift worth seeing), with Evidently's DataDriftPreset and its defaults.
Windows too big for memory go through ``loopwatch.monitoring.stream.monitor_stream``.
"""

from __future__ import annotations

from datetime import datetime

import numpy as np
import pandas as pd

from loopwatch.config import MonitoringParams
from loopwatch.monitoring import drift as ev
from loopwatch.monitoring import fairness, guard
from loopwatch.monitoring.frame import FrameSchema
from loopwatch.monitoring.results import DriftResult, GroupDrift, MonitoringResult

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
                         "monitor for the column convention")
    out = frame[[*spec.categorical, *spec.continuous]].copy()
    out["prediction"] = as_binary(frame["prediction"], spec, "prediction")
    if out["prediction"].isna().any():
        raise ValueError("column 'prediction' has missing values: every logged row has one")
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


def column_types(spec: FrameSchema, reference: pd.DataFrame) -> tuple[list, list, list]:
    """(numerical, categorical, prediction columns) as the drift tests see them."""
    extra = [c for c in PREDICTION_COLUMNS if c in reference.columns]
    numerical = list(spec.continuous) + (["score"] if "score" in extra else [])
    categorical = list(spec.categorical) + (["prediction"] if "prediction" in extra else [])
    return numerical, categorical, extra


def monitor_frames(
    current: pd.DataFrame,
    reference: pd.DataFrame,
    spec: FrameSchema,
    params: MonitoringParams,
    model_name: str = "",
    model_version: str = "",
    window_start: datetime | None = None,
    window_end: datetime | None = None,
) -> MonitoringResult:
    """Every check on a window that fits in memory (Evidently runs on all of its rows)."""
    cur, ref = prepare_current(current, spec), prepare_reference(reference, spec)
    numerical, categorical, extra = column_types(spec, ref)
    notes: list[str] = []
    if len(extra) < len(PREDICTION_COLUMNS):
        notes.append("prediction drift limited: the reference lacks "
                     f"{sorted(set(PREDICTION_COLUMNS) - set(extra))}")
    meta = {"model_name": model_name, "model_version": str(model_version)}
    data_drift, prediction_drift, snapshot = ev.drift_report(
        cur, ref, numerical, categorical, params, extra=extra, timestamp=window_end,
        tags=["loopwatch", "drift"], metadata=meta)
    data_drift = guarded(data_drift, cur, ref, numerical, categorical, params)
    snapshots = {"drift": snapshot}

    labelled = cur[cur["label"].notna()]
    quality = None
    if len(labelled):
        quality, snapshots["quality"] = ev.quality_report(
            labelled, timestamp=window_end, tags=["loopwatch", "quality"], metadata=meta)
    else:
        notes.append("no labelled rows yet: quality not computed")

    fair = tuple(
        fairness.group_fairness(fairness.cell_counts(cur, attr), attr, params.min_group_size,
                                params.n_boot, params.ci_level, params.seed)
        for attr in spec.sensitive)
    return MonitoringResult(
        model_name=model_name, model_version=str(model_version), n_rows=len(cur),
        n_labelled=len(labelled), drift=data_drift, prediction_drift=prediction_drift,
        quality=quality, fairness=fair,
        group_drift=group_drift_frames(cur, ref, spec, params, numerical, categorical),
        mode="memory", window_start=window_start, window_end=window_end, notes=notes,
        snapshots=snapshots)


def group_drift_frames(
    cur: pd.DataFrame,
    ref: pd.DataFrame,
    spec: FrameSchema,
    params: MonitoringParams,
    numerical: list[str],
    categorical: list[str],
) -> tuple[GroupDrift, ...]:
    """Each sensitive group's slice against the same group's reference slice (evidently#1531)."""
    out: list[GroupDrift] = []
    for attr in spec.sensitive:
        cur_groups = cur[attr].astype("string").fillna(fairness.MISSING_GROUP)
        ref_groups = ref[attr].astype("string").fillna(fairness.MISSING_GROUP)
        # The attribute is constant within its own slice: test the other feature columns.
        num = [c for c in numerical if c != attr and c not in PREDICTION_COLUMNS]
        cat = [c for c in categorical if c != attr and c not in PREDICTION_COLUMNS]
        for group in sorted(set(cur_groups.unique())):
            cur_slice, ref_slice = cur[cur_groups == group], ref[ref_groups == group]
            n_cur, n_ref = len(cur_slice), len(ref_slice)
            if min(n_cur, n_ref) < params.min_group_size:
                out.append(GroupDrift(attr, group, n_cur, n_ref, None,
                                      f"too small: fewer than {params.min_group_size} rows"))
                continue
            result, _, _ = ev.drift_report(cur_slice, ref_slice, num, cat, params)
            out.append(GroupDrift(attr, group, n_cur, n_ref,
                                  guarded(result, cur_slice, ref_slice, num, cat, params)))
    return tuple(out)


def guarded(result: DriftResult, cur: pd.DataFrame, ref: pd.DataFrame, numerical: list[str],
            categorical: list[str], params: MonitoringParams) -> DriftResult:
    """The big-data guard (guard.py) on a report's p-value verdicts, when params turn it on."""
    if params.effect_size_floor is None and not params.fdr_correction:
        return result
    tested = [c.column for c in result.columns if c.is_p_value]
    effects = guard.effect_sizes(cur, ref, [c for c in numerical if c in tested],
                                 [c for c in categorical if c in tested], params.sketch_bins)
    return guard.apply_guard(result, effects, params.effect_size_floor, params.fdr_correction)
