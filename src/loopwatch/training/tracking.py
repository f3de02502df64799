"""MLflow tracking: per-epoch metrics from Lightning, lineage tags, figures.

One ``log_metrics`` batch per epoch (not one call per value: against a server
each call is a round trip), written by a small callback rather than Lightning's
MLFlowLogger so the run is ours: opened, tagged and closed by the pipeline.
"""

from __future__ import annotations

import math

import lightning as L
import matplotlib

matplotlib.use("Agg")  # headless: figures are files, never windows
import matplotlib.pyplot as plt  # noqa: E402
import mlflow  # noqa: E402
import numpy as np  # noqa: E402
from mlflow.tracking import MlflowClient  # noqa: E402

from loopwatch.config import Settings  # noqa: E402
from loopwatch.data import versioning  # noqa: E402

TAG_GIT = "loopwatch.git_commit"
TAG_DATA = "loopwatch.data_md5"
TAG_DATA_PATH = "loopwatch.data_path"
TAG_PARAMS = "loopwatch.params_hash"
TAG_STAGE = "loopwatch.stage"


class MlflowEpochLogger(L.Callback):
    """Logs every epoch-level metric Lightning has collected, with step = epoch.

    Lightning runs validation before ``on_train_epoch_end``, so one flush there
    carries the epoch's train and valid metrics together.
    """

    def __init__(self, client: MlflowClient, run_id: str):
        self.client, self.run_id = client, run_id

    def on_train_epoch_end(self, trainer: L.Trainer, pl_module: L.LightningModule) -> None:
        self._flush(trainer)

    def _flush(self, trainer: L.Trainer) -> None:
        from mlflow.entities import Metric

        now = _now_ms()
        metrics = [
            Metric(key, float(value), now, trainer.current_epoch)
            for key, value in trainer.callback_metrics.items()
            if math.isfinite(float(value))
        ]
        if metrics:
            self.client.log_batch(self.run_id, metrics=metrics, synchronous=True)


def _now_ms() -> int:
    import time

    return int(time.time() * 1000)


def configure(settings: Settings) -> MlflowClient:
    """Point MLflow at the settings' store (embedded SQLite by default) and experiment."""
    settings.state_dir.mkdir(parents=True, exist_ok=True)
    mlflow.set_tracking_uri(settings.tracking_uri)
    if mlflow.get_experiment_by_name(settings.experiment) is None:
        mlflow.create_experiment(
            settings.experiment, artifact_location=settings.artifact_dir.as_uri()
        )
    mlflow.set_experiment(settings.experiment)
    return MlflowClient(settings.tracking_uri)


def lineage_tags(settings: Settings) -> dict[str, str]:
    """Git commit, DVC hash of the data, params hash: enough to rebuild the run."""
    try:
        data = versioning.read_version(settings.root)
        data_md5, data_path = data.md5, data.path
    except FileNotFoundError:
        data_md5, data_path = "untracked", "data"
    return {
        TAG_GIT: versioning.git_commit(settings.root),
        TAG_DATA: data_md5,
        TAG_DATA_PATH: data_path,
        TAG_PARAMS: settings.params.digest(),
    }


def confusion_matrix_figure(matrix: np.ndarray, classes: tuple[str, ...], title: str):
    fig, ax = plt.subplots(figsize=(4.5, 4))
    ax.imshow(matrix, cmap="Blues")
    ax.set_xticks(range(len(classes)), classes)
    ax.set_yticks(range(len(classes)), classes)
    ax.set_xlabel("predicted")
    ax.set_ylabel("actual")
    ax.set_title(title)
    peak = matrix.max() or 1
    for (i, j), value in np.ndenumerate(matrix):
        ax.text(j, i, f"{value:,}", ha="center", va="center",
                color="white" if value > peak / 2 else "black")
    fig.tight_layout()
    return fig


def log_figure(fig, artifact_file: str) -> None:
    mlflow.log_figure(fig, artifact_file)
    plt.close(fig)
