"""Prefect flow: version the newest data, train a challenger on it, gate it, maybe promote.

Started by the monitor flow when the retraining policy says so: as a subflow in the
embedded main job, through `run_deployment` when deployments are served
(`loopwatch deploy`). ``day`` given: that day of the built-in scenario's calendar;
otherwise a production retrain on wall-clock time and the registry (the last ``window``
of traffic is the new model's monitoring reference).
"""

from __future__ import annotations

from prefect import flow, task
from prefect.runtime import flow_run

from flows.published import mlflow_run_link, publish
from loopwatch.config import Settings
from loopwatch.runtime import quiet_library_logs


def _run_name() -> str:
    day = flow_run.parameters.get("day")
    window = flow_run.parameters.get("window", "1d")
    return f"retrain-day-{day}" if day is not None else f"retrain-last-{window}"


@task(name="retrain-scenario-day")
def retrain_day(settings: Settings, day: int, reason: str):
    from loopwatch.simulation.scenario import steps

    return steps.retrain(settings, day, reason)


@task(name="retrain-and-gate")
def retrain_recent(settings: Settings, reason: str, window: str):
    from loopwatch.tasks.tabular.retrain import retrain_recent as run

    return run(settings, reason, window)


@flow(name="retrain", flow_run_name=_run_name)
def retrain(day: int | None = None, reason: str = "requested", window: str = "1d",
            root: str | None = None):
    settings = Settings.load(root)
    quiet_library_logs()
    if day is None:
        out = retrain_recent(settings, reason, window)
        version, run_id, promoted, reasons = (out.challenger_version, out.run_id, out.promoted,
                                              out.reasons)
    else:
        out = retrain_day(settings, day, reason)
        version, run_id, promoted, reasons = (out.model_version, out.run_id, out.promoted,
                                              out.gate_reasons)
    publish("retraining", f"Retraining: challenger v{version}", [
        f"why: {reason}", f"gate: {'PROMOTED' if promoted else 'refused'}",
        *(f"gate: {r}" for r in reasons)], {"MLflow run": mlflow_run_link(settings, run_id)})
    return out
