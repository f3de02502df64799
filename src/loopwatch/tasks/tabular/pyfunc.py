"""The tabular model as MLflow logs it: the one loopwatch pyfunc around a TabularPredictor."""

from __future__ import annotations

import pandas as pd
from mlflow.models.model import ModelInfo

from loopwatch.tasks.tabular.predictor import TabularPredictor
from loopwatch.training.pyfunc import log_model


def log_tabular_model(predictor: TabularPredictor, example: pd.DataFrame) -> ModelInfo:
    """Log into the active run; every input is optional in the signature because real rows
    have missing values (Adult writes '?') that the model maps to an 'unknown' slot."""
    inputs = example[list(predictor.spec.inputs)].head(5)
    return log_model(predictor, inputs, optional_columns=True)
