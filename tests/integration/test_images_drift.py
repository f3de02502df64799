"""Image drift: quiet on clean traffic, loud on drifted traffic (darker, rotated, noisy,
another class mix), through embeddings, image statistics and the prediction log."""

from __future__ import annotations

import os

os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")  # before torch loads: see runtime.embedded_env

import numpy as np  # noqa: E402
import pytest  # noqa: E402

from loopwatch.tasks.images import traffic  # noqa: E402
from loopwatch.tasks.images.monitor_frame import frame_from_log, image_frame, log_inputs  # noqa: E402
from loopwatch.tasks.images.params import ImageParams  # noqa: E402
from tests.synthetic_images import shapes_splits  # noqa: E402


@pytest.fixture(scope="module")
def model():
    """A small CNN trained for two quick epochs on generated 28-px shapes."""
    from loopwatch.tasks.images.task import ImagesTask
    from loopwatch.training.run import fit_task

    splits = shapes_splits(n_train=600, n_valid=400, n_test=600, size=28, seed=1)
    params = ImageParams(max_epochs=2, batch_size=64, lr=1e-2, enable_progress_bar=False,
                         accelerator="cpu")
    return fit_task(ImagesTask(), splits, params).predictor, splits


def frame_of(predictor, pixels):
    pred = predictor.predict_pixels(pixels)
    return image_frame(pred.embeddings, pixels, pred.labels(predictor.classes))


@pytest.fixture(scope="module")
def reference(model):
    predictor, splits = model
    return frame_of(predictor, splits.valid_x)


def test_clean_traffic_is_quiet(model, reference):
    from loopwatch.monitoring.image_drift import image_drift_report

    predictor, splits = model
    pixels, _ = traffic.traffic(splits.test_x, splits.test_y, 300, None, seed=2)
    result, snapshot = image_drift_report(frame_of(predictor, pixels), reference)
    assert not result.embedding_drift, result.summary()
    assert result.embeddings.n_drifted == 0
    assert 0.35 < result.embedding_score < 0.65  # Evidently's domain classifier at chance
    # Calibrated verdicts: at most 5% of clean windows alarm at all, so none here.
    assert result.drifted_columns == [] and not result.drift, result.summary()


def test_drifted_traffic_is_caught_by_every_signal(model, reference, tmp_path):
    from loopwatch.monitoring.image_drift import embedding_drift, image_drift_report

    predictor, splits = model
    pixels, _ = traffic.traffic(splits.test_x, splits.test_y, 300,
                                traffic.Drift.strong(3), seed=2)
    current = frame_of(predictor, pixels)
    result, snapshot = image_drift_report(current, reference)
    assert result.drift and result.embedding_drift and result.embedding_score > 0.8, \
        result.summary()
    assert result.evidently_embedding_drift and result.embeddings.share > 0.2
    assert {"brightness", "contrast", "prediction"} <= set(result.drifted_columns)
    snapshot.save_html(str(tmp_path / "r.html"))
    assert "brightness" in (tmp_path / "r.html").read_text()
    for method in ("mmd", "distance", "ratio"):  # Evidently's other methods agree
        assert embedding_drift(current, reference, method)[1], method
    with pytest.raises(ValueError, match="unknown embedding drift method"):
        embedding_drift(current, reference, "nope")


def test_only_darker_images_move_brightness_not_the_class_mix(model, reference):
    from loopwatch.monitoring.image_drift import image_drift_report

    predictor, splits = model
    pixels, _ = traffic.traffic(splits.test_x, splits.test_y, 300,
                                traffic.Drift(brightness=0.6), seed=3)
    result, _ = image_drift_report(frame_of(predictor, pixels), reference)
    assert "brightness" in result.drifted_columns
    brightness = next(c for c in result.columns if c.column == "brightness")
    assert brightness.verdict == "drift" and brightness.p_adjusted < 1e-6
    assert brightness.evidently_method == "K-S p_value" and brightness.evidently_drifted


def test_prediction_log_round_trip_keeps_the_monitoring_columns(model, tmp_path):
    from loopwatch.serving.champion import ModelInfo
    from loopwatch.serving.log_store import LogStore
    from loopwatch.tasks.images.decode import encode_png
    from loopwatch.tasks.images.routes import ImageChampion, image_rows

    predictor, splits = model
    pixels = splits.test_x[:20]
    pred = predictor.predict_pixels(pixels)
    blobs = [encode_png(p) for p in pixels]
    champion = ImageChampion(ModelInfo("shapes", "1"), predictor)
    rows, _ = image_rows(champion, pred.proba, log_inputs(blobs, pixels, pred.embeddings),
                         "test", "req-1")
    store = LogStore(f"sqlite:///{tmp_path / 'log.db'}")
    store.write_predictions(rows)
    logged = frame_from_log(store.read(model_name="shapes"))
    direct = image_frame(pred.embeddings, pixels, pred.labels(predictor.classes))
    assert list(logged.columns[:len(direct.columns)]) == list(direct.columns)
    assert (logged["prediction"] == direct["prediction"]).all()
    numeric = direct.columns[1:]
    assert np.allclose(logged[numeric].to_numpy(), direct[numeric].to_numpy(), atol=1e-4)
    store.close()
