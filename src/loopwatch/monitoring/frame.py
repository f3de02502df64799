"""The one frame monitoring reads, whatever the task: typed columns of logged predictions.

A ``FrameSchema`` says which columns are features (categorical, continuous), embeddings,
sensitive attributes, and what the classes are (the positive class last for a binary
model). The rows then hold the fixed columns below, so drift, fairness, the feedback-loop
metrics and off-policy estimates are computed without knowing the task:

==================  ==========================================================================
``prediction``      the predicted class (or item, for a recommender)
``score``           P(positive class) for a binary model, else P(predicted class)
``label``           the ground truth once it has arrived; missing while it has not
``propensity``      the probability the logged decision was taken with (1 for greedy ones)
``origin``          organic | model-selected | exploration: why the label could be seen
``model_version``   the registry version that served it
``timestamp``       when the prediction was made (UTC)
==================  ==========================================================================

A task turns its own records into this frame (``MonitorFrame.from_log`` for the prediction
log's rows, whose inputs are already expanded into columns).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field

import pandas as pd

# Where a training run logs the rows monitoring compares served traffic with.
REFERENCE_ARTIFACT = "monitoring/reference.parquet"
EMBEDDING_PREFIX = "emb_"  # embedding dimension i is column emb_<i>
FIXED = ("prediction", "score", "label", "propensity", "origin", "model_version", "timestamp")
LOG_COLUMNS = {"ts": "timestamp", "label_origin": "origin"}  # prediction-log names


def embedding_columns(frame: pd.DataFrame) -> list[str]:
    cols = [c for c in frame.columns if c.startswith(EMBEDDING_PREFIX)]
    return sorted(cols, key=lambda c: int(c[len(EMBEDDING_PREFIX):]))


@dataclass(frozen=True)
class FrameSchema:
    """The typed columns of a monitoring frame. Attribute names match the tabular task's
    spec (categorical, continuous, sensitive, classes, target), so a spec can serve as one."""

    categorical: tuple[str, ...] = ()
    continuous: tuple[str, ...] = ()
    sensitive: tuple[str, ...] = ()
    classes: tuple[str, ...] = ()
    embeddings: tuple[str, ...] = ()
    target: str = "label"

    @property
    def features(self) -> tuple[str, ...]:
        return (*self.categorical, *self.continuous)

    @property
    def positive_label(self) -> str:
        return self.classes[-1]

    @property
    def negative_label(self) -> str:
        return self.classes[0]

    @classmethod
    def infer(cls, frame: pd.DataFrame, features: Sequence[str], sensitive: Sequence[str] = (),
              classes: Sequence[str] = ()) -> FrameSchema:
        """Numbers are continuous, everything else categorical (sensitive attributes too)."""
        numeric = [c for c in features if pd.api.types.is_numeric_dtype(frame[c])
                   and not pd.api.types.is_bool_dtype(frame[c])]
        categorical = [c for c in (*features, *sensitive) if c not in numeric]
        return cls(tuple(dict.fromkeys(categorical)), tuple(numeric), tuple(sensitive),
                   tuple(classes))


@dataclass
class MonitorFrame:
    schema: FrameSchema
    rows: pd.DataFrame = field(repr=False)

    def __post_init__(self) -> None:
        missing = [c for c in (*self.schema.features, *self.schema.sensitive)
                   if c not in self.rows.columns]
        if missing:
            raise ValueError(f"the monitoring frame lacks column(s) {missing}")

    @classmethod
    def from_log(cls, logged: pd.DataFrame, schema: FrameSchema) -> MonitorFrame:
        """Rows of ``serving.reading.read_predictions`` (inputs expanded) as a frame."""
        rows = logged.rename(columns=LOG_COLUMNS).copy()
        for column in FIXED:
            if column not in rows.columns:
                rows[column] = None
        return cls(schema, rows)

    @property
    def labelled(self) -> pd.DataFrame:
        return self.rows[self.rows["label"].notna()]

    def __len__(self) -> int:
        return len(self.rows)
