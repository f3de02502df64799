"""Typed monitoring results, shared by drift, fairness, the policy, MLflow and the dashboards.

Plain frozen dataclasses with no heavy imports, so the policy and the CLI can use them
without loading Evidently. ``headline`` flattens a result into the numbers that go to
MLflow and to the dashboard panels; ``headline_key`` is the one place that names them.
"""

from __future__ import annotations

import math
import re
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any


@dataclass(frozen=True)
class ColumnDrift:
    """One column's calibrated drift verdict (see calibrated.py), Evidently's beside it.

    ``statistic`` is the effect size on Evidently's large-sample distance (``method``): normed
    Wasserstein or Jensen-Shannon, whatever the window's size, so values compare across windows.
    """

    column: str
    kind: str  # "numerical" | "categorical"
    method: str  # "Wasserstein distance (normed)" | "Jensen-Shannon distance"
    statistic: float
    threshold: float  # the floor an effect must reach to matter
    drifted: bool  # significant after Benjamini-Hochberg AND statistic >= threshold
    verdict: str = ""  # drift | significant, small | large, not significant | no drift | untested
    test: str = ""  # "K-S" | "chi-square": the significance test behind p_value
    p_value: float | None = None
    p_adjusted: float | None = None  # Benjamini-Hochberg across the slice's columns
    detectable: float | None = None  # the smallest statistic significant at this size
    evidently_method: str | None = None  # Evidently's default test for the reference size
    evidently_statistic: float | None = None  # a p-value or a distance, as its method says
    evidently_drifted: bool | None = None  # None: Evidently did not test this slice


@dataclass(frozen=True)
class DriftResult:
    """Per-column verdicts and the dataset verdict: drift when the drifted share >= threshold.

    Where nothing changed, each column and the dataset verdict alarm with probability
    <= ``alpha`` (calibrated.py)."""

    columns: tuple[ColumnDrift, ...]
    drift_share_threshold: float
    n_current: int
    n_reference: int
    alpha: float = 0.05

    @property
    def n_drifted(self) -> int:
        return sum(c.drifted for c in self.columns)

    @property
    def share(self) -> float:
        return self.n_drifted / len(self.columns) if self.columns else 0.0

    @property
    def dataset_drift(self) -> bool:
        return bool(self.columns) and self.share >= self.drift_share_threshold

    def detectable_range(self) -> tuple[float, float] | None:
        """(best, worst) smallest detectable statistic over the tested columns."""
        found = [c.detectable for c in self.columns
                 if c.detectable is not None and math.isfinite(c.detectable)]
        return (min(found), max(found)) if found else None

    def column(self, name: str) -> ColumnDrift:
        for c in self.columns:
            if c.column == name:
                return c
        have = [c.column for c in self.columns]
        raise KeyError(f"no drift result for column {name!r}; have {have}")


@dataclass(frozen=True)
class QualityResult:
    """Classification quality on the labelled rows (Evidently's ClassificationPreset)."""

    n_labelled: int
    n_used: int  # rows behind the numbers: n_labelled, or the sample size on the stream path
    accuracy: float
    precision: float | None = None
    recall: float | None = None
    f1: float | None = None
    roc_auc: float | None = None


@dataclass(frozen=True)
class GroupMetrics:
    """One group's rates; ``None`` where the group is too small to give a number."""

    group: str
    n: int
    n_labelled: int
    selection_rate: float | None
    tpr: float | None
    fpr: float | None
    accuracy: float | None
    too_small: bool  # n < min_group_size: no number at all
    labels_too_small: bool  # n_labelled < min_group_size: no label-based numbers


@dataclass(frozen=True)
class Gap:
    """A between-group gap with its bootstrap interval, between two named groups."""

    name: str  # fairness.DP / EO (differences) or DI (disparate-impact ratio)
    value: float | None
    ci_low: float | None = None
    ci_high: float | None = None
    groups: tuple[str, str] | None = None  # (favoured, disfavoured) at the point estimate
    note: str = ""

    def excludes(self, null: float) -> bool:
        """True when the interval lies wholly on one side of ``null`` (0 for a difference)."""
        if self.ci_low is None or self.ci_high is None:
            return False
        return self.ci_low > null or self.ci_high < null


@dataclass(frozen=True)
class FairnessResult:
    attribute: str
    groups: tuple[GroupMetrics, ...]
    gaps: dict[str, Gap]
    min_group_size: int
    n_boot: int
    ci_level: float

    def group(self, name: str) -> GroupMetrics:
        for g in self.groups:
            if g.group == name:
                return g
        raise KeyError(f"no group {name!r} in {self.attribute!r}")


@dataclass(frozen=True)
class GroupDrift:
    """Drift of one sensitive group's slice against the same group's reference slice."""

    attribute: str
    group: str
    n_current: int
    n_reference: int
    drift: DriftResult | None  # None when a slice is below the minimum group size
    note: str = ""


@dataclass
class MonitoringResult:
    model_name: str
    model_version: str
    n_rows: int
    n_labelled: int
    drift: DriftResult
    prediction_drift: tuple[ColumnDrift, ...]
    quality: QualityResult | None
    fairness: tuple[FairnessResult, ...]
    group_drift: tuple[GroupDrift, ...]
    mode: str  # "memory" | "stream"
    window_start: datetime | None = None
    window_end: datetime | None = None
    notes: list[str] = field(default_factory=list)
    # Evidently snapshots by kind ("drift", "quality"); opaque here so this module stays light.
    snapshots: dict[str, Any] = field(default_factory=dict, repr=False)

    @property
    def labelled_share(self) -> float:
        return self.n_labelled / self.n_rows if self.n_rows else 0.0


def headline_key(*parts: str) -> str:
    """A metric name MLflow and the Evidently UI both accept: [A-Za-z0-9_.-], dot-joined."""
    return ".".join(re.sub(r"[^A-Za-z0-9_-]+", "_", str(p)).strip("_") or "_" for p in parts)


def headline(result: MonitoringResult) -> dict[str, float]:
    """The numbers of one window, flat: what MLflow logs and the dashboard panels plot."""
    out: dict[str, float] = {
        "rows": result.n_rows,
        "labelled_rows": result.n_labelled,
        "labelled_share": result.labelled_share,
        "drift_share": result.drift.share,
        "dataset_drift": float(result.drift.dataset_drift),
        "drifted_columns": result.drift.n_drifted,
    }
    for c in result.drift.columns:
        out[headline_key("drift_score", c.column)] = c.statistic
        out[headline_key("drifted", c.column)] = float(c.drifted)
    for c in result.prediction_drift:
        out[headline_key("prediction_drift_score", c.column)] = c.statistic
        out[headline_key("prediction_drifted", c.column)] = float(c.drifted)
    if result.quality is not None:
        for name in ("accuracy", "precision", "recall", "f1", "roc_auc"):
            out[name] = getattr(result.quality, name)
    for fair in result.fairness:
        for gap in fair.gaps.values():
            out[headline_key("fairness", fair.attribute, gap.name)] = gap.value
            out[headline_key("fairness", fair.attribute, gap.name, "ci_low")] = gap.ci_low
            out[headline_key("fairness", fair.attribute, gap.name, "ci_high")] = gap.ci_high
    for gd in result.group_drift:
        if gd.drift is not None:
            out[headline_key("group_drift_share", gd.attribute, gd.group)] = gd.drift.share
    return {k: float(v) for k, v in out.items() if v is not None and math.isfinite(float(v))}
