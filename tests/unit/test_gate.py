"""The promotion gate: accuracy AND every fairness gap, within tolerances, or no promotion."""

import numpy as np
import pandas as pd
import pytest

from loopwatch.monitoring.fairness import DI, DP, EO
from loopwatch.tasks.tabular.gate import measure
from loopwatch.training.gate import GateInput, GateTolerances, gate
from tests.conftest import tiny_table

TOL = GateTolerances(accuracy_tolerance=0.01, fairness_tolerance=0.02)


def model(acc, dp=0.10, eo=0.05, di=0.70, race_dp=0.08, digest="h1"):
    return GateInput(accuracy=acc, n_rows=1000, holdout_digest=digest, gaps={
        "sex": {DP: dp, EO: eo, DI: di},
        "race": {DP: race_dp, EO: 0.04, DI: 0.8},
    })


CHAMPION = model(0.84)

CASES = [
    # (name, challenger, promote, text a reason must contain)
    ("better on everything", model(0.86, dp=0.08, eo=0.04, di=0.75), True, "accuracy"),
    ("equal", model(0.84), True, "accuracy"),
    ("slightly worse, within tolerances", model(0.835, dp=0.115, eo=0.065, di=0.69), True,
     "sex.demographic_parity_difference"),
    ("exactly at both tolerances", model(0.83, dp=0.12), True, "accuracy"),
    ("better accuracy, demographic parity gap widened",
     model(0.88, dp=0.15), False, "sex.demographic_parity_difference"),
    ("better accuracy, equal opportunity gap widened",
     model(0.88, eo=0.09), False, "sex.equal_opportunity_difference"),
    ("better accuracy, disparate impact fell", model(0.88, di=0.6), False,
     "sex.disparate_impact_ratio"),
    ("better accuracy, another attribute's gap widened", model(0.88, race_dp=0.2), False,
     "race.demographic_parity_difference"),
    ("worse accuracy, fairer", model(0.80, dp=0.0, eo=0.0, di=1.0), False, "accuracy"),
]


@pytest.mark.parametrize("name,challenger,promote,reason", CASES, ids=[c[0] for c in CASES])
def test_gate_table_of_cases(name, challenger, promote, reason):
    decision = gate(CHAMPION, challenger, TOL)
    assert decision.promote is promote, decision.reasons
    assert any(reason in r for r in decision.reasons), decision.reasons
    if not promote:  # every refusal names only what failed
        failed = {k for k, row in decision.table.items() if not row["ok"]}
        assert failed and all(any(k in r for r in decision.reasons) for k in failed)


def test_the_table_holds_both_numbers_and_the_deltas():
    decision = gate(CHAMPION, model(0.88, dp=0.15), TOL)
    row = decision.table["sex.demographic_parity_difference"]
    assert row["champion"] == 0.10 and row["challenger"] == 0.15
    assert row["delta"] == pytest.approx(0.05) and row["ok"] is False
    di = decision.table["sex.disparate_impact_ratio"]
    assert di["worse_by"] == pytest.approx(0.0) and di["ok"] is True
    assert decision.table["accuracy"]["worse_by"] == pytest.approx(-0.04)


def test_disparate_impact_floor_is_absolute_when_set():
    floor = GateTolerances(0.01, 0.02, disparate_impact_floor=0.8)
    decision = gate(CHAMPION, model(0.86, di=0.75), floor)
    assert not decision.promote
    assert any("below the floor 0.8" in r for r in decision.reasons)
    assert gate(CHAMPION, model(0.86, di=0.75), TOL).promote


def test_a_gap_the_challenger_cannot_measure_refuses():
    blind = GateInput(0.9, {"sex": {DP: None, EO: 0.05, DI: 0.7},
                            "race": {DP: 0.08, EO: 0.04, DI: 0.8}}, holdout_digest="h1")
    decision = gate(CHAMPION, blind, TOL)
    assert not decision.promote
    assert any("cannot be measured" in r for r in decision.reasons)


def test_first_model_nan_and_different_holdouts():
    assert gate(None, model(0.7), TOL).promote
    assert not gate(CHAMPION, model(float("nan")), TOL).promote
    other = gate(CHAMPION, model(0.9, digest="h2"), TOL)
    assert not other.promote and "different holdouts" in other.reasons[0]


def test_measure_matches_a_hand_count():
    spec, frame = tiny_table(1200, seed=3)

    def score(inputs: pd.DataFrame) -> np.ndarray:  # a rule: P(yes) high when x1 > 0
        return np.where(inputs["x1"] > 0, 0.9, 0.1)

    result = measure(score, frame, spec, threshold=0.5, min_group_size=30, n_boot=50)
    y = spec.labels(frame)
    pred = (frame["x1"] > 0).to_numpy().astype(int)
    assert result.accuracy == pytest.approx((pred == y).mean())
    rates = pd.Series(pred).groupby(frame["group"].to_numpy()).mean()
    assert result.gaps["group"][DP] == pytest.approx(rates.max() - rates.min())
    assert result.gaps["group"][DI] == pytest.approx(rates.min() / rates.max())
    tpr = pd.Series(pred[y == 1]).groupby(frame["group"].to_numpy()[y == 1]).mean()
    assert result.gaps["group"][EO] == pytest.approx(tpr.max() - tpr.min())
    assert result.n_rows == 1200 and result.holdout_digest
    again = measure(score, frame, spec, min_group_size=30, n_boot=50)
    assert again.holdout_digest == result.holdout_digest
    shuffled = measure(score, frame.sample(frac=1, random_state=0), spec, min_group_size=30,
                       n_boot=50)
    assert shuffled.holdout_digest != result.holdout_digest


def test_measure_gives_none_for_groups_that_are_too_small():
    spec, frame = tiny_table(200, seed=1)
    result = measure(lambda f: np.full(len(f), 0.7), frame, spec, min_group_size=150)
    assert result.gaps["group"] == {DP: None, EO: None, DI: None}


def test_reasons_read_right_better_or_worse_rounded_and_what_noise_means():
    better = gate(CHAMPION, model(0.8504, dp=0.0778), TOL)
    text = " ".join(better.reasons)
    assert "accuracy 0.8504 vs champion 0.8400: better by 0.0104" in text
    assert "sex.demographic_parity_difference 0.0778 vs champion 0.1000: better by 0.0222" in text
    assert "-0.0" not in text  # never "worse by -0.0104"
    assert better.table["accuracy"]["delta"] == 0.0104  # rounded, not 0.010399999...
    noisy = gate(CHAMPION, model(0.84, eo=0.0722), TOL,
                 {"sex.equal_opportunity_difference": -0.004})
    line = next(r for r in noisy.reasons if r.startswith("sex.equal_opportunity"))
    assert "worse by 0.0222 (tolerance: worse by at most 0.02); within noise" in line
    assert "lower confidence bound of how much worse is -0.0040" in line and noisy.promote


def test_long_reasons_are_cut_at_a_word_and_say_where_the_rest_is():
    from loopwatch.training.gate import shortened

    reason = "; ".join(f"sex.gap{i} 0.1234 vs champion 0.12: worse by 0.0034" for i in range(20))
    short = shortened(reason, 300)
    assert len(short) <= 300 and short.endswith("(whole reason: the version's tag)")
    head = short.split(" ...")[0]
    assert reason.startswith(head) and reason[len(head)] in " ;"  # no word cut in half
