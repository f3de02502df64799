"""Drift verdicts with a false-alarm rate you can state, at every sample size.

Each column answers two questions, both from the counts of sketch.py (so a window in memory
and the same window streamed in chunks get the same verdict):

- Is the difference real? A test whose p-value is valid at any size: two-sample
  Kolmogorov-Smirnov for numeric columns, read on the sketch's bin edges (the statistic can
  only come out smaller than on raw values, so the p-value errs high: conservative), and
  chi-square homogeneity for categorical and few-valued columns, counting the reference as the
  sample it is (Evidently's small-reference chi-square takes its frequencies as exact and
  alarms ~27% of the time on i.i.d. data), with rare categories pooled until every expected
  count is >= 5 (no zero-expected-count warnings). The p-values of one slice's columns are
  Benjamini-Hochberg adjusted.
- Is it large enough to matter? Evidently's own large-sample distance (Wasserstein normed by
  the reference std, or Jensen-Shannon) at or above a floor (0.1, Evidently's threshold).

Drift is both. "Significant but small" (big windows see trivial shifts) and "large but not
significant" (a small group's distance is mostly sampling noise) are reported as such.

False alarms: where nothing changed, a column is called drifted with probability <= alpha,
and (Benjamini-Hochberg is Simes' test under the global null) so is any column of a slice.
Power: ``detectable`` is the smallest effect the slice's size can show, on the distance's
scale (never below the floor): a normal location shift in reference standard deviations for
KS (caught ~85% of the time at 150 rows), the Jensen-Shannon distance for chi-square (caught
~50% of the time): an effect that size or larger is caught at least half the time.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, replace

import numpy as np
import pandas as pd
from scipy import stats

from loopwatch.monitoring import sketch
from loopwatch.monitoring.results import ColumnDrift, DriftResult

Sketch = sketch.NumericSketch | sketch.ValueCounts

MIN_EXPECTED = 5.0  # the textbook condition for the chi-square approximation
DRIFT, SMALL, UNDERPOWERED, NO_DRIFT, UNTESTED = (
    "drift", "significant, small", "large, not significant", "no drift", "untested")


@dataclass(frozen=True)
class ColumnTest:
    """One column's test before multiple-testing adjustment."""

    test: str  # "K-S" | "chi-square" | "" when untestable
    method: str  # the effect size's name (Evidently's)
    effect: float
    p_value: float | None  # None: too few rows (or values) to test at all
    detectable: float  # smallest effect that is significant at this size (inf: none)


def ks_statistic(reference: sketch.NumericSketch, current: sketch.NumericSketch) -> float:
    """max |F_cur - F_ref| at every point where the sketches know both CDFs exactly."""
    return float(np.abs(_cdf_points(current) - _cdf_points(reference)).max())


def _cdf_points(s: sketch.NumericSketch) -> np.ndarray:
    per_edge = s.atoms + s.inner
    before = s.below_n + np.concatenate([[0.0], np.cumsum(per_edge)[:-1]])
    # F just below the range, at each edge (its atom included), just before each next edge.
    return np.concatenate([[s.below_n], before + s.atoms, before + per_edge]) / s.n


def effective_n(n: int, m: int) -> float:
    return n * m / (n + m)


def ks_p_value(d: float, n: int, m: int) -> float:
    """Smirnov's two-sample distribution, as SciPy's ``ks_2samp(method="asymp")``."""
    return float(stats.kstwo.sf(d, max(1, round(effective_n(n, m)))))


def ks_detectable(n: int, m: int, alpha: float) -> float:
    """The normal location shift (in standard deviations) whose KS distance is critical."""
    critical = float(stats.kstwo.isf(alpha, max(1, round(effective_n(n, m)))))
    return 2.0 * float(stats.norm.ppf((1.0 + min(critical, 1 - 1e-12)) / 2.0))


def pooled(reference: Counter, current: Counter) -> np.ndarray:
    """2 x k counts with the rarest categories pooled until every expected count is >= 5."""
    keys = sorted(set(reference) | set(current), key=lambda k: reference.get(k, 0)
                  + current.get(k, 0))
    table = np.array([[reference.get(k, 0) for k in keys], [current.get(k, 0) for k in keys]],
                     dtype=np.float64)
    sides = table.sum(axis=1)
    need = MIN_EXPECTED * sides.sum() / max(sides.min(), 1.0)  # smallest total a cell needs
    cells, pool = [], np.zeros(2)
    for column in table.T:  # rarest first: pooled until the pool reaches `need`
        pool = pool + column
        if pool.sum() >= need:
            cells.append(pool)
            pool = np.zeros(2)
    if pool.sum() and cells:  # a too-rare remainder joins the largest cell
        cells[-1] = cells[-1] + pool
    elif pool.sum():
        cells.append(pool)
    return np.array(cells).T


def chi_square(reference: Counter, current: Counter, alpha: float
               ) -> tuple[float | None, float]:
    """(p-value or None if untestable, detectable Jensen-Shannon distance)."""
    table = pooled(reference, current)
    n_ref, n_cur = table.sum(axis=1)
    if table.shape[1] < 2 or min(n_ref, n_cur) == 0:
        return None, float("inf")
    expected = np.outer(table.sum(axis=1), table.sum(axis=0)) / table.sum()
    statistic = float(((table - expected) ** 2 / expected).sum())
    df = table.shape[1] - 1
    # Small differences: chi2 = 8 * n_eff * JS divergence (nats), and JS distance = sqrt(that).
    detectable = float(np.sqrt(stats.chi2.isf(alpha, df) / (8 * effective_n(n_ref, n_cur))))
    return float(stats.chi2.sf(statistic, df)), detectable


def column_test(reference: sketch.NumericSketch | sketch.ValueCounts,
                current: sketch.NumericSketch | sketch.ValueCounts, alpha: float) -> ColumnTest:
    """The significance test and the effect size of one column from its two sketches."""
    if not current.n or not reference.n:
        return ColumnTest("", "no values", float("nan"), None, float("inf"))
    method, effect = sketch.distance_test(reference, current)
    if method == sketch.JENSEN_SHANNON:
        counts = ((reference.counts, current.counts) if isinstance(reference, sketch.ValueCounts)
                  else (reference.distinct, current.distinct))
        p, detectable = chi_square(*counts, alpha)
        return ColumnTest("chi-square" if p is not None else "", method, effect, p, detectable)
    d = ks_statistic(reference, current)
    return ColumnTest("K-S", method, effect, ks_p_value(d, current.n, reference.n),
                      ks_detectable(current.n, reference.n, alpha))


def bh_adjust(p_values: list[float | None]) -> list[float | None]:
    """Benjamini-Hochberg adjusted p-values over the testable columns (None stays None)."""
    tested = [i for i, p in enumerate(p_values) if p is not None]
    out: list[float | None] = list(p_values)
    if tested:
        adjusted = stats.false_discovery_control([p_values[i] for i in tested], method="bh")
        for i, q in zip(tested, adjusted, strict=True):
            out[i] = float(q)
    return out


def verdict(effect: float, p_adjusted: float | None, alpha: float, floor: float) -> str:
    if p_adjusted is None:
        return UNTESTED
    significant, large = p_adjusted < alpha, bool(effect >= floor)
    if significant and large:
        return DRIFT
    if significant:
        return SMALL
    return UNDERPOWERED if large else NO_DRIFT


def verdicts(tests: Mapping[str, tuple[str, ColumnTest]], alpha: float, floor: float
             ) -> tuple[ColumnDrift, ...]:
    """One slice's columns (name -> (kind, test)) adjusted together and judged."""
    names = list(tests)
    adjusted = bh_adjust([tests[c][1].p_value for c in names])
    out = []
    for name, q in zip(names, adjusted, strict=True):
        kind, t = tests[name]
        found = verdict(t.effect, q, alpha, floor)
        out.append(ColumnDrift(name, kind, t.method, t.effect, floor, found == DRIFT, found,
                               t.test, t.p_value, q, max(t.detectable, floor)))
    return tuple(out)


def frame_sketches(current: pd.DataFrame, reference: pd.DataFrame, numerical: Sequence[str],
                   categorical: Sequence[str], bins: int) -> dict[str, tuple[str, Sketch, Sketch]]:
    """(kind, reference sketch, current sketch) of each column of two in-memory frames."""
    out: dict[str, tuple[str, Sketch, Sketch]] = {}
    for column in numerical:
        ref = sketch.NumericSketch.from_reference(reference[column], bins)
        cur = ref.empty_like()
        cur.update(current[column])
        out[column] = ("numerical", ref, cur)
    for column in categorical:
        ref, cur = sketch.ValueCounts(), sketch.ValueCounts()
        ref.update(reference[column])
        cur.update(current[column])
        out[column] = ("categorical", ref, cur)
    return out


def judge(sketches: Mapping[str, tuple[str, Sketch, Sketch]], params, n_current: int,
          n_reference: int, extra: Sequence[str] = ()) -> tuple[DriftResult, tuple]:
    """(data drift, prediction drift on the ``extra`` columns): each set adjusted apart."""
    def tested(columns):
        return verdicts({c: (sketches[c][0], column_test(sketches[c][1], sketches[c][2],
                                                         params.drift_alpha))
                         for c in columns}, params.drift_alpha, params.drift_floor)

    data = tested([c for c in sketches if c not in extra])
    return (DriftResult(data, params.drift_share, n_current, n_reference, params.drift_alpha),
            tested([c for c in sketches if c in extra]))


def drift_frames(current: pd.DataFrame, reference: pd.DataFrame, numerical: Sequence[str],
                 categorical: Sequence[str], params, extra: Sequence[str] = ()
                 ) -> tuple[DriftResult, tuple]:
    """Calibrated verdicts for two in-memory frames (no Evidently: see ``beside``)."""
    sketches = frame_sketches(current, reference, numerical, categorical, params.sketch_bins)
    return judge(sketches, params, len(current), len(reference), extra)


def beside(columns: Sequence[ColumnDrift], evidently: Mapping) -> tuple[ColumnDrift, ...]:
    """Our verdicts with Evidently's (drift.EvidentlyVerdict) of the same columns."""
    return tuple(replace(c, evidently_method=evidently[c.column].method,
                         evidently_statistic=evidently[c.column].statistic,
                         evidently_drifted=evidently[c.column].drifted)
                 if c.column in evidently else c for c in columns)
