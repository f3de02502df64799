"""Training weights that undo a model's say over its own data.

A label revealed by a decision taken with probability p stands for 1/p such labels.
Every task's retraining reads the same ``propensity`` column of its provenance rows.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

PROPENSITY = "propensity"  # logged probability of the decision that revealed a row's label


def ips_weights(frame: pd.DataFrame, clip: float | None) -> np.ndarray:
    """Inverse-propensity weights 1/p per row, clipped at ``clip``; 1 where not logged.

    A label revealed by a decision taken with probability p stands for 1/p such
    labels, which undoes the model's say over what it is retrained on .
    Clipping bounds the variance that tiny propensities bring, at the price of a
    little bias back towards the logged policy; ``None`` (or no ``propensity``
    column, e.g. organic data) gives every row weight 1.
    """
    if clip is None or PROPENSITY not in frame.columns:
        return np.ones(len(frame), dtype=np.float32)
    p = pd.to_numeric(frame[PROPENSITY], errors="coerce").to_numpy(dtype=float)
    if np.any((p <= 0) | (p > 1)):
        raise ValueError(f"column {PROPENSITY!r} must lie in (0, 1]; missing means organic")
    w = np.where(np.isnan(p), 1.0, 1.0 / np.where(np.isnan(p), 1.0, p))
    return np.minimum(w, clip).astype(np.float32)
