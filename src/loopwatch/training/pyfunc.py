"""The MLflow model format we log: a pyfunc around ``TabularPredictor``.

Why not ``mlflow.pytorch.log_model``: MLflow 3 defaults it to the ``pt2``
(torch.export) format, which loads back as a GraphModule without our
preprocessing, and pickling the LightningModule ties the model to the training
code. A pyfunc over a plain state dict + JSON preprocessing predicts on raw rows
and loads in ~1 s. ``pip_requirements`` is passed explicitly because inferring
them spends 9-22 s in a subprocess.
"""

from __future__ import annotations

import tempfile
from importlib.metadata import PackageNotFoundError, version
from pathlib import Path

import mlflow
import pandas as pd
from mlflow.models import infer_signature
from mlflow.models.model import ModelInfo

from loopwatch.models.tabular_predictor import TabularPredictor

ARTIFACT_KEY = "tabular"
ENTRY_FILE = Path(__file__).with_name("pyfunc_entry.py")


class TabularPyfunc(mlflow.pyfunc.PythonModel):
    def load_context(self, context) -> None:
        self.predictor = TabularPredictor.load(Path(context.artifacts[ARTIFACT_KEY]))

    def predict(self, context, model_input: pd.DataFrame, params=None) -> pd.DataFrame:
        return self.predictor.predict_frame(model_input)


BASE_PACKAGES = ("torch", "pandas", "numpy", "mlflow", "loopwatch")


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


def log_tabular_model(predictor: TabularPredictor, example: pd.DataFrame) -> ModelInfo:
    """Log the predictor into the active MLflow run with a signature and input example."""
    inputs = example[list(predictor.spec.inputs)].head(5).reset_index(drop=True)
    signature = infer_signature(_optional_nulls(inputs), predictor.predict_frame(inputs))
    with tempfile.TemporaryDirectory() as tmp:
        folder = predictor.save(Path(tmp) / "tabular")
        return mlflow.pyfunc.log_model(
            name="model",
            python_model=str(ENTRY_FILE),  # models-from-code: no pickled Python object
            artifacts={ARTIFACT_KEY: str(folder)},
            signature=signature,
            input_example=inputs,
            pip_requirements=requirements(),
        )


def _optional_nulls(frame: pd.DataFrame) -> pd.DataFrame:
    """Append a row of nulls so the inferred schema marks every column optional.

    Real rows have missing values (Adult writes '?'); the model maps them to an
    'unknown' slot, so the signature must not reject them.
    """
    nulls = pd.DataFrame([{c: None for c in frame.columns}]).astype(frame.dtypes.to_dict())
    return pd.concat([frame, nulls], ignore_index=True)
