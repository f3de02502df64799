"""Registering a retrained challenger, and the promotion gate around it.

The challenger is trained through the one training path (``training.run.train_task``), so
its run carries the same params, per-epoch metrics, lineage tags (git commit, the DVC hash
of ``data/`` it trained on, params hash), provenance counts and the model as a pyfunc.

``gate_and_promote`` judges a registered challenger against the champion on one
fresh holdout (``gate.py``: accuracy AND fairness), logs both models' numbers, the
decision and its reasons to the challenger's run and model version, and moves the
``champion`` alias only when the gate says so, with the move in the audit trail.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any

import pandas as pd

from loopwatch.config import Settings
from loopwatch.tasks.tabular.spec import TabularSpec


def register_challenger(client, name: str, trained) -> str:
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
