"""Label intake's production side: provenance of every training row and the decision-
revealed rows kept with it.

Every row a model is retrained on says where its label came from (``origin``): organic
(collected without a model's say), model-selected (revealed because the model decided
so) or exploration (revealed by the uniform exploration slice). Rows revealed by a
decision carry ``propensity`` = P(label revealed), so retraining and estimates can undo
the model's say over its own data with weights 1/p. The simulations produce such rows;
production (the feedback endpoint, the retrain flow) stores and reads them here.
"""

from __future__ import annotations

import os
from datetime import datetime
from pathlib import Path

import numpy as np
import pandas as pd

FEEDBACK_SUBDIR = "feedback"  # under the project's data/ folder, which DVC versions
APPROVE = "approve"  # the built-in lending policy's positive action
MODEL_SELECTED, EXPLORATION, ORGANIC = "model-selected", "exploration", "organic"
ORIGIN = "origin"
PROVENANCE_COLUMNS = ("prediction_id", "origin", "model_version", "propensity",
                      "decision_propensity", "decision_day", "label_day")


def rows_by_origin(frame: pd.DataFrame) -> dict[str, int]:
    """Training rows per provenance origin; rows without one are organic."""
    if ORIGIN not in frame.columns:
        return {ORGANIC: len(frame)}
    counts = frame[ORIGIN].fillna(ORGANIC).value_counts()
    return {str(k): int(v) for k, v in counts.items()}


def reveal_probability(decision: np.ndarray, propensity: np.ndarray,
                       approve: str = APPROVE) -> np.ndarray:
    """P(label revealed | applicant) under the ε-greedy threshold policy, from the log."""
    p = np.asarray(propensity, dtype=np.float64)
    if np.any((p <= 0) | (p > 1)) or np.isnan(p).any():
        raise ValueError("logged propensities must lie in (0, 1]")
    epsilon = 2.0 * np.minimum(p, 1.0 - p)
    approved = np.asarray(decision) == approve
    greedy_approve = np.where(p >= 0.5, approved, ~approved)
    return (1.0 - epsilon) * greedy_approve + epsilon


def feedback_items(feedback: pd.DataFrame, arrived_at: datetime | None = None) -> list:
    """``FeedbackItem``s for ``LogStore.add_feedback`` / the feedback endpoint."""
    from loopwatch.serving.feedback import FeedbackItem

    return [FeedbackItem(prediction_id=pid, label=str(label), origin=origin,
                         arrived_at=arrived_at)
            for pid, label, origin in zip(feedback["prediction_id"], feedback["label"],
                                          feedback["origin"], strict=True)]


def retraining_rows(organic: pd.DataFrame, feedback_rows: pd.DataFrame) -> pd.DataFrame:
    """The original training rows (``origin`` organic, no propensity: IPS weight 1) and the
    decision-revealed rows, in one frame to train on."""
    base = organic.copy()
    base["origin"] = ORGANIC
    base["propensity"] = np.nan
    return pd.concat([base, feedback_rows], ignore_index=True)


def feedback_dir(data_dir: Path, dataset: str = "adult") -> Path:
    return Path(data_dir) / FEEDBACK_SUBDIR / dataset


def append_feedback_rows(data_dir: Path, rows: pd.DataFrame, day: int,
                         dataset: str = "adult") -> Path:
    """Add labelled rows to ``data/feedback/<dataset>/day=NNN.parquet``, atomically.

    The file is written beside its final name and renamed over it, so a crash never
    leaves a half-written file for DVC to version or for retraining to read. Rows
    already in the day's file (same ``prediction_id``) are kept once: re-running a
    day is safe. The caller versions ``data/`` afterwards (``versioning.track`` + ``push``).
    """
    if "prediction_id" not in rows.columns:
        raise ValueError("feedback rows need a 'prediction_id' column (see observe_outcomes)")
    if day < 0:
        raise ValueError(f"day must be >= 0, got {day}")
    folder = feedback_dir(data_dir, dataset)
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / f"day={day:03d}.parquet"
    frame = rows
    if path.exists():
        frame = pd.concat([pd.read_parquet(path), rows], ignore_index=True)
        frame = frame.drop_duplicates("prediction_id", keep="first").reset_index(drop=True)
    # A dot-name that the reader's glob ignores, in the same folder (rename is atomic there).
    tmp = folder / f".{path.name}.tmp-{os.getpid()}"
    try:
        frame.to_parquet(tmp, index=False)
        os.replace(tmp, path)
    finally:
        tmp.unlink(missing_ok=True)
    return path


def read_feedback_rows(data_dir: Path, dataset: str = "adult",
                       up_to_day: int | None = None) -> pd.DataFrame:
    """All feedback rows written so far (optionally only days <= ``up_to_day``), by day."""
    folder = feedback_dir(data_dir, dataset)
    files = []
    for path in folder.glob("day=*.parquet"):
        day = int(path.stem.removeprefix("day="))
        if up_to_day is None or day <= up_to_day:
            files.append((day, path))
    if not files:
        return pd.DataFrame(columns=list(PROVENANCE_COLUMNS))
    return pd.concat([pd.read_parquet(p) for _, p in sorted(files)], ignore_index=True)
