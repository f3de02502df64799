"""MLflow tracking: per-epoch metrics from Lightning, lineage tags, figures.

One ``log_metrics`` batch per epoch (not one call per value: against a server
each call is a round trip), written by a small callback rather than Lightning's
MLFlowLogger so the run is ours: opened, tagged and closed by the pipeline.
"""

from __future__ import annotations

import math
from typing import Any

import matplotlib

matplotlib.use("Agg")  # headless: figures are files, never windows
import matplotlib.pyplot as plt  # noqa: E402
import mlflow  # noqa: E402
import numpy as np  # noqa: E402
from mlflow.tracking import MlflowClient  # noqa: E402

from loopwatch.config import Settings  # noqa: E402
from loopwatch.data import versioning  # noqa: E402

TAG_GIT = "loopwatch.git_commit"
TAG_DIRTY = "loopwatch.git_dirty_paths"
TAG_DATA = "loopwatch.data_md5"
TAG_DATA_PATH = "loopwatch.data_path"
TAG_PARAMS = "loopwatch.params_hash"
TAG_STAGE = "loopwatch.stage"
TAG_TASK = "loopwatch.task"


def epoch_sink(client: MlflowClient, run_id: str):
    """A ``History`` sink that logs each epoch's row to the run, with step = its epoch."""
    def sink(row: dict[str, float]) -> None:
        log_epoch(client, run_id, {k: v for k, v in row.items() if k != "epoch"},
                  int(row["epoch"]))
    return sink


def log_epoch(client: MlflowClient, run_id: str, values, step: int) -> None:
    """One epoch's finite metrics in one ``log_batch`` (a round trip each against a server)."""
    from mlflow.entities import Metric

    now = _now_ms()
    metrics = [Metric(key, float(value), now, step) for key, value in values.items()
               if math.isfinite(float(value))]
    if metrics:
        client.log_batch(run_id, metrics=metrics, synchronous=True)


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
    commit, dirty = versioning.git_state(settings.root)
    return {
        TAG_GIT: f"{commit}-dirty" if dirty else commit,
        # Which paths made it dirty: what would have to be restored besides the commit.
        TAG_DIRTY: (", ".join(dirty) if len(", ".join(dirty)) <= 4000
                    else f"{len(dirty)} paths, first: {', '.join(dirty[:20])}") or "none",
        TAG_DATA: data_md5,
        TAG_DATA_PATH: data_path,
        TAG_PARAMS: settings.params.digest(),
    }


def flatten(tree: dict, prefix: str = "") -> dict[str, Any]:
    """Nested settings as MLflow params: ``{"a": {"b": 1}}`` -> ``{"a.b": 1}``."""
    flat: dict[str, Any] = {}
    for key, value in tree.items():
        name = f"{prefix}{key}"
        if isinstance(value, dict):
            flat.update(flatten(value, f"{name}."))
        else:
            flat[name] = value
    return flat


def task_params(params) -> dict[str, Any]:
    """A task's params as MLflow params named like their params.yaml path
    (``tasks.tabular.lr``), so a run's params read the same as the file."""
    return flatten(params.model_dump(mode="json"), f"{params.section}.")


def provenance_metrics(origins) -> dict[str, float]:
    """Training rows per provenance origin (missing = organic) and the decision-dependent
    label share: the share of training labels that exist only because a model decision
    made them observable (the first feedback-loop metric, logged for every task)."""
    counts = origins.fillna("organic").astype(str).value_counts()
    rows = {f"rows.{k}": float(v) for k, v in counts.items()}
    decided = float(counts.drop("organic", errors="ignore").sum())
    return {**rows, "rows.train": float(len(origins)),
            "decision_dependent_label_share": decided / max(len(origins), 1)}


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
