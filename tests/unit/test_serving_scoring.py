"""The fast record encoder matches TabularPreprocessor.transform exactly; rows carry it all."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from loopwatch.serving.policy import DecisionPolicy
from loopwatch.serving.rows import build_rows
from loopwatch.tasks.tabular.encoder import make_encoder
from tests.conftest import tiny_table
from tests.support import FakePredictor, champion_of, records_of, tiny_predictor


@pytest.fixture(scope="module")
def real():
    spec, frame = tiny_table(300)
    predictor = tiny_predictor(spec, frame, log1p=["x2"])
    return spec, frame, predictor


def odd_rows(spec, frame):
    rows = records_of(frame.head(40), spec.inputs)
    rows[0]["color"] = "ultraviolet"  # unseen category -> the unknown slot
    rows[1]["color"] = None
    rows[2]["x1"] = None  # missing -> training median
    rows[3]["x2"] = -4.0  # log1p column below zero is clipped like in training
    rows[4]["x2"] = 7  # an int where the model saw floats
    return rows


def test_encoder_is_bit_identical_to_the_preprocessor(real):
    import pandas as pd

    spec, frame, predictor = real
    rows = odd_rows(spec, frame)
    cats, conts = make_encoder(predictor).encode(rows)
    ref_cats, ref_conts = predictor.preprocessor.transform(pd.DataFrame(rows))
    assert cats.dtype == ref_cats.dtype and conts.dtype == ref_conts.dtype
    assert torch.equal(cats, ref_cats) and torch.equal(conts, ref_conts)


def test_champion_probabilities_match_the_predictor(real):
    import pandas as pd

    spec, frame, predictor = real
    rows = odd_rows(spec, frame)
    fast = champion_of(predictor).predict_proba(rows)
    slow = predictor.predict_proba(pd.DataFrame(rows))
    np.testing.assert_allclose(fast, slow, rtol=0, atol=1e-7)
    assert fast.shape == (40, 2) and np.allclose(fast.sum(axis=1), 1)


def test_other_predictors_go_through_a_dataframe():
    spec, frame = tiny_table(20)
    champion = champion_of(FakePredictor(spec, "x1"))
    assert champion.encoder is None
    proba = champion.predict_proba([{"color": "red", "x1": 0.8, "x2": 1.0},
                                    {"color": None, "x1": None, "x2": 1.0}])
    np.testing.assert_allclose(proba, [[0.2, 0.8], [0.5, 0.5]])


def test_build_rows_and_items_agree():
    proba = np.array([[0.9, 0.1], [0.2, 0.8]])
    policy = DecisionPolicy(0.5, 0.0)
    rows, items = build_rows(
        model_name="m", model_version="3", classes=("no", "yes"),
        inputs=[{"x": 1}, {"x": 2}], sensitive=[{"group": "a"}, {"group": None}], proba=proba,
        decisions=policy.decide(proba[:, 1], None), policy=policy, source="http",
        request_id="r1", metadata={"client": "c"})
    assert [r["id"] for r in rows] == [i["prediction_id"] for i in items]
    assert len({r["id"] for r in rows}) == 2 and all(len(r["id"]) == 32 for r in rows)
    assert [i["label"] for i in items] == ["no", "yes"]
    assert [i["decision"] for i in items] == ["deny", "approve"]
    assert items[1]["probabilities"] == {"no": 0.2, "yes": 0.8}
    assert rows[1]["score"] == 0.8 and rows[0]["sensitive"] == {"group": "a"}
    assert rows[0]["ts"].tzinfo is not None and rows[0]["ts"].utcoffset().total_seconds() == 0
    assert rows[0]["inputs"] == '{"x":1}' and rows[0]["explored"] is False
