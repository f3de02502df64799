"""The big-data guard: an effect-size floor and Benjamini-Hochberg on top of p-value tests.

Why: a p-value test's power grows with the row count, so on big windows it flags shifts far
too small to matter ("p-value tests fire on trivial shifts in big data"), and testing 20+
columns at 5% each makes at least one false alarm likely. Both options are off by default,
so verdicts match Evidently's report; they only ever turn a p-value verdict from drift to no
drift, never the reverse, and leave distance tests (Wasserstein, Jensen-Shannon) alone:
those are effect sizes already.

- ``effect_size_floor``: a p-value column counts as drifted only if its effect size reaches
  the floor. The effect size is the statistic Evidently itself uses on big references
  (Wasserstein distance normed by the reference std for numeric columns, Jensen-Shannon
  distance for categorical ones), so a floor of 0.1 reads "also a drift at Evidently's
  large-sample threshold". Effect on sensitivity: shifts smaller than the floor are never
  reported, however many rows confirm them.
- ``fdr_correction``: p-values are adjusted across the columns of one report with
  Benjamini-Hochberg, controlling the expected share of false discoveries among flagged
  columns at the test threshold (0.05) instead of the per-column error. Effect: fewer false
  alarms on many columns; a lone weak shift needs a smaller p-value to be flagged.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import replace

import numpy as np
import pandas as pd
from scipy.stats import false_discovery_control

from loopwatch.monitoring import sketch
from loopwatch.monitoring.results import ColumnDrift, DriftResult


def effect_sizes(
    current: pd.DataFrame,
    reference: pd.DataFrame,
    numerical: Sequence[str],
    categorical: Sequence[str],
    bins: int = 2_000,
) -> dict[str, float]:
    """Normed Wasserstein (numeric) / Jensen-Shannon (categorical) distance per column."""
    out: dict[str, float] = {}
    for column in numerical:
        ref = sketch.NumericSketch.from_reference(reference[column], bins)
        cur = ref.empty_like()
        cur.update(current[column])
        out[column] = sketch.wasserstein_normed(ref, cur) if ref.n and cur.n else float("nan")
    for column in categorical:
        ref_counts, cur_counts = sketch.ValueCounts(), sketch.ValueCounts()
        ref_counts.update(reference[column])
        cur_counts.update(current[column])
        ok = ref_counts.n and cur_counts.n
        out[column] = (sketch.jensen_shannon(ref_counts.counts, cur_counts.counts) if ok
                       else float("nan"))
    return out


def apply_guard(
    result: DriftResult,
    effects: Mapping[str, float],
    effect_size_floor: float | None,
    fdr_correction: bool,
) -> DriftResult:
    """``result`` with p-value verdicts re-decided by the guard; unchanged when both are off."""
    if effect_size_floor is None and not fdr_correction:
        return result
    tested = [c for c in result.columns if c.is_p_value]
    adjusted: dict[str, float] = {}
    if fdr_correction and tested:
        p = np.clip([c.statistic for c in tested], 0.0, 1.0)
        adjusted = dict(zip([c.column for c in tested],
                            false_discovery_control(p, method="bh").tolist(), strict=True))
    columns: list[ColumnDrift] = []
    for c in result.columns:
        if not c.is_p_value:
            columns.append(c)
            continue
        effect = effects.get(c.column)
        drifted = c.evidently_drifted
        if fdr_correction:
            drifted = adjusted[c.column] <= c.threshold
        if effect_size_floor is not None:
            drifted = drifted and effect is not None and effect >= effect_size_floor
        columns.append(replace(c, drifted=bool(drifted), effect_size=effect,
                               p_adjusted=adjusted.get(c.column)))
    parts = []
    if effect_size_floor is not None:
        parts.append(f"effect-size floor {effect_size_floor:g}")
    if fdr_correction:
        parts.append("Benjamini-Hochberg across columns")
    cleared = sum(c.evidently_drifted and not c.drifted for c in columns)
    note = f"{' + '.join(parts)} on {len(tested)} p-value test(s): {cleared} verdict(s) cleared"
    return replace(result, columns=tuple(columns), guard=note)
