"""Delayed labels: validate feedback, decide what to store, read feedback files.

A label arrives after its prediction, with the time it arrived and its origin:

- ``organic``: the outcome would have been observed whatever the model decided;
- ``model-selected``: it exists only because the model's decision made it
  observable (a loan granted, a district patrolled) — the feedback-loop risk;
- ``exploration``: it was observed because of a random (exploration) decision.

Rules (``plan``): an unknown prediction id is reported back; the same label and
origin again is a no-op (``duplicates``: clients may retry safely); a different
label or origin for a labelled prediction is a conflict and is rejected with a
message, as is a label that is not one of the model's classes. Valid items of a
batch are stored even when others are rejected: retrying the whole batch is
safe because repeats are no-ops.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator

ORIGINS = ("organic", "model-selected", "exploration")
Origin = Literal["organic", "model-selected", "exploration"]


class FeedbackItem(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)
    prediction_id: str = Field(min_length=1, max_length=64)
    label: str = Field(min_length=1, max_length=200)
    origin: Origin
    arrived_at: datetime | None = None  # when the label arrived; naive times are read as UTC

    @field_validator("arrived_at")
    @classmethod
    def _to_utc(cls, value: datetime | None) -> datetime | None:
        if value is None:
            return None
        try:
            return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)
        except OverflowError:  # e.g. 9999-12-31T23:59-12:00: no such time in UTC
            raise ValueError("is outside the range of times in UTC; send an ISO time "
                             "between years 1 and 9999") from None


class FeedbackRequest(BaseModel):
    model_config = ConfigDict(extra="forbid")
    items: list[FeedbackItem] = Field(min_length=1)


@dataclass
class FeedbackReport:
    accepted: list[str] = field(default_factory=list)
    duplicates: list[str] = field(default_factory=list)
    unknown: list[str] = field(default_factory=list)
    conflicts: list[dict[str, str]] = field(default_factory=list)  # prediction_id + message

    @property
    def ok(self) -> bool:
        return not self.unknown and not self.conflicts

    @property
    def status(self) -> int:
        """HTTP status: 409 if any conflict, else 404 if any unknown id, else 200."""
        return 409 if self.conflicts else 404 if self.unknown else 200

    def to_dict(self) -> dict[str, Any]:
        return {"ok": self.ok, "accepted": self.accepted, "duplicates": self.duplicates,
                "unknown_ids": self.unknown, "conflicts": self.conflicts,
                "summary": self.summary()}

    def summary(self) -> str:
        return (f"{len(self.accepted)} stored, {len(self.duplicates)} already known, "
                f"{len(self.unknown)} unknown ids, {len(self.conflicts)} conflicts")


def plan(items: Sequence[FeedbackItem], known: Mapping[str, Sequence[str]],
         existing: Mapping[str, tuple[str, str]],
         now: datetime) -> tuple[list[dict], FeedbackReport]:
    """Which items to insert, and the report. ``known``: prediction id -> the model's classes;
    ``existing``: prediction id -> (label, origin) already stored."""
    report, rows = FeedbackReport(), []
    seen = dict(existing)  # later items of the same batch see earlier ones
    for item in items:
        pid = item.prediction_id
        if pid not in known:
            report.unknown.append(pid)
            continue
        classes = known[pid]
        if classes and item.label not in classes:
            report.conflicts.append({"prediction_id": pid, "message": (
                f"label {item.label!r} is not one of the model's classes {list(classes)}")})
            continue
        if pid in seen:
            label, origin = seen[pid]
            if (label, origin) == (item.label, item.origin):
                report.duplicates.append(pid)
            else:
                report.conflicts.append({"prediction_id": pid, "message": (
                    f"prediction {pid} already has label {label!r} (origin {origin}); "
                    f"refusing {item.label!r} (origin {item.origin})")})
            continue
        seen[pid] = (item.label, item.origin)
        rows.append({"prediction_id": pid, "label": item.label, "origin": item.origin,
                     "arrived_at": item.arrived_at or now, "recorded_at": now})
        report.accepted.append(pid)
    return rows, report


def parse_items(records: Iterable[Mapping[str, Any]], default_origin: str | None = None,
                where: str = "row") -> list[FeedbackItem]:
    """Validate raw rows into items; the error names the row and the field."""
    items = []
    for i, raw in enumerate(records):
        row = {k: v for k, v in raw.items() if not _missing(v)}
        if "origin" not in row and default_origin is not None:
            row["origin"] = default_origin
        if "label" in row and not isinstance(row["label"], str):
            row["label"] = str(row["label"])
        try:
            items.append(FeedbackItem.model_validate(row))
        except ValidationError as exc:
            err = exc.errors()[0]
            name = ".".join(str(p) for p in err["loc"]) or "row"
            hint = " (or pass --origin)" if name == "origin" else ""
            raise ValueError(f"{where} {i}: field '{name}': {err['msg']}{hint}") from None
    return items


def read_feedback_file(path: Path | str, default_origin: str | None = None) -> list[FeedbackItem]:
    """CSV, Parquet or JSON lines with ``prediction_id``, ``label`` and optional ``origin``,
    ``arrived_at`` columns."""
    import pandas as pd

    path = Path(path)
    if not path.exists():
        raise FileNotFoundError(f"feedback file {path} does not exist")
    from loopwatch.data.files import unreadable

    suffix = path.suffix.lower()
    if suffix not in (".parquet", ".jsonl", ".ndjson", ".json", ".csv", ".txt"):
        raise ValueError(f"{path}: unsupported feedback format {suffix!r}; use .csv, .parquet "
                         "or .jsonl")
    try:
        if suffix == ".parquet":
            frame = pd.read_parquet(path)
        elif suffix in (".jsonl", ".ndjson", ".json"):
            frame = pd.read_json(path, lines=suffix != ".json", dtype=False)
        else:
            frame = pd.read_csv(path, dtype=str, keep_default_na=False, na_values=[""])
    except ValueError as exc:
        raise unreadable(path, exc) from None
    missing = [c for c in ("prediction_id", "label") if c not in frame.columns]
    if missing:
        raise ValueError(f"{path} lacks column(s) {missing}; expected prediction_id, label "
                         "[, origin, arrived_at]")
    return parse_items(frame.to_dict("records"), default_origin, where=f"{path.name} row")


def _missing(value: Any) -> bool:
    """None, "", NaN and NaT (pandas' missing values are the only values unequal to themselves)."""
    if value is None or (isinstance(value, str) and not value.strip()):
        return True
    try:
        return bool(value != value)
    except (TypeError, ValueError):
        return False
