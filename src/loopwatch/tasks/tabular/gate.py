"""The tabular task's side of the promotion gate: measure a binary model's accuracy and
fairness gaps on the gate's holdout, and run the champion/challenger decision.

The rule itself (accuracy AND every fairness gap, with the paired bootstrap's noise
allowance) is ``training.gate``; this module measures a tabular model for it, logs both
models' numbers, the decision and its reasons to the challenger's run and model version,
and moves the ``champion`` alias only when the gate says so, with the move in the audit
trail.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd

from loopwatch.config import Settings
from loopwatch.monitoring import fairness
from loopwatch.tasks.tabular.spec import TabularSpec
from loopwatch.training.gate import GAP_NAMES, GateInput, holdout_digest

ScoreFn = Callable[[pd.DataFrame], np.ndarray]


def positive_scores(model: Any, frame: pd.DataFrame, spec: TabularSpec) -> np.ndarray:
    """P(positive) for each row from a ``Champion``, a predictor with ``predict_proba``
    (frame in, (n, 2) out) or a plain function of the input frame ((n, 2) or (n,))."""
    from loopwatch.tasks.tabular.champion import Champion

    inputs = frame[list(spec.inputs)]
    if isinstance(model, Champion):  # served models score JSON-like records, None = missing
        records = inputs.astype(object)
        proba = model.predict_proba(records.where(records.notna(), None).to_dict("records"))
    elif hasattr(model, "predict_proba"):
        proba = model.predict_proba(inputs)
    elif callable(model):
        proba = model(inputs)
    else:
        raise TypeError(f"cannot score with {type(model).__name__}: pass a Champion, a "
                        "predictor with predict_proba, or a function of a DataFrame")
    proba = np.asarray(proba, dtype=np.float64)
    return proba[:, 1] if proba.ndim == 2 else proba


def measure(model: Any, holdout: pd.DataFrame, spec: TabularSpec, threshold: float = 0.5,
            *, min_group_size: int = 50, n_boot: int = 200, seed: int = 0,
            model_version: str | None = None) -> GateInput:
    """Accuracy and the fairness gaps of thresholded predictions on ``holdout``.

    ``threshold`` is the serving policy's (greedy decisions, no exploration): the
    gate judges what the model would decide. Groups below ``min_group_size`` labelled
    rows give no gap (None), as in monitoring.
    """
    if len(holdout) == 0:
        raise ValueError("the gate's holdout is empty")
    y = spec.labels(holdout)
    pred = (positive_scores(model, holdout, spec) >= threshold).astype(np.int64)
    gaps: dict[str, dict[str, float | None]] = {}
    for attribute in spec.sensitive:
        frame = pd.DataFrame({attribute: holdout[attribute].to_numpy(), "label": y,
                              "prediction": pred})
        result = fairness.group_fairness(fairness.cell_counts(frame, attribute), attribute,
                                         min_group_size, n_boot=n_boot, seed=seed)
        gaps[attribute] = {name: result.gaps[name].value for name in GAP_NAMES}
    return GateInput(accuracy=float((pred == y).mean()), gaps=gaps, n_rows=len(holdout),
                     holdout_digest=holdout_digest(holdout), model_version=model_version)


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

    from loopwatch.tasks.tabular.champion import load_version
    from loopwatch.training.gate import GateTolerances, gate, move_alias
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
