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


def test_a_wrong_key_in_the_plugin_block_is_one_line(toy_installed):
    (toy_installed / "params.yaml").write_text("tasks:\n  toy:\n    hiden: 3\n")
    result = CliRunner().invoke(app, ["train", "--task", "toy"])
    assert result.exit_code != 0
    assert "tasks.toy.hiden: unknown setting" in result.output
    assert "Traceback" not in result.output
