"""Feedback-loop metrics per retraining generation, and the 'loop suspected' alert.

Input is the training rows a generation produced, log-shaped: one row per label
with ``unit`` (district, item or group the decision was about), ``label`` (the
outcome, 0/1 or a count), ``origin`` (organic | model-selected | exploration) and
``propensity`` (probability with which the decision that revealed the label was
taken; 1 for organic rows). The per-generation loop metrics are listed there; this module
computes 1-6 of them from such rows and tests their trend across generations.
No other monitor does this: they all treat logged labels as unbiased.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field

import numpy as np
import pandas as pd
from scipy import stats

ORIGINS = ("organic", "model-selected", "exploration")


def decision_dependent_share(origin: pd.Series) -> float:
    """rho_g: share of labels that exist only because a model decision revealed them."""
    unknown = set(origin.unique()) - set(ORIGINS)
    if unknown:
        raise ValueError(f"column 'origin' has values {sorted(unknown)}; allowed: {ORIGINS}")
    return float((origin != "organic").mean()) if len(origin) else 0.0


def exposure_concentration(exposure: np.ndarray) -> dict[str, float]:
    """Normalised entropy (1 = even), Gini (0 = even) and coverage of exposure per unit."""
    x = np.asarray(exposure, dtype=float)
    total = x.sum()
    if len(x) < 2 or total <= 0:
        return {"entropy": float("nan"), "gini": float("nan"), "coverage": float("nan")}
    p = x / total
    nz = p[p > 0]
    entropy = float(-(nz * np.log(nz)).sum() / np.log(len(x)))
    sorted_x = np.sort(x)
    n = len(x)
    gini = float((2 * np.arange(1, n + 1) - n - 1) @ sorted_x / (n * sorted_x.sum()))
    return {"entropy": entropy, "gini": gini, "coverage": float((x > 0).mean())}


def naive_vs_ips(rows: pd.DataFrame, units: Sequence) -> tuple[float, pd.Series, pd.Series]:
    """½·Σ|c(k) − ĉ_SNIPS(k)|: how far the naive per-unit outcome share is from the
    inverse-propensity estimate. Near 0 when decisions did not shape the labels."""
    _check_propensity(rows)
    y = rows["label"].astype(float)
    naive = y.groupby(rows["unit"]).sum().reindex(units, fill_value=0.0)
    ips = (y / rows["propensity"]).groupby(rows["unit"]).sum().reindex(units, fill_value=0.0)
    naive, ips = _normalise(naive), _normalise(ips)
    return float(0.5 * (naive - ips).abs().sum()), naive, ips


def support(rows: pd.DataFrame, units: Sequence) -> pd.DataFrame:
    """Per unit: rows, effective sample size (Σw)²/Σw² of w = 1/propensity, min propensity."""
    _check_propensity(rows)
    w = 1.0 / rows["propensity"]
    grouped = pd.DataFrame({"unit": rows["unit"], "w": w, "p": rows["propensity"]}).groupby("unit")
    out = pd.DataFrame({
        "rows": grouped.size(),
        "ess": grouped["w"].sum() ** 2 / grouped["w"].apply(lambda s: (s**2).sum()),
        "min_propensity": grouped["p"].min(),
    })
    return out.reindex(units).fillna({"rows": 0, "ess": 0.0})


def snips_mean(values: Sequence[float], propensity: Sequence[float]) -> tuple[float, float]:
    """Self-normalised IPS mean Σ(y/p)/Σ(1/p) of logged outcomes, and its standard error.

    The population mean of ``values`` when each was observed with probability
    ``propensity``; the naive mean of the same rows is biased towards the units the
    decisions favoured. The standard error is the delta-method one,
    sqrt(Σ w²(y − ŝ)²) / Σw with w = 1/p: it grows as the weights spread.
    """
    y = np.asarray(values, dtype=float)
    p = np.asarray(propensity, dtype=float)
    if len(y) != len(p):
        raise ValueError(f"{len(y)} values for {len(p)} propensities")
    if np.isnan(p).any() or (p <= 0).any() or (p > 1).any():
        raise ValueError("propensities must be in (0, 1]: an outcome seen with probability 0 "
                         "cannot be re-weighted")
    if len(y) == 0:
        return float("nan"), float("nan")
    w = 1.0 / p
    estimate = float((w * y).sum() / w.sum())
    return estimate, float(np.sqrt((w**2 * (y - estimate) ** 2).sum()) / w.sum())


def total_variation(a: np.ndarray, b: np.ndarray) -> float:
    return float(0.5 * np.abs(np.asarray(a, float) - np.asarray(b, float)).sum())


def contraction(prev: np.ndarray, cur: np.ndarray, nxt: np.ndarray) -> float:
    """kappa_g = d(f_{g+1}, f_g) / d(f_g, f_{g-1}) on a frozen reference set (mean |Δ|).

    Below 1 the retraining settles; at or above 1 for several generations it runs away.
    """
    before = float(np.mean(np.abs(np.asarray(cur) - np.asarray(prev))))
    after = float(np.mean(np.abs(np.asarray(nxt) - np.asarray(cur))))
    return after / before if before > 0 else float("inf") if after > 0 else 1.0


def generation_metrics(rows: pd.DataFrame, exposure: np.ndarray, units: Sequence,
                       model_shares: np.ndarray | None = None) -> dict[str, float]:
    """Metrics 1-5 for one generation's rows and its exposure (decisions per unit)."""
    gap, naive, ips = naive_vs_ips(rows, units)
    sup = support(rows[rows["origin"] != "organic"], units)
    metrics = {
        "rho": decision_dependent_share(rows["origin"]),
        **{f"exposure_{k}": v for k, v in exposure_concentration(exposure).items()},
        "naive_ips_gap": gap,
        "min_propensity": float(sup["min_propensity"].min()),
        "min_ess": float(sup["ess"].min()),
    }
    if model_shares is not None:  # how far the model's view is from the IPS-estimated truth
        metrics["model_vs_ips_truth"] = total_variation(model_shares, ips.to_numpy())
    return metrics


def mann_kendall(series: Sequence[float]) -> tuple[float, float]:
    """Mann-Kendall trend test: (Kendall's tau against time, two-sided p-value)."""
    values = np.asarray(series, dtype=float)
    values = values[np.isfinite(values)]
    if len(values) < 3:
        return 0.0, 1.0
    tau, p = stats.kendalltau(np.arange(len(values)), values)
    return float(tau), float(p)


def longest_rising_run(series: Sequence[float]) -> int:
    run = best = 0
    for a, b in zip(series, series[1:], strict=False):
        run = run + 1 if b > a else 0
        best = max(best, run)
    return best


@dataclass
class LoopAlert:
    suspected: bool
    reasons: list[str] = field(default_factory=list)
    evidence: dict[str, object] = field(default_factory=dict)


def detect_loop(history: pd.DataFrame, rising: int = 4, alpha: float = 0.05,
                min_rise: float = 0.03, min_gap: float = 0.05) -> LoopAlert:
    """'Feedback loop suspected' when the naive-vs-IPS gap (or exposure Gini, or the
    model's distance from the IPS truth) trends up across generations.

    A metric counts when it rose by more than ``min_rise`` from the first generation
    to the last AND either rose ``rising`` generations in a row or shows a
    Mann-Kendall trend with p < ``alpha``. The effect-size floor is there because
    with a dozen noisy generations a run of rises or a lucky p-value alone fires on
    noise. The latest gap must also exceed ``min_gap``.
    """
    reasons: list[str] = []
    evidence: dict[str, object] = {}
    for column in ("naive_ips_gap", "exposure_gini", "model_vs_ips_truth"):
        if column not in history or len(history) < 3:
            continue
        series = history[column].astype(float).tolist()
        tau, p = mann_kendall(series)
        run = longest_rising_run(series)
        rise = series[-1] - series[0]
        evidence[column] = {"values": [round(v, 4) for v in series], "kendall_tau": tau,
                            "p_value": p, "longest_rising_run": run, "rise": rise}
        if rise > min_rise and (run >= rising or (tau > 0 and p < alpha)):
            reasons.append(f"{column} rose {rise:+.3f} over {len(series)} generations "
                           f"({run} in a row; Mann-Kendall tau={tau:.2f}, p={p:.3g})")
    latest_gap = float(history["naive_ips_gap"].iloc[-1]) if len(history) else 0.0
    suspected = bool(reasons) and latest_gap > min_gap
    if reasons and not suspected:
        reasons.append(f"but the latest naive-vs-IPS gap {latest_gap:.3f} <= {min_gap}")
    blind = unobservable_selection(history, min_rise)
    if blind:
        reasons.append(blind)
        suspected = True
    return LoopAlert(suspected, reasons, evidence)


def unobservable_selection(history: pd.DataFrame, min_rise: float = 0.03) -> str | None:
    """The loop the gap cannot see: rho rises while every label came with propensity 1.

    Without exploration a denied unit never yields a label, so each logged label has
    propensity 1, the IPS estimate equals the naive one and their gap is 0 whatever the
    selection does (``simulate lending``'s no-exploration arm: rho 0.26 -> 0.64, gap 0).
    """
    if not {"rho", "min_propensity"} <= set(history.columns) or len(history) < 3:
        return None
    rho = history["rho"].astype(float)
    if (history["min_propensity"].astype(float) < 1.0 - 1e-9).any():
        return None
    rise = float(rho.iloc[-1] - rho.iloc[0])
    tau, p = mann_kendall(rho.tolist())
    if rise > min_rise and tau > 0:
        return (f"decision-dependent label share rose {rise:+.3f} (Mann-Kendall tau={tau:.2f}) "
                "while every label had propensity 1: the selection cannot be measured or "
                "corrected; add exploration (serving.epsilon)")
    return None


def _normalise(s: pd.Series) -> pd.Series:
    total = s.sum()
    return s / total if total > 0 else s * 0.0


def _check_propensity(rows: pd.DataFrame) -> None:
    p = rows["propensity"]
    if p.isna().any() or (p <= 0).any() or (p > 1).any():
        raise ValueError("column 'propensity' must be in (0, 1] for every row: log the "
                         "probability each decision was taken with (1 for organic rows)")
