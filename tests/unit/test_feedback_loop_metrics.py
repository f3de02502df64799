import numpy as np
import pandas as pd
import pytest

from loopwatch.monitoring import feedback_loop as fl
from loopwatch.simulation.policing_log import LoggedLoopConfig, simulate_logged_loop


def rows(units, labels, origins, propensities):
    return pd.DataFrame({"unit": units, "label": labels, "origin": origins,
                         "propensity": propensities})


def test_decision_dependent_share_counts_non_organic_rows():
    origin = pd.Series(["organic", "model-selected", "exploration", "model-selected"])
    assert fl.decision_dependent_share(origin) == 0.75
    with pytest.raises(ValueError, match="origin"):
        fl.decision_dependent_share(pd.Series(["organic", "guess"]))


def test_exposure_concentration_extremes():
    even = fl.exposure_concentration(np.array([5, 5, 5, 5]))
    assert even["entropy"] == pytest.approx(1.0) and even["gini"] == pytest.approx(0.0)
    assert even["coverage"] == 1.0
    one = fl.exposure_concentration(np.array([0, 0, 0, 12]))
    assert one["entropy"] == pytest.approx(0.0) and one["gini"] == pytest.approx(0.75)
    assert one["coverage"] == 0.25


def test_naive_vs_ips_gap_is_zero_under_uniform_decisions_and_known_otherwise():
    # Uniform propensities: weighting changes nothing.
    flat = rows([0, 0, 1, 1], [1, 1, 1, 0], ["model-selected"] * 4, [0.5] * 4)
    assert fl.naive_vs_ips(flat, [0, 1])[0] == pytest.approx(0.0)
    # Unit 0 visited with p=0.8 (2 positives), unit 1 with p=0.2 (1 positive):
    # naive shares (2/3, 1/3); IPS totals (2/0.8, 1/0.2) = (2.5, 5) -> (1/3, 2/3).
    skew = rows([0, 0, 1], [1, 1, 1], ["model-selected"] * 3, [0.8, 0.8, 0.2])
    gap, naive, ips = fl.naive_vs_ips(skew, [0, 1])
    assert naive.tolist() == pytest.approx([2 / 3, 1 / 3])
    assert ips.tolist() == pytest.approx([1 / 3, 2 / 3])
    assert gap == pytest.approx(1 / 3)


def test_support_effective_sample_size_and_min_propensity():
    frame = rows([0, 0, 0, 1], [1, 0, 1, 1], ["model-selected"] * 4, [0.5, 0.5, 0.5, 0.1])
    sup = fl.support(frame, [0, 1, 2])
    assert sup.loc[0, "ess"] == pytest.approx(3.0)  # equal weights: ESS = rows
    assert sup.loc[1, "min_propensity"] == 0.1
    assert sup.loc[2, "rows"] == 0 and sup.loc[2, "ess"] == 0  # never decided on: no support


def test_propensity_must_be_a_probability():
    bad = rows([0], [1], ["model-selected"], [0.0])
    with pytest.raises(ValueError, match="propensity"):
        fl.naive_vs_ips(bad, [0])


def test_contraction():
    assert fl.contraction(np.zeros(3), np.ones(3), np.ones(3) * 1.5) == pytest.approx(0.5)
    assert fl.contraction(np.zeros(3), np.ones(3), np.ones(3) * 3) == pytest.approx(2.0)


def test_mann_kendall_sees_a_trend_and_not_noise():
    tau, p = fl.mann_kendall(np.arange(12) + np.random.default_rng(0).normal(0, 0.5, 12))
    assert tau > 0.5 and p < 0.01
    _, p_noise = fl.mann_kendall(np.random.default_rng(1).normal(size=12))
    assert p_noise > 0.05


def model_share_of_a(loop) -> float:
    """The model's own share for district A: the last policy with ε=0.1 exploration removed."""
    return (loop.allocations[-1][0] - 0.1 / 2) / 0.9


@pytest.mark.parametrize("seed", range(4))
def test_detector_flags_the_naive_loop_and_not_the_ips_weighted_one(seed):
    naive = simulate_logged_loop(LoggedLoopConfig(ips=False, seed=seed))
    mitigated = simulate_logged_loop(LoggedLoopConfig(ips=True, seed=seed))
    truth = 0.6  # 0.3 / (0.3 + 0.2)
    # the loop runs away from the truth; IPS-weighted retraining stays near it
    assert model_share_of_a(naive) > truth + 0.1
    assert abs(model_share_of_a(mitigated) - truth) < 0.05
    alert = fl.detect_loop(naive.metrics)
    assert alert.suspected and any("naive_ips_gap" in r for r in alert.reasons)
    assert alert.evidence["naive_ips_gap"]["rise"] > 0.05
    assert not fl.detect_loop(mitigated.metrics).suspected


def test_metrics_of_a_generation_carry_provenance_share():
    loop = simulate_logged_loop(LoggedLoopConfig(generations=2, seed=0))
    first = loop.metrics.iloc[0]
    organic = (loop.rows.query("generation == 0")["origin"] == "organic").mean()
    assert first["rho"] == pytest.approx(1 - organic)
    assert first["min_propensity"] == pytest.approx(loop.allocations[0].min())


def test_rising_rho_without_exploration_is_flagged_even_with_a_zero_gap():
    import pandas as pd

    from loopwatch.monitoring.feedback_loop import detect_loop

    blind = pd.DataFrame({"naive_ips_gap": [0.0] * 5, "rho": [0.26, 0.40, 0.50, 0.58, 0.64],
                          "min_propensity": [1.0] * 5})
    alert = detect_loop(blind)
    assert alert.suspected and any("propensity 1" in r for r in alert.reasons)
    explored = blind.assign(min_propensity=[0.05] * 5)  # same rho, but measurable
    assert not detect_loop(explored).suspected
    flat = blind.assign(rho=[0.3, 0.31, 0.3, 0.31, 0.3])
    assert not detect_loop(flat).suspected
