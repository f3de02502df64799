"""The lending loop's plumbing and metrics on tiny generated data, with a real SQLite
prediction log and a logistic regression standing in for the Lightning model (ms, not s)."""

import numpy as np
import pandas as pd
import pytest

from loopwatch.monitoring.feedback_loop import snips_mean
from loopwatch.serving.log_store import LogStore
from loopwatch.serving.policy import DecisionPolicy
from loopwatch.serving.reading import read_predictions
from loopwatch.simulation import lending_loop as ll
from loopwatch.simulation import lending_loop_metrics as lm
from loopwatch.training.weights import ips_weights
from tests.conftest import tiny_table

GENERATIONS, APPLICANTS, SEED_ROWS = 3, 400, 200


class LogisticModel:
    """P(yes) from a scikit-learn logistic regression on the tiny task's signal columns."""

    def __init__(self, train: pd.DataFrame, weights: np.ndarray):
        from sklearn.linear_model import LogisticRegression

        self.lr = LogisticRegression().fit(self.features(train), train["label"] == "yes",
                                           sample_weight=weights)

    @staticmethod
    def features(frame: pd.DataFrame) -> np.ndarray:
        return np.column_stack([frame["x1"], frame["x2"], frame["color"] == "red"])

    def predict_proba(self, frame: pd.DataFrame) -> np.ndarray:
        return self.lr.predict_proba(self.features(frame))


def logistic_fit(spec, train, valid, params):
    """``lending_loop.fit_model``'s contract: IPS weights when the arm asks for them."""
    return LogisticModel(train, ips_weights(train, params.ips_clip if params.ips_weighting
                                            else None))


def tiny_data() -> ll.LendingData:
    spec, organic = tiny_table(800, seed=0)
    _, pool = tiny_table(2000, seed=1)
    return ll.LendingData(spec, organic.iloc[:500], organic.iloc[500:], pool)


@pytest.fixture(scope="module")
def loop(tmp_path_factory):
    data = tiny_data()
    config = ll.LendingLoopConfig(generations=GENERATIONS, applicants=APPLICANTS,
                                  seed_rows=SEED_ROWS, valid_rows=100, reference_rows=300,
                                  group="group", n_boot=50, seed=3)
    runs = ll.simulate_lending(data, config, tmp_path_factory.mktemp("logs"), fit=logistic_fit)
    histories = {arm: lm.arm_history(run, data.spec, "group", n_boot=50)
                 for arm, run in runs.items()}
    yield data, runs, histories
    for run in runs.values():
        run.store.close()


def test_snips_mean_weights_each_outcome_by_its_inverse_propensity():
    estimate, se = snips_mean([1, 0, 0], [1.0, 0.5, 0.25])  # weights 1, 2, 4
    assert estimate == pytest.approx(1 / 7)
    assert se == pytest.approx(np.sqrt((6 / 7) ** 2 + 4 * (1 / 7) ** 2 + 16 * (1 / 7) ** 2) / 7)
    assert snips_mean([1, 0], [0.5, 0.5])[0] == pytest.approx(0.5)  # equal weights: the mean
    with pytest.raises(ValueError, match="probability 0"):
        snips_mean([1, 0], [1.0, 0.0])


def test_a_generation_is_logged_and_only_approved_or_explored_applicants_get_labels(tmp_path):
    data = tiny_data()
    store = LogStore(f"sqlite:///{tmp_path / 'log.db'}")
    model = logistic_fit(data.spec, data.organic_train, None, ll.LendingLoopConfig()
                         .train_params(False))
    applicants = data.applicant_pool.iloc[:300].reset_index(drop=True)
    policy = DecisionPolicy(0.5, 0.2, actions=("deny", "approve"))
    outcomes, ids = ll.serve_generation(store, model, data.spec, applicants, policy, "lend", 2,
                                        np.random.default_rng(0), data.spec.sensitive)
    log = read_predictions(store).set_index("prediction_id").loc[ids]
    assert len(log) == 300 and set(log["model_version"]) == {"2"}
    assert set(log["timestamp"]) == {pd.Timestamp(ll.START) + pd.Timedelta(days=2, hours=12)}
    assert log["group"].tolist() == applicants["group"].tolist()  # the sensitive column
    approved, explored = (log["decision"] == "approve").to_numpy(), log["explored"].to_numpy()
    labelled = log["label"].notna().to_numpy()
    assert (labelled == (approved | explored)).all() and 0 < labelled.sum() < 300
    assert (log.loc[labelled, "label"].to_numpy() == applicants["label"].to_numpy()[labelled]).all()
    assert set(log.loc[explored, "label_origin"]) == {"exploration"}
    assert set(log.loc[labelled & ~explored, "label_origin"]) == {"model-selected"}
    assert store.count("feedback") == len(outcomes) == labelled.sum()
    store.close()


def test_every_decision_is_in_the_log_and_rho_is_its_provenance(loop):
    data, runs, histories = loop
    for arm, run in runs.items():
        h = histories[arm]
        assert run.store.count() == GENERATIONS * APPLICANTS
        revealed = run.store.count("feedback")
        # rho of the last training set: revealed labels over seed + revealed, from the log
        assert h["rho"].iloc[-1] == pytest.approx(revealed / (SEED_ROWS + revealed))
        assert h["rho"].is_monotonic_increasing and h["rho"].iloc[0] > 0
        assert h["train_rows"].iloc[-1] == SEED_ROWS + revealed
    # one generation-0 model and the same applicants and draws in every arm
    first = {arm: read_predictions(run.store, model_version=0)["score"].to_numpy()
             for arm, run in runs.items()}
    assert np.array_equal(first["naive"], first["ips"])
    assert np.array_equal(first["naive"], first["no-exploration"])


def test_naive_rate_is_biased_where_snips_is_not(loop):
    _, _, histories = loop
    for arm in ("naive", "ips"):
        h = histories[arm]
        # approvals pick likely positives, so the revealed labels over-state the rate
        assert ((h["naive_rate"] - h["true_rate"]) > 3 * h["naive_rate_se"]).all()
        assert ((h["snips_rate"] - h["true_rate"]).abs() < 4 * h["snips_rate_se"]).all()
        assert np.allclose(h["min_propensity"], 0.1)  # ε = 0.1 reveals denials
        assert (h["naive_ips_gap"] > 0).all()


def test_without_exploration_no_weight_can_correct_the_labels(loop):
    _, _, histories = loop
    h = histories["no-exploration"]
    assert (h["explored_share"] == 0).all() and (h["min_propensity"] == 1.0).all()
    assert np.allclose(h["snips_rate"], h["naive_rate"])  # every label was seen with p = 1
    assert (h["naive_ips_gap"] == 0).all()  # the log cannot show the selection
    assert (h["naive_rate"] - h["true_rate"] > 0.1).all()


def test_log_metrics_match_a_hand_count(loop):
    data, runs, histories = loop
    run, h = runs["naive"], histories["naive"]
    log = lm.generation_log(run, 1)
    truth = log["true_label"] == "yes"
    seen = log["label"].notna()
    called = log["prediction"] == "yes"
    assert h.loc[1, "true_accuracy"] == pytest.approx((called == truth).mean())
    assert h.loc[1, "observed_accuracy"] == pytest.approx(
        (called[seen] == (log.loc[seen, "label"] == "yes")).mean())
    assert h.loc[1, "true_rate"] == pytest.approx(truth.mean())
    groups = log["group"].value_counts(normalize=True)
    assert h.loc[1, "approval_rate"] == pytest.approx(
        sum(groups[g] * h.loc[1, f"approval_rate.{g}"] for g in groups.index))
    assert h.loc[1, "dp_gap"] == pytest.approx(
        abs(h.loc[1, "approval_rate.a"] - h.loc[1, "approval_rate.b"]))
    assert h.loc[1, "dp_gap_low"] <= h.loc[1, "dp_gap"] <= h.loc[1, "dp_gap_high"]
    # kappa needs three consecutive models: only the middle generation has one
    assert np.isnan(h.loc[0, "kappa"]) and np.isnan(h.loc[2, "kappa"])
    assert np.isfinite(h.loc[1, "kappa"]) and h.loc[1, "kappa"] >= 0


def test_training_metrics_weight_revealed_rows_by_their_reveal_probability():
    train = pd.DataFrame({"y": ["1", "0", "1", "1", "0"],
                          "origin": ["organic", "organic", "model-selected", "model-selected",
                                     "exploration"],
                          "propensity": [np.nan, np.nan, 1.0, 1.0, 0.1]})
    m = lm.training_metrics(train, ("0", "1"), "y")
    assert m["rho"] == pytest.approx(3 / 5)
    assert m["train_naive_rate"] == pytest.approx(3 / 5)
    assert m["train_ips_rate"] == pytest.approx(3 / 14)  # weights 1, 1, 1, 1, 10
    assert m["naive_ips_gap"] == pytest.approx(3 / 5 - 3 / 14)


def test_snapshot_rows_and_extras_follow_the_training_sets(loop):
    data, runs, histories = loop
    rows = lm.snapshot_rows(runs["ips"], data.spec, "group")
    sizes = rows.groupby("generation").size()
    assert sizes.tolist() == [len(t) for t in runs["ips"].training_sets]
    assert set(rows["unit"]) == {"a", "b"} and rows["propensity"].between(0.099, 1.0).all()
    extras = lm.snapshot_extras(histories["ips"])
    assert sorted(extras) == list(range(GENERATIONS))
    assert "kappa" not in extras[0] and "kappa" in extras[1]  # NaN is left out
    assert extras[2]["approval_rate.b"] == pytest.approx(histories["ips"].loc[2,
                                                                              "approval_rate.b"])
