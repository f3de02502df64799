"""The gate's paired bootstrap: a real fairness regression is refused, noise is not."""

import numpy as np

from loopwatch.monitoring.fairness import DI, DP, EO
from loopwatch.training.gate import GateInput, GateTolerances, gate
from loopwatch.training.gate_noise import group_gaps, worse_lower_bounds

TOL = GateTolerances(accuracy_tolerance=0.01, fairness_tolerance=0.02)


def holdout(n=4000, seed=0):
    rng = np.random.default_rng(seed)
    sex = rng.choice(["Female", "Male"], size=n, p=[0.33, 0.67])
    y = (rng.random(n) < np.where(sex == "Male", 0.31, 0.11)).astype(np.int64)
    # a decent champion: right 85% of the time
    champion = np.where(rng.random(n) < 0.85, y, 1 - y)
    return rng, sex, y, champion


def as_input(pred, y, sex):
    gaps = group_gaps(pred.astype(float), y.astype(float), (sex == "Male").astype(int), 2, 50)
    return GateInput(accuracy=float((pred == y).mean()), gaps={"sex": gaps}, n_rows=len(y))


def test_group_gaps_match_hand_computed_rates():
    pred = np.array([1, 1, 0, 0, 1, 0, 0, 0], dtype=float)
    y = np.array([1, 0, 1, 0, 1, 1, 0, 0], dtype=float)
    codes = np.array([0, 0, 0, 0, 1, 1, 1, 1])
    gaps = group_gaps(pred, y, codes, 2, min_group_size=4)
    assert gaps[DP] == 0.25  # selection 0.5 vs 0.25
    assert gaps[DI] == 0.5
    assert gaps[EO] == 0.0  # TPR 0.5 vs 0.5
    assert np.isnan(group_gaps(pred, y, codes, 2, min_group_size=5)[DP])  # groups too small


def test_identical_models_are_never_significantly_worse():
    _, sex, y, champion = holdout()
    bounds = worse_lower_bounds(y, champion, champion.copy(), {"sex": sex}, n_boot=200)
    assert all(b <= 0 for b in bounds.values()), bounds


def test_a_challenger_that_denies_women_is_refused_even_with_noise_bounds():
    rng, sex, y, champion = holdout()
    biased = np.where((sex == "Female") & (rng.random(len(y)) < 0.7), 0, champion)
    bounds = worse_lower_bounds(y, champion, biased, {"sex": sex}, n_boot=200)
    assert bounds[f"sex.{DP}"] > 0 and bounds[f"sex.{EO}"] > 0
    decision = gate(as_input(champion, y, sex), as_input(biased, y, sex), TOL, bounds)
    assert not decision.promote
    assert any(f"sex.{EO}" in r and "significant" in r for r in decision.reasons)


def test_a_gap_past_tolerance_by_chance_does_not_block_promotion():
    """Small groups: a challenger that differs from the champion only by random flips can
    cross the tolerance on a point estimate; the paired bound says it is noise."""
    rng = np.random.default_rng(3)
    n = 600
    group = rng.choice(["a", "b"], size=n, p=[0.85, 0.15])  # b: ~90 rows
    y = rng.integers(0, 2, n)
    champion = np.where(rng.random(n) < 0.8, y, 1 - y)
    found = False
    for seed in range(40):  # look for a noisy challenger past the tolerance on the point
        flip = np.random.default_rng(seed).random(n) < 0.08
        challenger = np.where(flip, 1 - champion, champion)
        gaps = [group_gaps(p.astype(float), y.astype(float), (group == "b").astype(int), 2, 50)
                for p in (champion, challenger)]
        if gaps[1][DP] - gaps[0][DP] > TOL.fairness_tolerance:
            found = True
            break
    assert found
    champ_in = GateInput(accuracy=float((champion == y).mean()), gaps={"g": gaps[0]})
    chall_in = GateInput(accuracy=float((champion == y).mean()), gaps={"g": gaps[1]})
    assert not gate(champ_in, chall_in, TOL).promote  # point estimates alone: refused
    bounds = worse_lower_bounds(y, champion, challenger, {"g": group}, n_boot=300)
    assert bounds[f"g.{DP}"] <= 0
    decision = gate(champ_in, chall_in, TOL, bounds)
    assert decision.promote, decision.reasons
    assert "within noise" in " ".join(decision.reasons)
