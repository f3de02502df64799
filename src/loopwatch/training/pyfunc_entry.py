"""MLflow "models from code" entry: MLflow copies and executes this file to build the model.

Logging code instead of a pickled object means the stored model holds no
cloudpickle blob, only this file plus JSON and a state dict. Never import it from
loopwatch itself: it exists for MLflow to run. One entry serves every task.
"""

from mlflow.models import set_model

from loopwatch.training.pyfunc import LoopwatchPyfunc

set_model(LoopwatchPyfunc())
