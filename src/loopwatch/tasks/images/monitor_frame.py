"""Image predictions as monitoring rows: embedding columns, image statistics, prediction.

The same columns come from three places, so they can be compared: the reference
logged with a training run (validation images), the prediction log (what serving
wrote per upload) and the drifted-traffic generator. No Evidently here: the drift
report itself lives in ``monitoring/image_drift.py``.
"""

from __future__ import annotations

import hashlib
from collections.abc import Sequence
from typing import Any

import numpy as np
import pandas as pd

from loopwatch.monitoring.frame import EMBEDDING_PREFIX
from loopwatch.tasks.images.stats import COLUMNS, image_stats

EMBEDDING_DECIMALS = 4  # logged JSON stays ~6 characters a dimension


def image_frame(embeddings: np.ndarray, pixels: np.ndarray,
                predictions: Sequence[str] | None = None) -> pd.DataFrame:
    emb = pd.DataFrame(np.asarray(embeddings, dtype=np.float64),
                       columns=[f"{EMBEDDING_PREFIX}{i}" for i in range(embeddings.shape[1])])
    stats = pd.DataFrame(image_stats(pixels))
    frame = pd.concat([stats, emb], axis=1)
    if predictions is not None:
        frame.insert(0, "prediction", list(predictions))
    return frame


def log_inputs(raw: Sequence[bytes], pixels: np.ndarray, embeddings: np.ndarray,
               sizes: Sequence[tuple[int, int]] | None = None,
               formats: Sequence[str] | None = None) -> list[dict[str, Any]]:
    """What the prediction log stores as an image's ``inputs``: never the pixels (they may be
    personal data and are large), but a hash, the statistics and the rounded embedding."""
    stats = image_stats(pixels)
    rows = []
    for i, blob in enumerate(raw):
        row: dict[str, Any] = {"sha256": hashlib.sha256(blob).hexdigest(), "bytes": len(blob)}
        if sizes is not None:
            row["width"], row["height"] = sizes[i]
        if formats is not None:
            row["format"] = formats[i]
        row.update({c: round(float(stats[c][i]), 6) for c in COLUMNS})
        row["embedding"] = np.round(embeddings[i].astype(np.float64), EMBEDDING_DECIMALS).tolist()
        rows.append(row)
    return rows


def frame_from_log(log: pd.DataFrame) -> pd.DataFrame:
    """Rows of ``serving.reading.read_predictions`` (inputs expanded) -> ``image_frame`` columns.

    Rows without an embedding (another model's predictions) are dropped.
    """
    if "embedding" not in log.columns:
        raise ValueError("these predictions carry no 'embedding' input: not an image model's")
    log = log[log["embedding"].map(lambda e: isinstance(e, list) and len(e) > 0)]
    emb = np.array(log["embedding"].tolist(), dtype=np.float64).reshape(len(log), -1)
    frame = pd.DataFrame(emb, columns=[f"{EMBEDDING_PREFIX}{i}" for i in range(emb.shape[1])],
                         index=log.index)
    for col in COLUMNS:
        frame.insert(len(frame.columns) - emb.shape[1], col, log[col].astype(float))
    frame.insert(0, "prediction", log["prediction"].astype(str))
    if "label" in log.columns:
        frame["label"] = log["label"]
    return frame.reset_index(drop=True)
