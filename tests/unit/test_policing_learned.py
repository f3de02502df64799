"""The learned policing loop: its pieces (allocation, IPS weights, the Lightning fit) and the
acceptance behaviour: naive retraining runs away, the IPS-weighted loss holds the truth."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
import torch

from loopwatch.monitoring.feedback_loop import detect_loop, longest_rising_run
from loopwatch.simulation.policing import stable_point
from loopwatch.simulation.policing_learned import (
    DistrictRateModel,
    LearnedLoopConfig,
    allocation,
    fit_rates,
    naive_stable_point,
    patrol,
    share_standard_error,
    simulate_learned_loop,
    training_weights,
)


def test_allocation_mixes_predicted_rates_with_uniform_exploration():
    policy = allocation(np.array([0.3, 0.1]), epsilon=0.2)
    assert policy == pytest.approx([0.8 * 0.75 + 0.1, 0.8 * 0.25 + 0.1])
    assert policy.min() >= 0.2 / 2  # exploration floor: every propensity >= epsilon / K


def test_naive_stable_point_is_the_runaway_fixed_point():
    rates = (0.3, 0.2)
    m = naive_stable_point(rates, 0.1)
    again = allocation(m, 0.1) * np.asarray(rates)
    assert again / again.sum() == pytest.approx(m, abs=1e-9)  # a fixed point ...
    assert m[0] > 0.9 > stable_point(rates)[0]  # ... far from the truth 0.6
    assert naive_stable_point(rates, 0.0) == pytest.approx([1.0, 0.0], abs=1e-6)
    assert naive_stable_point((0.2, 0.2, 0.2), 0.1) == pytest.approx([1 / 3] * 3)


def test_patrol_table_has_one_observed_row_per_shift_with_its_propensity():
    rng = np.random.default_rng(0)
    policy = np.array([0.7, 0.2, 0.1])
    table = patrol(rng, policy, np.array([0.5, 0.5, 0.5]), 0.1, 4000, generation=3)
    assert len(table) == 3 * 4000 and (table["generation"] == 3).all()
    assert (table.groupby("shift")["observed"].sum() == 1).all()
    assert (table.loc[~table["observed"], "incidents"] == 0).all()
    assert table["propensity"].to_numpy() == pytest.approx(policy[table["unit"]])
    visits = table.loc[table["observed"], "unit"].value_counts(normalize=True).sort_index()
    assert visits.to_numpy() == pytest.approx(policy, abs=0.03)
    explored = table.loc[table["observed"], "origin"].eq("exploration").mean()
    assert explored == pytest.approx(0.1, abs=0.02)


def test_ips_weights_drop_unobserved_rows_and_clip():
    table = pd.DataFrame({"unit": [0, 1, 0, 1], "incidents": [1.0, 0.0, 0.0, 0.0],
                          "observed": [True, False, False, True],
                          "propensity": [0.5, 0.5, 0.04, 0.04]})
    assert training_weights(table, ips=False, clip=10).tolist() == [1, 1, 1, 1]
    assert training_weights(table, ips=True, clip=10).tolist() == [2.0, 0.0, 0.0, 10.0]


def _two_generation_table() -> pd.DataFrame:
    """District 0 patrolled with propensity 0.8 then 0.2: SNIPS != the plain visit mean."""
    rng = np.random.default_rng(1)
    parts = [patrol(rng, np.array([p, 1 - p]), np.array([0.3, 0.2]), 0.0, 3000, g)
             for g, p in enumerate((0.8, 0.2))]
    return pd.concat(parts, ignore_index=True)


@pytest.mark.parametrize(("ips", "hidden"), [(False, 0), (True, 0), (True, 4)])
def test_lightning_fit_reaches_the_weighted_poisson_mle(ips, hidden):
    table = _two_generation_table()
    weights = training_weights(table, ips, clip=10)
    torch.manual_seed(0)
    model = DistrictRateModel(np.eye(2, dtype=np.float32), hidden=hidden, lr=0.05)
    fit_rates(model, table, weights, steps=400)
    w = pd.Series(weights)
    expected = ((w * table["incidents"]).groupby(table["unit"]).sum()
                / w.groupby(table["unit"]).sum()).to_numpy()
    assert model.rates() == pytest.approx(expected, rel=0.01)
    if not ips:  # the naive target: visits share x lambda, not lambda
        assert model.rates()[0] == pytest.approx(0.5 * 0.3, abs=0.02)


def test_share_standard_error_matches_the_spread_of_refits():
    """The delta-method SE against the spread of the closed-form fit over fresh samples."""
    shares = []
    for seed in range(200):
        t = patrol(np.random.default_rng(seed), np.array([0.6, 0.4]), np.array([0.3, 0.2]),
                   0.0, 2000, 0)
        obs = t[t["observed"]]
        rate = obs.groupby("unit")["incidents"].mean().to_numpy()
        shares.append(rate[0] / rate.sum())
    w = training_weights(t, ips=True, clip=10)
    se = share_standard_error(rate, t, w)
    assert se == pytest.approx(np.std(shares), rel=0.2)


@pytest.fixture(scope="module")
def loops():
    """Both variants with the defaults and a fixed seed (about 10 s on 2 cores)."""
    base = LearnedLoopConfig(seed=0)
    return base, simulate_learned_loop(base), simulate_learned_loop(
        LearnedLoopConfig(seed=0, ips=True))


def test_naive_learned_loop_runs_away(loops):
    base, naive, _ = loops
    truth = stable_point(base.rates)[0]
    patrols = naive.lineage["patrol_share_A"]
    assert patrols.iloc[-1] - patrols.iloc[0] > 0.1  # patrols pile onto A ...
    assert longest_rising_run(naive.lineage["model_share_A"].tolist()) >= 3
    assert naive.lineage["model_share_A"].iloc[-1] - truth > 10 * naive.share_se  # ... far off
    assert detect_loop(naive.metrics).suspected


def test_ips_learned_loop_stays_at_the_truth(loops):
    base, _, ips = loops
    truth = stable_point(base.rates)[0]
    assert abs(ips.lineage["model_share_A"].iloc[-1] - truth) < 3 * ips.share_se
    # The patrols follow: within 3 SE of the allocation the truth gives, every generation
    # (the model's SE scaled by 1 - epsilon, plus the binomial noise of the patrols).
    target = (1 - base.epsilon) * truth + base.epsilon / 2
    noise = np.hypot((1 - base.epsilon) * ips.share_se,
                     np.sqrt(target * (1 - target) / base.decisions))
    assert (ips.lineage["patrol_share_A"] - target).abs().max() < 3 * noise
    assert not detect_loop(ips.metrics).suspected
    assert ips.lineage["max_weight"].max() < base.clip  # the clip never bit


def test_lineage_records_what_each_generation_was_trained_on(loops):
    base, naive, _ = loops
    lineage = naive.lineage
    assert lineage["generation"].tolist() == list(range(base.generations))
    assert lineage["trained_on"].iloc[0] == "0-0" and lineage["trained_on"].iloc[-1] == "6-7"
    assert lineage["train_rows"].tolist() == [2 * base.decisions] + [
        2 * 2 * base.decisions] * (base.generations - 1)
    assert lineage["train_labels"].iloc[-1] == 2 * base.decisions  # one observed row a shift
    origins = lineage["share_origin.model-selected"] + lineage["share_origin.exploration"]
    assert origins.to_numpy() == pytest.approx(1.0)
    assert lineage["share_origin.exploration"].mean() == pytest.approx(base.epsilon, abs=0.02)
    assert len(naive.rows) == base.generations * base.decisions


def test_lineage_names_every_district_once_past_eight():
    rates = tuple(0.1 + 0.02 * i for i in range(10))
    loop = simulate_learned_loop(LearnedLoopConfig(rates=rates, decisions=50, generations=1,
                                                   steps=2))
    names = [c for c in loop.lineage.columns if c.startswith("rate.")]
    assert names == [f"rate.{d}" for d in "ABCDEFGHIJ"]
