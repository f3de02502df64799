"""The collab model as MLflow logs it: the one loopwatch pyfunc around a CollabPredictor.

``predict`` on rows of (user_id, item_id) returns predicted ratings; top-k goes through
``load_recommender``, which unwraps the same logged model.
"""

from __future__ import annotations

import mlflow
import pandas as pd
from mlflow.models.model import ModelInfo

from loopwatch.tasks.recsys.predictor import CollabPredictor
from loopwatch.training.pyfunc import log_model


def log_collab_model(predictor: CollabPredictor, example: pd.DataFrame) -> ModelInfo:
    """Log into the active run, with a signature inferred from a few (user, item) rows."""
    return log_model(predictor, example[["user_id", "item_id"]].head(5))


def load_recommender(model_uri: str) -> CollabPredictor:
    """The ``CollabPredictor`` inside a logged model (e.g. ``models:/NAME@champion``)."""
    return mlflow.pyfunc.load_model(model_uri).unwrap_python_model().predictor
