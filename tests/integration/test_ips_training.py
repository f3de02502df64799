"""IPS-weighted retraining undoes a selection the model's decisions made on its labels."""

import numpy as np
import pandas as pd
import pytest

from loopwatch.tasks.tabular.params import TabularParams
from loopwatch.tasks.tabular.spec import TabularSpec
from loopwatch.tasks.tabular.task import TabularSplits, TabularTask
from loopwatch.training.run import fit_task

pytestmark = pytest.mark.slow  # two real fits, ~10 s

SPEC = TabularSpec(target="y", positive_label="1", negative_label="0", categorical=("c",),
                   continuous=("noise",))


def logged_rows(n: int, rate: float, keep_positive: float, seed: int) -> pd.DataFrame:
    """True positive rate ``rate``; a positive's label is only seen with probability
    ``keep_positive`` (logged as its propensity), negatives always."""
    rng = np.random.default_rng(seed)
    y = rng.random(n) < rate
    kept = ~y | (rng.random(n) < keep_positive)
    frame = pd.DataFrame({"c": "same", "noise": rng.normal(size=n),
                          "y": np.where(y, "1", "0"),
                          "propensity": np.where(y, keep_positive, 1.0)})
    return frame[kept].reset_index(drop=True)


def mean_score(ips: bool, tmp_path) -> float:
    train = logged_rows(20_000, rate=0.3, keep_positive=0.4, seed=0)
    valid = logged_rows(3000, rate=0.3, keep_positive=0.4, seed=1)
    params = TabularParams(max_epochs=8, layers=[8], batch_size=512, lr=0.01, dropout=0.0,
                         embedding_dropout=0.0, enable_progress_bar=False, ips_weighting=ips,
                         ips_clip=10.0, patience=9)
    splits = TabularSplits(SPEC, {"train": train, "valid": valid}, tmp_path / f"ckpt-{ips}")
    result = fit_task(TabularTask(), splits, params)
    probe = pd.DataFrame({"c": "same", "noise": np.random.default_rng(5).normal(size=1000)})
    return float(result.predictor.predict_proba(probe)[:, 1].mean())


def test_ips_weighting_recovers_the_true_rate(tmp_path):
    naive, weighted = mean_score(False, tmp_path), mean_score(True, tmp_path)
    observed = 0.3 * 0.4 / (0.3 * 0.4 + 0.7)  # ≈ 0.146: what the logged labels show
    # tolerances: the seed-to-seed spread of these fits is about ±0.03
    assert abs(naive - observed) < 0.04
    assert abs(weighted - 0.3) < 0.05
    assert weighted - naive > 0.1
