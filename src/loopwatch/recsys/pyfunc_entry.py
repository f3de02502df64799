"""MLflow "models from code" entry for the collab model; MLflow runs this file, we never
import it (see ``loopwatch.training.pyfunc_entry`` for why code, not a pickle)."""

from mlflow.models import set_model

from loopwatch.recsys.pyfunc import CollabPyfunc

set_model(CollabPyfunc())
