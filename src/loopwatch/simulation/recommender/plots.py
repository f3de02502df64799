"""The recommender loop's per-generation metrics as one PNG: model vs random vs ideal arm.

Built on an explicit Agg canvas (``simulation.plots._figure``): no pyplot state leaks out
of flows, tests or servers.
"""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path

import pandas as pd

from loopwatch.simulation.plots import _figure, _save

COLOURS = {"model": "C3", "random": "C0", "ideal": "C2"}
PANELS = (  # (column or per-group prefix, y label)
    ("jaccard", "pairwise Jaccard of consumed sets"),
    ("slate_jaccard", "pairwise Jaccard of this round's slates"),
    ("exposure_gini", "exposure Gini over items"),
    ("exposure_coverage", "catalogue coverage"),
    ("rec_popularity_live", "recommended popularity, live data (1 = avg item)"),
    ("train_popularity", "popularity of the training data (1 = flat)"),
    ("popularity_lift", "recommended / profile popularity (organic yardstick)"),
    ("popularity_lift.", "popularity lift per gender"),
    ("rmse.", "RMSE on uniform pairs, per gender"),
    ("precision_at_", "precision@k per gender"),
)


def plot_recsys_loop(arms: Mapping[str, pd.DataFrame], path: str | Path) -> Path:
    """A 2x5 grid, one metric per panel, one line per arm (dashed/dotted per group)."""
    if not arms:
        raise ValueError("nothing to plot")
    fig = _figure((18.5, 6.6))
    axes = fig.subplots(2, 5).ravel()
    styles = ("-", "--", ":")
    for ax, (column, label) in zip(axes, PANELS, strict=True):
        for arm, frame in arms.items():
            colour = COLOURS.get(arm, "C7")
            x = frame["generation"]
            if column.endswith((".", "_")):  # one line per group
                cols = sorted(c for c in frame.columns if c.startswith(column)
                              and "." in c and not c.endswith("_gap"))
                for col, style in zip(cols, styles, strict=False):
                    if frame[col].notna().any():
                        ax.plot(x, frame[col], style, color=colour, marker=".",
                                label=f"{arm} {col.rsplit('.', 1)[-1]}")
            elif column in frame and frame[column].notna().any():
                ax.plot(x, frame[column], color=colour, marker="o", label=arm)
        ax.set_xlabel("generation")
        ax.set_title(label, fontsize=9)
        ax.legend(fontsize=6)
    fig.suptitle("Recommender feedback loop on MovieLens-100k: retrained model vs random "
                 "and ideal recommenders")
    return _save(fig, path)
