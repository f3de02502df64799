"""A full training run on a tiny generated table into a temporary MLflow store."""

from __future__ import annotations

import mlflow
import numpy as np
import pytest
from mlflow.tracking import MlflowClient

from loopwatch.data.splits import split_frame
from loopwatch.tasks.tabular import pipeline
from loopwatch.tasks.tabular.params import TabularParams, prepared_dir
from loopwatch.tasks.tabular.spec import write_splits
from loopwatch.training import tracking
from loopwatch.training.registry import CHALLENGER, CHAMPION
from tests.conftest import make_settings, tiny_table


@pytest.fixture(scope="module")
def trained(tmp_path_factory):
    """Prepared tiny splits, one train + evaluate + register: v1 (the first champion)."""
    root = tmp_path_factory.mktemp("proj")
    settings = make_settings(root, **{"tasks.tabular.max_epochs": 4, "tasks.tabular.batch_size": 64,
                                      "tasks.tabular.layers": [16, 8]})
    spec, frame = tiny_table(900)
    rest, test = split_frame(frame, 0.25, seed=1)
    train, valid = split_frame(rest, 0.25, seed=2)
    write_splits({"train": train, "valid": valid, "test": test}, spec, prepared_dir(settings))
    out = pipeline.train(settings)
    metrics = pipeline.evaluate(settings)
    registration = pipeline.register(settings)
    return settings, spec, test, out, metrics, registration


def test_run_logs_params_epoch_metrics_lineage_and_artifacts(trained):
    settings, _, _, out, _, _ = trained
    client = MlflowClient(settings.tracking_uri)
    run = client.get_run(out.run_id)
    assert run.data.params["tasks.tabular.max_epochs"] == "4"
    assert run.data.params["model.format"] == "pyfunc"
    history = client.get_metric_history(out.run_id, "valid_loss")
    assert len(history) == out.epochs_run >= 2
    assert [m.step for m in history] == sorted(m.step for m in history)
    assert {"train_loss", "valid_accuracy", "valid_roc_auc", "test_accuracy",
            "test_error_rate", "test_roc_auc"} <= set(run.data.metrics)
    assert run.data.tags[tracking.TAG_PARAMS] == settings.params.digest()
    assert tracking.TAG_GIT in run.data.tags and tracking.TAG_DATA in run.data.tags
    assert run.data.tags[tracking.TAG_DIRTY]  # "none", or the changed paths
    artifacts = {a.path for a in client.list_artifacts(out.run_id, "evaluation")}
    assert "evaluation/confusion_matrix.png" in artifacts


def test_model_learns_the_signal(trained):
    _, _, test, _, metrics, _ = trained
    majority = max((test["label"] == "yes").mean(), (test["label"] == "no").mean())
    assert metrics["test_accuracy"] > majority + 0.05
    assert metrics["test_roc_auc"] > 0.75


def test_pyfunc_reload_predicts_exactly_what_the_module_predicts(trained):
    settings, spec, test, out, _, _ = trained
    tracking.configure(settings)
    from loopwatch.tasks.tabular.predictor import TabularPredictor

    loaded = mlflow.pyfunc.load_model(out.model_uri)
    raw = test[list(spec.inputs)].copy()
    raw.loc[raw.index[:3], "color"] = "ultraviolet"  # unseen category: no crash
    got = loaded.predict(raw)
    assert list(got.columns) == ["prediction", "prob_no", "prob_yes"]
    inner: TabularPredictor = loaded.unwrap_python_model().predictor
    cats, conts = inner.preprocessor.transform(raw)
    expected = inner.net.eval()(cats, conts).softmax(dim=1).detach().numpy()
    np.testing.assert_allclose(got[["prob_no", "prob_yes"]].to_numpy(), expected, rtol=0,
                               atol=1e-6)
    assert (got["prediction"] == np.where(expected[:, 1] >= 0.5, "yes", "no")).all()


def test_first_model_is_champion_and_challenger(trained):
    settings, _, _, _, _, registration = trained
    client = MlflowClient(settings.tracking_uri)
    name = TabularParams.from_settings(settings).model_name
    assert registration.version == "1" and registration.decision.promote
    assert str(client.get_model_version_by_alias(name, CHAMPION).version) == "1"
    assert str(client.get_model_version_by_alias(name, CHALLENGER).version) == "1"


def test_champion_moves_only_for_a_better_model(trained):
    settings, _, _, out, _, _ = trained
    client = MlflowClient(settings.tracking_uri)
    name = TabularParams.from_settings(settings).model_name
    # A second real training run with different params; its fate depends on its real metric.
    weaker = make_settings(settings.root, **{
        "tasks.tabular.max_epochs": 1, "tasks.tabular.lr": 1e-4,
        "tasks.tabular.batch_size": 64, "tasks.tabular.layers": [4]})
    second = pipeline.train(weaker)
    second_metrics = pipeline.evaluate(weaker)
    reg = pipeline.register(weaker)
    first_acc = client.get_run(out.run_id).data.metrics["test_accuracy"]
    better = second_metrics["test_accuracy"] > first_acc
    assert reg.version == "2"
    assert str(client.get_model_version_by_alias(name, CHALLENGER).version) == "2"
    champion = client.get_model_version_by_alias(name, CHAMPION)
    assert str(champion.version) == ("2" if better else "1")
    tags = client.get_run(second.run_id).data.tags
    assert tags["promotion.decision"] == ("promoted" if better else "rejected")
    assert "test_accuracy" in tags["promotion.reason"]


def test_register_refuses_an_unevaluated_run(trained, tmp_path):
    settings = trained[0]
    client = tracking.configure(settings)
    with mlflow.start_run() as run:
        pass
    from loopwatch.training.registry import register_and_promote

    with pytest.raises(ValueError, match="loopwatch evaluate"):
        register_and_promote(client, "other", f"runs:/{run.info.run_id}/model", run.info.run_id,
                             "test_accuracy")


def test_one_point_per_epoch_train_and_valid_aligned_and_best_epoch_is_the_checkpoints(trained):
    settings, _, _, out, _, _ = trained
    client = MlflowClient(settings.tracking_uri)
    epochs = list(range(out.epochs_run))
    for key in ("train_loss", "train_roc_auc", "valid_loss", "valid_roc_auc"):
        assert [m.step for m in client.get_metric_history(out.run_id, key)] == epochs, key
    valid = {m.step: m.value for m in client.get_metric_history(out.run_id, "valid_roc_auc")}
    run = client.get_run(out.run_id).data.metrics
    best = max(valid, key=valid.get)
    assert run["best_epoch"] == best and run["best_valid_roc_auc"] == valid[best]
    first = min((settings.state_dir / "checkpoints").iterdir(), key=lambda p: p.stat().st_mtime)
    assert [p.stem for p in first.glob("*.ckpt")] == [f"best-epoch={best}"]  # it is served
