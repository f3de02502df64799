"""The tabular serving fast path: records (dicts) to probabilities without a DataFrame.

``RecordEncoder`` applies the fitted ``TabularPreprocessor`` state (vocabularies, medians,
means, stds, log1p) to plain dicts with numpy. For one record pandas spends ~3 ms in
``transform`` and the network ~0.15 ms; this spends tens of µs. It must give
bit-identical tensors to ``TabularPreprocessor.transform`` (a unit test holds it to that);
any other predictor goes through a DataFrame.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np


class RecordEncoder:
    """``TabularPreprocessor.transform`` for a list of dicts (same arithmetic, same dtypes)."""

    def __init__(self, preprocessor):
        self.categorical = list(preprocessor.categorical)
        self.continuous = list(preprocessor.continuous)
        # str(value) -> code, exactly like transform's Index.get_indexer over str(value).
        self.codes = [{v: i for i, v in enumerate(preprocessor.vocab[c])} for c in self.categorical]

        def vector(stats: dict[str, float]) -> np.ndarray:
            return np.array([stats[c] for c in self.continuous], dtype=np.float64)

        self.medians = vector(preprocessor.medians)
        self.means, self.stds = vector(preprocessor.means), vector(preprocessor.stds)
        self.log1p = np.array([c in preprocessor.log1p for c in self.continuous], dtype=bool)

    def encode(self, records: Sequence[Mapping[str, Any]]):
        import torch

        n = len(records)
        cats = np.zeros((n, len(self.categorical)), dtype=np.int64)
        for j, (col, codes) in enumerate(zip(self.categorical, self.codes, strict=True)):
            get = codes.get  # validated values are str or None; str() covers other callers
            cats[:, j] = [get(v if (v := rec[col]) is None or type(v) is str else str(v), 0)
                          for rec in records]
        # numpy turns None into NaN in a float array: missing values need no branch here.
        raw = np.array([[rec[col] for col in self.continuous] for rec in records],
                       dtype=np.float64).reshape(n, -1)
        raw = np.where(np.isnan(raw), self.medians, raw)
        if self.log1p.any():
            raw = np.where(self.log1p, np.log1p(np.clip(raw, 0, None)), raw)
        with np.errstate(over="ignore"):  # beyond float32 becomes inf: refused after scoring
            conts = ((raw - self.means) / self.stds).astype(np.float32)
        return torch.from_numpy(cats), torch.from_numpy(conts)


def make_encoder(predictor) -> RecordEncoder | None:
    """The fast path for a ``TabularPredictor`` (has ``preprocessor`` and ``net``), else None."""
    pre, net = getattr(predictor, "preprocessor", None), getattr(predictor, "net", None)
    if pre is None or net is None or not hasattr(pre, "vocab"):
        return None
    return RecordEncoder(pre)


def predict_proba(predictor, encoder: RecordEncoder | None,
                  records: Sequence[Mapping[str, Any]]) -> np.ndarray:
    """Class probabilities (n, n_classes) in ``predictor.spec.classes`` order."""
    if encoder is None:
        import pandas as pd

        frame = pd.DataFrame.from_records(list(records), columns=list(predictor.spec.inputs))
        return np.asarray(predictor.predict_proba(frame), dtype=np.float64)
    import torch

    cats, conts = encoder.encode(records)
    with torch.inference_mode():
        logits = predictor.net(cats, conts)
        return torch.softmax(logits, dim=1).numpy().astype(np.float64)
