"""A fourth task defined only in tests/ (tests/plugins/toy_task.py) goes through the spine:
discovered through the ``loopwatch.tasks`` entry-point group like the built-in tasks,
trained, tracked and registered by ``loopwatch train --task toy``, and served from the
registry as the one loopwatch pyfunc. No spine file names it."""

from __future__ import annotations

import importlib

import pytest
from typer.testing import CliRunner

from loopwatch.cli import app

PARAMS = "tasks:\n  toy:\n    max_epochs: 6\n    enable_progress_bar: false\n"


@pytest.fixture
def toy_installed(tmp_path, monkeypatch):
    """A distribution on sys.path that declares the entry point, as `pip install` would."""
    site = tmp_path / "site"
    dist = site / "toy_plugin-0.1.dist-info"
    dist.mkdir(parents=True)
    (dist / "METADATA").write_text("Metadata-Version: 2.1\nName: toy-plugin\nVersion: 0.1\n")
    (dist / "entry_points.txt").write_text(
        "[loopwatch.tasks]\ntoy = tests.plugins.toy_task:ToyTask\n")
    monkeypatch.syspath_prepend(str(site))
    importlib.invalidate_caches()
    project = tmp_path / "project"
    project.mkdir()
    (project / "params.yaml").write_text(PARAMS)
    monkeypatch.chdir(project)
    monkeypatch.setenv("LOOPWATCH_STATE_DIR", str(project / ".state"))
    return project


def test_a_task_from_another_package_is_discovered_beside_the_built_in_ones(toy_installed):
    from loopwatch.tasks.registry import TaskRegistry

    registry = TaskRegistry()
    assert {"tabular", "images", "recsys", "toy"} <= set(registry.names())
    assert registry.get("toy").params_model.section == "tasks.toy"
    result = CliRunner().invoke(app, ["tasks"])
    assert result.exit_code == 0 and "toy\ttoy-points\ttasks.toy" in result.output


def test_train_task_tracks_registers_and_serves_the_plugin_model(toy_installed):
    import mlflow
    from mlflow.tracking import MlflowClient

    from loopwatch.config import Settings
    from tests.plugins.toy_task import points

    result = CliRunner().invoke(app, ["train", "--task", "toy"])
    assert result.exit_code == 0, result.output
    assert "registered v1 as champion" in result.output

    settings = Settings.load(toy_installed)
    client = MlflowClient(settings.tracking_uri)
    champion = client.get_model_version_by_alias("toy-points", "champion")
    run = client.get_run(champion.run_id)
    assert run.data.tags["loopwatch.task"] == "toy"
    assert run.data.params["tasks.toy.max_epochs"] == "6"  # the file's value, not the default
    assert run.data.metrics["test_accuracy"] > 0.85  # three separable blobs; chance is 1/3
    assert run.data.metrics["best_valid_accuracy"] >= run.data.metrics["test_accuracy"] - 0.1
    assert len(client.get_metric_history(run.info.run_id, "valid_loss")) == 6
    assert run.data.metrics["rows.organic"] == 540 and \
        run.data.metrics["decision_dependent_label_share"] == 0.0

    mlflow.set_tracking_uri(settings.tracking_uri)
    model = mlflow.pyfunc.load_model("models:/toy-points@champion")
    fresh = points(200, seed=99)
    out = model.predict(fresh[["x", "y"]])
    assert list(out.columns) == ["prediction", "prob_left", "prob_middle", "prob_right"]
    assert (out["prediction"] == fresh["label"]).mean() > 0.85


def test_an_unknown_task_or_a_missing_champion_is_one_line(toy_installed):
    unknown = CliRunner().invoke(app, ["train", "--task", "toys"])
    assert unknown.exit_code == 1 and "no task named 'toys'" in unknown.output
    assert "toy" in unknown.output  # the installed tasks are listed
    nothing = CliRunner().invoke(app, ["monitor", "--task", "toy"])
    assert nothing.exit_code == 1 and "no champion of 'toy-points'" in nothing.output
    assert "Traceback" not in unknown.output + nothing.output


def test_a_wrong_key_in_the_plugin_block_is_one_line(toy_installed):
    (toy_installed / "params.yaml").write_text("tasks:\n  toy:\n    hiden: 3\n")
    result = CliRunner().invoke(app, ["train", "--task", "toy"])
    assert result.exit_code != 0
    assert "tasks.toy.hiden: unknown setting" in result.output
    assert "Traceback" not in result.output


def test_the_plugin_model_is_served_logged_and_monitored_through_the_spine(toy_installed):
    from fastapi.testclient import TestClient
    from mlflow.tracking import MlflowClient

    from loopwatch.config import Settings
    from loopwatch.serving.log_store import LogStore
    from loopwatch.serving.server import build_app
    from loopwatch.tasks.registry import TaskRegistry
    from tests.plugins.toy_task import points

    assert CliRunner().invoke(app, ["train", "--task", "toy"]).exit_code == 0
    settings = Settings.load(toy_installed)
    toy = TaskRegistry().get("toy")
    lines: list[str] = []
    traffic = points(300, seed=7)
    records = traffic[["x", "y", "group"]].to_dict("records")
    with TestClient(build_app(settings, [toy], required=["toy"], seed=0,
                              log=lines.append)) as http:
        assert lines == ["toy: serving toy-points v1"]
        assert http.get("/health").json()["models"] == {"toy": "1"}
        answer = http.post("/predict/toy", json={"records": records[:1]},
                           headers={"x-request-id": "toy-1"}).json()
        retried = http.post("/predict/toy", json={"records": records[:1]},
                            headers={"x-request-id": "toy-1"}).json()
        assert retried["predictions"] == answer["predictions"]  # the same answer, logged once
        (one,) = answer["predictions"]
        assert one["label"] in ("left", "middle", "right") and one["propensity"] == 1.0
        bad = http.post("/predict/toy", json={"records": [{"x": 1.0}]})
        assert bad.status_code == 422 and bad.json()["field"] == "y"
        typo = http.post("/predict/toy", json={"records": [{"x": 1.0, "y": 0.0, "grup": "a"}]})
        assert typo.status_code == 422 and typo.json()["field"] == "grup"
        nan = http.post("/predict/toy", content=b'{"records": [{"x": NaN, "y": 0.0}]}',
                        headers={"content-type": "application/json"})
        assert nan.status_code == 422 and nan.json()["field"] == "x"
        huge = http.post("/predict/toy", json={"records": [{"x": 1e308, "y": 0.0}]})
        assert huge.status_code == 422 and huge.json()["field"] == "x"  # not a null score
        preds = http.post("/predict/toy", json={"records": records[1:]}).json()["predictions"]
        ids = [one["prediction_id"], *(p["prediction_id"] for p in preds)]
        labels = [{"prediction_id": pid, "label": label, "origin": "organic"}
                  for pid, label in zip(ids, traffic["label"], strict=True)]
        assert http.post("/feedback", json={"items": labels}).status_code == 200

    store = LogStore(settings.prediction_log_url)
    logged = store.read(model_name="toy-points")
    store.close()
    assert len(logged) == 300 and logged["label"].notna().all()  # 2 refused requests: nothing
    assert set(logged["group"]) == {"a", "b"}  # the sensitive attribute was logged

    result = CliRunner().invoke(app, ["monitor", "--task", "toy", "--window", "1h"])
    assert result.exit_code == 0, result.output
    assert "300 predictions of toy-points v1, 300 labelled" in result.output
    run = MlflowClient(settings.tracking_uri).search_runs(
        [MlflowClient(settings.tracking_uri).get_experiment_by_name("loopwatch").experiment_id],
        "tags.`loopwatch.stage` = 'monitor'")[0]
    m = run.data.metrics
    assert m["accuracy"] > 0.85 and m["accuracy_ips"] == m["accuracy"]  # greedy: weights 1
    assert m["decision_dependent_label_share"] == 0.0 and m["drift_share"] < 0.5
    assert "accuracy_gap.group" in m and m["accuracy_gap.group"] < 0.15
    # Tagged like the tabular monitor's runs: the policy's history reads it back.
    from loopwatch.monitoring.tracking import load_history

    [window] = load_history(MlflowClient(settings.tracking_uri), "toy-points")
    assert (window.model_version, window.n_labelled) == ("1", 300)


def test_predict_on_a_file_of_records_with_the_plugin_champion(toy_installed):
    from tests.plugins.toy_task import points

    assert CliRunner().invoke(app, ["train", "--task", "toy"]).exit_code == 0
    frame = points(50, seed=5)
    frame.to_csv(toy_installed / "points.csv", index=False)
    out = toy_installed / "predicted.parquet"
    result = CliRunner().invoke(app, ["predict", "points.csv", "--task", "toy", "--out",
                                      str(out)])
    assert result.exit_code == 0, result.output
    import pandas as pd

    predicted = pd.read_parquet(out)
    assert len(predicted) == 50 and {"x", "label", "prediction", "prob_left"} <= set(predicted)
    assert (predicted["prediction"] == predicted["label"]).mean() > 0.8
    frame.drop(columns="y").to_csv(toy_installed / "broken.csv", index=False)
    broken = CliRunner().invoke(app, ["predict", "broken.csv", "--task", "toy"])
    assert broken.exit_code == 1 and "column(s) ['y'] missing" in broken.output
