"""The scenario's fixed ingredients and its calendar.

The prepared Adult splits give the organic training rows (what the first model
learnt from) and the test split, which the models never train on. The test split
is cut once, seeded, into the applicant pool (production traffic) and the gate
pool (the promotion gate's fresh holdout), so a challenger is never judged on an
applicant whose outcome it trained on.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime, time, timedelta
from pathlib import Path

import numpy as np
import pandas as pd

from loopwatch.config import Settings
from loopwatch.simulation.scenario.params import ScenarioParams
from loopwatch.simulation.traffic import day_rng, day_traffic
from loopwatch.tasks.tabular import spec as tabular
from loopwatch.tasks.tabular.params import prepared_dir
from loopwatch.tasks.tabular.spec import TabularSpec

GATE_STREAM = 1_000_003  # keeps the gate's draws apart from the traffic's for the same day


@dataclass(frozen=True)
class World:
    spec: TabularSpec
    organic_train: pd.DataFrame
    organic_valid: pd.DataFrame
    applicant_pool: pd.DataFrame
    gate_pool: pd.DataFrame
    params: ScenarioParams

    def applicants(self, day: int) -> pd.DataFrame:
        """The day's applicants with their true outcome (``spec.target``), drift applied."""
        p = self.params
        return day_traffic(self.applicant_pool, day, p.applicants_per_day, p.drift_schedule(),
                           day_rng(p.seed, day))

    def gate_holdout(self, day: int) -> pd.DataFrame:
        """A fresh labelled holdout that looks like ``day``'s traffic (same drift)."""
        p = self.params
        n = min(p.gate_holdout_rows, len(self.gate_pool))
        return day_traffic(self.gate_pool, day, n, p.drift_schedule(),
                           day_rng(p.seed + GATE_STREAM, day))


def load_world(settings: Settings) -> World:
    """The world from the prepared splits (``loopwatch prepare`` / the train flow)."""
    spec, splits = tabular.read_splits(prepared_dir(settings))
    params = ScenarioParams.from_settings(settings)
    test = splits["test"]
    order = np.random.default_rng(params.seed).permutation(len(test))
    n_gate = int(round(len(test) * params.gate_pool_fraction))
    gate = test.iloc[order[:n_gate]].reset_index(drop=True)
    pool = test.iloc[order[n_gate:]].reset_index(drop=True)
    return World(spec, splits["train"], splits["valid"], pool, gate, params)


def day_start(params: ScenarioParams, day: int) -> datetime:
    return datetime.combine(params.start_date, time(), tzinfo=UTC) + timedelta(days=day)


def decision_time(params: ScenarioParams, day: int) -> datetime:
    """When the day's applications are scored: midday, well inside the day's window."""
    return day_start(params, day) + timedelta(hours=12)


def day_end(params: ScenarioParams, day: int) -> datetime:
    """The end of the day's monitoring window (exclusive)."""
    return day_start(params, day + 1)


def scenario_dir(settings: Settings) -> Path:
    return settings.state_dir / "scenario"
