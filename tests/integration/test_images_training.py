"""Image training end to end on tiny generated images (seconds), and on the real data
(slow): MLflow run contents, registry, pyfunc, fast.ai's fine_tune schedule, the CLI."""

from __future__ import annotations

import os

os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")  # before torch loads: see runtime.embedded_env

import json  # noqa: E402
from pathlib import Path  # noqa: E402

import numpy as np  # noqa: E402
import pandas as pd  # noqa: E402
import pytest  # noqa: E402

from loopwatch.tasks.images.params import ImageParams  # noqa: E402
from tests.conftest import make_settings  # noqa: E402
from tests.synthetic_images import shapes_splits  # noqa: E402

FAST = {"input_size": 16, "max_epochs": 2, "batch_size": 32, "lr": 1e-2,
        "enable_progress_bar": False, "accelerator": "cpu"}


@pytest.fixture(scope="module")
def trained(tmp_path_factory):
    """A small CNN trained on generated shapes, logged and registered in a fresh store."""
    from loopwatch.tasks.images.task import train

    root = tmp_path_factory.mktemp("images-proj")
    settings = make_settings(root)
    params = ImageParams(model_name="shapes", **FAST)
    messages: list[str] = []
    out = train(settings, params, shapes_splits(), log=messages.append)
    return settings, params, out, messages


def test_run_records_metrics_artifacts_lineage_and_registers(trained):
    import mlflow
    from mlflow.tracking import MlflowClient

    settings, params, out, messages = trained
    client = MlflowClient(settings.tracking_uri)
    run = client.get_run(out.run_id)
    assert out.metrics["test_accuracy"] >= 0.9  # the shapes are easy; chance is 0.33
    assert run.data.params["tasks.images.arch"] == "small_cnn" and run.data.params["data.n_train"]
    history = client.get_metric_history(out.run_id, "valid_accuracy")
    assert [m.step for m in history] == [0, 1]
    for key in ("test_accuracy", "test_log_loss", "train_seconds", "train_images_per_s",
                "test_accuracy.disc"):
        assert key in run.data.metrics
    tags = run.data.tags
    assert tags["loopwatch.params_hash"] == settings.params.digest()
    assert tags["loopwatch.task"] == "images" and "loopwatch.git_commit" in tags
    files = {f.path for d in ("evaluation", "monitoring")
             for f in client.list_artifacts(out.run_id, d)}
    assert {"evaluation/confusion_matrix.png", "evaluation/top_losses.png",
            "evaluation/per_class_accuracy.json", "evaluation/confusion_matrix.json",
            "monitoring/reference.parquet"} <= files
    matrix = json.loads(Path(mlflow.artifacts.download_artifacts(
        run_id=out.run_id, artifact_path="evaluation/confusion_matrix.json",
        tracking_uri=settings.tracking_uri)).read_text())
    assert np.array(matrix["matrix"]).sum() == 90
    assert out.version == "1" and out.promoted
    assert str(client.get_model_version_by_alias("shapes", "champion").version) == "1"
    assert any("epoch 1:" in m for m in messages)


def test_registered_pyfunc_predicts_from_png_bytes(trained):
    import mlflow

    from loopwatch.tasks.images.decode import encode_png
    from tests.synthetic_images import shapes

    settings, *_ = trained
    mlflow.set_tracking_uri(settings.tracking_uri)
    model = mlflow.pyfunc.load_model("models:/shapes@champion")
    pixels, labels = shapes(12, seed=9)
    scored = model.predict(pd.DataFrame({"image": [encode_png(p) for p in pixels]}))
    assert len(scored) == 12 and scored["probability"].between(0, 1).all()
    names = np.array(["horizontal", "vertical", "disc"])
    assert (scored["label"].to_numpy() == names[labels]).mean() >= 0.8


def test_cli_predict_prints_class_and_probability(trained, tmp_path, monkeypatch):
    from typer.testing import CliRunner

    from loopwatch.cli import app
    from loopwatch.tasks.images.decode import encode_png
    from tests.synthetic_images import shapes

    settings, *_ = trained
    monkeypatch.setenv("LOOPWATCH_ROOT", str(settings.root))
    monkeypatch.setenv("LOOPWATCH_STATE_DIR", str(settings.state_dir))
    pixels, labels = shapes(3, seed=4)
    image = tmp_path / "x.png"
    image.write_bytes(encode_png(pixels[labels.tolist().index(2)]))  # a disc
    result = CliRunner().invoke(app, ["predict", str(image), "--model", "shapes", "--top", "2"])
    assert result.exit_code == 0, result.output
    header, *lines = result.output.strip().splitlines()  # the image's suffix picks the task
    assert header.split() == ["class", "probability"] and len(lines) == 2
    label, prob = lines[0].split()
    assert label == "disc" and 0.5 < float(prob) <= 1
    missing = CliRunner().invoke(app, ["predict", str(tmp_path / "nope.png"), "--model",
                                       "shapes"])
    assert missing.exit_code != 0


def test_cli_trains_on_a_folder_of_photos(trained, tmp_path, monkeypatch):
    """Bring your own photos: a folder per class of RGB PNG/JPEG files, through the CLI."""
    from PIL import Image
    from typer.testing import CliRunner

    from loopwatch.cli import app

    settings, *_ = trained
    rng = np.random.default_rng(0)
    for label, colour in (("red", (200, 40, 40)), ("blue", (40, 40, 200))):
        for i in range(15):
            pixels = np.clip(rng.normal(colour, 30, (24, 24, 3)), 0, 255).astype(np.uint8)
            path = tmp_path / "photos" / label / f"{i}.{'png' if i % 2 else 'jpg'}"
            path.parent.mkdir(parents=True, exist_ok=True)
            Image.fromarray(pixels).save(path)
    monkeypatch.setenv("LOOPWATCH_ROOT", str(settings.root))
    monkeypatch.setenv("LOOPWATCH_STATE_DIR", str(settings.state_dir))
    result = CliRunner().invoke(app, [
        "images", "train", "--folder", str(tmp_path / "photos"), "--input-size", "16",
        "--epochs", "2", "--batch-size", "8", "--no-register"])
    assert result.exit_code == 0, result.output
    accuracy = float(result.output.split("test accuracy")[-1].split(",")[0])
    assert accuracy >= 0.8 and "registered" not in result.output.splitlines()[-1]


def test_fine_tune_trains_the_head_frozen_then_everything():
    """fast.ai's schedule on the pretrained backbone: epoch 0 frozen (body untouched, head
    at ``lr``), epoch 1 unfrozen with discriminative one-cycle peaks (lr/2 / ratio ... lr/2)."""
    import lightning as L
    import torch

    from loopwatch.tasks.images.module import discriminative_lrs
    from loopwatch.tasks.images.nets import imagenet_state_dict
    from loopwatch.tasks.images.task import ImagesTask
    from loopwatch.training.run import fit_task

    class Watch(L.Callback):
        def __init__(self):
            self.peaks, self.stems = [], []

        def on_train_start(self, trainer, module):
            self.peaks.append([g["max_lr"] for g in trainer.optimizers[0].param_groups])

        def on_train_epoch_end(self, trainer, module):
            self.stems.append(module.net.backbone._conv_stem.weight.detach().clone())

    splits = shapes_splits(n_train=64, n_valid=16, n_test=16)
    params = ImageParams(arch="efficientnet_lite0", freeze_epochs=1, lr_ratio=10,
                         **{**FAST, "input_size": 32, "max_epochs": 1})
    watch, rows = Watch(), []
    module = fit_task(ImagesTask(), splits, params, sink=rows.append,
                      callbacks=[watch]).built.module
    assert [r["frozen"] for r in rows] == [1.0, 0.0] and [r["epoch"] for r in rows] == [0, 1]
    assert watch.peaks[0] == pytest.approx([params.lr])
    assert watch.peaks[1] == pytest.approx(list(discriminative_lrs(params.lr / 2, 10, 3)))
    stem0 = imagenet_state_dict()["_conv_stem.weight"]
    assert torch.equal(watch.stems[0], stem0)  # the frozen epoch left the body alone
    assert not torch.equal(watch.stems[1], stem0)  # the unfrozen one trained it
    assert module.epoch_offset == 2
    assert all(p.requires_grad for p in module.net.parameters())


def test_drift_demo_logs_clean_and_drifted_traffic_and_flags_only_the_drift(trained):
    from loopwatch.serving.log_store import LogStore
    from loopwatch.tasks.images.monitoring import drift_demo

    settings, *_ = trained
    clean, drifted = drift_demo(settings, n=150, seed=1, model_name="shapes",
                                splits=shapes_splits(), log=lambda m: None)
    assert clean.accuracy > 0.8 and drifted.accuracy < clean.accuracy
    assert not clean.result.embedding_drift and drifted.result.embedding_drift
    assert "brightness" in drifted.result.drifted_columns
    assert clean.report.exists() and drifted.report.suffix == ".html"
    logged = LogStore(settings.prediction_log_url).read(model_name="shapes")
    assert len(logged) == 300 and set(logged["source"]) == {"demo"}


@pytest.mark.slow
def test_small_cnn_reaches_088_on_10k_fashion_mnist(tmp_path):
    """Model test on real data: the CPU baseline on a 10k subset beats 0.88 test accuracy."""
    from loopwatch.tasks.images import data
    from loopwatch.tasks.images.interpret import Interpretation
    from loopwatch.tasks.images.task import ImagesTask
    from loopwatch.training.run import fit_task

    if not data.DEBIAN_DIR.exists():
        pytest.skip("Debian dataset-fashion-mnist is not installed")
    data.fetch(tmp_path, try_url=False, log=lambda m: None)
    splits = data.load(tmp_path, 0.1, 42, subset=10_000)
    params = ImageParams(max_epochs=4, batch_size=128, lr=5e-3, enable_progress_bar=False,
                         accelerator="cpu")
    result = fit_task(ImagesTask(), splits, params)
    pred = result.predictor.predict_pixels(splits.test_x)
    interp = Interpretation.from_proba(pred.proba, splits.test_y, splits.classes)
    accuracy = interp.metrics()["test_accuracy"]
    assert accuracy >= 0.88, f"test accuracy {accuracy:.4f} after {result.seconds:.0f} s"
    assert min(interp.per_class_accuracy().values()) > 0.5  # Shirt is the hard one
