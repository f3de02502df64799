"""Group fairness per sensitive attribute: fairlearn's MetricFrame, bootstrap intervals.

Every number here is a function of one table: rows per (group, label, prediction), with
label -1 where the label has not arrived yet. ``cell_counts`` builds it from a frame, and
tables from chunks add up, so the streaming path gets exactly the numbers of the in-memory
one. Point estimates come from fairlearn's MetricFrame run on that table with the counts as
sample weights (identical to running it on the rows): selection rate on all rows, TPR, FPR
and accuracy on the labelled rows; the gaps are MetricFrame's ``difference()`` (max - min)
and ``ratio()`` (min / max, the disparate-impact ratio of the four-fifths rule).

Intervals: a stratified bootstrap (rows resampled within each group, so group sizes stay
fixed and small groups cannot vanish from a resample). A max - min gap is never below 0, so
the quantiles of its bootstrap never contain 0, even with no gap at all; we therefore fix the
pair of groups at the point estimate (favoured, disfavoured) and bootstrap their signed
difference / ratio, whose interval does contain 0 (or 1) when the gap is noise. A resample
of a group is a multinomial draw over its cells; the rates of a draw are fairlearn's metric
definitions evaluated with those cell weights (tests/unit/test_monitoring_fairness.py checks
the vectorised form against fairlearn's functions), because calling MetricFrame once per
resample costs ~0.1 s each.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
from fairlearn.metrics import (
    MetricFrame,
    false_positive_rate,
    selection_rate,
    true_positive_rate,
)
from sklearn.metrics import accuracy_score

from loopwatch.monitoring.results import FairnessResult, Gap, GroupMetrics

MISSING_GROUP = "(missing)"
DP = "demographic_parity_difference"
EO = "equal_opportunity_difference"
DI = "disparate_impact_ratio"
# Cell order of the bootstrap matrices: (label, prediction) with label -1 = not yet labelled.
CELLS = [(-1, 0), (-1, 1), (0, 0), (0, 1), (1, 0), (1, 1)]


def cell_counts(frame: pd.DataFrame, attribute: str) -> pd.DataFrame:
    """Rows per (group, label, prediction) of a frame with 0/1 ``prediction`` and ``label``."""
    table = pd.DataFrame({
        "group": frame[attribute].astype("string").fillna(MISSING_GROUP).to_numpy(),
        "label": frame["label"].fillna(-1).astype(np.int64).to_numpy(),
        "prediction": frame["prediction"].astype(np.int64).to_numpy(),
    })
    return table.value_counts().rename("n").reset_index()


def add_cells(a: pd.DataFrame | None, b: pd.DataFrame) -> pd.DataFrame:
    if a is None:
        return b
    return (pd.concat([a, b]).groupby(["group", "label", "prediction"], as_index=False)["n"]
            .sum())


def _metric_frame(cells: pd.DataFrame, metrics: dict) -> MetricFrame:
    weights = cells["n"].to_numpy(dtype=np.float64)
    return MetricFrame(
        metrics=metrics,
        y_true=cells["label"].to_numpy(), y_pred=cells["prediction"].to_numpy(),
        sensitive_features=pd.Series(cells["group"].to_numpy(), name="group"),
        sample_params={name: {"sample_weight": weights} for name in metrics},
    )


def group_fairness(
    cells: pd.DataFrame,
    attribute: str,
    min_group_size: int,
    n_boot: int = 1000,
    ci_level: float = 0.95,
    seed: int = 0,
) -> FairnessResult:
    """Per-group rates and the three gaps with intervals, for one sensitive attribute."""
    cells = cells[cells["n"] > 0]
    matrix = _cell_matrix(cells)  # group -> counts in CELLS order
    sizes = {g: int(v.sum()) for g, v in matrix.items()}
    labelled = {g: int(v[2:].sum()) for g, v in matrix.items()}
    big = [g for g in matrix if sizes[g] >= min_group_size]
    big_labelled = [g for g in big if labelled[g] >= min_group_size]

    rates = pd.DataFrame(index=sorted(matrix), columns=["selection_rate", "tpr", "fpr",
                                                          "accuracy"], dtype=float)
    sel = ratio_mf = None
    if big:
        sel = _metric_frame(cells[cells["group"].isin(big)], {"selection_rate": selection_rate})
        rates.loc[big, "selection_rate"] = sel.by_group["selection_rate"]
        ratio_mf = sel
    if big_labelled:
        on_labels = cells[cells["group"].isin(big_labelled) & (cells["label"] >= 0)]
        lab = _metric_frame(on_labels, {"tpr": true_positive_rate, "fpr": false_positive_rate,
                                        "accuracy": accuracy_score})
        rates.loc[big_labelled, ["tpr", "fpr", "accuracy"]] = lab.by_group[["tpr", "fpr",
                                                                            "accuracy"]]
    for g in big_labelled:  # fairlearn reports 0 for a rate with no denominator: say None
        if matrix[g][4:].sum() == 0:
            rates.loc[g, "tpr"] = np.nan
        if matrix[g][2:4].sum() == 0:
            rates.loc[g, "fpr"] = np.nan

    groups = tuple(
        GroupMetrics(group=g, n=sizes[g], n_labelled=labelled[g],
                     **{k: _num(rates.loc[g, k]) for k in rates.columns},
                     too_small=g not in big, labels_too_small=g not in big_labelled)
        for g in sorted(matrix))
    rng = np.random.default_rng(seed)
    draws = {g: rng.multinomial(sizes[g], matrix[g] / sizes[g], size=n_boot) for g in big}
    boot = {g: _rates(d) for g, d in draws.items()}
    tail = (1 - ci_level) / 2
    sr = rates["selection_rate"].dropna()
    tpr = rates.loc[big_labelled, "tpr"].dropna()
    why = f"fewer than 2 groups with >= {min_group_size} rows"
    gaps = {
        DP: _gap(DP, sr, boot, "selection_rate", tail, why, lambda hi, lo: hi - lo,
                 None if sel is None else sel.difference()["selection_rate"]),
        EO: _gap(EO, tpr, boot, "tpr", tail, why + " labelled (with positives)",
                 lambda hi, lo: hi - lo, None),
        DI: _gap(DI, sr, boot, "selection_rate", tail, why, lambda hi, lo: lo / hi,
                 None if ratio_mf is None else ratio_mf.ratio()["selection_rate"]),
    }
    return FairnessResult(attribute=attribute, groups=groups, gaps=gaps,
                          min_group_size=min_group_size, n_boot=n_boot, ci_level=ci_level)


def _cell_matrix(cells: pd.DataFrame) -> dict[str, np.ndarray]:
    out: dict[str, np.ndarray] = {}
    for g, part in cells.groupby("group"):
        counts = {(int(r.label), int(r.prediction)): int(r.n) for r in part.itertuples()}
        out[str(g)] = np.array([counts.get(c, 0) for c in CELLS], dtype=np.float64)
    return out


def _rates(draws: np.ndarray) -> dict[str, np.ndarray]:
    """fairlearn's selection_rate / TPR / FPR / accuracy of each resample (rows of cell counts).

    Same definitions as fairlearn with the counts as sample weights: selection rate = share
    predicted 1 (all rows); TPR = predicted 1 among label 1; FPR = predicted 1 among label 0;
    accuracy = prediction equals label among labelled rows. NaN where a denominator is 0.
    """
    with np.errstate(divide="ignore", invalid="ignore"):
        return {
            "selection_rate": (draws[:, 1] + draws[:, 3] + draws[:, 5]) / draws.sum(axis=1),
            "tpr": draws[:, 5] / draws[:, 4:].sum(axis=1),
            "fpr": draws[:, 3] / draws[:, 2:4].sum(axis=1),
            "accuracy": (draws[:, 2] + draws[:, 5]) / draws[:, 2:].sum(axis=1),
        }


def _gap(name, values: pd.Series, boot, metric, tail, why, combine, library_value) -> Gap:
    if len(values) < 2:
        return Gap(name=name, value=None, note=why)
    favoured, disfavoured = str(values.idxmax()), str(values.idxmin())
    value = combine(values[favoured], values[disfavoured])
    if library_value is not None:  # fairlearn's own number, identical to the pair's
        value = float(library_value)
    samples = combine(boot[favoured][metric], boot[disfavoured][metric])
    samples = samples[np.isfinite(samples)]
    if len(samples) == 0:
        return Gap(name=name, value=_num(value), groups=(favoured, disfavoured),
                   note="no finite bootstrap resample")
    low, high = np.quantile(samples, [tail, 1 - tail])
    return Gap(name=name, value=_num(value), ci_low=float(low), ci_high=float(high),
               groups=(favoured, disfavoured))


def _num(value) -> float | None:
    return None if value is None or pd.isna(value) else float(value)
