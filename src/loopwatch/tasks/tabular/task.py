"""The tabular task as the registry sees it (entry point ``loopwatch.tasks: tabular``):
a table with a binary target and sensitive attributes (Adult by default), an embedding
MLP with early stopping on validation ROC AUC, test metrics and a confusion matrix."""

from __future__ import annotations

import uuid
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pandas as pd

from loopwatch.tasks.tabular.params import MONITOR, TabularParams


@dataclass
class TabularSplits:
    spec: Any  # spec.TabularSpec: columns, target, sensitive attributes
    frames: dict[str, pd.DataFrame]  # train / valid (/ test: evaluated when present)
    checkpoint_dir: Path = field(default_factory=lambda: Path(".state") / "checkpoints")


class TabularTask:
    name = "tabular"
    params_model = TabularParams
    monitor = MONITOR
    model_options = {"optional_columns": True}  # real rows miss values: an 'unknown' slot

    def load_splits(self, settings, params: TabularParams) -> TabularSplits:
        from loopwatch.tasks.tabular.params import prepared_dir
        from loopwatch.tasks.tabular.spec import read_splits

        spec, frames = read_splits(prepared_dir(settings, params))
        return TabularSplits(spec, frames, checkpoint_dir(settings))

    def monitor_window(self, settings, window: str | None = None,
                       model_name: str | None = None) -> list[str]:
        """``loopwatch monitor``: the window's drift, quality, fairness and the policy's call,
        as lines to show (the report and the MLflow run hold the rest)."""
        from loopwatch.tasks.tabular.monitor import monitor_window

        out = monitor_window(settings, window, model_name=model_name)
        r, d = out.result, out.decision
        return [f"{out.rows} predictions of {r.model_name} v{r.model_version}, "
                f"{r.n_labelled} labelled",
                f"drift: {r.drift.n_drifted}/{len(r.drift.columns)} columns "
                f"(share {r.drift.share:.2f}); dataset drift: {r.drift.dataset_drift}",
                *([f"accuracy on labelled rows: {r.quality.accuracy:.4f}"]
                  if r.quality is not None else []),
                f"decision: {d.action.upper()}", *(f"  - {reason}" for reason in d.reasons),
                f"report: {out.report}", f"MLflow monitoring run: {out.mlflow_run_id}"]

    def describe(self, splits: TabularSplits) -> dict[str, Any]:
        return {"model.inputs": ",".join(splits.spec.inputs), "model.format": "pyfunc"}

    def provenance(self, splits: TabularSplits) -> pd.Series | None:
        """Where each training label came from (organic, model-selected, exploration)."""
        train = splits.frames["train"]
        return train["origin"] if "origin" in train else pd.Series("organic", index=train.index)

    def build(self, splits: TabularSplits, params: TabularParams):
        from loopwatch.tasks.tabular.fit import build_tabular

        return build_tabular(splits.spec, splits.frames["train"], splits.frames["valid"],
                             params, splits.checkpoint_dir)

    def fit(self, built, params: TabularParams, callbacks: list) -> None:
        from loopwatch.tasks.tabular.fit import fit_built

        fit_built(built, params, callbacks)

    def predictor(self, built, splits: TabularSplits):
        from loopwatch.tasks.tabular.fit import predictor_of

        return predictor_of(built)

    def evaluate(self, predictor, splits: TabularSplits, params: TabularParams):
        from loopwatch.training.run import Evaluation

        if "test" not in splits.frames:  # a retrain is judged by the gate on its holdout
            return Evaluation({})
        from loopwatch.tasks.tabular.evaluate import evaluate_predictions
        from loopwatch.training.tracking import confusion_matrix_figure

        spec, test = splits.spec, splits.frames["test"]
        proba = predictor.predict_frame(test[list(spec.inputs)])[f"prob_{spec.positive_label}"]
        result = evaluate_predictions(spec, test, proba.to_numpy())
        return Evaluation(
            result.metrics,
            figures={"evaluation/confusion_matrix.png": confusion_matrix_figure(
                result.confusion, spec.classes, "test set")},
            documents={"evaluation/confusion_matrix.json": {
                "classes": list(spec.classes), "matrix": result.confusion.tolist()}})

    def example(self, splits: TabularSplits) -> pd.DataFrame:
        return splits.frames["train"][list(splits.spec.inputs)].head(5)

    def mount(self, settings, *, seed: int | None = None):
        """``POST /predict`` and ``GET /model`` over the champion, hot-reloaded."""
        from loopwatch.tasks.tabular.routes import champion_holder, tabular_mount

        params = TabularParams.from_settings(settings)
        return tabular_mount(champion_holder(settings), settings.params.serving,
                             epsilon=params.epsilon, seed=seed)


def checkpoint_dir(settings) -> Path:
    """A fresh folder per fit for the best-epoch checkpoint, under the state folder."""
    return settings.state_dir / "checkpoints" / uuid.uuid4().hex
