"""The image task end to end: fetch + version the data, train, interpret, log, register.

What a training run records in MLflow (the tabular run's layout, plus interpretation):
params ``images.*`` and split sizes; per-epoch ``train_*``/``valid_*`` metrics (step =
epoch, counting across the frozen and unfrozen stages); ``test_*`` metrics, per-class
accuracy, training time and images/s; artifacts ``evaluation/confusion_matrix.png``
(+ JSON), ``evaluation/top_losses.png``, ``evaluation/per_class_accuracy.json``,
``monitoring/reference.parquet`` (validation embeddings + image statistics, the
reference for drift) and the pyfunc model; the lineage tags of ``training.tracking``.
"""

from __future__ import annotations

import re
import tempfile
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from loopwatch.config import Settings
from loopwatch.data.sources import Log
from loopwatch.images import data
from loopwatch.images.data import ImageSplits
from loopwatch.images.params import ImageParams

REFERENCE_ARTIFACT = "monitoring/reference.parquet"
REFERENCE_ROWS = 1000  # validation images kept as the drift reference
TASK_TAG = "loopwatch.task"


@dataclass
class ImageRun:
    run_id: str
    model_uri: str
    metrics: dict[str, float]
    per_class: dict[str, float]
    registered: str | None = None  # "name/version"
    promoted: bool | None = None
    reason: str | None = None


def fetch(settings: Settings, *, try_url: bool = True, version: bool = True,
          log: Log = print, **kwargs):
    """Fashion-MNIST into ``data/raw/fashion-mnist``; then version ``data/`` with DVC and push
    (the steps ``pipeline.fetch_data`` runs for Adult)."""
    from loopwatch.data import versioning

    data.fetch(settings.raw_dir / data.NAME, try_url=try_url, log=log, **kwargs)
    if not version:
        return None
    return versioning.version_and_push(settings.root, settings.dvc_remote_dir, log)


def load_splits(settings: Settings, params: ImageParams, folder: Path | None = None,
                label_fn: Callable[[Path], str] | None = None) -> ImageSplits:
    """Fashion-MNIST from ``data/``, or a folder of photos resized to ``input_size``."""
    if folder is not None:
        from loopwatch.images.folder import load_folder

        return load_folder(folder, params.input_size, 3, label_fn,
                           valid_fraction=params.valid_fraction, seed=params.seed)
    if params.dataset != data.NAME:
        raise ValueError(f"unknown image dataset {params.dataset!r}: use {data.NAME!r} or "
                         "give a folder of images")
    return data.load(settings.raw_dir / data.NAME, params.valid_fraction, params.seed,
                     params.train_subset)


def metric_key(name: str) -> str:
    """MLflow-safe metric name for a class name like 'T-shirt/top'."""
    return re.sub(r"[^A-Za-z0-9_.-]+", "_", name).strip("_")


def reference_frame(prediction, labels: np.ndarray, classes: tuple[str, ...], rows: int,
                    seed: int):
    """A sample of (embedding, image statistics, prediction, label) rows: drift's reference."""
    from loopwatch.images.monitor_frame import image_frame

    pick = np.random.default_rng(seed).permutation(len(labels))[:rows]
    frame = image_frame(prediction.embeddings[pick], prediction.pixels[pick],
                        [classes[i] for i in prediction.proba[pick].argmax(axis=1)])
    frame["label"] = [classes[i] for i in labels[pick]]
    return frame


def train(settings: Settings, params: ImageParams | None = None,
          splits: ImageSplits | None = None, *, register: bool = True,
          log: Log = print) -> ImageRun:
    import mlflow
    from mlflow.entities import Metric

    from loopwatch.images.decode import encode_png
    from loopwatch.images.fit import fit_images
    from loopwatch.images.interpret import Interpretation, confusion_figure, top_losses_figure
    from loopwatch.images.predictor import ImagePredictor
    from loopwatch.images.pyfunc import log_image_model
    from loopwatch.pipeline import flatten
    from loopwatch.training import tracking
    from loopwatch.training.registry import register_and_promote

    params = params or settings.params.images
    splits = splits if splits is not None else load_splits(settings, params)
    client = tracking.configure(settings)
    tags = {**tracking.lineage_tags(settings), tracking.TAG_STAGE: "train-images",
            TASK_TAG: "image-classification"}
    with mlflow.start_run(run_name=f"train-{params.model_name}-{params.arch}", tags=tags) as run:
        run_id = run.info.run_id
        mlflow.log_params({**flatten({"images": params.model_dump(mode="json")}),
                           **{f"data.n_{k}": v for k, v in splits.sizes().items()},
                           "data.classes": ",".join(splits.classes),
                           "data.image_shape": "x".join(map(str, splits.train_x.shape[1:]))})

        def sink(row: dict[str, float]) -> None:  # one batch per epoch (a round trip each)
            now, step = int(time.time() * 1000), int(row["epoch"])
            client.log_batch(run_id, metrics=[Metric(k, v, now, step) for k, v in row.items()
                                              if k != "epoch" and np.isfinite(v)])
            log(f"epoch {step}: " + ", ".join(f"{k} {v:.4f}" for k, v in row.items()
                                              if k.startswith("valid_")))

        result = fit_images(splits, params, sink)
        predictor = ImagePredictor(result.config, result.net, splits.classes,
                                   raw_size=splits.train_x.shape[1])
        test = predictor.predict_pixels(splits.test_x)
        interp = Interpretation.from_proba(test.proba, splits.test_y, splits.classes)
        per_class = interp.per_class_accuracy()
        metrics = {**interp.metrics("test"), "train_seconds": result.seconds,
                   "train_images_per_s": result.train_images / max(result.seconds, 1e-9),
                   "epochs_run": float(result.module.epoch_offset)}
        mlflow.log_metrics({**metrics, **{f"test_accuracy.{metric_key(c)}": v
                                          for c, v in per_class.items()}})
        tracking.log_figure(confusion_figure(interp), "evaluation/confusion_matrix.png")
        mlflow.log_dict({"classes": list(splits.classes), "matrix": interp.confusion.tolist()},
                        "evaluation/confusion_matrix.json")
        mlflow.log_dict(per_class, "evaluation/per_class_accuracy.json")
        mlflow.log_dict({"most_confused": interp.most_confused()[:20]},
                        "evaluation/most_confused.json")
        tracking.log_figure(top_losses_figure(interp, splits.test_x, params.top_losses),
                            "evaluation/top_losses.png")
        valid = predictor.predict_pixels(splits.valid_x)
        with tempfile.TemporaryDirectory() as tmp:
            path = Path(tmp) / "reference.parquet"
            reference_frame(valid, splits.valid_y, splits.classes, REFERENCE_ROWS,
                            params.seed).to_parquet(path)
            mlflow.log_artifact(str(path), "monitoring")
        info = log_image_model(predictor, [encode_png(p) for p in splits.test_x[:2]])
    out = ImageRun(run_id, info.model_uri, metrics, per_class)
    log(f"run {run_id}: test accuracy {metrics['test_accuracy']:.4f} after "
        f"{result.seconds:.0f} s of training")
    if register:
        reg = register_and_promote(client, params.model_name, info.model_uri, run_id,
                                   "test_accuracy")
        out.registered, out.promoted = f"{reg.name}/{reg.version}", reg.decision.promote
        out.reason = reg.decision.reason
        log(f"{reg.name} v{reg.version}: "
            f"{'champion' if reg.decision.promote else 'challenger'} — {reg.decision.reason}")
    return out
