"""What every task shares: its params base and the protocol the spine calls it through.

A task's settings live under ``tasks.<name>:`` in params.yaml and are validated by the
task's own params class (a subclass of ``TaskParams``), so the settings layer never
imports a task and an unknown key is refused by the task that would have read it.
"""

from __future__ import annotations

from typing import Any, Protocol, runtime_checkable

from pydantic import Field

from loopwatch.config import SectionParams


class TaskParams(SectionParams):
    """Declared once for every task: what the one Trainer builder and the registry read.

    ``section`` is ``tasks.<name>``; subclasses override the defaults that suit their
    model (the tabular MLP's batch size is not the CNN's).
    """

    model_name: str  # the registered model; serving loads models:/NAME@champion
    seed: int = 42
    max_epochs: int = Field(5, ge=1)
    batch_size: int = Field(256, ge=1)
    lr: float = Field(1e-3, gt=0)
    weight_decay: float = Field(0.01, ge=0)
    accelerator: str = "auto"  # GPU when present, else CPU
    devices: int | str = 1
    strategy: str = "auto"  # "ddp" for several processes
    precision: str | None = None  # None: bf16-mixed on a GPU, 32-true on the CPU
    # Serving: the share of decisions drawn uniformly at random (exploration), which keeps
    # every action's propensity above zero so logged outcomes can be re-weighted later.
    epsilon: float = Field(0.0, ge=0, le=1)
    enable_progress_bar: bool = True


@runtime_checkable
class Task(Protocol):
    """A plugin task as the spine sees it; ``training.run.train_task`` drives it.

    Optional hooks the spine looks for: ``describe(splits)`` (more run params),
    ``provenance(splits)`` (origin of each training label), ``fit(built, params, callbacks)``
    (a schedule of its own, e.g. fine-tuning stages), ``epoch_extras(trainer, module)``,
    ``monitor`` (metric, "max"|"min") for the best epoch, ``promotion_metric``,
    ``model_options`` (for ``training.pyfunc.log_model``), ``add_commands(app)``,
    ``mount(settings)`` (its HTTP routes), ``predict_file(settings, path)`` and
    ``monitor_window(settings, window, model_name)`` (a monitor of its own for
    ``loopwatch monitor --task NAME``, returning the lines to show; without it the task's
    served model gets the generic monitor of ``monitoring.served``).
    """

    name: str
    params_model: type[TaskParams]

    def load_splits(self, settings: Any, params: Any) -> Any:
        """Fetch or read the task's data and split it (train / valid / test)."""

    def build(self, splits: Any, params: Any) -> Any:
        """A ``training.run.Built``: the LightningModule and its loaders."""

    def predictor(self, built: Any, splits: Any) -> Any:
        """The trained Predictor: ``predict_frame`` on raw inputs, ``save``/``load``."""

    def evaluate(self, predictor: Any, splits: Any, params: Any) -> Any:
        """A ``training.run.Evaluation``: test metrics, figures, documents."""

    def example(self, splits: Any) -> Any:
        """A few raw input rows (a DataFrame): the model signature is inferred on them."""
