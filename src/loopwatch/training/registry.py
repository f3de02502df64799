"""Model registry: every run's model is registered; ``champion`` moves only on merit.

The alias ``challenger`` marks the newest candidate; ``champion`` (what serving
loads) moves to it only when it beats the current champion on the chosen test
metric by more than ``min_delta``. The first model becomes champion. The decision
and its reason are written on the run and on the model version.
"""

from __future__ import annotations

from dataclasses import dataclass

from mlflow.exceptions import MlflowException
from mlflow.tracking import MlflowClient

CHAMPION, CHALLENGER = "champion", "challenger"


@dataclass(frozen=True)
class PromotionDecision:
    promote: bool
    reason: str
    candidate: float
    champion: float | None


def decide_promotion(candidate: float, champion: float | None, metric: str,
                     min_delta: float = 0.0) -> PromotionDecision:
    """Pure rule (higher is better): promote the first model, or one that beats the champion."""
    if candidate != candidate:  # NaN never wins
        return PromotionDecision(False, f"candidate {metric} is NaN", candidate, champion)
    if champion is None:
        reason = f"no champion yet; {metric}={candidate:.4f}"
        return PromotionDecision(True, reason, candidate, None)
    margin = candidate - champion
    if margin > min_delta:
        return PromotionDecision(
            True, f"{metric} {candidate:.4f} beats champion {champion:.4f} by {margin:+.4f} "
                  f"(> {min_delta})", candidate, champion)
    return PromotionDecision(
        False, f"{metric} {candidate:.4f} does not beat champion {champion:.4f} by more than "
               f"{min_delta} (margin {margin:+.4f})", candidate, champion)


@dataclass(frozen=True)
class Registration:
    name: str
    version: str
    decision: PromotionDecision
    champion_version: str


def current_champion(client: MlflowClient, name: str):
    try:
        return client.get_model_version_by_alias(name, CHAMPION)
    except MlflowException:
        return None


def ensure_registered(client: MlflowClient, name: str) -> None:
    try:
        client.get_registered_model(name)
    except MlflowException:
        client.create_registered_model(name, description="Registered by loopwatch; "
                                       "serving loads the alias 'champion'.")


def register_and_promote(client: MlflowClient, name: str, model_uri: str, run_id: str,
                         metric: str, min_delta: float = 0.0) -> Registration:
    ensure_registered(client, name)
    candidate_metric = client.get_run(run_id).data.metrics.get(metric)
    if candidate_metric is None:
        raise ValueError(f"run {run_id} has no metric {metric!r}: evaluate the run before "
                         "registering it (`loopwatch evaluate`)")
    champion = current_champion(client, name)
    champion_metric = None
    if champion is not None:
        champion_metric = client.get_run(champion.run_id).data.metrics.get(metric)
    version = client.create_model_version(name, model_uri, run_id=run_id).version
    client.set_registered_model_alias(name, CHALLENGER, version)
    decision = decide_promotion(candidate_metric, champion_metric, metric, min_delta)
    if decision.promote:
        client.set_registered_model_alias(name, CHAMPION, version)
    tags = {"promotion.decision": "promoted" if decision.promote else "rejected",
            "promotion.reason": decision.reason,
            "promotion.previous_champion": champion.version if champion else "none"}
    for key, value in tags.items():
        client.set_tag(run_id, key, value)
        client.set_model_version_tag(name, version, key, value)
    client.set_tag(run_id, "registered_model", f"{name}/{version}")
    champion_version = version if decision.promote else champion.version
    return Registration(name, str(version), decision, str(champion_version))


def register_challenger(client, name: str, trained) -> str:
    """A new model version with the ``challenger`` alias; the champion is untouched."""
    from loopwatch.training.gate import move_alias

    ensure_registered(client, name)
    version = str(client.create_model_version(name, trained.model_uri,
                                              run_id=trained.run_id).version)
    move_alias(client, name, CHALLENGER, version, f"retrained (run {trained.run_id})")
    client.set_tag(trained.run_id, "registered_model", f"{name}/{version}")
    return version
