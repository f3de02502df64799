"""Train -> MLflow -> registry -> recommend (CLI path and HTTP), on a synthetic MovieLens."""

from __future__ import annotations

import pytest
from fastapi.testclient import TestClient

from loopwatch.recsys import data, pipeline
from loopwatch.recsys.synthetic import synthetic_movielens, write_atomic
from tests.conftest import make_settings

TINY = {"recsys.max_epochs": 4, "recsys.batch_size": 128, "recsys.n_factors": 8,
        "recsys.weight_decay": 0.05, "recsys.lr": 0.02, "recsys.enable_progress_bar": False,
        "recsys.accelerator": "cpu"}


@pytest.fixture(scope="module")
def trained(tmp_path_factory):
    root = tmp_path_factory.mktemp("recsys-proj")
    settings = make_settings(root, **TINY)
    ml = synthetic_movielens(n_users=150, n_items=120, per_user=40, seed=0)
    write_atomic(ml, pipeline.raw_dir(settings))
    return settings, ml, pipeline.train(settings)


def test_model_beats_global_mean_and_item_mean_baselines(trained):
    _, _, report = trained
    m = report.metrics
    assert m["test_rmse"] < m["baseline_item_mean_rmse"] < m["baseline_global_mean_rmse"]
    assert {"test_rmse.gender.F", "test_rmse.gender.M", "test_precision_at_10",
            "baseline_popular_precision_at_10"} <= m.keys()


def test_run_has_params_curves_lineage_and_a_champion(trained):
    from mlflow.tracking import MlflowClient

    settings, _, report = trained
    client = MlflowClient(settings.tracking_uri)
    run = client.get_run(report.run_id)
    assert run.data.params["recsys.kind"] == "dot" and run.data.params["recsys.max_epochs"] == "4"
    assert run.data.params["split.test_rows"] == str(round(0.2 * 150 * 40))
    assert run.data.tags["loopwatch.stage"] == "train"
    assert {"loopwatch.git_commit", "loopwatch.data_md5", "loopwatch.params_hash"} <= \
        run.data.tags.keys()
    curve = client.get_metric_history(report.run_id, "valid_rmse")
    assert [m.step for m in curve] == [0, 1, 2, 3]  # one point per epoch
    assert curve[-1].value < curve[0].value
    version = client.get_model_version_by_alias("movielens-collab", "champion")
    assert str(version.version) == report.version == "1" and report.promoted


def test_recommend_from_the_champion(trained):
    settings, ml, _ = trained
    top = pipeline.recommend(settings, user=1, k=7)
    seen = set(ml.ratings.query("user_id == 1")["item_id"])
    assert len(top) == 7 and top["score"].is_monotonic_decreasing
    # Items the user rated in training are never recommended again.
    train = pipeline.splits(data.load(pipeline.raw_dir(settings)),
                            settings.params.recsys)["train"]
    assert not set(top["item_id"]) & set(train.query("user_id == 1")["item_id"])
    assert seen  # the user exists


def test_http_endpoint_standalone_and_inside_the_main_app(trained, tmp_path):
    from loopwatch.serving.app import create_app
    from loopwatch.serving.log_store import LogStore
    from loopwatch.serving.predictor import StaticSource
    from loopwatch.serving.recommend_app import champion_source, create_recommend_app
    from loopwatch.serving.testing import champion_of, tiny_predictor
    from tests.conftest import tiny_table

    settings, _, _ = trained
    source = champion_source(settings)
    with TestClient(create_recommend_app(source, epsilon=0.0, seed=0)) as client:
        body = client.get("/recommend/1", params={"k": 5}).json()
        assert body["model"] == {"name": "movielens-collab", "version": "1"}
        assert body["known_user"] and len(body["items"]) == 5
        assert all(i["propensity"] == 1.0 and not i["exploration"] for i in body["items"])
        assert client.get("/recommend/1", params={"k": 0}).status_code == 422
        assert client.get("/recommend/123456").json()["known_user"] is False
    spec, frame = tiny_table(100)
    store = LogStore(f"sqlite:///{tmp_path / 'p.db'}")
    app = create_app(StaticSource(champion_of(tiny_predictor(spec, frame))), store,
                     seed=0, recommender=source)
    with TestClient(app) as client:
        assert len(client.get("/recommend/2", params={"k": 3}).json()["items"]) == 3
        assert client.get("/health").status_code == 200
    store.close()
