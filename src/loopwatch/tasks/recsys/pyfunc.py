"""The collab model as MLflow logs it (the one loopwatch pyfunc): ``predict`` on rows of
(user_id, item_id) returns predicted ratings; top-k needs the predictor inside."""

from __future__ import annotations

import mlflow

from loopwatch.tasks.recsys.predictor import CollabPredictor


def load_recommender(model_uri: str) -> CollabPredictor:
    """The ``CollabPredictor`` inside a logged model (e.g. ``models:/NAME@champion``)."""
    return mlflow.pyfunc.load_model(model_uri).unwrap_python_model().predictor
