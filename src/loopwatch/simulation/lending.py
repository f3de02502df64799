"""The selective-labels step of the lending loop: which outcomes a decision lets us see.

Lakkaraju et al. (KDD 2017): an outcome is observed only where the
decision allowed it. A loan that was never granted is never repaid or defaulted
on, so a *denied* applicant has no outcome label, ever. A model retrained on its
own approvals sees only the applicants it already liked: the labels it learns
from exist because of its own decisions (origin ``model-selected``), and the
region it denies can never prove it wrong.

The serving policy's exploration slice (ε, ``loopwatch.serving.policy``) is the
way out: an explored applicant's outcome is observed whatever the draw said
(the scenario treats an exploration denial as granted-for-learning), with origin
``exploration``. So a label is revealed when the model approved the applicant or
the decision was explored; denied and not explored -> no label.

How IPS undoes the selection: an applicant's label is revealed with probability

    P(reveal) = (1 - ε) · [greedy action = approve] + ε

which is 1 for those the threshold approves and ε for those it denies. Weighting
each revealed row by 1 / P(reveal) (``loopwatch.training.weights.ips_weights`` reads
it from the ``propensity`` column of the training rows) makes the labelled rows
stand for the whole applicant population again: each explored denial stands for
1/ε denials whose outcome was never seen. Note that P(reveal) is *not* the logged
decision propensity P(action) (an explored denial has P(action) = 1 - ε/2 but
P(reveal) = ε); both are recovered from the log: ε = 2·min(p, 1 - p) and the
greedy action is the taken one when p >= 1/2. The training rows carry P(reveal)
as ``propensity`` and the logged P(action) as ``decision_propensity``.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd

from loopwatch.feedback import APPROVE, EXPLORATION, MODEL_SELECTED, reveal_probability

DECISION_COLUMNS = ("prediction_id", "decision", "propensity", "explored", "model_version")


@dataclass(frozen=True)
class Outcomes:
    """Labels revealed by a day's decisions.

    ``feedback``: prediction_id, label, origin, label_day (what the feedback intake takes);
    ``rows``: the applicants' columns with the true target and the provenance columns
    (training rows for the next model).
    """

    feedback: pd.DataFrame
    rows: pd.DataFrame

    def __len__(self) -> int:
        return len(self.feedback)


def observe_outcomes(applicants: pd.DataFrame,
                     decisions: pd.DataFrame | Sequence[Mapping[str, Any]],
                     day: int, delay: int, outcomes: pd.Series | None = None, *,
                     target: str = "income", approve: str = APPROVE) -> Outcomes:
    """The labels the day's decisions reveal, all arriving on ``day + delay``.

    ``decisions`` is aligned row for row with ``applicants``: a frame or the serving
    policy's items (``DECISION_COLUMNS``). ``outcomes`` are the true labels (default:
    ``applicants[target]``). Denied, non-explored applicants are dropped here: no label.
    """
    if delay < 0:
        raise ValueError(f"label delay must be >= 0 days, got {delay}")
    logged = decisions if isinstance(decisions, pd.DataFrame) else pd.DataFrame(list(decisions))
    missing = [c for c in DECISION_COLUMNS if c not in logged.columns]
    if missing:
        raise ValueError(f"decisions lack column(s) {missing}; expected {DECISION_COLUMNS}")
    if len(logged) != len(applicants):
        raise ValueError(f"{len(logged)} decisions for {len(applicants)} applicants: "
                         "they must be aligned row for row")
    truth = applicants[target] if outcomes is None else outcomes
    if len(truth) != len(applicants):
        raise ValueError(f"{len(truth)} outcomes for {len(applicants)} applicants")
    decision = logged["decision"].to_numpy(dtype=object)
    explored = _as_bool(logged["explored"])
    approved = decision == approve
    revealed = approved | explored
    origin = np.where(explored, EXPLORATION, MODEL_SELECTED)
    label_day = day + delay

    keep = np.flatnonzero(revealed)
    pid = logged["prediction_id"].astype(str).to_numpy()[keep]
    labels = np.asarray(truth, dtype=object)[keep]
    feedback = pd.DataFrame({"prediction_id": pid, "label": labels, "origin": origin[keep],
                             "label_day": np.full(len(keep), label_day, dtype=np.int64)})
    decision_p = logged["propensity"].to_numpy(dtype=np.float64)
    rows = applicants.iloc[keep].reset_index(drop=True).copy()
    rows[target] = labels
    rows["prediction_id"] = pid
    rows["origin"] = origin[keep]
    rows["model_version"] = logged["model_version"].astype(str).to_numpy()[keep]
    rows["propensity"] = reveal_probability(decision, decision_p, approve)[keep]
    rows["decision_propensity"] = decision_p[keep]
    rows["decision_day"] = np.int64(day)
    rows["label_day"] = np.int64(label_day)
    return Outcomes(feedback, rows)


def _as_bool(values: pd.Series) -> np.ndarray:
    """Bools from bools, 0/1 or 'true'/'false' strings (a CSV round trip gives strings)."""
    if values.dtype == bool:
        return values.to_numpy()
    text = values.astype(str).str.strip().str.lower()
    known = text.isin(["true", "false", "1", "0", "1.0", "0.0"])
    if not known.all():
        raise ValueError(f"column 'explored' has non-boolean values "
                         f"{sorted(values[~known].astype(str).unique())[:5]}")
    return text.isin(["true", "1", "1.0"]).to_numpy()
