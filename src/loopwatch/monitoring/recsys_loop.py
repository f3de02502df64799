"""Recommender feedback-loop metrics (homogenisation, popularity, Gini) and the recommender alert.

What ``feedback_loop`` lacks for a recommender: homogenisation (mean pairwise Jaccard of
what users consumed, Chaney et al. 2018), popularity lift (mean popularity of recommended
items over that of the users' own profiles, per group: Abdollahpouri's GAP as used by
Mansoury et al. 2020), precision@k against a known relevant set, and per-group means.
Exposure Gini, entropy and coverage, the Mann-Kendall trend test and the 'loop suspected'
rule come from ``feedback_loop`` and are not repeated here.

Inputs are dense arrays over the catalogue (users x items), which is what a simulator or a
batch of logged slates gives; index ``i`` of an item axis is the same item everywhere.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass

import numpy as np
import pandas as pd

from loopwatch.monitoring.feedback_loop import LoopAlert, longest_rising_run, mann_kendall


@dataclass(frozen=True)
class Signal:
    """A per-generation column that is a harm when it moves in ``direction`` (+1 up, -1 down)
    by more than ``min_change`` (absolute)."""

    column: str
    direction: int
    min_change: float
    needs_baseline: bool = False  # judged only against a baseline arm


SIGNALS = (
    # Cumulative consumed sets grow, and so does their overlap, under any recommender: only
    # the excess over a random arm says the model homogenises users.
    Signal("jaccard", +1, 0.02, needs_baseline=True),
    Signal("exposure_gini", +1, 0.02),
    Signal("exposure_coverage", -1, 0.03),
    Signal("popularity_lift_gap", +1, 0.03),  # the minority group is pushed further
    # The data the model learns from concentrates on what it recommended (Mansoury et al.);
    # a random arm's data flattens instead, so the excess over it is the loop's doing.
    Signal("train_popularity", +1, 0.5, needs_baseline=True),
)


def pairwise_jaccard(consumed: np.ndarray) -> float:
    """Mean Jaccard similarity |A∩B|/|A∪B| over all pairs of users with a non-empty set.

    ``consumed`` is a boolean users x items matrix. One matrix product gives every pair's
    intersection, so 1,000 users cost milliseconds.
    """
    x = np.asarray(consumed, dtype=bool)
    x = x[x.any(axis=1)]
    n = len(x)
    if n < 2:
        return float("nan")
    xf = x.astype(np.float32)
    inter = xf @ xf.T
    sizes = xf.sum(axis=1)
    union = sizes[:, None] + sizes[None, :] - inter
    upper = np.triu_indices(n, k=1)
    return float(np.mean(inter[upper] / union[upper]))


def mean_item_value(items: np.ndarray, values: np.ndarray) -> np.ndarray:
    """Per user, the mean of ``values`` over that user's items.

    ``items`` is either a users x k array of item indices (a slate) or a boolean users x
    items membership matrix (a profile). NaN for a user with no items.
    """
    items = np.asarray(items)
    if items.dtype == bool:
        counts = items.sum(axis=1)
        totals = items.astype(float) @ np.asarray(values, float)
        return np.where(counts > 0, totals / np.maximum(counts, 1), np.nan)
    return np.asarray(values, float)[items].mean(axis=1)


def popularity_lift(slates: np.ndarray, profiles: np.ndarray, popularity: np.ndarray,
                    groups: np.ndarray | None = None) -> dict[str, float]:
    """Mean popularity of recommended items / mean popularity of profile items.

    1 means the recommender serves users items as popular as those they chose themselves;
    above 1 it pushes the popular. Reported overall and per group (``"popularity_lift.F"``),
    each the ratio of the group's mean recommended to mean profile popularity, with the
    range across groups (``popularity_lift_gap``): Mansoury et al.'s minority harm.
    """
    rec = mean_item_value(slates, popularity)
    own = mean_item_value(profiles, popularity)
    out = {"rec_popularity": float(np.nanmean(rec)), "profile_popularity": float(np.nanmean(own))}
    out["popularity_lift"] = out["rec_popularity"] / out["profile_popularity"]
    if groups is not None:
        labels = np.asarray(groups)
        for group in sorted(pd.unique(labels)):
            sel = labels == group
            out[f"popularity_lift.{group}"] = float(np.nanmean(rec[sel]) / np.nanmean(own[sel]))
        lifts = [v for k, v in out.items() if k.startswith("popularity_lift.")]
        out["popularity_lift_gap"] = float(max(lifts) - min(lifts))  # range across groups
    return out


def interaction_popularity(item_index: np.ndarray, n_items: int) -> np.ndarray:
    """Each item's share of the interactions listed in ``item_index``, times ``n_items``.

    1 is an average item, 10 an item with ten times the average share. Unlike a count of
    raters this does not grow just because the log grows, so a uniform recommender keeps
    scoring about 1 however long the loop runs.
    """
    counts = np.bincount(np.asarray(item_index), minlength=n_items).astype(float)
    return counts * n_items / max(counts.sum(), 1.0)


def live_popularity(slates: np.ndarray, train_items: np.ndarray, n_items: int
                    ) -> dict[str, float]:
    """Popularity measured on the data the model was trained on (Mansoury et al. 2020).

    ``train_items`` are the item indices of every training row, the loop's own included:
    ``rec_popularity_live`` is the mean popularity of the recommended items and
    ``train_popularity`` the mean popularity of an item in a training row (how concentrated
    the data is; 1 for a flat catalogue). Both rise when recommended items collect the
    interactions that get them recommended again: the rich-get-richer loop that a fixed
    yardstick (``popularity_lift``) cannot show.
    """
    share = interaction_popularity(train_items, n_items)
    return {"rec_popularity_live": float(share[np.asarray(slates)].mean()),
            "train_popularity": float(share[np.asarray(train_items)].mean())}


def precision_at_k(ranked: np.ndarray, relevant: np.ndarray) -> np.ndarray:
    """Per user, the share of the ``k`` ranked item indices that are relevant.

    ``ranked`` is users x k item indices; ``relevant`` a boolean users x items matrix.
    """
    ranked = np.asarray(ranked)
    hits = np.take_along_axis(np.asarray(relevant, bool), ranked, axis=1)
    return hits.mean(axis=1)


def group_means(values: Mapping[str, np.ndarray], groups: np.ndarray | None) -> dict[str, float]:
    """``{"name.group": mean}`` for each per-user array and each group label (NaNs skipped)."""
    if groups is None:
        return {}
    labels = np.asarray(groups)
    out: dict[str, float] = {}
    for name, per_user in values.items():
        per_user = np.asarray(per_user, float)
        for group in sorted(pd.unique(labels)):
            part = per_user[labels == group]
            out[f"{name}.{group}"] = float(np.nanmean(part)) if np.isfinite(part).any() \
                else float("nan")
    return out


def detect_recsys_loop(history: pd.DataFrame, baseline: pd.DataFrame | None = None,
                       signals: Sequence[Signal] = SIGNALS, rising: int = 4,
                       alpha: float = 0.05) -> LoopAlert:
    """'Feedback loop suspected' when a recommender harm trends the wrong way across
    generations, and by more than in a ``baseline`` arm (a random recommender retrained on
    its own data, or the exploration slice) when one is given.

    The rule is ``feedback_loop.detect_loop``'s, signed by each signal's direction: a change
    from the first generation to the last beyond ``min_change`` AND either ``rising``
    generations in a row the wrong way or a Mann-Kendall trend with p < ``alpha``.
    """
    reasons: list[str] = []
    evidence: dict[str, object] = {}
    for sig in signals:
        if sig.column not in history or len(history) < 3:
            continue
        if sig.needs_baseline and (baseline is None or sig.column not in baseline):
            continue
        series = (sig.direction * history[sig.column].astype(float)).tolist()
        tau, p = mann_kendall(series)
        run = longest_rising_run(series)
        change = series[-1] - series[0]
        item: dict[str, object] = {
            "values": [round(sig.direction * v, 4) for v in series], "kendall_tau": tau,
            "p_value": p, "longest_run_the_wrong_way": run, "change": sig.direction * change}
        excess = change
        if baseline is not None and sig.column in baseline:
            base = (sig.direction * baseline[sig.column].astype(float)).tolist()
            item["baseline_change"] = sig.direction * (base[-1] - base[0])
            excess = change - (base[-1] - base[0])
        evidence[sig.column] = item
        if excess > sig.min_change and (run >= rising or (tau > 0 and p < alpha)):
            against = "" if "baseline_change" not in item else \
                f"; baseline arm {item['baseline_change']:+.3f}"
            verb = "rose" if sig.direction > 0 else "fell"
            reasons.append(f"{sig.column} {verb} {sig.direction * change:+.3f} over "
                           f"{len(series)} generations ({run} in a row; Mann-Kendall "
                           f"tau={tau:.2f}, p={p:.3g}{against})")
    return LoopAlert(bool(reasons), reasons, evidence)
