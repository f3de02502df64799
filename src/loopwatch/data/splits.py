"""The seeded random split of a frame's rows that every task's data goes through."""

from __future__ import annotations

import numpy as np
import pandas as pd


def split_frame(
    frame: pd.DataFrame, fraction: float, seed: int
) -> tuple[pd.DataFrame, pd.DataFrame]:
    """(rest, held out): a seeded uniformly random ``fraction`` of the rows held out, both
    parts in their original row order; the same seed always gives the same rows."""
    rng = np.random.default_rng(seed)
    order = rng.permutation(len(frame))
    n_held = int(round(len(frame) * fraction))
    held_idx, rest_idx = np.sort(order[:n_held]), np.sort(order[n_held:])
    return (frame.iloc[rest_idx].reset_index(drop=True),
            frame.iloc[held_idx].reset_index(drop=True))
