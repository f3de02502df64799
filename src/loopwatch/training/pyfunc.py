"""The one MLflow model format every task logs: a pyfunc around the task's Predictor.

Why not ``mlflow.pytorch.log_model``: MLflow 3 defaults it to the ``pt2`` (torch.export)
format, which loads back as a GraphModule without the task's preprocessing, and pickling
a LightningModule ties the model to the training code. A pyfunc over the predictor's own
files (JSON + a state dict) predicts on raw inputs and loads in ~1 s. The predictor's
class is recorded beside its files, so this one wrapper and one entry file serve every
task, including one from another package. ``pip_requirements`` is passed explicitly
because inferring them spends 9-22 s in a subprocess.

A Predictor, for this module: ``predict_frame(DataFrame) -> DataFrame``, ``save(folder)
-> folder`` and a classmethod ``load(folder)``.
"""

from __future__ import annotations

import importlib
import json
import tempfile
import warnings
from importlib.metadata import PackageNotFoundError, version
from pathlib import Path
from typing import Any

import mlflow
import pandas as pd
from mlflow.models import infer_signature
from mlflow.models.model import ModelInfo

ARTIFACT_KEY = "predictor"
MANIFEST = "loopwatch_predictor.json"  # which class loads the folder
ENTRY_FILE = Path(__file__).with_name("pyfunc_entry.py")
BASE_PACKAGES = ("torch", "pandas", "numpy", "mlflow", "loopwatch")


class LoopwatchPyfunc(mlflow.pyfunc.PythonModel):
    """``predict`` is the predictor's ``predict_frame``; ``.predictor`` is the object itself
    (serving unwraps it to use the task's richer calls: top-k, image bytes...)."""

    def load_context(self, context) -> None:
        self.predictor = load_predictor(Path(context.artifacts[ARTIFACT_KEY]))

    def predict(self, context, model_input: pd.DataFrame, params=None) -> pd.DataFrame:
        return self.predictor.predict_frame(model_input)


def class_path(obj: Any) -> str:
    cls = type(obj)
    return f"{cls.__module__}:{cls.__qualname__}"


def load_predictor(folder: Path) -> Any:
    """The predictor saved in ``folder``, through the class its manifest names."""
    target = json.loads((folder / MANIFEST).read_text())["class"]
    module, _, name = target.partition(":")
    return getattr(importlib.import_module(module), name).load(folder)


def requirements(*extra: str) -> list[str]:
    """Pins (the running versions) of what a logged loopwatch model needs to load; a package
    without metadata (e.g. a source tree) is listed unpinned rather than failing the log."""
    pins = []
    for pkg in (*BASE_PACKAGES, *extra):
        try:
            pins.append(f"{pkg}=={version(pkg)}")
        except PackageNotFoundError:
            pins.append(pkg)
    return pins


def log_model(predictor: Any, example: pd.DataFrame, *, extra_packages: tuple[str, ...] = (),
              input_example: bool = True, optional_columns: bool = False) -> ModelInfo:
    """Log ``predictor`` into the active MLflow run with a signature inferred on ``example``.

    ``optional_columns``: the signature marks every input optional (real rows have missing
    values the predictor handles, e.g. an 'unknown' category slot). ``input_example``:
    store ``example`` with the model (off for binary inputs such as image bytes).
    """
    example = example.reset_index(drop=True)
    sig_input = _optional_nulls(example) if optional_columns else example
    with warnings.catch_warnings():  # "integer columns cannot hold missing values": ids never
        warnings.filterwarnings("ignore", message=".*integer column.*", category=UserWarning)
        signature = infer_signature(sig_input, predictor.predict_frame(example))
    with tempfile.TemporaryDirectory() as tmp:
        folder = predictor.save(Path(tmp) / "predictor")
        (folder / MANIFEST).write_text(json.dumps({"class": class_path(predictor)}))
        return mlflow.pyfunc.log_model(
            name="model",
            python_model=str(ENTRY_FILE),  # models-from-code: no pickled Python object
            artifacts={ARTIFACT_KEY: str(folder)},
            signature=signature,
            input_example=example if input_example else None,
            pip_requirements=requirements(*extra_packages),
        )


def _optional_nulls(frame: pd.DataFrame) -> pd.DataFrame:
    """Append a row of nulls so the inferred schema marks every column optional."""
    nulls = pd.DataFrame([{c: None for c in frame.columns}]).astype(frame.dtypes.to_dict())
    return pd.concat([frame, nulls], ignore_index=True)
