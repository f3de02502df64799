"""From validated records to probabilities, decisions, log rows and response items.

Shared by the HTTP service and the batch scorer so both log the same row shape.

``RecordEncoder`` is the serving fast path: it applies the fitted
``TabularPreprocessor`` state (vocabularies, medians, means, stds, log1p) to
plain dicts with numpy, without building a DataFrame. For one record pandas
spends ~3 ms in ``transform`` and the network ~0.15 ms; this spends tens of µs.
It must give bit-identical tensors to ``TabularPreprocessor.transform``
(a unit test holds it to that); any other predictor goes through a DataFrame.
"""

from __future__ import annotations

import os
import time
from collections.abc import Mapping, Sequence
from datetime import UTC, datetime
from typing import Any

import numpy as np

from loopwatch.serving.jsonio import dumps
from loopwatch.serving.policy import DecisionPolicy, Decisions


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


def utc_now() -> datetime:
    return datetime.now(UTC)


def new_id() -> str:
    return new_ids(1)[0]


def new_ids(n: int) -> list[str]:
    """``n`` prediction ids: UUIDv7 (RFC 9562) as 32 hex digits, 74 random bits each.

    Version 7 starts with the Unix time in ms, so new ids land at the end of the
    primary-key index instead of at random places in it: inserting into the
    SQLite log measured 10.7 µs a row with these against 24.8 µs with uuid4.
    The ids also sort by creation time. One ``urandom`` call serves the batch.
    """
    head = (time.time_ns() // 1_000_000) << 80
    raw = os.urandom(10 * n)
    ids = []
    for i in range(n):
        value = head | int.from_bytes(raw[10 * i:10 * i + 10], "big")
        value = (value & _CLEAR) | _VERSION_VARIANT
        ids.append(f"{value:032x}")
    return ids


_CLEAR = ~((0xF << 76) | (0x3 << 62))  # the version and variant bits
_VERSION_VARIANT = (0x7 << 76) | (0x2 << 62)


def build_rows(
    *,
    model_name: str,
    model_version: str,
    classes: Sequence[str],
    inputs: Sequence[Mapping[str, Any]],
    sensitive: Sequence[Mapping[str, Any]],
    proba: np.ndarray,
    decisions: Decisions,
    policy: DecisionPolicy,
    source: str,
    request_id: str,
    metadata: Mapping[str, Any] | None = None,
    now: datetime | None = None,
    inputs_json: Sequence[str] | None = None,
    first_position: int = 0,
) -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
    """Log rows (for ``LogStore.write_predictions``) and the matching response items."""
    now = now or utc_now()
    labels = [classes[i] for i in proba.argmax(axis=1).tolist()] if len(proba) else []
    probs = proba.tolist()
    actions = policy.names(decisions)
    explored = decisions.explored.tolist()
    propensity = decisions.propensity.tolist()
    meta_json = dumps(metadata) if metadata else None
    rows, items = [], []
    ids = new_ids(len(labels))
    for i, label in enumerate(labels):
        pid = ids[i]
        prob_map = dict(zip(classes, probs[i], strict=True))
        rows.append({
            "id": pid, "ts": now, "model_name": model_name, "model_version": model_version,
            "source": source, "request_id": request_id, "position": first_position + i,
            "inputs": inputs_json[i] if inputs_json is not None else dumps(inputs[i]),
            "prediction": label, "score": probs[i][-1], "probabilities": dumps(prob_map),
            "decision": actions[i], "propensity": propensity[i], "explored": explored[i],
            "sensitive": sensitive[i] if sensitive else {}, "request_meta": meta_json,
        })
        items.append({"prediction_id": pid, "label": label, "probabilities": prob_map,
                      "decision": actions[i], "propensity": propensity[i],
                      "explored": explored[i], "model_version": model_version})
    return rows, items
