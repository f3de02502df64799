"""The recommender's Prefect flows for real: fetch + DVC, train + register, simulate; then
the served loop (logged slates and ratings) watched by the monitor flow."""

from __future__ import annotations

import pytest
from fastapi.testclient import TestClient
from mlflow.tracking import MlflowClient

pytestmark = pytest.mark.slow  # real MovieLens, real training, the Prefect harness

PARAMS = """tasks:
  recsys:
    max_epochs: 2
    enable_progress_bar: false
    loop: {generations: 3, train_random_arm: false, max_epochs: 2}
"""


def test_train_flow_then_served_slates_then_monitor_flow(prefect_harness, shared_cache,
                                                         tmp_path, monkeypatch):
    from flows.recommender import recommender_monitor, recommender_train
    from loopwatch.config import Settings
    from loopwatch.serving.log_store import LogStore
    from loopwatch.tasks.recsys.routes import champion_source, create_recommend_app

    (tmp_path / "params.yaml").write_text(PARAMS)
    monkeypatch.setenv("LOOPWATCH_STATE_DIR", str(tmp_path / ".state"))
    monkeypatch.setenv("LOOPWATCH_CACHE_DIR", str(shared_cache))
    out = recommender_train(root=str(tmp_path), try_url=False)

    assert out["data_version"].endswith(".dir") and (tmp_path / "data.dvc").exists()
    assert any((tmp_path / ".state" / "dvc-remote").rglob("*"))  # pushed to the remote
    assert out["promoted"] and out["version"] == "1" and out["test_rmse"] < 1.0
    settings = Settings.load(str(tmp_path))
    client = MlflowClient(settings.tracking_uri)
    run = client.get_run(out["run_id"])
    assert run.data.tags["loopwatch.data_md5"] == out["data_version"]
    sim = client.get_run(out["simulation_run_id"])
    assert len(client.get_metric_history(sim.info.run_id, "model.train_popularity")) == 3

    store = LogStore(settings.prediction_log_url)
    source = champion_source(settings, poll=False)
    with TestClient(create_recommend_app(source, store, seed=0, epsilon=0.1)) as http:
        bodies = [http.get(f"/recommend/{user}", params={"k": 10}).json()
                  for user in range(1, 41)]
        ratings = [{"prediction_id": b["items"][0]["prediction_id"], "label": "5",
                    "origin": "exploration" if b["items"][0]["exploration"]
                    else "model-selected"} for b in bodies]
        assert http.post("/feedback", json={"items": ratings}).status_code == 200
    store.close()

    watched = recommender_monitor(window="1h", root=str(tmp_path))
    assert watched["rows"] == 400 and watched["slates"] == 40
    assert watched["rated_share"] == pytest.approx(0.1) and watched["mean_rating"] == 5.0
    # The champion recommends what its training data made popular: above an average item.
    assert watched["rec_popularity_live"] > 1.0
    assert client.get_run(watched["run_id"]).data.tags["loopwatch.stage"] == "monitor-live"
