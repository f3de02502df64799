"""The lending loop's feedback-loop metrics per generation (decision-dependent share,
exposure, naive-vs-IPS gap, support, drift from the truth, contraction, group gaps), computed
from what a deployed lender would hold: the prediction log and the training rows' provenance.

The log (``serving.reading.read_predictions``) gives each applicant's score, decision, logged
propensity and, for the approved or explored, the revealed label; P(label revealed) comes
back from the logged propensity (``feedback.reveal_probability``). The simulation adds only
each applicant's true outcome, so the numbers a real lender could not compute (true rate,
true accuracy, equal opportunity on true labels) sit next to those it could (naive and SNIPS
estimates, accuracy on revealed labels) and show how far apart they are.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from loopwatch.feedback import APPROVE, reveal_probability
from loopwatch.monitoring.feedback_loop import (
    contraction,
    decision_dependent_share,
    naive_vs_ips,
    snips_mean,
    support,
)

# The per-generation numbers that also go into the Evidently snapshots (the lending tab), with
# approval_rate.<group>. Few on purpose: each costs ~35 ms of Evidently per snapshot.
SNAPSHOT_VALUES = (
    "true_rate", "naive_rate", "snips_rate", "model_rate", "approval_rate", "true_accuracy",
    "observed_accuracy", "ips_accuracy", "dp_gap", "eo_gap", "disparate_impact", "kappa",
)


def generation_log(run: Any, generation: int) -> pd.DataFrame:
    """One generation of an arm's prediction log with ``true_label`` (the simulation's
    knowledge) and ``reveal_p`` = P(label revealed) from the logged propensity."""
    from loopwatch.serving.reading import read_predictions

    log = read_predictions(run.store, model_name=run.model_name, model_version=generation)
    if log.empty:
        raise ValueError(f"no logged predictions of {run.model_name} generation {generation}")
    log["true_label"] = run.truth.reindex(log["prediction_id"]).to_numpy()
    log["reveal_p"] = reveal_probability(log["decision"].to_numpy(dtype=object),
                                         log["propensity"].to_numpy(dtype=np.float64))
    return log


def log_metrics(log: pd.DataFrame, positive: str, group: str, n_boot: int = 200,
                seed: int = 0, min_group_size: int = 50) -> dict[str, float]:
    """Rates, estimates, accuracies, support and group gaps of one generation's log."""
    from loopwatch.monitoring.fairness import DI, DP, EO, cell_counts, group_fairness

    truth = (log["true_label"] == positive).to_numpy(dtype=float)
    revealed = log["label"].notna().to_numpy()
    seen = (log.loc[revealed, "label"] == positive).to_numpy(dtype=float)
    p_seen = log.loc[revealed, "reveal_p"].to_numpy(dtype=float)
    approved = (log["decision"] == APPROVE).to_numpy()
    called = (log["prediction"] == positive).to_numpy(dtype=float)  # the model's own call
    correct_seen = (called[revealed] == seen).astype(float)
    snips, snips_se = snips_mean(seen, p_seen)
    m = {
        "applicants": float(len(log)), "approval_rate": float(approved.mean()),
        "explored_share": float(log["explored"].mean()), "revealed_share": float(revealed.mean()),
        "true_rate": float(truth.mean()), "model_rate": float(log["score"].mean()),
        "naive_rate": float(seen.mean()),
        "naive_rate_se": float(np.sqrt(seen.mean() * (1 - seen.mean()) / max(1, len(seen)))),
        "snips_rate": snips, "snips_rate_se": snips_se,
        "true_accuracy": float((called == truth).mean()),
        "observed_accuracy": float(correct_seen.mean()),
    }
    m["ips_accuracy"], m["ips_accuracy_se"] = snips_mean(correct_seen, p_seen)
    groups = log[group].astype("string").fillna("(missing)")
    labelled = pd.DataFrame({"unit": groups[revealed].to_numpy(), "propensity": p_seen})
    sup = support(labelled.assign(unit="all"), ["all"]).loc["all"]
    m |= {"ess": float(sup["ess"]), "min_propensity": float(sup["min_propensity"])}
    for g in sorted(groups.unique()):
        members = (groups == g).to_numpy()
        m[f"approval_rate.{g}"] = float(approved[members].mean())
        m[f"true_rate.{g}"] = float(truth[members].mean())
    by_group = support(labelled, sorted(groups.unique()))
    m |= {f"ess.{g}": float(v) for g, v in by_group["ess"].items()}
    cells = cell_counts(pd.DataFrame({group: groups, "label": truth, "prediction": approved}),
                        group)
    fair = group_fairness(cells, group, min_group_size, n_boot=n_boot, seed=seed)
    for key, name in ((DP, "dp_gap"), (EO, "eo_gap"), (DI, "disparate_impact")):
        gap = fair.gaps[key]
        m |= {name: _num(gap.value), f"{name}_low": _num(gap.ci_low),
              f"{name}_high": _num(gap.ci_high)}
    return m


def training_metrics(train: pd.DataFrame, classes: Sequence[str],
                     target: str) -> dict[str, float]:
    """ρ and the naive-vs-IPS gap of the rate of ``classes[1]`` in a retraining set.

    Each row is a unit = its class with label 1, so ``naive_vs_ips``'s per-unit shares are
    the class rates: naive counts rows, IPS weights a revealed row by 1/P(revealed) (organic
    rows were always observed: weight 1).
    """
    rows = pd.DataFrame({"unit": train[target].to_numpy(), "label": 1.0,
                         "propensity": train["propensity"].fillna(1.0).to_numpy(),
                         "origin": train["origin"].to_numpy()})
    gap, naive, ips = naive_vs_ips(rows, list(classes))
    return {"rho": decision_dependent_share(rows["origin"]), "train_rows": float(len(train)),
            "train_naive_rate": float(naive[classes[1]]),
            "train_ips_rate": float(ips[classes[1]]), "naive_ips_gap": gap}


def arm_history(run: Any, spec: Any, group: str = "sex", n_boot: int = 200,
                seed: int = 0) -> pd.DataFrame:
    """One row of metrics per generation of an arm, indexed by generation.

    ``naive_ips_gap`` and ``rho`` describe the training set built after the generation (what
    the next model learns from); ``model_vs_ips_truth`` is |model's mean predicted rate -
    SNIPS rate| (drift away from the IPS-estimated truth); ``kappa`` is the contraction of
    model g on the frozen reference set (defined from generation 1 to the one before last);
    ``dp_gap_amplification`` is gap_g / gap_{g-1}.
    """
    refs, records = run.reference_scores, []
    for gen in range(len(run.training_sets)):
        m = log_metrics(generation_log(run, gen), spec.positive_label, group, n_boot, seed + gen)
        m |= training_metrics(run.training_sets[gen], spec.classes, spec.target)
        m |= run.extras[gen] if gen < len(run.extras) else {}
        m["model_vs_ips_truth"] = abs(m["model_rate"] - m["snips_rate"])
        m["kappa"] = (contraction(refs[gen - 1], refs[gen], refs[gen + 1])
                      if 0 < gen < len(refs) - 1 else float("nan"))
        # Gap amplification: does the demographic-parity gap grow generation on generation?
        before = records[-1]["dp_gap"] if records else float("nan")
        m["dp_gap_amplification"] = m["dp_gap"] / before if before > 0 else float("nan")
        records.append({"generation": gen, **m})
    return pd.DataFrame(records).set_index("generation")


def snapshot_rows(run: Any, spec: Any, group: str = "sex") -> pd.DataFrame:
    """Each generation's retraining set in ``loop_snapshots``' row shape: unit = the group,
    label = 1 for a positive outcome, origin, propensity (1 for organic), generation."""
    frames = []
    for gen, train in enumerate(run.training_sets):
        frames.append(pd.DataFrame({
            "unit": train[group].astype("string").fillna("(missing)").to_numpy(),
            "label": (train[spec.target] == spec.positive_label).to_numpy(dtype=float),
            "origin": train["origin"].to_numpy(),
            "propensity": train["propensity"].fillna(1.0).to_numpy(), "generation": gen}))
    return pd.concat(frames, ignore_index=True)


def snapshot_extras(history: pd.DataFrame) -> dict[int, dict[str, float]]:
    """The lending numbers for each generation's snapshot (finite values only)."""
    columns = [c for c in history.columns
               if c in SNAPSHOT_VALUES or c.startswith("approval_rate.")]
    return {int(gen): {k: float(v) for k, v in row.items() if np.isfinite(v)}
            for gen, row in history[columns].iterrows()}


def record_snapshots(workspace: Path, dashboards: Path | None, runs: Mapping[str, Any],
                     histories: Mapping[str, pd.DataFrame], data: Any, group: str) -> int:
    """One Evidently snapshot per arm and generation in the "feedback-loop" project (world
    "lending"): the retraining set with units = the groups, plus the lending numbers; truth =
    each group's share of the pool's positive outcomes. Returns how many were written."""
    from loopwatch.monitoring.loop_snapshots import record_loops

    pool = data.applicant_pool
    positive = pool[data.spec.target] == data.spec.positive_label
    by_group = pool.loc[positive, group].astype("string").fillna("(missing)").value_counts()
    units = sorted(by_group.index)
    ids = record_loops(workspace, "lending",
                       {arm: snapshot_rows(run, data.spec, group) for arm, run in runs.items()},
                       units, [float(by_group[u] / by_group.sum()) for u in units], dashboards,
                       extra={arm: snapshot_extras(h) for arm, h in histories.items()})
    return sum(len(v) for v in ids.values())


def _num(value: float | None) -> float:
    return float("nan") if value is None else float(value)
