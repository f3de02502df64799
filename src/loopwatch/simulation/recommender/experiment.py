"""`loopwatch recsys simulate`: run the loop's arms, judge them, and record the results.

``simulate`` is pure computation (world, arms, alert, plot) and returns a ``LoopRun``;
``record`` stores it like the other simulators and like monitoring does: one MLflow run in
``loopwatch-simulations`` with every per-generation metric at step = generation, the PNG
and the alert's evidence; an Evidently recsys snapshot plus a headline snapshot per
generation in the workspace, with the panels of ``dashboards/recommender.py``.
"""

from __future__ import annotations

import importlib.util
import json
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from loopwatch.monitoring.feedback_loop import LoopAlert
from loopwatch.monitoring.recsys_loop import detect_recsys_loop
from loopwatch.simulation.experiments import ExperimentReport
from loopwatch.simulation.recommender.loop import ArmResult, Trainer, World, build_world, run_arm
from loopwatch.tasks.recsys.data import MovieLens
from loopwatch.tasks.recsys.params import RecsysParams

EPOCH = datetime(2025, 1, 1, tzinfo=UTC)  # generation g is stamped EPOCH + g days in the UI
HEADLINE = ("jaccard", "slate_jaccard", "exposure_gini", "exposure_coverage",
            "popularity_lift", "popularity_lift_gap", "rec_popularity", "rec_popularity_live",
            "train_popularity", "rmse")


@dataclass
class LoopRun:
    world: World
    arms: dict[str, ArmResult]
    alert: LoopAlert  # the model arm against the random arm
    control: LoopAlert  # the random arm on its own: should stay quiet
    report: ExperimentReport


def fit_collab(ml: MovieLens, ratings: pd.DataFrame, params: RecsysParams):
    """The recsys task's untracked fit (``fit_task``) on ``ratings`` over the whole
    catalogue of ``ml`` (items nobody rated yet still get a row), no validation split,
    quietly; returns its predictor."""
    from loopwatch.tasks.recsys.fit import quiet
    from loopwatch.tasks.recsys.task import RecsysSplits, RecsysTask
    from loopwatch.training.run import fit_task

    splits = RecsysSplits(ml, {"train": ratings, "valid": ratings.iloc[:0]})
    with quiet():
        return fit_task(RecsysTask(), splits, params).predictor


def fit_truth(ml: MovieLens, p: RecsysParams) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """The oracle: a collab model fitted to all 100k ratings; returns (truth, users, items)."""
    predictor = fit_collab(ml, ml.ratings, p.model_copy(update={"enable_progress_bar": False}))
    users = np.asarray(predictor.users.ids)
    return predictor.score_matrix(users), users, np.asarray(predictor.items.ids)


def collab_trainer(p: RecsysParams, ml: MovieLens) -> Trainer:
    """Retrain from scratch each generation (same seed), on the whole catalogue."""
    params = p.model_copy(update={"max_epochs": p.loop.max_epochs,
                                  "enable_progress_bar": False})

    def train(log: pd.DataFrame, generation: int):
        return fit_collab(ml, log, params)

    return train


def simulate(ml: MovieLens, p: RecsysParams, out_dir: Path) -> LoopRun:
    lp = p.loop
    matrix, users, items = fit_truth(ml, p)
    gender = ml.users.set_index("user_id").loc[users, "gender"].to_numpy()
    world = build_world(matrix, users, items, gender, ml.ratings, lp)
    trainer = collab_trainer(p, ml)
    arms = {arm: run_arm(world, arm, lp, trainer) for arm in lp.arms}
    random = arms["random"].metrics if "random" in arms else None
    alert = detect_recsys_loop(arms["model"].metrics, random) if "model" in arms \
        else LoopAlert(False)
    control = detect_recsys_loop(random) if random is not None else LoopAlert(False)
    metrics: dict[str, float] = {}
    for arm, result in arms.items():
        frame = result.metrics
        for column in HEADLINE:
            if column in frame and frame[column].notna().all():
                metrics[f"{arm}.{column}.first"] = float(frame[column].iloc[0])
                metrics[f"{arm}.{column}.last"] = float(frame[column].iloc[-1])
    if {"model", "ideal"} <= arms.keys():  # Chaney's normalisation: relative to the ideal
        ratio = arms["model"].metrics["jaccard"] / arms["ideal"].metrics["jaccard"]
        metrics["homogenisation_vs_ideal.first"] = float(ratio.iloc[0])
        metrics["homogenisation_vs_ideal.last"] = float(ratio.iloc[-1])
        # The loop's own share of the popularity rise: the ideal's data concentrates too
        # (true tastes overlap), so the excess over it is what retraining added.
        ratio = arms["model"].metrics["train_popularity"] / arms["ideal"].metrics[
            "train_popularity"]
        metrics["train_popularity_vs_ideal.first"] = float(ratio.iloc[0])
        metrics["train_popularity_vs_ideal.last"] = float(ratio.iloc[-1])
    metrics["loop_suspected"] = float(alert.suspected)
    metrics["random_arm_loop_suspected"] = float(control.suspected)
    from loopwatch.simulation.recommender.plots import plot_recsys_loop

    out_dir.mkdir(parents=True, exist_ok=True)
    figure = plot_recsys_loop({a: r.metrics for a, r in arms.items()},
                              out_dir / "recommender_loop.png")
    params = {**lp.model_dump(), "model.kind": p.kind, "model.n_factors": p.n_factors}
    series = {arm: r.metrics.drop(columns="generation") for arm, r in arms.items()}
    report = ExperimentReport("recommender", params, metrics, [figure], series)
    return LoopRun(world, arms, alert, control, report)


def simulate_settings(settings, generations: int | None = None, *, track: bool = True
                      ) -> tuple[LoopRun, dict[str, Any]]:
    """What ``loopwatch recsys simulate`` and the recommender flow run: the loop on the
    fetched MovieLens with ``recsys`` params (``generations`` overrides the loop's), recorded
    to MLflow and the workspace unless ``track`` is False."""
    from loopwatch.tasks.recsys import pipeline
    from loopwatch.tasks.recsys.data import load

    p = RecsysParams.from_settings(settings)
    if generations is not None:
        p = p.model_copy(update={"loop": p.loop.model_copy(update={"generations": generations})})
    run = simulate(load(pipeline.raw_dir(settings)), p, settings.state_dir / "simulations")
    return run, (record(run, settings) if track else {})


def record(run: LoopRun, settings) -> dict[str, Any]:
    """MLflow run (metrics per generation, plot, alert) and Evidently snapshots."""
    import mlflow

    from loopwatch.simulation.experiments import log_report
    from loopwatch.training import tracking

    run_id = log_report(run.report, settings.tracking_uri, settings.artifact_dir)
    with mlflow.start_run(run_id=run_id):
        mlflow.set_tags({**tracking.lineage_tags(settings),
                         "loopwatch.alert": "feedback loop suspected" if run.alert.suspected
                         else "none"})
        mlflow.log_dict({"model_vs_random": _alert_dict(run.alert),
                         "random_alone": _alert_dict(run.control)}, "alerts/recommender.json")
    return {"run_id": run_id, "snapshots": add_snapshots(run, settings)}


def _alert_dict(alert: LoopAlert) -> dict:
    return json.loads(json.dumps({"suspected": alert.suspected, "reasons": alert.reasons,
                                  "evidence": alert.evidence}, default=float))


def add_snapshots(run: LoopRun, settings) -> int:
    """Per generation of the model arm: Evidently's recsys report and our headline numbers
    (both arms), stamped EPOCH + g days, in the project ``<model_name>-loop``."""
    from loopwatch.monitoring.drift import headline_snapshot
    from loopwatch.monitoring.recsys_report import recsys_report
    from loopwatch.monitoring.window import workspace_path
    from loopwatch.monitoring.workspace import apply_dashboard, open_workspace, project_for

    p = RecsysParams.from_settings(settings)
    workspace = open_workspace(workspace_path(settings))
    project = project_for(workspace, f"{p.model_name}-loop")
    model = run.arms["model"]
    count = 0
    for g, slates in enumerate(model.slates):
        when = EPOCH + timedelta(days=g)
        seen = model.log[model.log["generation"] < g]
        meta = {"generation": str(g), "arm": "model"}
        snaps = [recsys_report(slates, seen, p.loop.k, timestamp=when,
                               tags=["recsys", "loop"], metadata=meta)]
        values = {f"{arm}.{c}": float(v) for arm, r in run.arms.items()
                  for c, v in r.metrics.iloc[g].items() if c != "generation" and np.isfinite(v)}
        values["loop_suspected"] = float(run.alert.suspected)
        snaps.append(headline_snapshot(values, timestamp=when, tags=["recsys", "headline"],
                                       metadata=meta))
        for snap in snaps:
            workspace.add_run(project.id, snap, include_data=False)
            count += 1
    panels = load_recommender_panels(settings.root / "dashboards", p.loop.k)
    if panels:
        apply_dashboard(workspace, project, panels)
    return count


def load_recommender_panels(folder: Path, k: int) -> list:
    """``recommender_panels(k)`` of ``dashboards/recommender.py`` (loaded by path).

    A name other than ``panels`` on purpose: ``loopwatch dashboards`` applies every
    ``panels()`` under dashboards/ to the tabular model's project.
    """
    file = folder / "recommender.py"
    if not file.exists():
        return []
    spec = importlib.util.spec_from_file_location("loopwatch_dashboards_recommender", file)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module.recommender_panels(k=k)
