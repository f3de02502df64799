"""The main job: the closed loop on the built-in scenario, embedded defaults, no server.

    python -m flows.closed_loop [--days N] [--fresh] [--offline]

ingest -> train -> deploy (the champion alias) -> day after day: outcomes arrive,
applicants are scored, the day is monitored, and a drift the policy acts on starts
the retrain flow, whose challenger replaces the champion only through the gate.
A second run continues from the state; --fresh starts over.
"""

from __future__ import annotations

import argparse
import os
import time
import traceback
from datetime import datetime

from prefect import flow, task

from flows.monitor import monitor
from flows.published import mlflow_run_link, publish
from flows.score import score
from flows.train import train_pipeline
from loopwatch.config import ConfigError, Settings
from loopwatch.runtime import quiet_library_logs, stderr_to
from loopwatch.simulation.scenario import report, steps
from loopwatch.simulation.scenario.params import ScenarioParams


@task(name="record-initial-generation")
def record_initial(settings: Settings):
    return steps.record_initial_generation(settings)


@task(name="record-day")
def record_day(settings: Settings, scored, monitored, generation):
    return steps.record_day(settings, scored, monitored, generation)


@task(name="apply-dashboards")
def apply_dashboards(settings: Settings) -> int:
    return steps.apply_dashboards(settings)


@task(name="log-summary")
def log_summary(settings: Settings, state) -> str:
    return report.log_summary(settings, state)


@flow(name="closed-loop")
def closed_loop(days: int | None = None, root: str | None = None, try_url: bool = True,
                progress: bool = True) -> dict:
    settings = Settings.load(root)
    quiet_library_logs()
    say = print if progress else (lambda *_, **__: None)
    if not steps.has_champion(settings):
        say("[loop] no champion yet: ingest + train (a few tens of seconds)", flush=True)
        train_pipeline(root, try_url)
    record_initial(settings)
    first = steps.load_state(settings).next_day
    count = days if days is not None else ScenarioParams.from_settings(settings).days
    for day in range(first, first + count):
        started = time.monotonic()
        scored = score(day, root)
        watched = monitor(day=day, root=root)
        record = record_day(settings, scored, watched["monitored"], watched["generation"])
        say(f"[loop] day {day:>3} ({day - first + 1}/{count}) v{record.model_version}: "
            f"drift share {record.drift_share:.2f}, accuracy {record.accuracy:.3f}, "
            f"decision {record.action}"
            + (f" -> generation {record.generation}" if record.generation else "")
            + f"  [{time.monotonic() - started:.1f} s]", flush=True)
    apply_dashboards(settings)  # the panels of dashboards/*.py on the model's Evidently project
    state = steps.load_state(settings)
    run_id = log_summary(settings, state)
    days_run = [d for d in state.days if d.day >= first]
    publish("closed-loop", f"Closed loop: days {first}-{first + count - 1}", [
        f"day {d.day}: v{d.model_version}, drift share {d.drift_share:.2f}, decision {d.action}"
        for d in days_run], {"MLflow summary run": mlflow_run_link(settings, run_id)})
    return {"state": state, "summary_run_id": run_id, "first_day": first}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--days", type=int, default=None, help="simulated days (default: params)")
    parser.add_argument("--fresh", action="store_true", help="forget the state and start over")
    parser.add_argument("--offline", action="store_true", help="skip the dataset's URL")
    args = parser.parse_args()
    try:
        settings = Settings.load()
    except ConfigError as exc:
        raise SystemExit(f"error: {exc}") from None
    if args.fresh:
        from loopwatch.simulation.scenario.reset import fresh_start

        removed = fresh_start(settings)
        print(f"[loop] --fresh: removed {len(removed)} state entries")
    started = time.monotonic()
    log = settings.state_dir / "logs" / f"closed-loop-{datetime.now():%Y%m%dT%H%M%S}.log"
    print(f"[loop] library logs and warnings: {log}", flush=True)
    # For the rest of the process: Prefect's embedded server says goodbye at interpreter
    # exit, and that belongs in the log too. The job's own lines go to stdout, errors too.
    os.close(stderr_to(log))
    try:
        out = closed_loop(days=args.days, try_url=not args.offline)
    except Exception as exc:  # the traceback is in the log; the console gets one line
        traceback.print_exc()
        print(f"error: {type(exc).__name__}: {exc}\n(full traceback: {log})", flush=True)
        raise SystemExit(1) from None
    print(report.format_summary(settings, out["state"], out["first_day"]))
    print(f"  summary run:   MLflow run {out['summary_run_id']} (experiment "
          f"{settings.experiment!r})\n  library log:   {log}\n"
          f"[loop] done in {time.monotonic() - started:.0f} s")


if __name__ == "__main__":
    main()
