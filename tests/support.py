"""Small real and fake models for the serving tests and the benchmark (never used in serving).

``tiny_predictor`` is a real ``TabularPredictor`` (fitted preprocessing, an
untrained net: its outputs depend on the inputs, which is all serving needs)
built in milliseconds; ``FakePredictor`` scores with a fixed rule, so tests can
say which decision a record must get.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from loopwatch.serving.champion import ModelInfo
from loopwatch.tasks.tabular.champion import Champion


def tiny_predictor(spec, frame: pd.DataFrame, *, layers=(16, 8), log1p=(), seed: int = 0):
    import torch

    from loopwatch.tasks.tabular.net import NetConfig, TabularNet
    from loopwatch.tasks.tabular.predictor import TabularPredictor
    from loopwatch.tasks.tabular.preprocessing import TabularPreprocessor

    pre = TabularPreprocessor.fit(frame, spec.input_categorical, spec.input_continuous,
                                  list(log1p))
    torch.manual_seed(seed)
    net = TabularNet(NetConfig(pre.cardinalities, len(pre.continuous), layers=list(layers)))
    return TabularPredictor(spec, pre, net)


class FakePredictor:
    """P(positive) = the value of one numeric input, clipped to [0, 1] (missing -> 0.5)."""

    def __init__(self, spec, column: str):
        self.spec, self.column = spec, column

    def predict_proba(self, frame: pd.DataFrame) -> np.ndarray:
        p = pd.to_numeric(frame[self.column], errors="coerce").fillna(0.5).clip(0, 1).to_numpy()
        return np.column_stack([1 - p, p]).astype(np.float64)


def champion_of(predictor, name: str = "tiny", version: str = "1", signature=None,
                run_id: str | None = "run-1", data_hash: str | None = "md5-1") -> Champion:
    info = ModelInfo(name, version, "champion", run_id, data_hash, f"models:/{name}/{version}")
    return Champion.build(info, predictor, signature)


def records_of(frame: pd.DataFrame, columns) -> list[dict]:
    """JSON-ready records: None for missing values, plain Python scalars."""
    sub = frame[list(columns)].astype(object)
    return sub.where(sub.notna(), None).to_dict("records")
