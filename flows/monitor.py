"""Prefect flow: monitor a window of the prediction log; retrain when the policy says so.

``day`` given: that day of the built-in scenario's calendar; otherwise the last
``window`` of wall-clock time (`loopwatch deploy` runs it hourly and daily). With
``act`` on, a ``retrain`` decision starts the retrain flow: ``trigger="subflow"``
runs it in this process (the embedded main job, no server), ``"deployment"`` starts
the served ``retrain`` deployment with `run_deployment` (needs `loopwatch deploy`).
"""

from __future__ import annotations

from prefect import flow, get_run_logger, task
from prefect.deployments import run_deployment

from flows.published import mlflow_run_link, publish, report_link
from flows.retrain import retrain
from loopwatch.config import Settings
from loopwatch.runtime import quiet_library_logs
from loopwatch.simulation.scenario import steps

RETRAIN_DEPLOYMENT = "retrain/loopwatch-retrain"
TRIGGERS = ("subflow", "deployment")


@task(name="monitor-day")
def monitor_day(settings: Settings, day: int) -> steps.MonitoredDay:
    return steps.monitor_day(settings, day)


@task(name="monitor-window")
def monitor_window(settings: Settings, window: str) -> steps.MonitoredDay:
    return steps.monitor_recent(settings, window)


def _run_name() -> str:
    from prefect.runtime import flow_run

    day = flow_run.parameters.get("day")
    return f"monitor-day-{day}" if day is not None else \
        f"monitor-last-{flow_run.parameters.get('window', '1d')}"


@flow(name="monitor", flow_run_name=_run_name)
def monitor(day: int | None = None, window: str = "1d", act: bool = True,
            trigger: str = "subflow", root: str | None = None) -> dict:
    if trigger not in TRIGGERS:
        raise ValueError(f"trigger must be one of {TRIGGERS}, got {trigger!r}")
    settings = Settings.load(root)
    quiet_library_logs()
    seen = monitor_day(settings, day) if day is not None else monitor_window(settings, window)
    accuracy = ("not measured (no labels yet)" if seen.observed_accuracy is None
                else f"{seen.observed_accuracy:.3f}")
    publish("monitoring-window", f"Monitoring: model v{seen.model_version}", [
        f"{seen.rows} predictions of model v{seen.model_version}",
        f"drift share {seen.drift_share:.2f}"
        + (f" (drifted: {', '.join(seen.drifted_columns)})" if seen.drifted_columns else ""),
        f"accuracy of the labelled rows: {accuracy}",
        f"decision: {seen.action}", *(f"policy: {r}" for r in seen.reasons)],
        {"MLflow monitoring run": mlflow_run_link(settings, seen.run_id),
         "HTML report": report_link(seen.report)})
    out = {"monitored": seen, "generation": None, "retrain_flow_run": None}
    if not (act and seen.action == "retrain"):
        return out
    reason = "; ".join(r for r in seen.reasons if "active" in r) or seen.action
    get_run_logger().warning("retraining policy says retrain: %s", reason)
    started = start_retrain(day, reason, trigger, root, window)
    out["generation" if trigger == "subflow" else "retrain_flow_run"] = started
    return out


def start_retrain(day: int | None, reason: str, trigger: str, root: str | None,
                  window: str = "1d"):
    """Run the retrain flow here (``subflow``: its result) or start the served deployment
    (``deployment``: the new flow run's id; this flow does not wait for it)."""
    if trigger == "subflow":
        return retrain(day=day, reason=reason, window=window, root=root)
    run = run_deployment(RETRAIN_DEPLOYMENT, parameters={"day": day, "reason": reason,
                                                         "window": window, "root": root},
                         timeout=0, as_subflow=False)
    return str(run.id)
