"""The champion/challenger promotion gate: accuracy AND fairness, on the same fresh holdout.

``registry.decide_promotion`` compares one test metric. After a drift-triggered
retrain that is not enough: a challenger fitted on decision-revealed labels can
gain accuracy by leaning harder on a group it already disfavours. So the gate
compares both models on the SAME holdout (recent labelled traffic the challenger
did not train on) and promotes only when the challenger

- loses no more than ``accuracy_tolerance`` of accuracy, and
- widens no fairness gap by more than ``fairness_tolerance`` for any sensitive
  attribute: demographic-parity and equal-opportunity differences (larger is
  worse), disparate-impact ratio (smaller is worse), and optionally
- keeps every disparate-impact ratio at or above ``disparate_impact_floor``
  (0.8 = the four-fifths rule; off by default: Adult models sit far below it for
  ``sex``, and an absolute floor would then block every promotion).

A gap the champion has but the challenger cannot be measured on (a group too
small) refuses promotion: the gate fails closed. ``measure`` computes the inputs
with fairlearn through ``loopwatch.monitoring.fairness`` so the gate, the monitor
and the dashboards name and compute the gaps alike.

Every alias move is recorded (``record_alias_change``) where the MLflow UI shows
it: a JSON list in the registered model's tag ``loopwatch.alias_history`` (the
latest events, bounded to what a registry tag may hold) and tags on the model
versions involved (the durable per-version record).
"""

from __future__ import annotations

import hashlib
import json
import math
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

import pandas as pd

from loopwatch.monitoring import fairness

# Gap names as the monitor reports them; "higher is worse" except the ratio.
LOWER_IS_WORSE = {fairness.DI}
SLACK = 1e-9  # a difference equal to the tolerance passes despite float rounding
GAP_NAMES = (fairness.DP, fairness.EO, fairness.DI)


@dataclass(frozen=True)
class GateInput:
    """One model's numbers on the gate's holdout.

    ``gaps``: sensitive attribute -> gap name (``GAP_NAMES``) -> value, None where a
    group was too small to give one. ``holdout_digest`` identifies the rows measured
    on, so the gate can refuse to compare numbers from different holdouts.
    """

    accuracy: float
    gaps: Mapping[str, Mapping[str, float | None]]
    n_rows: int = 0
    holdout_digest: str | None = None
    model_version: str | None = None


@dataclass(frozen=True)
class GateTolerances:
    accuracy_tolerance: float = 0.01  # the challenger may be this much less accurate
    fairness_tolerance: float = 0.02  # ... and this much less fair on any gap
    disparate_impact_floor: float | None = None  # absolute floor on every DI ratio


@dataclass(frozen=True)
class GateDecision:
    promote: bool
    reasons: list[str]
    # metric key ("accuracy", "sex.demographic_parity_difference", ...) -> champion,
    # challenger, delta (challenger - champion), worse_by, ok: loggable as JSON.
    table: dict[str, dict[str, Any]] = field(default_factory=dict)


def gate(champion: GateInput | None, challenger: GateInput,
         tolerances: GateTolerances = GateTolerances(),
         worse_bounds: Mapping[str, float] | None = None) -> GateDecision:
    """Promote only if the challenger is not worse beyond the tolerances (pure).

    ``worse_bounds`` (``gate_noise.worse_lower_bounds``): per key, a lower confidence
    bound of how much worse the challenger is. Given, a key past its tolerance refuses
    only when its bound is above 0 (worse, and not by chance); keys it lacks and a
    missing mapping judge the point estimate alone.
    """
    bounds = worse_bounds or {}

    def beyond(key: str, worse: float, tolerance: float) -> bool:
        if worse <= tolerance + SLACK:
            return False
        low = bounds.get(key)
        return low is None or not math.isfinite(low) or low > 0
    if not _finite(challenger.accuracy):
        return GateDecision(False, ["challenger accuracy is not a number"])
    if champion is None:
        return GateDecision(True, [f"no champion yet; challenger accuracy "
                                   f"{challenger.accuracy:.4f}"])
    if (champion.holdout_digest and challenger.holdout_digest
            and champion.holdout_digest != challenger.holdout_digest):
        return GateDecision(False, ["champion and challenger were measured on different "
                                    "holdouts; measure both on the same rows"])
    table: dict[str, dict[str, Any]] = {}
    refusals: list[str] = []
    passes: list[str] = []

    acc_worse = champion.accuracy - challenger.accuracy
    # A champion with no accuracy (NaN) sets no bar to fall short of: pass.
    acc_ok = (not _finite(champion.accuracy)
              or not beyond("accuracy", acc_worse, tolerances.accuracy_tolerance))
    table["accuracy"] = _row(champion.accuracy, challenger.accuracy, acc_worse,
                             tolerances.accuracy_tolerance, acc_ok, bounds.get("accuracy"))
    line = (f"accuracy {challenger.accuracy:.4f} vs champion {champion.accuracy:.4f}: "
            f"{_compared(acc_worse, tolerances.accuracy_tolerance, bounds.get('accuracy'))}")
    (passes if acc_ok else refusals).append(line)

    for attribute in sorted(set(champion.gaps) | set(challenger.gaps)):
        for name in GAP_NAMES:
            old = champion.gaps.get(attribute, {}).get(name)
            new = challenger.gaps.get(attribute, {}).get(name)
            key = f"{attribute}.{name}"
            if new is None or not _finite(new):
                if old is not None and _finite(old):
                    table[key] = _row(old, None, None, tolerances.fairness_tolerance, False)
                    refusals.append(f"{key}: the champion's gap is {old:.4f} but the "
                                    "challenger's cannot be measured (groups too small)")
                continue
            if old is None or not _finite(old):
                table[key] = _row(None, new, None, tolerances.fairness_tolerance, True)
                passes.append(f"{key}: {new:.4f} (champion's not measurable)")
                continue
            worse = (old - new) if name in LOWER_IS_WORSE else (new - old)
            ok = not beyond(key, worse, tolerances.fairness_tolerance)
            table[key] = _row(old, new, worse, tolerances.fairness_tolerance, ok, bounds.get(key))
            line = (f"{key} {new:.4f} vs champion {old:.4f}: "
                    f"{_compared(worse, tolerances.fairness_tolerance, bounds.get(key))}")
            (passes if ok else refusals).append(line)
            floor = tolerances.disparate_impact_floor
            if name == fairness.DI and floor is not None and new < floor:
                table[key]["ok"] = False
                table[key]["floor"] = floor
                refusals.append(f"{key} {new:.4f} is below the floor {floor}")
    if refusals:
        return GateDecision(False, refusals, table)
    return GateDecision(True, passes, table)


def _row(champion, challenger, worse, tolerance, ok, bound=None) -> dict[str, Any]:
    delta = None if champion is None or challenger is None else challenger - champion
    row = {"champion": _round(champion), "challenger": _round(challenger),
           "delta": _round(delta), "worse_by": _round(worse), "tolerance": tolerance,
           "ok": bool(ok)}
    if bound is not None and math.isfinite(bound):
        row["worse_by_lower_bound"] = _round(bound)
    return row


def _round(value: float | None) -> float | None:
    return None if value is None else round(float(value), 4)


def _compared(worse: float, tolerance: float, bound: float | None) -> str:
    """How the challenger compares, in words: better/worse by how much, against what."""
    if abs(worse) < 5e-5:
        said = "unchanged"
    else:
        said = f"{'worse' if worse > 0 else 'better'} by {abs(worse):.4f}"
    said += f" (tolerance: worse by at most {tolerance:g})"
    if bound is None or not math.isfinite(bound) or worse <= tolerance + SLACK:
        return said
    # Past the tolerance on the point estimate: the paired bootstrap's lower bound decides.
    if bound > 0:
        return (f"{said}; significant: even the lower confidence bound of how much worse "
                f"is {bound:+.4f}, above 0")
    return (f"{said}; within noise: the lower confidence bound of how much worse is "
            f"{bound:+.4f}, not above 0, so the difference could be chance")


def _finite(value) -> bool:
    return value is not None and math.isfinite(float(value))


def holdout_digest(holdout: pd.DataFrame) -> str:
    """A short content hash of the holdout rows (order-sensitive)."""
    hashed = pd.util.hash_pandas_object(holdout, index=False).to_numpy()
    return hashlib.sha256(hashed.tobytes()).hexdigest()[:16]


HISTORY_TAG = "loopwatch.alias_history"
# Registered-model tag values are VARCHAR(5000) in MLflow's SQL schema (PostgreSQL enforces it).
HISTORY_MAX_CHARS = 5000
HISTORY_MAX_EVENTS = 50
REASON_MAX_CHARS = 300  # in the list; the version tag keeps the full reason


def record_alias_change(client, name: str, alias: str, old_version: str | None,
                        new_version: str, reason: str) -> dict[str, Any]:
    """Append an alias move to the audit trail (the caller moves the alias itself).

    Read-modify-write of one tag: a single orchestrator is assumed to move aliases
    (two concurrent writers could lose an event from the list, never from the
    version tags).
    """
    from datetime import UTC, datetime

    history = alias_history(client, name)
    event = {"seq": (history[-1]["seq"] + 1) if history else 1,
             "at": datetime.now(UTC).isoformat(timespec="seconds"), "alias": alias,
             "from": None if old_version is None else str(old_version),
             "to": str(new_version), "reason": shortened(reason, REASON_MAX_CHARS)}
    history = [*history, event][-HISTORY_MAX_EVENTS:]
    text = json.dumps(history, separators=(",", ":"))
    while len(text) > HISTORY_MAX_CHARS and len(history) > 1:
        history = history[1:]  # the oldest go first; the version tags still hold them
        text = json.dumps(history, separators=(",", ":"))
    client.set_registered_model_tag(name, HISTORY_TAG, text)
    prefix = f"loopwatch.alias.{alias}"
    client.set_model_version_tag(name, str(new_version), f"{prefix}.since", event["at"])
    client.set_model_version_tag(name, str(new_version), f"{prefix}.reason", reason)
    client.set_model_version_tag(name, str(new_version), f"{prefix}.previous",
                                 event["from"] or "none")
    if old_version is not None and str(old_version) != str(new_version):
        client.set_model_version_tag(name, str(old_version), f"{prefix}.until", event["at"])
        client.set_model_version_tag(name, str(old_version), f"{prefix}.replaced_by",
                                     str(new_version))
    return event


def shortened(text: str, limit: int) -> str:
    """``text`` cut at a word boundary to fit ``limit``, saying where the rest is."""
    if len(text) <= limit:
        return text
    tail = " ... (whole reason: the version's tag)"
    cut = text[: limit - len(tail)].rsplit(" ", 1)[0].rstrip(" ;,")
    return cut + tail


def alias_history(client, name: str) -> list[dict[str, Any]]:
    """The recorded alias moves of a registered model, oldest first ([] if none)."""
    raw = client.get_registered_model(name).tags.get(HISTORY_TAG)
    if not raw:
        return []
    try:
        events = json.loads(raw)
    except json.JSONDecodeError as exc:
        raise ValueError(f"tag {HISTORY_TAG!r} of {name!r} is not JSON: {exc}") from exc
    return sorted(events, key=lambda e: e["seq"])


def move_alias(client, name: str, alias: str, new_version: str, reason: str) -> str | None:
    """Point ``alias`` at ``new_version`` and record it; returns the previous version."""
    from mlflow.exceptions import MlflowException

    try:
        old = str(client.get_model_version_by_alias(name, alias).version)
    except MlflowException:
        old = None
    client.set_registered_model_alias(name, alias, str(new_version))
    record_alias_change(client, name, alias, old, new_version, reason)
    return old
