"""The ``scenario:`` section of params.yaml: the built-in closed loop's world."""

from __future__ import annotations

from datetime import date
from typing import TYPE_CHECKING, Literal

from pydantic import Field, model_validator

from loopwatch.config import SectionParams

if TYPE_CHECKING:  # settings load at CLI start-up: keep numpy/pandas out of it
    from loopwatch.simulation.traffic import DriftSchedule


class ScenarioParams(SectionParams):
    section = "scenario"

    days: int = Field(10, ge=1)  # simulated days per run of the main job
    applicants_per_day: int = Field(1500, ge=10)
    start_date: date = date(2026, 1, 5)  # day 0; the prediction log is stamped in this calendar
    seed: int = 11
    # Drift of the applicant population, from drift_start_day on (see simulation/traffic.py).
    drift_kind: Literal["none", "population", "covariate", "group_mix", "concept"] = "population"
    drift_start_day: int = Field(5, ge=0)
    drift_strength: float = 0.5
    drift_ramp_days: int = Field(0, ge=0)
    # Selective labels: a denied applicant's outcome is never seen unless explored.
    epsilon: float = Field(0.1, ge=0, le=1)  # exploration share of decisions
    label_delay_days: int = Field(1, ge=0)  # outcomes arrive this many days after the decision
    # The Adult test split is cut in two: applicants come from one part, the gate's fresh
    # holdout from the other, so the gate never scores rows a challenger trained on.
    gate_pool_fraction: float = Field(0.3, gt=0, lt=1)
    gate_holdout_rows: int = Field(3000, ge=100)
    retrain_valid_fraction: float = Field(0.2, gt=0, lt=1)  # of the feedback rows
    retrain_ips_weighting: bool = False  # see params.yaml: exploration, not weights, matters here

    @model_validator(mode="after")
    def _check_drift(self) -> ScenarioParams:
        if self.drift_kind in ("group_mix", "concept") and not 0 <= self.drift_strength <= 1:
            raise ValueError(f"drift_strength for {self.drift_kind} is a share/probability in "
                             f"[0, 1], got {self.drift_strength}")
        return self

    def drift_schedule(self) -> DriftSchedule:
        from loopwatch.simulation.traffic import DriftSchedule

        return DriftSchedule(start_day=self.drift_start_day, kind=self.drift_kind,
                             strength=self.drift_strength, ramp_days=self.drift_ramp_days)
