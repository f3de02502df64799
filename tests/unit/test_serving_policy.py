"""The decision policy: threshold, ε-exploration, propensities, seeded reproducibility."""

from __future__ import annotations

import numpy as np
import pytest

from loopwatch.serving.policy import DecisionPolicy, decide


def test_threshold_alone_is_greedy_with_propensity_one_and_draws_nothing():
    rng = np.random.default_rng(0)
    state = rng.bit_generator.state
    d = decide(np.array([0.1, 0.5, 0.49, 0.9]), threshold=0.5, epsilon=0.0, rng=rng)
    assert d.action.tolist() == [0, 1, 0, 1]
    assert (d.action == d.greedy).all() and not d.explored.any()
    assert d.propensity.tolist() == [1.0] * 4
    assert rng.bit_generator.state == state  # ε = 0 consumes no randomness


def test_epsilon_one_is_uniform_with_half_propensity():
    d = decide(np.full(2000, 0.9), 0.5, 1.0, np.random.default_rng(1))
    assert d.explored.all()
    assert d.propensity.tolist() == [0.5] * 2000
    assert 0.45 < d.action.mean() < 0.55


def test_propensities_follow_the_formula_and_rates_match():
    eps, n = 0.2, 40_000
    d = decide(np.random.default_rng(2).random(n), 0.5, eps, np.random.default_rng(3))
    greedy_p, other_p = 1 - eps + eps / 2, eps / 2
    assert set(np.round(d.propensity, 12)) == {round(greedy_p, 12), round(other_p, 12)}
    assert np.allclose(d.propensity[d.action == d.greedy], greedy_p)
    assert np.allclose(d.propensity[d.action != d.greedy], other_p)
    assert abs(d.explored.mean() - eps) < 0.01
    assert abs((d.action != d.greedy).mean() - other_p) < 0.01
    # Explored rows that drew the greedy action still carry the greedy propensity.
    same = d.explored & (d.action == d.greedy)
    assert same.any() and np.allclose(d.propensity[same], greedy_p)


def test_same_seed_same_decisions():
    scores = np.linspace(0, 1, 100)
    a = decide(scores, 0.5, 0.3, np.random.default_rng(7))
    b = decide(scores, 0.5, 0.3, np.random.default_rng(7))
    assert (a.action == b.action).all() and (a.explored == b.explored).all()


def test_inverse_propensity_weights_recover_the_mean_of_a_random_action():
    """IPS sanity: E[1{a=1}/p] over logged rows = 1 for every row's action-1 outcome."""
    n = 50_000
    d = decide(np.full(n, 0.1), 0.5, 0.1, np.random.default_rng(4))  # greedy = deny
    weights = (d.action == 1) / d.propensity
    assert abs(weights.mean() - 1.0) < 0.05


def test_policy_names_actions_and_validates_settings():
    policy = DecisionPolicy(threshold=0.7, epsilon=0.0)
    d = policy.decide(np.array([0.69, 0.7]), None)
    assert policy.names(d) == ["deny", "approve"]
    with pytest.raises(ValueError, match="epsilon"):
        DecisionPolicy(epsilon=1.5)
    with pytest.raises(ValueError, match="threshold"):
        DecisionPolicy(threshold=1.0)
    with pytest.raises(ValueError, match="generator"):
        DecisionPolicy(epsilon=0.1).decide(np.array([0.2]), None)
