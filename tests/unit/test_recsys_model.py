"""The collab networks and the predictor around them (untrained nets: shapes and rules)."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from loopwatch.tasks.recsys.model import CollabConfig, DotProductBias, EmbeddingNN, emb_size
from loopwatch.tasks.recsys.predictor import CollabPredictor, IdIndex

USERS = IdIndex.of([30, 10, 20, 10])
ITEMS = IdIndex.of(range(101, 113))


def predictor(kind: str = "dot") -> CollabPredictor:
    torch.manual_seed(0)
    config = CollabConfig(n_users=len(USERS), n_items=len(ITEMS), kind=kind, n_factors=4,
                          layers=[8])
    net = DotProductBias(config) if kind == "dot" else EmbeddingNN(config)
    with torch.no_grad():  # spread the outputs so rankings are not ties
        for p in net.parameters():
            p.normal_(0, 1.0)
    return CollabPredictor(config, USERS, ITEMS, net.eval(), seen={10: [101, 102, 103]},
                           titles={101: "Toy Story"})


def test_id_index_maps_unknown_ids_to_slot_zero():
    assert USERS.ids == (10, 20, 30) and len(USERS) == 4
    assert USERS.encode([10, 30, 99]).tolist() == [1, 3, 0]


def test_bad_kind_is_refused():
    with pytest.raises(ValueError, match="kind"):
        CollabConfig(n_users=3, n_items=3, kind="svd")


@pytest.mark.parametrize("kind", ["dot", "nn"])
def test_outputs_stay_in_y_range_and_score_matrix_matches_pairs(kind):
    model = predictor(kind)
    pairs = model.predict([10, 10, 20, 99], [101, 112, 105, 101])
    assert ((pairs > 0.0) & (pairs < 5.5)).all()
    matrix = model.score_matrix([10, 20])
    assert matrix.shape == (2, 12)
    assert matrix[0, 11] == pytest.approx(pairs[1], abs=1e-5)  # item 112 is the last column
    assert matrix[1, 4] == pytest.approx(pairs[2], abs=1e-5)


def test_recommend_excludes_seen_items_best_first():
    model = predictor()
    top = model.recommend(10, k=5)
    assert len(top) == 5 and not set(top["item_id"]) & {101, 102, 103}
    assert top["score"].is_monotonic_decreasing and top["rank"].tolist() == [1, 2, 3, 4, 5]
    with_seen = model.recommend(10, k=12, exclude_seen=False)
    assert 101 in set(with_seen["item_id"])
    assert with_seen.set_index("item_id").loc[101, "title"] == "Toy Story"


def test_save_load_round_trip(tmp_path):
    model = predictor("nn")
    loaded = CollabPredictor.load(model.save(tmp_path / "m"))
    assert loaded.seen == model.seen and loaded.titles == model.titles
    np.testing.assert_allclose(loaded.score_matrix([10, 30]), model.score_matrix([10, 30]))


def test_slate_propensities_follow_the_exploration_rule():
    model = predictor()
    rng = np.random.default_rng(0)
    greedy = model.slate(10, 4, epsilon=0.0, rng=rng)
    assert not greedy["exploration"].any() and (greedy["propensity"] == 1.0).all()
    explore = model.slate(10, 4, epsilon=1.0, rng=rng)
    assert explore["exploration"].all()
    assert explore["propensity"].tolist() == pytest.approx([4 / 9] * 4)  # 12 items - 3 seen
    assert not set(explore["item_id"]) & {101, 102, 103}


def test_fastai_embedding_width_rule():
    assert emb_size(944) == 74 and emb_size(1683) == 103  # round(1.6 * n ** 0.56)
