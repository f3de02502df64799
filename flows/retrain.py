"""Prefect flow: version the newest data, train a challenger on it, gate it, maybe promote.

Started by the monitor flow when the retraining policy says so: as a subflow in the
embedded main job, through `run_deployment` when deployments are served
(`loopwatch deploy`).
"""

from __future__ import annotations

from loopwatch.config import Settings
from loopwatch.runtime import apply_embedded_env, quiet_library_logs

apply_embedded_env(Settings.load())  # before Prefect is imported: it reads these at import

from prefect import flow, task  # noqa: E402

from loopwatch.simulation.scenario import state, steps  # noqa: E402


@task(name="retrain-and-gate")
def retrain_and_gate(settings: Settings, day: int, reason: str) -> state.GenerationRecord:
    return steps.retrain(settings, day, reason)


@flow(name="retrain", flow_run_name="retrain-day-{day}")
def retrain(day: int | None = None, reason: str = "requested",
            root: str | None = None) -> state.GenerationRecord:
    settings = Settings.load(root)
    quiet_library_logs()
    if day is None:  # a scheduled or manual run: the scenario's latest day
        day = max(steps.load_state(settings).next_day - 1, 0)
    return retrain_and_gate(settings, day, reason)
