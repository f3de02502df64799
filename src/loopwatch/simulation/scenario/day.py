"""One day of production: outcomes due today arrive, today's applicants are scored.

Scoring goes through the real batch scorer (``serving.batch.score_file``) with the
champion as the service loads it, so every decision lands in the prediction log
with its propensity and exploration flag, stamped with the scenario's calendar.
The decisions are then acted on (``simulation.lending``): only approved or
explored applicants ever get an outcome, ``label_delay_days`` later.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd

from loopwatch.config import Settings
from loopwatch.feedback import APPROVE, append_feedback_rows, feedback_items
from loopwatch.simulation import lending
from loopwatch.simulation.scenario import state as st
from loopwatch.simulation.scenario.params import ScenarioParams
from loopwatch.simulation.scenario.world import World, day_start, decision_time, scenario_dir
from loopwatch.simulation.traffic import DECISION_STREAM, day_rng


@dataclass(frozen=True)
class ServedDay:
    day: int
    model_version: str
    applicants: int
    approved: int
    explored: int
    revealed: int  # outcome labels this day's decisions will reveal (after the delay)
    accuracy: float  # greedy calls vs the true outcome of every applicant


def traffic_paths(settings: Settings, day: int) -> tuple[Path, Path]:
    folder = scenario_dir(settings) / "traffic"
    return folder / f"day={day:03d}.parquet", folder / f"day={day:03d}.scored.parquet"


def serve_day(settings: Settings, world: World, champion, store, day: int) -> ServedDay:
    """Score ``day``'s applicants with ``champion``; queue the outcomes the decisions reveal.

    A day whose scored file already exists is not scored again (a re-run after a crash
    must not log the same applicants twice).
    """
    from loopwatch.serving.policy import DecisionPolicy
    from loopwatch.tasks.tabular.batch import score_file

    params = ScenarioParams.from_settings(settings)
    applicants = world.applicants(day)
    target = world.spec.target
    inputs_path, scored_path = traffic_paths(settings, day)
    if not scored_path.exists():
        inputs_path.parent.mkdir(parents=True, exist_ok=True)
        applicants.drop(columns=[target]).to_parquet(inputs_path, index=False)
        policy = DecisionPolicy(threshold=settings.params.serving.threshold,
                                epsilon=params.epsilon)
        score_file(inputs_path, scored_path, champion, store, policy,
                   rng=day_rng(params.seed + DECISION_STREAM, day), progress=False,
                   now=decision_time(params, day))
    scored = pd.read_parquet(scored_path)
    outcomes = lending.observe_outcomes(applicants, scored, day, params.label_delay_days,
                                        target=target)
    st.save_pending(scenario_dir(settings), outcomes.rows, day)
    truth = world.spec.labels(applicants)
    greedy = (scored[f"prob_{world.spec.positive_label}"].to_numpy()
              >= settings.params.serving.threshold).astype(np.int64)
    return ServedDay(day, str(scored["model_version"].iloc[0]), len(scored),
                     int((scored["decision"] == APPROVE).sum()),
                     int(scored["explored"].astype(bool).sum()), len(outcomes),
                     float((greedy == truth).mean()))


def deliver_labels(settings: Settings, store, day: int, target: str = "income") -> int:
    """Outcomes due by ``day``: into the prediction log (joined by prediction id) and,
    with their provenance, into ``data/feedback/`` for the next retraining."""
    folder = scenario_dir(settings)
    rows, files = st.due_pending(folder, day)
    if not len(rows):
        return 0
    feedback = pd.DataFrame({"prediction_id": rows["prediction_id"],
                             "label": rows[target],
                             "origin": rows["origin"]})
    arrived = day_start(ScenarioParams.from_settings(settings), day)
    store.add_feedback(feedback_items(feedback, arrived_at=arrived), now=arrived)
    append_feedback_rows(settings.data_dir, rows, day)
    for path in files:  # only now: a crash before this line delivers them again (idempotent)
        path.unlink(missing_ok=True)
    return len(rows)
