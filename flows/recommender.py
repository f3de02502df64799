"""Prefect flows for the MovieLens recommender: train it, and watch its served loop.

    python -m flows.recommender            (fetch + version, train + register, simulate)

Orchestration only: every task body is one call into ``loopwatch.tasks.recsys``. ``loopwatch
deploy`` serves ``recommender-train`` (by hand) and ``recommender-monitor`` (daily: the
last day of logged slates and ratings, ``loopwatch recsys monitor``'s work).
"""

from __future__ import annotations

from prefect import flow, task

from loopwatch.config import Settings
from loopwatch.runtime import quiet_library_logs


@task(name="fetch-movielens")
def fetch(settings: Settings, try_url: bool) -> str:
    from loopwatch.tasks.recsys import pipeline

    version = pipeline.fetch(settings, try_url=try_url)
    return version.md5


@task(name="train-recommender")
def train(settings: Settings) -> dict:
    from loopwatch.tasks.recsys.task import train as train_recommender

    report = train_recommender(settings)
    return {"run_id": report.run_id, "version": report.version, "promoted": report.promoted,
            "test_rmse": report.metrics["test_rmse"]}


@task(name="simulate-recommender-loop")
def simulate(settings: Settings, generations: int | None) -> dict:
    from loopwatch.simulation.recommender.experiment import simulate_settings

    run, out = simulate_settings(settings, generations)
    return {"loop_suspected": run.alert.suspected, "reasons": run.alert.reasons,
            "simulation_run_id": out["run_id"]}


@flow(name="recommender-train")
def recommender_train(root: str | None = None, try_url: bool = True, simulate_loop: bool = True,
                      generations: int | None = None) -> dict:
    settings = Settings.load(root)
    quiet_library_logs()
    out = {"data_version": fetch(settings, try_url), **train(settings)}
    if simulate_loop:
        out |= simulate(settings, generations)
    return out


@flow(name="recommender-monitor")
def recommender_monitor(window: str = "1d", root: str | None = None) -> dict:
    from loopwatch.tasks.recsys.live import monitor_live

    settings = Settings.load(root)
    quiet_library_logs()
    out = monitor_live(settings, window=window)
    return {"rows": out.rows, "run_id": out.run_id, **out.metrics}


if __name__ == "__main__":
    result = recommender_train()
    for key, value in result.items():
        print(f"{key:<22} {value}")
