"""The MLflow model format of the collab model: a pyfunc around ``CollabPredictor``.

``predict`` on rows of (user_id, item_id) returns predicted ratings; top-k goes through
``load_recommender``, which unwraps the same logged model. Logged from code with explicit
``pip_requirements``, for the reasons ``loopwatch.training.pyfunc`` gives.
"""

from __future__ import annotations

import tempfile
import warnings
from pathlib import Path

import mlflow
import pandas as pd
from mlflow.models import infer_signature
from mlflow.models.model import ModelInfo

from loopwatch.recsys.predictor import CollabPredictor
from loopwatch.training.pyfunc import requirements

ARTIFACT_KEY = "collab"
ENTRY_FILE = Path(__file__).with_name("pyfunc_entry.py")


class CollabPyfunc(mlflow.pyfunc.PythonModel):
    def load_context(self, context) -> None:
        self.predictor = CollabPredictor.load(Path(context.artifacts[ARTIFACT_KEY]))

    def predict(self, context, model_input: pd.DataFrame, params=None) -> pd.DataFrame:
        missing = {"user_id", "item_id"} - set(model_input.columns)
        if missing:
            raise ValueError(f"input needs columns user_id and item_id; missing {sorted(missing)}")
        rating = self.predictor.predict(model_input["user_id"], model_input["item_id"])
        return pd.DataFrame({"rating": rating})


def log_collab_model(predictor: CollabPredictor, example: pd.DataFrame) -> ModelInfo:
    """Log into the active run, with a signature inferred from a few (user, item) rows."""
    inputs = example[["user_id", "item_id"]].head(5).reset_index(drop=True)
    output = pd.DataFrame({"rating": predictor.predict(inputs["user_id"], inputs["item_id"])})
    with warnings.catch_warnings():  # "integer columns cannot hold missing values": ids never are
        warnings.filterwarnings("ignore", message=".*integer column.*", category=UserWarning)
        signature = infer_signature(inputs, output)
    with tempfile.TemporaryDirectory() as tmp:
        folder = predictor.save(Path(tmp) / "collab")
        return mlflow.pyfunc.log_model(
            name="model", python_model=str(ENTRY_FILE), artifacts={ARTIFACT_KEY: str(folder)},
            signature=signature, input_example=inputs, pip_requirements=requirements())


def load_recommender(model_uri: str) -> CollabPredictor:
    """The ``CollabPredictor`` inside a logged model (e.g. ``models:/NAME@champion``)."""
    return mlflow.pyfunc.load_model(model_uri).unwrap_python_model().predictor
