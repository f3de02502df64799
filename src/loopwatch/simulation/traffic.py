"""Day-by-day production traffic for the built-in Adult scenario, with scheduled drift.

Applicants are drawn from a held-out pool (the Adult test split, which the model
never trained on), each with its true ``income``, and the day's drift is applied
to the drawn rows. Three kinds of drift, each switched on at ``start_day``:

``population`` who applies changes, not how features relate to income (a pure
               covariate shift: P(income | features) is untouched): applicants are
               drawn with weights exp(strength · (z_age − z_hours)), z the pool's
               standardised values, so older, part-time applicants become more common
               (on Adult, strength 0.5 moves mean age 39 -> 48, hours 40 -> 33).
``covariate``  the feature values themselves move: at full strength 1.0, ``age`` + 10
               years and ``hours_per_week`` x 0.8 (``strength`` scales both linearly;
               negative strengths shift the other way). Each row keeps the label it was
               drawn with, so for these two columns the feature-label relation moves
               too: the monitor sees input drift, a model sees people older than
               their outcomes.
``group_mix``  the share of one sensitive group among applicants moves to
               ``strength`` (a share in [0, 1]; default group: ``sex == "Female"``),
               by stratified resampling; each group's own rows stay as in the pool.
``concept``    the relation between features and label breaks for one segment
               (default: ``education_num >= 13``, the graduates): each segment row's
               label flips with probability ``strength``, so any model fitted before
               the change loses accuracy there while the inputs look unchanged.

``ramp_days`` = 0 applies the full drift at once on ``start_day``; ``ramp_days`` = k
reaches it linearly over k days (1/k of it on ``start_day``, all of it from
``start_day + k - 1`` on). For ``group_mix`` the ramp moves the share from the
pool's own share to ``strength``.

Everything is a pure function of (pool, day, n, schedule, rng state): the same
generator state gives the same rows. ``day_rng(seed, day)`` gives each day its own
stream, so day d's traffic does not depend on how many days were drawn before it
(a restarted simulation picks up where it left off).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

import numpy as np
import pandas as pd

DriftKind = Literal["none", "population", "covariate", "group_mix", "concept"]
KINDS: tuple[str, ...] = ("none", "population", "covariate", "group_mix", "concept")

# Covariate drift at strength 1.0: an older, part-time applicant population.
AGE_YEARS_AT_FULL = 10.0
HOURS_FACTOR_AT_FULL = 0.8
TARGET = "income"
POSITIVE, NEGATIVE = ">50K", "<=50K"


@dataclass(frozen=True)
class DriftSchedule:
    """When and how production traffic drifts; see the module docstring per ``kind``."""

    start_day: int = 0
    kind: DriftKind = "none"
    strength: float = 0.0
    ramp_days: int = 0  # 0: all at once on start_day; k: linear over k days
    group_column: str = "sex"  # group_mix: whose share changes
    group_value: str = "Female"
    segment_column: str = "education_num"  # concept: segment = column >= segment_min
    segment_min: float = 13.0

    def __post_init__(self) -> None:
        if self.kind not in KINDS:
            raise ValueError(f"drift kind must be one of {KINDS}, got {self.kind!r}")
        if self.start_day < 0 or self.ramp_days < 0:
            raise ValueError("start_day and ramp_days must be >= 0")
        if self.kind in ("group_mix", "concept") and not 0.0 <= self.strength <= 1.0:
            raise ValueError(f"{self.kind} strength is a share/probability in [0, 1], "
                             f"got {self.strength}")

    def progress(self, day: int) -> float:
        """How much of the drift is on by ``day``: 0 before start_day, then up to 1."""
        if self.kind == "none" or day < self.start_day:
            return 0.0
        if self.ramp_days <= 1:
            return 1.0
        return min(1.0, (day - self.start_day + 1) / self.ramp_days)

    def active(self, day: int) -> bool:
        return self.progress(day) > 0.0


NO_DRIFT = DriftSchedule()
# Seed offset of the decision policy's (exploration) draws: day_rng(seed + DECISION_STREAM,
# day) is a stream apart from the day's traffic, day_rng(seed, day).
DECISION_STREAM = 2_000_003


def day_rng(seed: int, day: int) -> np.random.Generator:
    """An independent, reproducible generator for one simulated day."""
    return np.random.default_rng([seed, day])


def day_traffic(pool: pd.DataFrame, day: int, n: int, schedule: DriftSchedule,
                rng: np.random.Generator) -> pd.DataFrame:
    """``n`` applicants for ``day`` (with their true ``income``), the day's drift applied.

    Rows are drawn without replacement when the pool is large enough (with otherwise).
    The returned frame has the pool's columns and a fresh 0..n-1 index; the pool is
    never modified.
    """
    if n < 0:
        raise ValueError(f"n must be >= 0, got {n}")
    if len(pool) == 0:
        raise ValueError("the applicant pool is empty")
    progress = schedule.progress(day)
    if schedule.kind == "group_mix" and progress > 0:
        rows = _draw_group_mix(pool, n, schedule, progress, rng)
    elif schedule.kind == "population" and progress > 0:
        rows = _draw_tilted(pool, n, schedule.strength * progress, rng)
    else:
        rows = _draw(np.arange(len(pool)), n, rng)
    out = pool.iloc[rows].reset_index(drop=True).copy()
    if progress == 0:
        return out
    if schedule.kind == "covariate":
        return covariate_shift(out, schedule.strength * progress)
    if schedule.kind == "concept":
        return flip_segment_labels(out, schedule, schedule.strength * progress, rng)
    return out


def _draw(candidates: np.ndarray, n: int, rng: np.random.Generator) -> np.ndarray:
    return rng.choice(candidates, size=n, replace=n > len(candidates))


def _draw_group_mix(pool: pd.DataFrame, n: int, schedule: DriftSchedule, progress: float,
                    rng: np.random.Generator) -> np.ndarray:
    """Stratified draw: round(n * share) rows of the group, the rest from everyone else."""
    in_group = (pool[schedule.group_column] == schedule.group_value).fillna(False).to_numpy()
    members, others = np.flatnonzero(in_group), np.flatnonzero(~in_group)
    if len(members) == 0 or len(others) == 0:
        raise ValueError(f"group_mix needs rows both in and out of "
                         f"{schedule.group_column} == {schedule.group_value!r} in the pool")
    base = len(members) / len(pool)
    share = base + (schedule.strength - base) * progress
    k = int(round(n * share))
    rows = np.concatenate([_draw(members, k, rng), _draw(others, n - k, rng)])
    return rng.permutation(rows)  # groups interleaved, as real traffic would be


def _draw_tilted(pool: pd.DataFrame, n: int, strength: float,
                 rng: np.random.Generator) -> np.ndarray:
    """Exponential tilting towards older, part-time applicants (with replacement)."""
    def z(column: str) -> np.ndarray:
        values = pd.to_numeric(pool[column], errors="coerce").to_numpy(dtype=np.float64)
        values = np.where(np.isnan(values), np.nanmean(values), values)
        return (values - values.mean()) / (values.std() or 1.0)

    logits = strength * (z("age") - z("hours_per_week"))
    weights = np.exp(logits - logits.max())
    return rng.choice(len(pool), size=n, replace=True, p=weights / weights.sum())


def covariate_shift(frame: pd.DataFrame, strength: float) -> pd.DataFrame:
    """Older applicants working fewer hours; ``strength`` 1.0 = +10 years, hours x 0.8."""
    out = frame.copy()
    out["age"] = out["age"] + AGE_YEARS_AT_FULL * strength
    out["hours_per_week"] = out["hours_per_week"] * (1.0 + (HOURS_FACTOR_AT_FULL - 1.0) * strength)
    return out


def concept_segment(frame: pd.DataFrame, schedule: DriftSchedule) -> np.ndarray:
    """Boolean mask of the rows whose feature-label relation concept drift changes."""
    values = pd.to_numeric(frame[schedule.segment_column], errors="coerce")
    return (values >= schedule.segment_min).fillna(False).to_numpy(dtype=bool)


def flip_segment_labels(frame: pd.DataFrame, schedule: DriftSchedule, probability: float,
                        rng: np.random.Generator) -> pd.DataFrame:
    """Flip each segment row's income with ``probability`` (one draw per row, all rows).

    Drawing for every row, not only the segment's, keeps the generator's consumption
    independent of the data, so equal seeds stay aligned across schedules.
    """
    out = frame.copy()
    draws = rng.random(len(out))
    flip = concept_segment(out, schedule) & (draws < probability)
    income = out[TARGET].to_numpy(dtype=object)
    income[flip] = np.where(income[flip] == POSITIVE, NEGATIVE, POSITIVE)
    out[TARGET] = income
    return out
