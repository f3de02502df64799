"""D'Amour et al.'s attention allocation (FAT* 2020): the world, the agents, Delta.

Tolerances are 4 standard errors of the per-run spread the simulations show.
"""

import itertools

import numpy as np
import pytest
from scipy import optimize, stats

from loopwatch.simulation.attention import (
    Agent,
    AttentionConfig,
    _allocate,
    censored_poisson_mle,
    simulate_attention,
    sweep_dynamic_rate,
)

PAPER = AttentionConfig()  # rates (8, 6, 4, 3, 1.5), 6 units, 1000 steps, 50 runs


def se(x: np.ndarray) -> float:
    return float(np.std(x, ddof=1) / np.sqrt(len(x)))


def test_uniform_discovery_ratio_matches_closed_form() -> None:
    """d = 0: E[min(a, Y)] / E[Y] with a ~ Binomial(N, 1/K), Y ~ Poisson(r)."""
    result = simulate_attention(PAPER, Agent("uniform"))
    j = np.arange(1, PAPER.units + 1)
    p_alloc = stats.binom.sf(j - 1, PAPER.units, 1 / len(PAPER.rates))  # P(a >= j)
    rates = np.asarray(PAPER.rates)
    expected = (p_alloc * stats.poisson.sf(j - 1, rates[:, None])).sum(1) / rates
    ratio = result.discovery_ratio()
    tolerance = 4 * ratio.std(0, ddof=1) / np.sqrt(PAPER.runs)
    assert np.all(np.abs(ratio.mean(0) - expected) < tolerance)
    assert result.delta() == pytest.approx(expected.max() - expected.min(), abs=0.02)


def test_proportional_eps_0_1_is_fairer_than_uniform_at_d_0_05() -> None:
    cfg = AttentionConfig(dynamic_rate=0.05)
    uniform = simulate_attention(cfg, Agent("uniform")).delta_per_run()
    proportional = simulate_attention(cfg, Agent("proportional", epsilon=0.1)).delta_per_run()
    gap = uniform.mean() - proportional.mean()
    assert gap > 4 * np.hypot(se(uniform), se(proportional))


def test_proportional_eps_0_5_gets_less_fair_as_d_grows() -> None:
    sweep = sweep_dynamic_rate(PAPER, {"eps=0.5": Agent("proportional", epsilon=0.5)}, (0.0, 0.05))
    static, dynamic = (sweep["eps=0.5"][d].delta_per_run() for d in (0.0, 0.05))
    assert dynamic.mean() - static.mean() > 4 * np.hypot(se(static), se(dynamic))
    assert sweep["eps=0.5"][0.05].delta() > sweep["eps=0.5"][0.0].delta()


def test_world_invariants() -> None:
    cfg = AttentionConfig(steps=200, runs=8)
    static = simulate_attention(cfg, Agent("proportional"))
    assert np.all(static.allocated.sum(1) == cfg.units * cfg.steps)
    assert np.all(static.discovered <= np.minimum(static.allocated, static.occurred))
    np.testing.assert_array_equal(static.final_rates, np.tile(cfg.rates, (cfg.runs, 1)))
    dynamic = simulate_attention(AttentionConfig(steps=200, runs=8, dynamic_rate=0.05))
    assert np.all(dynamic.final_rates >= 0)
    assert not np.allclose(dynamic.final_rates, static.final_rates)


def _neg_log_likelihood(rate: float, observed: np.ndarray, allocated: np.ndarray) -> float:
    exact = observed < allocated
    censored = ~exact & (allocated > 0)
    return -(stats.poisson.logpmf(observed[exact], rate).sum()
             + stats.poisson.logsf(allocated[censored] - 1, rate).sum())


def test_censored_mle_matches_direct_maximisation() -> None:
    rng = np.random.default_rng(0)
    true = np.array([[0.5, 2.0, 5.0, 9.0]])
    allocated = rng.integers(0, 7, size=(1, 4, 300))
    observed = np.minimum(allocated, rng.poisson(true[..., None], size=(1, 4, 300)))
    fitted = censored_poisson_mle(observed, allocated, 6, previous=np.zeros((1, 4)))
    for k in range(4):
        direct = optimize.minimize_scalar(_neg_log_likelihood, bounds=(1e-3, 40), method="bounded",
                                          args=(observed[0, k], allocated[0, k]),
                                          options={"xatol": 1e-7})
        assert fitted[0, k] == pytest.approx(direct.x, rel=1e-4)
    # Without censoring the MLE is the sample mean; with no allocation it keeps the old value.
    many = np.full((1, 1, 50), 100)
    counts = rng.poisson(3.0, size=(1, 1, 50))
    assert censored_poisson_mle(counts, many, 100, np.zeros((1, 1)))[0, 0] == pytest.approx(
        counts.mean(), rel=1e-6)
    none = np.zeros((1, 1, 50), dtype=int)
    assert censored_poisson_mle(none, none, 6, np.full((1, 1), 7.0))[0, 0] == 7.0


def test_greedy_allocation_maximises_expected_discoveries() -> None:
    beliefs = np.array([[8.0, 6.0, 4.0, 3.0, 1.5], [0.5, 0.5, 9.0, 2.0, 2.0]])
    alloc = _allocate(np.random.default_rng(0), Agent("greedy", epsilon=0.0), beliefs, True, 6)

    def expected_yield(a: tuple[int, ...], lam: np.ndarray) -> float:
        return sum(stats.poisson.sf(np.arange(n), r).sum() for n, r in zip(a, lam, strict=True))

    for row, lam in zip(alloc, beliefs, strict=True):
        best = max(expected_yield(a, lam) for a in itertools.product(range(7), repeat=5)
                   if sum(a) == 6)
        assert row.sum() == 6
        assert expected_yield(tuple(row), lam) == pytest.approx(best)


def test_agent_and_config_validate() -> None:
    with pytest.raises(ValueError):
        Agent("oracle")  # type: ignore[arg-type]
    with pytest.raises(ValueError):
        Agent(epsilon=1.5)
    with pytest.raises(ValueError):
        AttentionConfig(rates=(1.0,))


def test_plot_attention_delta_writes_a_png(tmp_path) -> None:
    from matplotlib.image import imread

    from loopwatch.simulation.plots import plot_attention_delta

    small = AttentionConfig(steps=60, runs=4)
    agents = {"uniform": Agent("uniform"), "proportional": Agent("proportional", burn_steps=10)}
    path = plot_attention_delta(sweep_dynamic_rate(small, agents, (0.0, 0.05)),
                                tmp_path / "delta.png")
    assert path.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    pixels = imread(path)
    assert len(np.unique(pixels.reshape(-1, pixels.shape[-1]), axis=0)) > 1
