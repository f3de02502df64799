"""MLflow "models from code" entry for image models: MLflow copies and executes this file.

Never import it from loopwatch itself: it exists for MLflow to run.
"""

from mlflow.models import set_model

from loopwatch.images.pyfunc import ImagePyfunc

set_model(ImagePyfunc())
