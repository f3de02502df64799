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
from collections.abc import Callable
from pathlib import Path

import numpy as np

from loopwatch.config import Settings
from loopwatch.data.sources import Log
from loopwatch.tasks.images import data
from loopwatch.tasks.images.data import ImageSplits
from loopwatch.tasks.images.params import ImageParams


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
        from loopwatch.tasks.images.folder import load_folder

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
    from loopwatch.tasks.images.monitor_frame import image_frame

    pick = np.random.default_rng(seed).permutation(len(labels))[:rows]
    frame = image_frame(prediction.embeddings[pick], prediction.pixels[pick],
                        [classes[i] for i in prediction.proba[pick].argmax(axis=1)])
    frame["label"] = [classes[i] for i in labels[pick]]
    return frame
