import numpy as np
import pandas as pd

from loopwatch.tasks.tabular.preprocessing import UNKNOWN, TabularPreprocessor


def fitted():
    train = pd.DataFrame({
        "c": ["x", "y", "y", None],
        "n": [1.0, 3.0, np.nan, 5.0],
        "money": [0.0, 10.0, 100.0, 1000.0],
    })
    return TabularPreprocessor.fit(train, ["c"], ["n", "money"], log1p=["money"])


def test_vocab_reserves_unknown_slot():
    pre = fitted()
    assert pre.vocab["c"] == [UNKNOWN, "x", "y"]
    assert pre.cardinalities == [3]


def test_unseen_and_missing_categories_map_to_unknown():
    pre = fitted()
    cats, _ = pre.transform(pd.DataFrame({"c": ["y", "never-seen", None], "n": [1, 2, 3],
                                          "money": [0, 0, 0]}))
    assert cats[:, 0].tolist() == [2, 0, 0]


def test_missing_numbers_take_training_median_and_are_normalised():
    pre = fitted()
    assert pre.medians["n"] == 3.0
    _, conts = pre.transform(pd.DataFrame({"c": ["x"], "n": [np.nan], "money": [10.0]}))
    expected_n = (3.0 - pre.means["n"]) / pre.stds["n"]
    expected_money = (np.log1p(10.0) - pre.means["money"]) / pre.stds["money"]
    np.testing.assert_allclose(conts[0].numpy(), [expected_n, expected_money], rtol=1e-6)


def test_training_columns_come_out_standardised():
    rng = np.random.default_rng(0)
    train = pd.DataFrame({"c": rng.choice(["a", "b"], 500), "n": rng.normal(50, 9, 500)})
    pre = TabularPreprocessor.fit(train, ["c"], ["n"])
    _, conts = pre.transform(train)
    assert abs(float(conts.mean())) < 1e-4
    assert abs(float(conts.std()) - 1) < 1e-2


def test_json_round_trip_transforms_identically():
    pre = fitted()
    again = TabularPreprocessor.from_json(pre.to_json())
    frame = pd.DataFrame({"c": ["x", "q"], "n": [2.0, None], "money": [5.0, 50.0]})
    for a, b in zip(pre.transform(frame), again.transform(frame), strict=True):
        assert (a == b).all()


def test_missing_input_column_is_named():
    import pytest

    with pytest.raises(KeyError, match="money"):
        fitted().transform(pd.DataFrame({"c": ["x"], "n": [1.0]}))


def test_training_ranges_flag_values_outside_them_and_old_models_flag_nothing():
    import json

    pre = fitted()
    assert pre.ranges == {"n": [1.0, 5.0], "money": [0.0, 1000.0]}  # raw values, NaN aside
    flags = pre.outside_ranges([{"n": 1.0, "money": 5.0}, {"n": 6.0, "money": 5.0},
                                {"n": None, "money": None}, {"n": 0.5, "money": -1.0}])
    assert flags == [[], ["n"], [], ["n", "money"]]
    saved = json.loads(pre.to_json())
    del saved["ranges"]  # a model saved before ranges were recorded
    old = TabularPreprocessor.from_json(json.dumps(saved))
    assert old.outside_ranges([{"n": 6.0, "money": 5.0}]) == [[]]
