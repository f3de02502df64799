"""The MLflow model format for images: a pyfunc around ``ImagePredictor`` (models from code).

As for tabular models (``training/pyfunc.py``): the stored model is this package's
entry file plus ``net.json`` and a state dict, never a pickled object, and
``pip_requirements`` is explicit (inferring them costs 9-22 s in a subprocess).
Input: a DataFrame with an ``image`` column of PNG/JPEG bytes (or base64 text);
output: ``label``, ``probability`` and one ``prob_<class>`` column per class.
"""

from __future__ import annotations

import tempfile
from pathlib import Path

import mlflow
import pandas as pd
from mlflow.models import infer_signature
from mlflow.models.model import ModelInfo

from loopwatch.images.predictor import ImagePredictor
from loopwatch.training.pyfunc import requirements

ARTIFACT_KEY = "image_model"
ENTRY_FILE = Path(__file__).with_name("pyfunc_entry.py")
EXTRA_PACKAGES = ("pillow", "efficientnet-lite-pytorch")  # beyond training.pyfunc's


class ImagePyfunc(mlflow.pyfunc.PythonModel):
    def load_context(self, context) -> None:
        self.predictor = ImagePredictor.load(Path(context.artifacts[ARTIFACT_KEY]))

    def predict(self, context, model_input: pd.DataFrame, params=None) -> pd.DataFrame:
        return self.predictor.predict_frame(model_input)




def log_image_model(predictor: ImagePredictor, example_images: list[bytes]) -> ModelInfo:
    """Log the predictor into the active MLflow run, with a signature from real images."""
    example = pd.DataFrame({"image": example_images[:2]})
    signature = infer_signature(example, predictor.predict_frame(example))
    with tempfile.TemporaryDirectory() as tmp:
        folder = predictor.save(Path(tmp) / "image_model")
        return mlflow.pyfunc.log_model(
            name="model",
            python_model=str(ENTRY_FILE),  # models-from-code: no pickled Python object
            artifacts={ARTIFACT_KEY: str(folder)},
            signature=signature,
            pip_requirements=requirements(*EXTRA_PACKAGES),
        )
