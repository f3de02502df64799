"""What the closed loop remembers between days and between runs of the main job.

One JSON file (``<state>/scenario/state.json``) holds the day and generation records;
labels still in transit wait as parquet files named by their arrival day. Both are
written beside their final name and renamed over it, so a crash between days leaves
the last complete day behind and the next run continues from there.
"""

from __future__ import annotations

import os
from datetime import date
from pathlib import Path

import pandas as pd
from pydantic import BaseModel, Field


class DayRecord(BaseModel):
    """One simulated day: the traffic, what the monitor saw, what the policy decided."""

    day: int
    date: date
    model_version: str
    applicants: int
    approved: int
    explored: int
    labels_arrived: int  # outcome labels delivered on this day (from earlier decisions)
    drift_on: bool  # the scenario's drift was active (the truth the monitor must find)
    drift_share: float  # share of columns the calibrated verdicts found drifted
    drifted_columns: list[str] = Field(default_factory=list)
    accuracy: float  # of the model's greedy calls on ALL applicants (the simulation knows)
    observed_accuracy: float | None = None  # on the labels the monitor saw in the window
    gaps: dict[str, float | None] = Field(default_factory=dict)  # e.g. sex:dp -> value
    action: str = "none"  # none | retrain | alert
    reasons: list[str] = Field(default_factory=list)
    report: str = ""
    monitor_run_id: str = ""
    generation: int | None = None  # the generation a retrain on this day produced


class GenerationRecord(BaseModel):
    """One trained model: the first one or a retrained challenger, and its gate verdict."""

    generation: int
    model_version: str
    run_id: str
    data_version: str  # DVC hash of data/ it trained on (also its MLflow tag)
    day: int | None  # the day whose decision triggered it (None: the initial model)
    trigger: str
    rows: dict[str, int] = Field(default_factory=dict)  # training rows by origin
    metrics: dict[str, float] = Field(default_factory=dict)
    promoted: bool = False
    gate_reasons: list[str] = Field(default_factory=list)
    gate_table: dict[str, dict] = Field(default_factory=dict)
    champion_after: str = ""


class ScenarioState(BaseModel):
    next_day: int = 0
    days: list[DayRecord] = Field(default_factory=list)
    generations: list[GenerationRecord] = Field(default_factory=list)

    @classmethod
    def load(cls, path: Path) -> ScenarioState:
        if not path.exists():
            return cls()
        try:
            return cls.model_validate_json(path.read_text())
        except ValueError as exc:
            raise ValueError(f"{path} is not a loopwatch scenario state ({exc}); "
                             "start over with --fresh") from exc

    def save(self, path: Path) -> None:
        path.parent.mkdir(parents=True, exist_ok=True)
        tmp = path.with_name(f".{path.name}.tmp-{os.getpid()}")
        tmp.write_text(self.model_dump_json(indent=2))
        os.replace(tmp, path)

    def record_day(self, record: DayRecord) -> None:
        """Add (or replace, when a crashed day is re-run) a day and move past it."""
        self.days = [d for d in self.days if d.day != record.day] + [record]
        self.next_day = max(self.next_day, record.day + 1)

    @property
    def champion_generation(self) -> GenerationRecord | None:
        promoted = [g for g in self.generations if g.promoted]
        return promoted[-1] if promoted else None


def state_path(scenario_dir: Path) -> Path:
    return scenario_dir / "state.json"


def pending_dir(scenario_dir: Path) -> Path:
    return scenario_dir / "pending"


def save_pending(scenario_dir: Path, rows: pd.DataFrame, decision_day: int) -> None:
    """Labels revealed on ``decision_day``, waiting for their ``label_day`` (one file each)."""
    folder = pending_dir(scenario_dir)
    folder.mkdir(parents=True, exist_ok=True)
    for label_day, part in rows.groupby("label_day"):
        path = folder / f"arrive={int(label_day):03d}-from={decision_day:03d}.parquet"
        tmp = folder / f".{path.name}.tmp-{os.getpid()}"
        part.reset_index(drop=True).to_parquet(tmp, index=False)
        os.replace(tmp, path)


def due_pending(scenario_dir: Path, day: int) -> tuple[pd.DataFrame, list[Path]]:
    """Every waiting label due by ``day`` and the files they came from (delete them once
    the labels are stored: until then a crash only means delivering them again)."""
    files = sorted(p for p in pending_dir(scenario_dir).glob("arrive=*.parquet")
                   if int(p.name.split("-")[0].removeprefix("arrive=")) <= day)
    if not files:
        return pd.DataFrame(), []
    return pd.concat([pd.read_parquet(p) for p in files], ignore_index=True), files
