"""Train -> MLflow -> registry -> recommend (CLI path and HTTP), on a synthetic MovieLens."""

from __future__ import annotations

import pytest
from fastapi.testclient import TestClient

from loopwatch.tasks.recsys import data, pipeline
from loopwatch.tasks.recsys.params import RecsysParams
from loopwatch.tasks.recsys.task import train
from tests.conftest import make_settings
from tests.synthetic_movielens import synthetic_movielens, write_atomic

TINY = {"tasks.recsys.max_epochs": 4, "tasks.recsys.batch_size": 128, "tasks.recsys.n_factors": 8,
        "tasks.recsys.weight_decay": 0.05, "tasks.recsys.lr": 0.02,
        "tasks.recsys.enable_progress_bar": False,
        "tasks.recsys.accelerator": "cpu"}


@pytest.fixture(scope="module")
def trained(tmp_path_factory):
    root = tmp_path_factory.mktemp("recsys-proj")
    settings = make_settings(root, **TINY)
    ml = synthetic_movielens(n_users=150, n_items=120, per_user=40, seed=0)
    write_atomic(ml, pipeline.raw_dir(settings))
    return settings, ml, train(settings)


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
    assert run.data.params["tasks.recsys.kind"] == "dot"
    assert run.data.params["tasks.recsys.max_epochs"] == "4"
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
                            RecsysParams.from_settings(settings))["train"]
    assert not set(top["item_id"]) & set(train.query("user_id == 1")["item_id"])
    assert seen  # the user exists


def test_http_endpoint_standalone_and_inside_the_main_app(trained, tmp_path):
    from loopwatch.serving.champion import StaticSource
    from loopwatch.serving.log_store import LogStore
    from loopwatch.tasks.recsys.routes import champion_source, create_recommend_app, recsys_mount
    from loopwatch.tasks.tabular.routes import create_tabular_app
    from tests.conftest import tiny_table
    from tests.support import champion_of, tiny_predictor

    settings, _, _ = trained
    source = champion_source(settings, poll=False)
    alone = LogStore(f"sqlite:///{tmp_path / 'alone.db'}")
    with TestClient(create_recommend_app(source, alone, seed=0, epsilon=0.0)) as client:
        body = client.get("/recommend/1", params={"k": 5}).json()
        assert body["model"] == {"name": "movielens-collab", "version": "1"}
        assert body["known_user"] and len(body["items"]) == 5
        assert all(i["propensity"] == 1.0 and not i["exploration"] for i in body["items"])
        assert client.get("/recommend/1", params={"k": 0}).status_code == 422
        assert client.get("/recommend/123456").json()["known_user"] is False
    spec, frame = tiny_table(100)
    store = LogStore(f"sqlite:///{tmp_path / 'p.db'}")
    app = create_tabular_app(StaticSource(champion_of(tiny_predictor(spec, frame))), store,
                             seed=0, also=(recsys_mount(source, seed=0),))
    with TestClient(app) as client:
        items = client.get("/recommend/2", params={"k": 3}).json()["items"]
        assert len(items) == 3
        assert client.get("/health").status_code == 200
    # Inside the main service the slate is logged like any prediction.
    assert store.count() == 3
    assert {r["prediction_id"] for r in items} == store.ids()
    store.close()


def test_served_slates_and_ratings_are_logged_and_monitored(trained, tmp_path):
    from mlflow.tracking import MlflowClient

    from loopwatch.monitoring.window import workspace_path
    from loopwatch.monitoring.workspace import open_workspace, project_for
    from loopwatch.serving.log_store import LogStore
    from loopwatch.tasks.recsys.live import interactions, monitor_live, read_slates
    from loopwatch.tasks.recsys.routes import champion_source, create_recommend_app

    settings, _, _ = trained
    store = LogStore(settings.prediction_log_url)
    before = store.count()
    source = champion_source(settings, poll=False)
    responses = []
    with TestClient(create_recommend_app(source, store, seed=1, epsilon=0.5)) as client:
        for user in range(1, 31):
            responses.append(client.get(f"/recommend/{user}", params={"k": 5}).json())
        # Each user rates the first two items shown: the consumption that comes back.
        ratings = [{"prediction_id": item["prediction_id"], "label": str(1 + (j + u) % 5),
                    "origin": "exploration" if item["exploration"] else "model-selected"}
                   for u, body in enumerate(responses) for j, item in enumerate(body["items"][:2])]
        report = client.post("/feedback", json={"items": ratings})
        assert report.status_code == 200, report.text
        bad = client.post("/feedback", json={"items": [{"prediction_id": "nope", "label": "4",
                                                         "origin": "model-selected"}]})
        assert bad.json()["unknown_ids"] == ["nope"] and not bad.json()["accepted"]
        assert len(report.json()["accepted"]) == 60
    assert store.count() == before + 30 * 5  # every shown item, committed before the answer
    slates = read_slates(store, "movielens-collab")
    assert len(slates) == 150 and slates["rating"].notna().sum() == 60
    assert slates.groupby("request_id")["rank"].apply(sorted).map(list).eq(
        [[1, 2, 3, 4, 5]] * 30).all()
    explored = slates["explored"].astype(bool)
    assert 0 < explored.sum() < 150 and (slates.loc[explored, "propensity"] < 1).all()
    rows = interactions(slates)
    assert len(rows) == 60 and set(rows["rating"]) <= {1, 2, 3, 4, 5}
    assert (rows["origin"] == "exploration").sum() == explored[slates["rating"].notna()].sum()
    store.close()

    out = monitor_live(settings)
    m = out.metrics
    assert out.rows == 150 and m["slates"] == 30 and m["rated_share"] == pytest.approx(0.4)
    assert 0 < m["exposure_coverage"] <= 1 and m["rec_popularity_live"] > 0
    assert m["liked_share"] == pytest.approx((rows["rating"] >= 4).mean())
    client = MlflowClient(settings.tracking_uri)
    run = client.get_run(out.run_id)
    assert run.data.tags["loopwatch.stage"] == "monitor-live"
    assert run.data.metrics["slates"] == 30
    ws = open_workspace(workspace_path(settings))
    assert len(ws.list_runs(project_for(ws, "movielens-collab-live").id)) == out.snapshots == 2
    # `loopwatch monitor --task recsys` goes through the task's own monitor.
    from loopwatch.tasks.recsys.task import RecsysTask

    lines = RecsysTask().monitor_window(settings, "1d")
    assert lines[0] == "150 shown items, 30 slates, 40% rated"
    assert lines[-1].endswith("2 Evidently snapshots in project movielens-collab-live")


def test_monitor_says_what_to_do_with_an_empty_window(trained):
    from datetime import UTC, datetime

    from loopwatch.tasks.recsys.live import monitor_live

    settings, _, _ = trained
    with pytest.raises(ValueError, match="serve some first"):
        monitor_live(settings, end=datetime(2000, 1, 1, tzinfo=UTC))
