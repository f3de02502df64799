"""Selective labels: only approved or explored applicants reveal an outcome, `delay` days on."""

import numpy as np
import pandas as pd
import pytest

from loopwatch import feedback
from loopwatch.feedback import (
    PROVENANCE_COLUMNS,
    append_feedback_rows,
    feedback_items,
    read_feedback_rows,
    retraining_rows,
    reveal_probability,
)
from loopwatch.serving.policy import DecisionPolicy
from loopwatch.simulation.lending import observe_outcomes
from loopwatch.training.weights import ips_weights


def applicants_and_decisions(n: int = 2000, epsilon: float = 0.2, seed: int = 0):
    """Applicants with a score, decided by the real serving policy, logged like serving does."""
    rng = np.random.default_rng(seed)
    score = rng.random(n)
    applicants = pd.DataFrame({
        "age": rng.integers(17, 80, size=n).astype(float),
        "sex": rng.choice(["Male", "Female"], size=n),
        "income": np.where(rng.random(n) < score, ">50K", "<=50K"),
    })
    policy = DecisionPolicy(threshold=0.5, epsilon=epsilon)
    decided = policy.decide(score, rng)
    decisions = pd.DataFrame({
        "prediction_id": [f"p{i:05d}" for i in range(n)],
        "decision": policy.names(decided), "propensity": decided.propensity,
        "explored": decided.explored, "model_version": "3",
    })
    return applicants, decisions, decided


def test_denied_and_not_explored_never_get_a_label():
    applicants, decisions, _ = applicants_and_decisions()
    out = observe_outcomes(applicants, decisions, day=4, delay=2)
    hidden = (decisions["decision"] == "deny") & ~decisions["explored"]
    assert hidden.sum() > 100
    assert not set(decisions.loc[hidden, "prediction_id"]) & set(out.feedback["prediction_id"])
    seen = ~hidden
    assert set(out.feedback["prediction_id"]) == set(decisions.loc[seen, "prediction_id"])


def test_explored_rows_are_labelled_with_origin_exploration_even_when_denied():
    applicants, decisions, _ = applicants_and_decisions()
    out = observe_outcomes(applicants, decisions, day=0, delay=0)
    origin = out.feedback.set_index("prediction_id")["origin"]
    explored_denied = decisions[(decisions["decision"] == "deny") & decisions["explored"]]
    assert len(explored_denied) > 20
    assert (origin[explored_denied["prediction_id"]] == "exploration").all()
    model_approved = decisions[(decisions["decision"] == "approve") & ~decisions["explored"]]
    assert (origin[model_approved["prediction_id"]] == "model-selected").all()
    # labels are the true outcomes of those applicants
    truth = dict(zip(decisions["prediction_id"], applicants["income"], strict=True))
    assert all(truth[p] == lab for p, lab in zip(out.feedback["prediction_id"],
                                                 out.feedback["label"], strict=True))


def test_training_rows_carry_features_label_and_provenance():
    applicants, decisions, decided = applicants_and_decisions(epsilon=0.1)
    out = observe_outcomes(applicants, decisions, day=2, delay=1)
    rows = out.rows
    assert list(rows.columns) == ["age", "sex", "income", *PROVENANCE_COLUMNS]
    assert (rows["model_version"] == "3").all()
    assert (rows["label_day"] == 3).all() and (rows["decision_day"] == 2).all()
    logged = decisions.set_index("prediction_id")["propensity"]
    np.testing.assert_allclose(rows["decision_propensity"], logged[rows["prediction_id"]])
    # P(reveal): 1 for those the threshold approves, ε for those it denies
    greedy = pd.Series(decided.greedy, index=decisions["prediction_id"])[rows["prediction_id"]]
    expected = np.where(greedy.to_numpy() == 1, 1.0, 0.1)
    np.testing.assert_allclose(rows["propensity"], expected)
    assert rows["propensity"].between(0.1 - 1e-12, 1).all()


def test_reveal_probability_from_the_log_matches_the_policy():
    eps = 0.3
    # greedy approve: approved (p=1-ε/2) or explored-denied (p=ε/2) -> revealed surely
    # greedy deny: explored-approved (p=ε/2) or explored-denied (p=1-ε/2) -> revealed w.p. ε
    decision = np.array(["approve", "deny", "approve", "deny"])
    propensity = np.array([1 - eps / 2, eps / 2, eps / 2, 1 - eps / 2])
    np.testing.assert_allclose(reveal_probability(decision, propensity), [1, 1, eps, eps])
    np.testing.assert_allclose(reveal_probability(np.array(["approve"]), np.array([1.0])), [1])


def test_ips_weights_of_revealed_rows_recover_the_population_rate():
    """The point of the propensity column: weighted labelled rows stand for everyone."""
    applicants, decisions, _ = applicants_and_decisions(40_000, epsilon=0.2, seed=3)
    rows = observe_outcomes(applicants, decisions, day=0, delay=0).rows
    y = (rows["income"] == ">50K").to_numpy()
    w = ips_weights(rows, clip=100.0)
    truth = (applicants["income"] == ">50K").mean()
    assert y.mean() - truth > 0.15  # the approvals alone overstate the rate
    assert np.average(y, weights=w) == pytest.approx(truth, abs=0.015)


def test_decisions_as_serving_items_and_csv_strings_are_accepted():
    applicants, decisions, _ = applicants_and_decisions(50)
    as_items = decisions.to_dict("records")
    a = observe_outcomes(applicants, as_items, day=0, delay=1)
    as_text = decisions.assign(explored=decisions["explored"].map({True: "True",
                                                                   False: "False"}))
    b = observe_outcomes(applicants, as_text, day=0, delay=1)
    pd.testing.assert_frame_equal(a.feedback, b.feedback)


def test_misaligned_or_incomplete_decisions_are_refused():
    applicants, decisions, _ = applicants_and_decisions(20)
    with pytest.raises(ValueError, match="aligned row for row"):
        observe_outcomes(applicants, decisions.head(10), day=0, delay=0)
    with pytest.raises(ValueError, match="explored"):
        observe_outcomes(applicants, decisions.drop(columns="explored"), day=0, delay=0)


def test_feedback_items_validate_for_the_log_store():
    applicants, decisions, _ = applicants_and_decisions(30)
    out = observe_outcomes(applicants, decisions, day=0, delay=0)
    items = feedback_items(out.feedback)
    assert len(items) == len(out) and {i.origin for i in items} <= {"model-selected",
                                                                     "exploration"}


def test_parquet_append_and_read_round_trip(tmp_path):
    data_dir = tmp_path / "data"
    assert read_feedback_rows(data_dir).empty
    parts = []
    for day in (1, 2):
        applicants, decisions, _ = applicants_and_decisions(200, seed=day)
        decisions["prediction_id"] = decisions["prediction_id"] + f"-{day}"
        parts.append(observe_outcomes(applicants, decisions, day=day, delay=0).rows)
        path = append_feedback_rows(data_dir, parts[-1], day)
        assert path == data_dir / "feedback" / "adult" / f"day={day:03d}.parquet"
    append_feedback_rows(data_dir, parts[1], 2)  # re-running a day adds nothing twice
    back = read_feedback_rows(data_dir)
    pd.testing.assert_frame_equal(back, pd.concat(parts, ignore_index=True))
    assert len(read_feedback_rows(data_dir, up_to_day=1)) == len(parts[0])
    # only the final files: no temporary file left behind for DVC to version
    assert sorted(p.name for p in (data_dir / "feedback" / "adult").iterdir()) == [
        "day=001.parquet", "day=002.parquet"]


def test_a_failed_write_keeps_the_previous_file(tmp_path, monkeypatch):
    applicants, decisions, _ = applicants_and_decisions(100)
    rows = observe_outcomes(applicants, decisions, day=0, delay=0).rows
    path = append_feedback_rows(tmp_path, rows, 0)
    before = path.read_bytes()

    def crash(src, dst):
        raise OSError("disk full")

    monkeypatch.setattr(feedback.os, "replace", crash)
    more = rows.assign(prediction_id=rows["prediction_id"] + "-x")
    with pytest.raises(OSError, match="disk full"):
        append_feedback_rows(tmp_path, more, 0)
    assert path.read_bytes() == before
    assert [p.name for p in path.parent.iterdir()] == [path.name]


def test_retraining_rows_mark_the_original_data_organic():
    applicants, decisions, _ = applicants_and_decisions(100)
    fed = observe_outcomes(applicants, decisions, day=0, delay=0).rows
    organic = applicants.head(10)
    both = retraining_rows(organic, fed)
    assert (both["origin"].head(10) == "organic").all()
    assert both["propensity"].head(10).isna().all()
    np.testing.assert_allclose(ips_weights(both, 10.0)[:10], 1.0)
