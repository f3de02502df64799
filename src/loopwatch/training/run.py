"""The one training path: any task is fitted, tracked, logged as a model and registered here.

lightning-hydra-template's ``train.py`` in our terms: the task builds its LightningModule
and loaders from its splits and params (``task.build``); this module builds the Trainer,
opens the MLflow run, logs params, lineage tags and per-epoch metrics, asks the task for
its predictor and evaluation, logs the model as the one loopwatch pyfunc and registers it
(``champion`` moves only on merit). ``fit_task`` is its fit alone (seed, build, fit,
predictor), what the untracked fits of simulations, tests and benchmarks call. The task is
duck-typed (``loopwatch.tasks.base.Task``) so the spine imports no task.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import lightning as L
import numpy as np
import pandas as pd

from loopwatch.monitoring.frame import REFERENCE_ARTIFACT

Log = Callable[[str], None]
REFERENCE_ROWS = 5000


@dataclass
class Built:
    """What a task hands the Trainer: the module, its loaders and any callbacks of its own."""

    module: Any  # a LightningModule
    train: Any  # DataLoader
    valid: Any | None = None
    callbacks: list[Any] = field(default_factory=list)
    state: dict[str, Any] = field(default_factory=dict)  # the task's own (encoders, stats)
    samples: int | None = None  # training examples per epoch, for the throughput metric


@dataclass
class Evaluation:
    """Test-set numbers and pictures: metrics, figures (artifact path -> matplotlib figure),
    JSON documents and frames (artifact path -> dict / DataFrame, logged as parquet)."""

    metrics: dict[str, float]
    figures: dict[str, Any] = field(default_factory=dict)
    documents: dict[str, Any] = field(default_factory=dict)
    frames: dict[str, pd.DataFrame] = field(default_factory=dict)


@dataclass
class TaskRun:
    run_id: str
    model_uri: str
    metrics: dict[str, float]
    history: list[dict[str, float]]
    experiment_id: str = ""
    best_metrics: dict[str, float] = field(default_factory=dict)
    data_version: str = ""
    version: str | None = None
    promoted: bool | None = None
    reason: str | None = None

    @property
    def epochs_run(self) -> int:
        return len(self.history)


class History(L.Callback):
    """Each finished epoch's metrics, train and valid of the same epoch together, kept for
    the caller, handed to ``sink`` (e.g. MLflow) and shown as one progress line: the one
    epoch record of every fit, tracked or not.

    Read late on purpose: Lightning calls a callback's ``on_train_epoch_end`` before the
    module's own and before it folds the epoch's ``self.log`` values into
    ``callback_metrics``, so a row read there would hold the previous epoch's train metrics
    (and the last epoch's would never be read). The epoch's row is taken when the next
    epoch starts, or when training ends.
    """

    def __init__(self, extras=None, log: Log | None = None, sink=None) -> None:
        self.rows: list[dict[str, float]] = []
        # not `self.log`: Lightning routes a callback's `log` to the module's metric logging
        self.extras, self.say, self.sink = extras, log, sink
        self._finished: int | None = None  # the epoch that ended and is not recorded yet

    def on_train_epoch_end(self, trainer: L.Trainer, pl_module: L.LightningModule) -> None:
        # Counted on across a task's stages (fine-tuning's frozen epochs come first).
        self._finished = getattr(pl_module, "epoch_offset", 0) + trainer.current_epoch

    def on_train_epoch_start(self, trainer: L.Trainer, pl_module: L.LightningModule) -> None:
        self._record(trainer, pl_module)

    def on_train_end(self, trainer: L.Trainer, pl_module: L.LightningModule) -> None:
        self._record(trainer, pl_module)

    def _record(self, trainer: L.Trainer, module: L.LightningModule) -> None:
        if self._finished is None:
            return
        step, self._finished = self._finished, None
        row = {k: float(v) for k, v in trainer.callback_metrics.items()}
        if self.extras is not None:
            row.update(self.extras(trainer, module))
        self.rows.append({"epoch": float(step), **row})
        if self.sink is not None:
            self.sink(self.rows[-1])
        if self.say is not None:
            shown = ", ".join(f"{k} {v:.4f}" for k, v in row.items() if k.startswith("valid_"))
            self.say(f"epoch {step}: {shown}")


def fit_built(task: Any, built: Built, params: Any, callbacks: list[Any]) -> None:
    """The task's own schedule (``task.fit``, e.g. fine-tuning stages) or one Trainer.fit."""
    from loopwatch.training.trainer import build_trainer, fit

    own = getattr(task, "fit", None)
    if own is not None:
        own(built, params, callbacks)
        return
    trainer = build_trainer(params, callbacks=[*callbacks, *built.callbacks])
    fit(trainer, built.module, built.train, built.valid)


def scored_reference(predictor: Any, rows: pd.DataFrame, inputs: list[str],
                     limit: int = REFERENCE_ROWS) -> pd.DataFrame:
    """Reference rows (inputs, sensitive attributes, label) with the model's prediction and
    P(predicted class), as monitoring reads them; a seeded sample of at most ``limit``."""
    if len(rows) > limit:
        rows = rows.sample(limit, random_state=0)
    rows = rows.reset_index(drop=True)
    out = predictor.predict_frame(rows[inputs])
    probs = [c for c in out.columns if c.startswith("prob_")]
    return rows.assign(prediction=out["prediction"].to_numpy(),
                       score=out[probs].max(axis=1).to_numpy() if probs else np.nan)


def timing(seconds: float, epochs: int, samples: int | None, unit: str) -> dict[str, float]:
    """Wall time of the fit (validation included), epochs run and, when the task counts its
    examples, examples per second (``train_images_per_s``...)."""
    out = {"train_seconds": seconds, "epochs_run": float(epochs)}
    if samples:
        out[f"train_{unit}_per_s"] = samples * epochs / max(seconds, 1e-9)
    return out


def log_inputs(task: Any, splits: Any, params: Any) -> None:
    """The run's params (named as in params.yaml, plus what the task says of its splits) and
    the provenance of its training labels (rows per origin and the decision-dependent
    share: the first feedback-loop metric, for every task that knows its origins)."""
    import mlflow

    from loopwatch.training import tracking

    mlflow.log_params({**tracking.task_params(params),
                       **dict(getattr(task, "describe", lambda s: {})(splits))})
    origins = getattr(task, "provenance", lambda s: None)(splits)
    if origins is not None:
        mlflow.log_metrics(tracking.provenance_metrics(origins))


def log_evaluation(evaluation: Evaluation) -> None:
    import tempfile
    from pathlib import Path

    import mlflow

    from loopwatch.training.tracking import log_figure

    mlflow.log_metrics(evaluation.metrics)
    for path, fig in evaluation.figures.items():
        log_figure(fig, path)
    for path, doc in evaluation.documents.items():
        mlflow.log_dict(doc, path)
    for path, frame in evaluation.frames.items():
        with tempfile.TemporaryDirectory() as tmp:
            local = Path(tmp) / Path(path).name
            frame.to_parquet(local)
            mlflow.log_artifact(str(local), str(Path(path).parent))


def best_epoch(rows: list[dict[str, float]], monitor: tuple[str, str] | None
               ) -> dict[str, float]:
    """The monitored epoch's validation numbers as ``best_*`` (the epoch that is served when
    the task restores its best checkpoint)."""
    if monitor is None:
        return {}
    key, mode = monitor
    scored = [r for r in rows if key in r]
    if not scored:
        return {}
    top = (max if mode == "max" else min)(scored, key=lambda r: r[key])
    return {f"best_{k}": v for k, v in top.items() if k.startswith("valid_") or k == "epoch"}


@dataclass
class Fitted:
    """One fit, tracked or not: what ``task.build`` made (module, loaders, state), the
    task's predictor over it, each epoch's row, the monitored best epoch (``best_*``) and
    the wall time of the fit (validation included)."""

    built: Built
    predictor: Any
    history: list[dict[str, float]]
    best: dict[str, float]
    seconds: float


def fit_task(task: Any, splits: Any, params: Any, *, callbacks: Sequence[Any] = (),
             sink: Callable[[dict[str, float]], None] | None = None,
             log: Log | None = None) -> Fitted:
    """Seed, build, fit and ask the task for its predictor: every fit goes through here,
    ``train_task``'s inside its MLflow run and the untracked ones (simulations, tests,
    benchmarks) on their own. ``History`` comes first among the fit's callbacks, then
    ``callbacks``; ``sink`` and ``log`` receive each epoch's row and line."""
    L.seed_everything(params.seed, workers=True, verbose=False)
    built = task.build(splits, params)
    history = History(getattr(task, "epoch_extras", None), log, sink=sink)
    started = time.perf_counter()
    fit_built(task, built, params, [history, *callbacks])
    seconds = time.perf_counter() - started
    predictor = task.predictor(built, splits)
    best = best_epoch(history.rows, getattr(task, "monitor", None))
    return Fitted(built, predictor, history.rows, best, seconds)


def train_task(settings: Any, task: Any, params: Any = None, *, splits: Any = None,
               register: bool = True, tags: Mapping[str, str] | None = None,
               run_name: str | None = None, stage: str = "train",
               log: Log = print) -> TaskRun:
    """Fit ``task`` on its splits inside one fully logged MLflow run; register the model."""
    import mlflow

    from loopwatch.training import tracking
    from loopwatch.training.pyfunc import log_model
    from loopwatch.training.registry import register_and_promote

    params = params or task.params_model.from_settings(settings)
    splits = splits if splits is not None else task.load_splits(settings, params)
    client = tracking.configure(settings)
    lineage = tracking.lineage_tags(settings)
    run_tags = {**lineage, tracking.TAG_STAGE: stage, tracking.TAG_TASK: task.name,
                **(tags or {})}
    with mlflow.start_run(run_name=run_name or f"train-{params.model_name}",
                          tags=run_tags) as run:
        run_id = run.info.run_id
        log_inputs(task, splits, params)
        fitted = fit_task(task, splits, params, sink=tracking.epoch_sink(client, run_id),
                          log=log)
        predictor, rows, best = fitted.predictor, fitted.history, fitted.best
        evaluation = task.evaluate(predictor, splits, params)
        evaluation.metrics.update({**best, **timing(fitted.seconds, len(rows),
                                                    fitted.built.samples,
                                                    getattr(task, "sample_unit", "rows"))})
        example = task.example(splits)
        rows_of = getattr(task, "reference_rows", None)
        if rows_of is not None:  # what the served model will be compared with
            evaluation.frames[REFERENCE_ARTIFACT] = scored_reference(predictor, rows_of(splits),
                                                                     list(example.columns))
        log_evaluation(evaluation)
        info = log_model(predictor, example, **dict(getattr(task, "model_options", {})))
    out = TaskRun(run_id, info.model_uri, evaluation.metrics, rows,
                  run.info.experiment_id, best, lineage[tracking.TAG_DATA])
    shown = ", ".join(f"{k} {v:.4f}" for k, v in list(evaluation.metrics.items())[:4]
                      if not k.startswith("best_"))
    log(f"{task.name}: run {run_id}: {shown}")
    if register:
        metric = getattr(task, "promotion_metric", settings.params.registry.metric)
        reg = register_and_promote(client, params.model_name, info.model_uri, run_id, metric,
                                   settings.params.registry.min_delta)
        out.version, out.promoted, out.reason = reg.version, reg.decision.promote, \
            reg.decision.reason
        log(f"{reg.name} v{reg.version}: "
            f"{'champion' if reg.decision.promote else 'challenger'} — {reg.decision.reason}")
    return out
