"""Training a logged model run, retraining a challenger, and the promotion gate around it.

``train_logged`` is the one way a model gets trained and tracked: the first model
(``pipeline.train``) and every retrained challenger go through it, so each run
carries the same params, per-epoch metrics, lineage tags (git commit, the DVC hash
of ``data/`` it trained on, params hash) and the model as a pyfunc.

``gate_and_promote`` judges a registered challenger against the champion on one
fresh holdout (``gate.py``: accuracy AND fairness), logs both models' numbers, the
decision and its reasons to the challenger's run and model version, and moves the
``champion`` alias only when the gate says so, with the move in the audit trail.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import pandas as pd

from loopwatch.config import Settings, TrainParams
from loopwatch.data.tabular import TabularSpec
from loopwatch.simulation.lending import ORGANIC

ORIGIN = "origin"


@dataclass
class TrainedRun:
    run_id: str
    model_uri: str
    experiment_id: str
    best_metrics: dict[str, float]
    epochs_run: int
    data_version: str


def rows_by_origin(frame: pd.DataFrame) -> dict[str, int]:
    """Training rows per provenance origin; rows without one are organic."""
    if ORIGIN not in frame.columns:
        return {ORGANIC: len(frame)}
    counts = frame[ORIGIN].fillna(ORGANIC).value_counts()
    return {str(k): int(v) for k, v in counts.items()}


def train_logged(settings: Settings, spec: TabularSpec, train: pd.DataFrame,
                 valid: pd.DataFrame, *, run_name: str, stage: str,
                 train_params: TrainParams | None = None,
                 tags: Mapping[str, str] | None = None) -> TrainedRun:
    """Fit on ``train`` (early stopping on ``valid``) inside a fully logged MLflow run."""
    import mlflow

    from loopwatch.pipeline import flatten
    from loopwatch.training import tracking
    from loopwatch.training.fit import fit_tabular
    from loopwatch.training.pyfunc import log_tabular_model

    params = train_params or settings.params.train
    client = tracking.configure(settings)
    with mlflow.start_run(run_name=run_name) as run:
        lineage = tracking.lineage_tags(settings)
        mlflow.set_tags({**lineage, tracking.TAG_STAGE: stage,
                         "loopwatch.dataset": settings.params.data.dataset, **(tags or {})})
        mlflow.log_params(flatten({"data": settings.params.data.model_dump(),
                                   "train": params.model_dump()}))
        mlflow.log_params({"model.inputs": ",".join(spec.inputs), "model.format": "pyfunc"})
        origins = rows_by_origin(train)
        decided = sum(n for origin, n in origins.items() if origin != ORGANIC)
        # DESIGN §5 metric 1: the share of training labels that exist only because a
        # model decision made them observable.
        mlflow.log_metrics({**{f"rows.{k}": v for k, v in origins.items()},
                            "rows.train": len(train), "rows.valid": len(valid),
                            "decision_dependent_label_share": decided / max(len(train), 1)})
        result = fit_tabular(
            spec, train, valid, params,
            checkpoint_dir=settings.state_dir / "checkpoints" / run.info.run_id,
            callbacks=[tracking.MlflowEpochLogger(client, run.info.run_id)],
        )
        mlflow.log_metrics(result.best_metrics)
        mlflow.set_tag("loopwatch.best_checkpoint", result.best_checkpoint or "none")
        info = log_tabular_model(result.predictor, train)
    return TrainedRun(run.info.run_id, info.model_uri, run.info.experiment_id,
                      result.best_metrics, len(result.history), lineage[tracking.TAG_DATA])


def register_challenger(client, name: str, trained: TrainedRun) -> str:
    """A new model version with the ``challenger`` alias; the champion is untouched."""
    from mlflow.exceptions import MlflowException

    from loopwatch.training.gate import move_alias
    from loopwatch.training.registry import CHALLENGER

    try:
        client.get_registered_model(name)
    except MlflowException:
        client.create_registered_model(name, description="Registered by loopwatch; "
                                       "serving loads the alias 'champion'.")
    version = str(client.create_model_version(name, trained.model_uri,
                                              run_id=trained.run_id).version)
    move_alias(client, name, CHALLENGER, version, f"retrained (run {trained.run_id})")
    client.set_tag(trained.run_id, "registered_model", f"{name}/{version}")
    return version


@dataclass
class GateOutcome:
    promote: bool
    reasons: list[str]
    table: dict[str, dict[str, Any]]
    champion_version: str | None  # before the gate
    challenger_version: str
    champion_after: str
    holdout_rows: int


def gate_and_promote(settings: Settings, client, name: str, challenger_version: str,
                     holdout: pd.DataFrame, spec: TabularSpec) -> GateOutcome:
    """Measure champion and challenger on ``holdout``; promote only if the gate passes."""
    import mlflow

    from loopwatch.serving.predictor import load_version
    from loopwatch.training.gate import (
        GateTolerances,
        gate,
        measure,
        move_alias,
        positive_scores,
    )
    from loopwatch.training.gate_noise import worse_lower_bounds
    from loopwatch.training.registry import CHAMPION, current_champion

    threshold = settings.params.serving.threshold
    mon, g = settings.params.monitoring, settings.params.gate
    loaded = {}

    def numbers(version: str):
        loaded[version] = load_version(settings.tracking_uri, name, version, alias=None).predictor
        return measure(loaded[version], holdout, spec, threshold,
                       min_group_size=mon.min_group_size, n_boot=200, seed=mon.seed,
                       model_version=version)

    champion_mv = current_champion(client, name)
    old = None if champion_mv is None else str(champion_mv.version)
    champion = None if old is None else numbers(old)
    challenger = numbers(challenger_version)
    bounds = None
    if champion is not None and g.n_boot:
        def calls(version: str):
            return positive_scores(loaded[version], holdout, spec) >= threshold

        bounds = worse_lower_bounds(
            spec.labels(holdout), calls(old), calls(challenger_version),
            {a: holdout[a].to_numpy() for a in spec.sensitive},
            min_group_size=mon.min_group_size, n_boot=g.n_boot, level=g.noise_level,
            seed=mon.seed)
    decision = gate(champion, challenger, GateTolerances(
        g.accuracy_tolerance, g.fairness_tolerance, g.disparate_impact_floor), bounds)
    run_id = client.get_model_version(name, challenger_version).run_id
    verdict = "promoted" if decision.promote else "rejected"
    metrics = {"gate.holdout_rows": float(len(holdout)),
               # the monitor's accuracy baseline for this version (registry.metric)
               settings.params.registry.metric: challenger.accuracy}
    for key, row in decision.table.items():
        for who in ("champion", "challenger"):
            if row.get(who) is not None:
                metrics[f"gate.{who}.{key}"] = float(row[who])
    with mlflow.start_run(run_id=run_id):
        mlflow.log_metrics(metrics)
        mlflow.set_tags({"gate.decision": verdict, "gate.champion_version": old or "none",
                         "gate.reasons": "; ".join(decision.reasons)[:5000]})
        mlflow.log_dict({"decision": verdict, "reasons": decision.reasons,
                         "table": decision.table, "champion_version": old,
                         "challenger_version": challenger_version,
                         "holdout_rows": len(holdout)}, "gate/decision.json")
    client.set_model_version_tag(name, challenger_version, "gate.decision", verdict)
    after = old
    if decision.promote:
        move_alias(client, name, CHAMPION, challenger_version,
                   f"gate passed: {'; '.join(decision.reasons)}")
        after = challenger_version
    return GateOutcome(decision.promote, list(decision.reasons),
                       json.loads(json.dumps(decision.table, default=float)), old,
                       challenger_version, after or challenger_version, len(holdout))
