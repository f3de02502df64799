"""Is the challenger worse beyond noise? A paired bootstrap of the gate's comparisons.

Both models are scored on the same holdout rows, so their difference on a metric
is best judged on the same resamples of those rows (a paired bootstrap): the
noise that moves both models alike cancels. On a few thousand Adult rows the race
groups other than White hold a few hundred rows or fewer, and a gap's point
estimate moves by several points between two equally good models; a gate that
compared point estimates alone would refuse at random.

``worse_lower_bounds`` gives, per gate key ("accuracy", "sex.demographic_parity_difference",
...), the one-sided lower confidence bound of "how much worse the challenger is" (the
same sign convention as ``gate.GateDecision.table[key]["worse_by"]``). The gate refuses
on a key only when the point estimate exceeds its tolerance AND this bound is above 0:
the challenger is worse, and not by chance.
"""

from __future__ import annotations

from collections.abc import Mapping

import numpy as np

from loopwatch.monitoring.fairness import DI, DP, EO


def group_gaps(pred: np.ndarray, y: np.ndarray, codes: np.ndarray, n_groups: int,
               min_group_size: int) -> dict[str, float]:
    """DP / EO differences and the DI ratio over groups with >= ``min_group_size`` rows
    (EO: with that many labelled rows and at least one positive), as in monitoring."""
    n = np.bincount(codes, minlength=n_groups)
    chosen = np.bincount(codes, weights=pred, minlength=n_groups)
    positives = np.bincount(codes, weights=y, minlength=n_groups)
    hits = np.bincount(codes, weights=pred * y, minlength=n_groups)
    big = n >= min_group_size
    out = {DP: np.nan, EO: np.nan, DI: np.nan}
    if big.sum() >= 2:
        rate = chosen[big] / n[big]
        out[DP] = float(rate.max() - rate.min())
        out[DI] = float(rate.min() / rate.max()) if rate.max() > 0 else np.nan
    ok = big & (positives > 0)
    if ok.sum() >= 2:
        tpr = hits[ok] / positives[ok]
        out[EO] = float(tpr.max() - tpr.min())
    return out


def worse_lower_bounds(y: np.ndarray, champion_pred: np.ndarray, challenger_pred: np.ndarray,
                       sensitive: Mapping[str, np.ndarray], *, min_group_size: int = 50,
                       n_boot: int = 300, level: float = 0.95, seed: int = 0
                       ) -> dict[str, float]:
    """One-sided ``level`` lower bounds of (challenger worse by) per gate key."""
    y = np.asarray(y, dtype=np.float64)
    a = np.asarray(champion_pred, dtype=np.float64)
    b = np.asarray(challenger_pred, dtype=np.float64)
    encoded = {attr: np.unique(np.asarray(values).astype(str), return_inverse=True)
               for attr, values in sensitive.items()}
    rng = np.random.default_rng(seed)
    samples: dict[str, list[float]] = {"accuracy": []}
    for _ in range(n_boot):
        idx = rng.integers(0, len(y), len(y))
        yi, ai, bi = y[idx], a[idx], b[idx]
        samples["accuracy"].append(float((ai == yi).mean() - (bi == yi).mean()))
        for attr, (levels, codes) in encoded.items():
            ga = group_gaps(ai, yi, codes[idx], len(levels), min_group_size)
            gb = group_gaps(bi, yi, codes[idx], len(levels), min_group_size)
            for name in (DP, EO, DI):
                worse = ga[name] - gb[name] if name == DI else gb[name] - ga[name]
                samples.setdefault(f"{attr}.{name}", []).append(worse)
    bounds = {}
    for key, values in samples.items():
        finite = np.asarray(values)[np.isfinite(values)]
        bounds[key] = float(np.quantile(finite, 1 - level)) if len(finite) else float("nan")
    return bounds
