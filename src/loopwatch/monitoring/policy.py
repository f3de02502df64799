"""The retraining policy: a pure function from this window and the history to a decision.

``decide(window, history, thresholds) -> Decision(action, reasons)``, action one of
``none | retrain | alert``. No I/O, no clock: the same inputs always give the same decision,
so the table of cases in tests/unit/test_monitoring_policy.py is the specification.

Conditions, each judged per window (``None`` = not judged, e.g. too few labels):

- ``drift``: dataset drift share >= ``retrain_drift_share``
- ``accuracy_drop``: baseline accuracy - accuracy >= ``max_accuracy_drop``
  (judged with >= ``min_labelled_rows`` labelled rows and a known baseline)
- ``<attribute>:<gap>``: a demographic-parity / equal-opportunity difference >=
  ``max_fairness_gap`` with its interval above 0, or a disparate-impact ratio below
  ``min_disparate_impact`` (0.8: the four-fifths rule) with its interval below 1; the
  interval test keeps a gap that is noise from counting (equal opportunity needs labels:
  judged with >= ``min_labelled_rows`` labelled rows)

Against one noisy window:

- hysteresis: a condition becomes active when it crosses its threshold and stays active
  until it falls back past ``hysteresis`` x threshold (for the ratio: past
  1 - hysteresis x (1 - threshold)), so a value hovering at the line does not flap;
- persistence: it must be active in ``consecutive_windows`` consecutive judged windows of the
  same model version (windows where it was not judged neither count nor break the run);
- cooldown: within ``cooldown_hours`` of the last ``retrain`` decision a persistent breach
  gives ``alert`` instead (the fresh model is still being judged, or retraining did not help).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Literal

from loopwatch.config import MonitoringParams
from loopwatch.monitoring.fairness import DI, DP, EO

Action = Literal["none", "retrain", "alert"]


@dataclass(frozen=True)
class WindowSummary:
    """What the policy needs of one window (built by ``tracking.summarize``)."""

    end: datetime
    model_version: str
    drift_share: float
    n_labelled: int
    accuracy: float | None = None
    baseline_accuracy: float | None = None
    # "attribute:gap name" -> (value, ci_low, ci_high)
    gaps: dict[str, tuple[float | None, float | None, float | None]] = field(default_factory=dict)
    action: Action = "none"  # the decision taken on this window (history entries)


@dataclass(frozen=True)
class Decision:
    action: Action
    reasons: tuple[str, ...]
    active: tuple[str, ...] = ()  # conditions active in this window


@dataclass(frozen=True)
class _Signal:
    value: float | None  # None: not judged this window
    enter: bool  # crosses the threshold (significantly, for gaps)
    hold: bool  # still beyond the hysteresis exit level
    text: str


def _signals(w: WindowSummary, t: MonitoringParams) -> dict[str, _Signal]:
    out = {"drift": _high(w.drift_share, t.retrain_drift_share, t.hysteresis, True,
                          f"dataset drift share {w.drift_share:.2f} (threshold "
                          f"{t.retrain_drift_share:.2f})")}
    labels_ok = w.n_labelled >= t.min_labelled_rows
    if labels_ok and w.accuracy is not None and w.baseline_accuracy is not None:
        drop = w.baseline_accuracy - w.accuracy
        out["accuracy_drop"] = _high(drop, t.max_accuracy_drop, t.hysteresis, True,
                                     f"accuracy {w.accuracy:.3f} is {drop:+.3f} below the "
                                     f"baseline {w.baseline_accuracy:.3f} (threshold "
                                     f"{t.max_accuracy_drop:.3f})")
    else:
        out["accuracy_drop"] = _Signal(None, False, False, "accuracy not judged: "
                                       f"{w.n_labelled} labelled rows (need "
                                       f"{t.min_labelled_rows}) or no baseline")
    for key, (value, low, high) in sorted(w.gaps.items()):
        name = key.rsplit(":", 1)[-1]
        if name == DI and t.min_disparate_impact is None:
            out[key] = _Signal(None, False, False, f"{key} not judged: switched off "
                               "(monitoring.min_disparate_impact is null in params.yaml)")
        elif value is None or (name == EO and not labels_ok):
            why = (f"{w.n_labelled} labelled rows (need {t.min_labelled_rows})"
                   if value is not None else "groups too small to measure")
            out[key] = _Signal(None, False, False, f"{key} not judged: {why}")
        elif name == DI:
            exit_level = 1 - t.hysteresis * (1 - t.min_disparate_impact)
            out[key] = _Signal(value, value < t.min_disparate_impact and high is not None
                               and high < 1, value < exit_level,
                               f"{key} {value:.3f} {_ci(low, high)} (four-fifths rule: "
                               f">= {t.min_disparate_impact:.2f})")
        elif name in (DP, EO):
            out[key] = _high(value, t.max_fairness_gap, t.hysteresis,
                             low is not None and low > 0,
                             f"{key} {value:.3f} {_ci(low, high)} (threshold "
                             f"{t.max_fairness_gap:.2f})")
    return out


def _ci(low: float | None, high: float | None) -> str:
    return "[no interval]" if low is None or high is None else f"[{low:.3f}, {high:.3f}]"


def _high(value: float, threshold: float, hysteresis: float, significant: bool,
          text: str) -> _Signal:
    return _Signal(value, value >= threshold and significant, value >= hysteresis * threshold,
                   text)


def decide(window: WindowSummary, history: Sequence[WindowSummary],
           thresholds: MonitoringParams) -> Decision:
    """The action for ``window`` given earlier windows (any order; later ones are ignored)."""
    past = sorted((h for h in history if h.end < window.end), key=lambda h: h.end)
    same_model = [h for h in past if h.model_version == window.model_version] + [window]
    per_window = [_signals(w, thresholds) for w in same_model]
    now = per_window[-1]
    reasons: list[str] = []
    persistent: list[str] = []
    active_now: list[str] = []
    for name, signal in now.items():
        if signal.value is None:
            reasons.append(signal.text)
            continue
        streak = _streak([s.get(name) for s in per_window])
        if streak:
            active_now.append(name)
        if streak >= thresholds.consecutive_windows:
            persistent.append(name)
            reasons.append(f"{signal.text}: active {streak} window(s) in a row")
        elif streak:
            reasons.append(f"{signal.text}: active {streak} of "
                           f"{thresholds.consecutive_windows} window(s) needed")
    if not persistent:
        return Decision("none", tuple(reasons), tuple(active_now))
    retrains = [h.end for h in past if h.action == "retrain"]
    cooldown = timedelta(hours=thresholds.cooldown_hours)
    if retrains and window.end - retrains[-1] < cooldown:
        reasons.append(f"retraining suppressed: last retrain at {retrains[-1].isoformat()}, "
                       f"cooldown {thresholds.cooldown_hours:g} h")
        return Decision("alert", tuple(reasons), tuple(active_now))
    return Decision("retrain", tuple(reasons), tuple(active_now))


def _streak(signals: list[_Signal | None]) -> int:
    """Consecutive judged windows, ending now, in which the condition was active."""
    active, streak = False, 0
    for s in signals:
        if s is None or s.value is None:
            continue  # not judged: the state carries over and the run is not broken
        active = s.enter or (active and s.hold)
        streak = streak + 1 if active else 0
    return streak
