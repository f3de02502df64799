"""The main job's drift verdicts on the real Adult scenario, over many seeds.

Before the drift starts (days 0-4) the applicants are drawn i.i.d. from a pool of the Adult
test split, and the monitor compares each day with the training split: nothing changed, so
every alarm is false. Each sensitive group's slice, the smallest included (~10 applicants a
day), must alarm on at most alpha = 5% of those days. On day 5 the built-in population drift
switches on, and the retraining policy's drift share must be reached that same day.
"""

from __future__ import annotations

import copy

import numpy as np
import pytest
from scipy import stats

from loopwatch.config import Settings
from loopwatch.monitoring.stream import StreamMonitor
from loopwatch.simulation.scenario.params import ScenarioParams
from loopwatch.simulation.traffic import day_rng, day_traffic
from loopwatch.tasks.tabular import adult
from tests.conftest import REPO

SEEDS, PRE_DRIFT_DAYS = 30, 5


def scored(frame):
    """A fixed stand-in for the champion: prediction drift is not what this test is about."""
    logit = (frame["age"] - 38) / 13 + (frame["education_num"] - 10) / 2.5
    score = 1 / (1 + np.exp(-logit))
    return frame.assign(score=score, prediction=np.where(score >= 0.5, ">50K", "<=50K"),
                        label=frame["income"])


@pytest.mark.slow
def test_groups_stay_quiet_before_the_drift_and_the_drift_is_caught_on_its_first_day(
        adult_raw, tmp_path):
    settings = Settings.load(REPO, env={"LOOPWATCH_STATE_DIR": str(tmp_path)})  # params.yaml
    params, scenario = settings.params.monitoring, ScenarioParams.from_settings(settings)
    splits = adult.prepare(adult_raw, 0.2, 42)
    engine = StreamMonitor(scored(splits["train"]), adult.spec(), params, mode="memory")
    alarms: dict[tuple[str, str], list[bool]] = {}
    caught = []
    for seed in range(SEEDS):
        order = np.random.default_rng(seed).permutation(len(splits["test"]))
        n_gate = round(len(order) * scenario.gate_pool_fraction)
        pool = splits["test"].iloc[order[n_gate:]].reset_index(drop=True)
        for day in range(PRE_DRIFT_DAYS + 1):
            window = copy.deepcopy(engine)
            window.update(scored(day_traffic(pool, day, scenario.applicants_per_day,
                                             scenario.drift_schedule(), day_rng(seed, day))))
            if day == scenario.drift_start_day:
                caught.append(window.data_drift()[0].share >= params.retrain_drift_share)
                continue
            alarms.setdefault(("all", ""), []).append(window.data_drift()[0].n_drifted > 0)
            for group in window.group_drift():
                if group.drift is not None:
                    alarms.setdefault((group.attribute, group.group), []).append(
                        group.drift.n_drifted > 0)
    assert scenario.drift_start_day == PRE_DRIFT_DAYS and all(caught), caught
    assert {("race", "Black"), ("race", "Amer-Indian-Eskimo"), ("sex", "Female")} <= set(alarms)
    for key, fired in alarms.items():
        # Not significantly above the nominal rate (one-sided binomial test at 0.1%).
        above = stats.binomtest(sum(fired), len(fired), params.drift_alpha, "greater").pvalue
        assert above > 0.001, (key, f"{sum(fired)} of {len(fired)} windows alarmed")
