"""Turn raw tabular rows into model tensors, in the spirit of fastai's procs.

Categorify (a vocabulary per column with index 0 reserved for unknown or missing
values, so an unseen category at serving time maps to a slot instead of a crash),
FillMissing (training median) and Normalize (training mean/std, after an optional
log1p for heavy-tailed columns). The fitted state is plain JSON so it travels
inside the MLflow model and can be read by a person.
"""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass, field

import numpy as np
import pandas as pd
import torch

UNKNOWN = "#unknown#"


@dataclass
class TabularPreprocessor:
    categorical: list[str]
    continuous: list[str]
    vocab: dict[str, list[str]]  # per column; position 0 is UNKNOWN
    medians: dict[str, float]
    means: dict[str, float]
    stds: dict[str, float]
    log1p: list[str]
    # [min, max] of each continuous column in training: a served value outside it is an
    # extrapolation, flagged in the answer (models saved before this have none: no flags)
    ranges: dict[str, list[float]] = field(default_factory=dict)

    @classmethod
    def fit(
        cls,
        frame: pd.DataFrame,
        categorical: list[str] | tuple[str, ...],
        continuous: list[str] | tuple[str, ...],
        log1p: list[str] | tuple[str, ...] = (),
    ) -> TabularPreprocessor:
        missing = [c for c in [*categorical, *continuous] if c not in frame.columns]
        if missing:
            raise KeyError(f"training data lacks input columns {missing}")
        vocab = {
            col: [UNKNOWN, *sorted(str(v) for v in frame[col].dropna().unique())]
            for col in categorical
        }
        medians, means, stds, ranges = {}, {}, {}, {}
        log_cols = [c for c in log1p if c in continuous]
        for col in continuous:
            values = pd.to_numeric(frame[col], errors="coerce").astype("float64")
            median = float(values.median()) if values.notna().any() else 0.0
            if values.notna().any():
                ranges[col] = [float(values.min()), float(values.max())]
            values = values.fillna(median)
            if col in log_cols:
                values = np.log1p(values.clip(lower=0))
            medians[col], means[col] = median, float(values.mean())
            stds[col] = float(values.std()) or 1.0  # a constant column must not divide by 0
        return cls(list(categorical), list(continuous), vocab, medians, means, stds, log_cols,
                   ranges)

    def outside_ranges(self, records: list[dict]) -> list[list[str]]:
        """Per record, the continuous inputs whose value lies outside the training range."""
        out: list[list[str]] = [[] for _ in records]
        for col, (low, high) in self.ranges.items():
            values = np.array([r.get(col) for r in records], dtype=np.float64)  # None -> NaN
            for i in np.flatnonzero((values < low) | (values > high)).tolist():
                out[i].append(col)
        return out

    @property
    def cardinalities(self) -> list[int]:
        return [len(self.vocab[c]) for c in self.categorical]

    def transform(self, frame: pd.DataFrame) -> tuple[torch.Tensor, torch.Tensor]:
        """(categorical codes int64 [n, n_cat], continuous float32 [n, n_cont])."""
        missing = [c for c in [*self.categorical, *self.continuous] if c not in frame.columns]
        if missing:
            expected = self.categorical + self.continuous
            raise KeyError(f"input lacks columns {missing}; expected {expected}")
        n = len(frame)
        cats = np.zeros((n, len(self.categorical)), dtype=np.int64)
        for j, col in enumerate(self.categorical):
            index = pd.Index(self.vocab[col])
            codes = index.get_indexer(frame[col].astype(object).where(frame[col].notna(), None)
                                      .map(lambda v: None if v is None else str(v)))
            cats[:, j] = np.where(codes < 0, 0, codes)  # unseen or missing -> UNKNOWN slot
        conts = np.zeros((n, len(self.continuous)), dtype=np.float32)
        for j, col in enumerate(self.continuous):
            values = pd.to_numeric(frame[col], errors="coerce").astype("float64")
            values = values.fillna(self.medians[col]).to_numpy()
            if col in self.log1p:
                values = np.log1p(np.clip(values, 0, None))
            conts[:, j] = (values - self.means[col]) / self.stds[col]
        return torch.from_numpy(cats), torch.from_numpy(conts)

    def to_json(self) -> str:
        return json.dumps(asdict(self), indent=1)

    @classmethod
    def from_json(cls, text: str) -> TabularPreprocessor:
        return cls(**json.loads(text))
