"""Prefect flow: one day of production traffic in the built-in scenario.

Outcomes due today arrive first (into the prediction log and data/feedback/), then
today's applicants are scored by the champion through the batch scorer, every
decision logged. Task bodies only call loopwatch.
"""

from __future__ import annotations

from prefect import flow, task

from flows.published import publish
from loopwatch.config import Settings
from loopwatch.simulation.scenario import steps


@task(name="score-day")
def score_day(settings: Settings, day: int) -> steps.ScoredDay:
    return steps.score_day(settings, day)


@flow(name="score", flow_run_name="score-day-{day}")
def score(day: int, root: str | None = None) -> steps.ScoredDay:
    out = score_day(Settings.load(root), day)
    d = out.served
    publish("scoring", f"Scoring: day {day}", [
        f"{d['applicants']} applicants scored by v{d['model_version']}: {d['approved']} "
        f"approved, {d['explored']} explored",
        f"{out.labels_arrived} outcomes of earlier decisions arrived; {d['revealed']} of "
        "today's will be revealed"], {})
    return out
