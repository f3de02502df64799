"""Acceptance figures of Ensign et al.'s urn (FAT* 2018) and the urn's bookkeeping.

Tolerances come from the simulations' own spread: 4 standard errors of the
difference between our mean (n runs) and the reference figures (10,000 runs unless said),
both estimated with the standard deviation we observe.
"""

from dataclasses import replace

import numpy as np
import pytest
from scipy import stats

from loopwatch.simulation.policing import (
    UrnConfig,
    UrnResult,
    record_schedule,
    simulate_urn,
    stable_point,
)
from loopwatch.simulation.policing_reference import simulate_urn_reference

BASE = UrnConfig(rates=(0.3, 0.2), prior=(1.0, 1.0))
OAKLAND = UrnConfig(rates=(3.68511, 2.816466), prior=(609.0, 379.0), poisson=True,
                    days=1000, runs=500, decay=0.99)


def assert_mean_close(values: np.ndarray, expected: float,
                      design_runs: int | None = 10_000) -> None:
    """|mean - expected| < 4 standard errors of the difference of the two means.

    ``design_runs=None`` means ``expected`` is exact (a truth, not a measurement).
    """
    values = values[~np.isnan(values)]
    sd = values.std(ddof=1)
    tolerance = 4 * sd * np.sqrt(1 / values.size + (1 / design_runs if design_runs else 0))
    assert abs(values.mean() - expected) < tolerance, (values.mean(), expected, tolerance)


@pytest.fixture(scope="module")
def no_fix_1e4() -> UrnResult:
    """10^4 days without the fix, shared by the share and the estimator tests."""
    return simulate_urn(replace(BASE, days=10_000, runs=1000, seed=3))


def test_stable_point_is_rate_share() -> None:
    np.testing.assert_allclose(stable_point((0.3, 0.2)), [0.6, 0.4])
    np.testing.assert_allclose(stable_point((0.3, 0.2, 0.1)), [0.5, 1 / 3, 1 / 6])


def test_share_of_a_after_1e3_days_runs_away_as_design() -> None:
    final = simulate_urn(replace(BASE, days=1000, runs=3000, seed=1)).final_shares[:, 0]
    assert_mean_close(final, 0.796)
    assert_mean_close((final > 0.95).astype(float), 0.237)
    assert final.mean() > stable_point(BASE.rates)[0]  # drifts past the truth, towards 1


def test_share_and_naive_vs_ips_after_1e4_days(no_fix_1e4) -> None:
    assert_mean_close(no_fix_1e4.final_shares[:, 0], 0.882)
    assert_mean_close(no_fix_1e4.naive_share()[:, 0], 0.885)
    assert_mean_close(no_fix_1e4.ips_share("ht")[:, 0], 0.603)
    # The self-normalised estimate tells the same story.
    assert abs(np.nanmean(no_fix_1e4.ips_share("snips")[:, 0]) - 0.6) < 0.01


def test_share_after_1e5_days_exceeds_0_9_without_fix() -> None:
    final = simulate_urn(replace(BASE, days=100_000, runs=300, seed=2)).final_shares[:, 0]
    assert final.mean() > 0.9
    assert_mean_close(final, 0.936)


def test_fix_holds_the_truth_at_1e4_days() -> None:
    final = simulate_urn(replace(BASE, days=10_000, runs=1000, fix=True, seed=4)).final_shares
    assert_mean_close(final[:, 0], 0.600)
    assert abs(final[:, 0].mean() - 0.6) < 0.01


def test_equal_rates_end_uniform_and_unequal_rates_do_not() -> None:
    equal = simulate_urn(replace(BASE, rates=(0.3, 0.3), days=5000, runs=1000, seed=5))
    assert stats.kstest(equal.final_shares[:, 0], "uniform").pvalue > 0.01
    unequal = simulate_urn(replace(BASE, days=5000, runs=1000, seed=5))
    assert stats.kstest(unequal.final_shares[:, 0], "uniform").pvalue < 0.01  # test has power


def test_oakland_runs_away_and_fix_recovers_truth() -> None:
    # The paper's Oakland runs (its Makefile) use Poisson updates and decay 0.01.
    assert_mean_close(simulate_urn(OAKLAND).final_shares[:, 0], 0.933, design_runs=1000)
    fixed = simulate_urn(replace(OAKLAND, fix=True)).final_shares[:, 0]
    assert_mean_close(fixed, 0.570, design_runs=1000)
    assert abs(fixed.mean() - stable_point(OAKLAND.rates)[0]) < 0.01


def test_k3_min_ratio_fix_recovers_truth_but_one_minus_p_does_not() -> None:
    cfg = UrnConfig(rates=(0.3, 0.2, 0.1), prior=(1.0, 1.0, 1.0), days=10_000, runs=400)
    truth = stable_point(cfg.rates)
    good = simulate_urn(replace(cfg, fix="min_ratio")).final_shares
    wrong = simulate_urn(replace(cfg, fix="one_minus_p")).final_shares
    for district in range(3):
        assert_mean_close(good[:, district], truth[district], design_runs=None)
    se = wrong.std(0, ddof=1) / np.sqrt(cfg.runs)
    assert np.any(np.abs(wrong.mean(0) - truth) > 4 * se)
    assert wrong[:, 2].mean() < truth[2] - 4 * se[2]  # the rarest district is starved


def test_one_minus_p_equals_the_fix_for_two_districts() -> None:
    cfg = replace(BASE, days=3000, runs=1000, seed=6)
    a = simulate_urn(replace(cfg, fix="one_minus_p")).final_shares[:, 0]
    b = simulate_urn(replace(cfg, fix="min_ratio", seed=7)).final_shares[:, 0]
    assert stats.ks_2samp(a, b).pvalue > 0.01


@pytest.mark.parametrize("config", [
    replace(BASE, days=300, runs=400),
    replace(BASE, rates=(1.5, 1.0), poisson=True, fix=True, days=200, runs=300),
    UrnConfig(rates=(0.3, 0.2, 0.1), prior=(1, 2, 3), reported_rates=(0.05, 0.0, 0.1),
              decay=0.99, fix="one_minus_p", days=200, runs=300),
], ids=["bernoulli", "poisson-fix", "k3-reported-decay"])
def test_vectorised_and_reference_agree_in_distribution(config: UrnConfig) -> None:
    fast, slow = simulate_urn(config), simulate_urn_reference(replace(config, seed=99))
    for a, b in [(fast.final_shares, slow.final_shares), (fast.ips_share(), slow.ips_share()),
                 (fast.discovered, slow.discovered)]:
        assert stats.ks_2samp(a[:, 0], b[:, 0]).pvalue > 0.01


def test_logs_add_up() -> None:
    result = simulate_urn(replace(BASE, days=500, runs=200))
    assert np.all(result.visits.sum(1) == 500)
    assert np.all(result.discovered <= result.visits)
    # Without fix, decay or reports the urn is exactly the prior plus what was found.
    balls = np.asarray(BASE.prior) + result.discovered
    np.testing.assert_allclose(result.final_shares, balls / balls.sum(1, keepdims=True))
    # Each inverse propensity is >= 1, so the weighted visit count is >= the visits.
    assert np.all(result.ipw_visits >= result.visits - 1e-6)


def test_record_schedule_and_trajectory_shape() -> None:
    days = record_schedule(1000, record_every=250)
    np.testing.assert_array_equal(days, [0, 250, 500, 750, 1000])
    assert record_schedule(10_000, log_points=20)[:3].tolist() == [0, 1, 2]
    result = simulate_urn(replace(BASE, prior=(3.0, 1.0), days=1000, runs=20), record_every=250)
    assert result.shares.shape == (5, 20, 2)
    np.testing.assert_allclose(result.shares[0], [[0.75, 0.25]] * 20)
    np.testing.assert_allclose(result.shares.sum(-1), 1.0)


def test_config_validates_and_normalises() -> None:
    assert UrnConfig(fix=True).fix == "min_ratio"
    assert UrnConfig(fix=False).fix is None
    assert UrnConfig().reported_rates == (0.0, 0.0)
    with pytest.raises(ValueError):
        UrnConfig(rates=(1.5, 0.2))  # a 0/1 discovery probability above 1
    with pytest.raises(ValueError):
        UrnConfig(rates=(0.3, 0.2, 0.1))  # prior has 2 entries
    with pytest.raises(ValueError):
        UrnConfig(fix="sometimes")


def test_plot_urn_share_writes_a_png(tmp_path) -> None:
    from matplotlib.image import imread

    from loopwatch.simulation.plots import plot_urn_share

    cfg = replace(BASE, days=300, runs=50)
    results = {"no fix": simulate_urn(cfg, log_points=20),
               "fix": simulate_urn(replace(cfg, fix=True), log_points=20)}
    path = plot_urn_share(results, tmp_path / "urn.png")
    assert path.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    pixels = imread(path)
    assert len(np.unique(pixels.reshape(-1, pixels.shape[-1]), axis=0)) > 1
