"""Judge a model on held-out rows with the metrics people read (not the loss it optimised)."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd
from sklearn import metrics as skm

from loopwatch.tasks.tabular.spec import TabularSpec


@dataclass
class Evaluation:
    metrics: dict[str, float]
    confusion: np.ndarray  # rows = actual, columns = predicted, in spec.classes order


def evaluate_predictions(spec: TabularSpec, frame: pd.DataFrame, proba_pos: np.ndarray,
                         prefix: str = "test_") -> Evaluation:
    y = spec.labels(frame)
    pred = (proba_pos >= 0.5).astype(np.int64)
    p = np.clip(proba_pos, 1e-7, 1 - 1e-7)
    accuracy = float((pred == y).mean())
    values = {
        "accuracy": accuracy,
        "error_rate": 1.0 - accuracy,
        "roc_auc": float(skm.roc_auc_score(y, proba_pos)) if len(set(y)) == 2 else float("nan"),
        "log_loss": float(-np.mean(y * np.log(p) + (1 - y) * np.log(1 - p))),
        "positive_rate": float(pred.mean()),
        "rows": float(len(y)),
    }
    confusion = skm.confusion_matrix(y, pred, labels=[0, 1])
    return Evaluation({f"{prefix}{k}": v for k, v in values.items()}, confusion)
