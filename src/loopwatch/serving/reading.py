"""The read API for monitoring: logged predictions joined with the labels that arrived.

One row per prediction (a left join: predictions without a label yet have
``label`` = None). Columns:

    prediction_id, timestamp (UTC), model_name, model_version, source, request_id, position,
    prediction, score, prob_<class>..., decision, propensity, explored,
    <sensitive attribute>..., <model input>..., label, label_origin, label_arrived_at,
    request_meta

Input columns keep their training names so a frame can be compared with the
training data directly (drift reports); an input whose name collides with a
log column is prefixed ``input_``. A sensitive attribute that is also a model
input appears once.
"""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime
from typing import Protocol

import pandas as pd
import sqlalchemy as sa

from loopwatch.serving.jsonio import loads


class LogTables(Protocol):
    """What reading needs of a ``log_store.LogStore`` (which imports this module, so this
    one names only the shape): its engine and its two tables."""

    engine: sa.Engine
    predictions: sa.Table
    feedback: sa.Table

SENSITIVE_PREFIX = "sensitive_"  # logged sensitive attribute <name> is column sensitive_<name>

BASE = ["prediction_id", "timestamp", "model_name", "model_version", "source", "request_id",
        "position", "prediction", "score", "decision", "propensity", "explored"]
LABELS = ["label", "label_origin", "label_arrived_at"]
# client, user agent, batch size, the caller's metadata (a dict): on a request's first row
EXTRA = ["request_meta"]


def as_utc(value: datetime | str | None) -> datetime | None:
    """A bound of a time window: datetime or ISO text; naive means UTC."""
    if value is None:
        return None
    if isinstance(value, str):
        value = datetime.fromisoformat(value)
    return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)


def _window_query(store: LogTables, start, end, model_name, model_version):
    p, f = store.predictions, store.feedback
    stmt = (sa.select(p, f.c.label, f.c.origin.label("label_origin"),
                      f.c.arrived_at.label("label_arrived_at"))
            .select_from(p.outerjoin(f, f.c.prediction_id == p.c.id))
            .order_by(p.c.ts, p.c.request_id, p.c.position))
    return _where(stmt, p, start, end, model_name, model_version)


def _where(stmt, p, start, end, model_name, model_version):
    start, end = as_utc(start), as_utc(end)
    if start is not None:
        stmt = stmt.where(p.c.ts >= start)
    if end is not None:
        stmt = stmt.where(p.c.ts < end)
    if model_name is not None:
        stmt = stmt.where(p.c.model_name == model_name)
    if model_version is not None:
        stmt = stmt.where(p.c.model_version == str(model_version))
    return stmt


def read_predictions(store: LogTables, start=None, end=None, *, model_name: str | None = None,
                     model_version: str | int | None = None,
                     expand_inputs: bool = True) -> pd.DataFrame:
    stmt = _window_query(store, start, end, model_name, model_version)
    with store.engine.connect() as conn:
        result = conn.execute(stmt)
        raw = pd.DataFrame(result.all(), columns=list(result.keys()))
    return _shape(raw, expand_inputs)


def read_prediction_chunks(store: LogTables, start=None, end=None, *, model_name: str | None = None,
                           model_version: str | int | None = None, chunk_rows: int = 100_000,
                           ) -> Iterator[pd.DataFrame]:
    """The same window as ``read_predictions``, ``chunk_rows`` at a time (server-side cursor
    where the database has one), so a window of millions of rows fits in bounded memory."""
    stmt = _window_query(store, start, end, model_name, model_version)
    with store.engine.connect() as conn:
        result = conn.execution_options(stream_results=True).execute(stmt)
        columns = list(result.keys())
        for rows in result.partitions(chunk_rows):
            yield _shape(pd.DataFrame(rows, columns=columns), True)


def window_versions(store: LogTables, start=None, end=None, *,
                    model_name: str | None = None) -> dict[str, int]:
    """Predictions per model version in the window, most first: its size without reading it."""
    p = store.predictions
    stmt = _where(sa.select(p.c.model_version, sa.func.count()).group_by(p.c.model_version),
                  p, start, end, model_name, None)
    with store.engine.connect() as conn:
        counts = {str(v): int(n) for v, n in conn.execute(stmt)}
    return dict(sorted(counts.items(), key=lambda kv: -kv[1]))


def _utc_series(values: pd.Series) -> pd.Series:
    # SQLite hands back naive datetimes (stored as UTC), PostgreSQL aware ones.
    return pd.to_datetime(values, utc=True) if len(values) else pd.Series(
        [], dtype="datetime64[ns, UTC]")


def _shape(raw: pd.DataFrame, expand_inputs: bool) -> pd.DataFrame:
    sensitive = [c for c in raw.columns if c.startswith(SENSITIVE_PREFIX)]
    frame = raw.rename(columns={"id": "prediction_id", "ts": "timestamp"})
    frame["timestamp"] = _utc_series(frame["timestamp"])
    frame["label_arrived_at"] = _utc_series(frame["label_arrived_at"])
    frame["explored"] = frame["explored"].astype(bool)
    probs = pd.DataFrame([loads(t) for t in frame["probabilities"]], index=frame.index)
    probs.columns = [f"prob_{c}" for c in probs.columns]
    parts = [frame[BASE[:9]], probs, frame[BASE[9:]]]
    taken = set(BASE) | set(LABELS) | set(EXTRA) | set(probs.columns)
    inputs = pd.DataFrame()
    if expand_inputs:
        inputs = pd.DataFrame([loads(t) for t in frame["inputs"]], index=frame.index)
        inputs.columns = [f"input_{c}" if c in taken else c for c in inputs.columns]
    else:
        parts.append(frame[["inputs"]])
    sens = frame[sensitive].rename(columns=lambda c: c[len(SENSITIVE_PREFIX):])
    sens = sens[[c for c in sens.columns if c not in inputs.columns]]
    frame["request_meta"] = [loads(t) for t in frame["request_meta"]]
    parts += [sens, inputs, frame[LABELS + EXTRA]]
    out = pd.concat(parts, axis=1)
    return out.reset_index(drop=True)
