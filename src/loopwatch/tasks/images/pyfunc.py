"""The image model as MLflow logs it: the one loopwatch pyfunc around an ImagePredictor.

Input: a DataFrame with an ``image`` column of PNG/JPEG bytes (or base64 text); output:
``label``, ``probability`` and one ``prob_<class>`` column per class.
"""

from __future__ import annotations

import pandas as pd
from mlflow.models.model import ModelInfo

from loopwatch.tasks.images.predictor import ImagePredictor
from loopwatch.training.pyfunc import log_model

EXTRA_PACKAGES = ("pillow", "efficientnet-lite-pytorch")  # beyond every model's own


def log_image_model(predictor: ImagePredictor, example_images: list[bytes]) -> ModelInfo:
    """Log into the active run, with a signature from real images (bytes: no stored example)."""
    example = pd.DataFrame({"image": example_images[:2]})
    return log_model(predictor, example, extra_packages=EXTRA_PACKAGES, input_example=False)
