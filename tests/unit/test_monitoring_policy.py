"""The retraining policy's table of cases: hysteresis, persistence, cooldown, labels."""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, datetime, timedelta

import pytest

from loopwatch.config import MonitoringParams
from loopwatch.monitoring.fairness import DI, DP, EO
from loopwatch.monitoring.policy import WindowSummary, decide

T = MonitoringParams()  # drift 0.5, accuracy drop 0.05, gap 0.10, DI 0.8, 200 labels, 2 windows
DAY0 = datetime(2025, 3, 1, tzinfo=UTC)


def w(day: int, drift: float = 0.1, acc: float | None = 0.85, labels: int = 1_000,
      gaps: dict | None = None, action: str = "none", version: str = "3") -> WindowSummary:
    return WindowSummary(end=DAY0 + timedelta(days=day), model_version=version,
                         drift_share=drift, n_labelled=labels, accuracy=acc,
                         baseline_accuracy=0.85, gaps=gaps or {}, action=action)


def run(drifts: list[float], **kwargs) -> str:
    """Decide on the last of a series of daily windows with these drift shares."""
    windows = [w(i, drift=d, **kwargs) for i, d in enumerate(drifts)]
    return decide(windows[-1], windows[:-1], T).action


@pytest.mark.parametrize("drifts, expected", [
    ([0.1], "none"),                      # quiet
    ([0.6], "none"),                      # one noisy window does not trigger
    ([0.1, 0.6], "none"),                 # first breach: 1 of 2 windows
    ([0.6, 0.6], "retrain"),              # persistent breach
    ([0.6, 0.1, 0.6], "none"),            # not consecutive: the run was broken
    ([0.45, 0.45], "none"),               # 0.45 holds (>= 0.8 x 0.5) but never enters
    ([0.6, 0.45], "retrain"),             # entered, then held above the exit level 0.4
    ([0.6, 0.6, 0.45], "retrain"),        # hysteresis: still active at 0.45 after entering
    ([0.6, 0.6, 0.35], "none"),           # below the exit level 0.4: cleared
])
def test_drift_table(drifts, expected):
    assert run(drifts) == expected


def test_hysteresis_keeps_an_entered_breach_active():
    # Entered at 0.6 on day 0, hovering at 0.45 on day 1: active 2 windows in a row.
    windows = [w(0, drift=0.6), w(1, drift=0.45)]
    decision = decide(windows[-1], windows[:-1], T)
    assert decision.action == "retrain"
    assert "drift" in decision.active


def test_cooldown_turns_retrain_into_alert():
    history = [w(0, drift=0.6), w(1, drift=0.6, action="retrain"), w(2, drift=0.6)]
    decision = decide(w(3, drift=0.6), history, T)  # 2 days after the retrain < 72 h
    assert decision.action == "alert"
    assert any("cooldown" in r for r in decision.reasons)
    later = decide(w(5, drift=0.6), [*history, w(3, drift=0.6), w(4, drift=0.6)], T)
    assert later.action == "retrain"  # 4 days after: cooldown over


def test_accuracy_drop_needs_enough_labels():
    history = [w(0, acc=0.75)]
    assert decide(w(1, acc=0.75), history, T).action == "retrain"
    few = decide(w(1, acc=0.75, labels=50), [w(0, acc=0.75, labels=50)], T)
    assert few.action == "none"
    assert any("accuracy not judged" in r for r in few.reasons)


def test_unjudged_window_neither_counts_nor_breaks_the_run():
    history = [w(0, acc=0.75), w(1, acc=0.75, labels=10)]
    assert decide(w(2, acc=0.75), history, T).action == "retrain"


def test_fairness_gap_must_be_significant():
    noisy = {f"sex:{DP}": (0.15, -0.02, 0.3)}  # over the threshold, interval covers 0
    real = {f"sex:{DP}": (0.15, 0.08, 0.22)}
    assert run([0.1, 0.1], gaps=noisy) == "none"
    assert run([0.1, 0.1], gaps=real) == "retrain"


def test_four_fifths_rule_with_interval():
    failing = {f"race:{DI}": (0.7, 0.6, 0.78)}
    borderline = {f"race:{DI}": (0.75, 0.55, 1.02)}  # interval reaches parity
    assert run([0.1, 0.1], gaps=failing) == "retrain"
    assert run([0.1, 0.1], gaps=borderline) == "none"


def test_equal_opportunity_needs_labels():
    gaps = {f"sex:{EO}": (0.2, 0.1, 0.3)}
    assert run([0.1, 0.1], gaps=gaps) == "retrain"
    assert run([0.1, 0.1], gaps=gaps, labels=20) == "none"


def test_missing_gap_is_not_judged():
    decision = decide(w(1, gaps={f"sex:{DP}": (None, None, None)}), [], T)
    assert decision.action == "none"
    assert any("not judged" in r for r in decision.reasons)


def test_a_new_model_version_starts_a_fresh_run():
    history = [w(0, drift=0.6, version="3")]
    assert decide(w(1, drift=0.6, version="4"), history, T).action == "none"


def test_later_history_is_ignored_and_order_does_not_matter():
    history = [w(2, drift=0.6), w(0, drift=0.6)]
    assert decide(w(1, drift=0.6), history, T).action == "retrain"


def test_thresholds_come_from_params():
    strict = T.model_copy(update={"consecutive_windows": 1, "retrain_drift_share": 0.3})
    assert decide(w(0, drift=0.35), [], strict).action == "retrain"


def test_reasons_name_the_numbers():
    decision = decide(w(1, drift=0.6), [w(0, drift=0.6)], T)
    assert any("dataset drift share 0.60" in r and "2 window(s)" in r for r in decision.reasons)


def test_decide_is_pure():
    history = [w(0, drift=0.6)]
    snapshot = [replace(h) for h in history]
    decide(w(1, drift=0.6), history, T)
    assert history == snapshot


def test_four_fifths_rule_off_reports_but_does_not_act():
    """min_disparate_impact None (params.yaml for Adult): a DI breach neither retrains nor
    blocks other conditions; it is named as not judged."""
    off = T.model_copy(update={"min_disparate_impact": None})
    gaps = {f"sex:{DI}": (0.3, 0.2, 0.4)}
    windows = [w(i, gaps=gaps) for i in range(3)]
    decision = decide(windows[-1], windows[:-1], off)
    assert decision.action == "none"
    assert any(f"sex:{DI} not judged: switched off" in r and "params.yaml" in r
               for r in decision.reasons)
    assert decide(windows[-1], windows[:-1], T).action == "retrain"  # on by default
