"""Tabular-task settings: the ``tasks.tabular:`` section of params.yaml.

One block for the data split, the network and its training (the old ``data:``/``train:``
sections): the defaults are the measured Adult recipe on a 2-core CPU.
"""

from __future__ import annotations

from pathlib import Path
from typing import Literal

from pydantic import Field

from loopwatch.config import Settings
from loopwatch.tasks.base import TaskParams

# Early stopping, the best checkpoint and the best epoch follow this validation metric.
MONITOR = ("valid_roc_auc", "max")


class TabularParams(TaskParams):
    section = "tasks.tabular"

    model_name: str = "adult-income"
    # --- data: the seeded train/valid split of the prepared dataset --------------------
    dataset: Literal["adult"] = "adult"
    valid_fraction: float = Field(0.2, gt=0.0, lt=1.0)
    split_seed: int = 42
    # Sensitive attributes stay as columns for monitoring; they are model inputs only if true.
    sensitive_as_inputs: bool = False
    # --- training ----------------------------------------------------------------------
    max_epochs: int = Field(15, ge=1)
    batch_size: int = Field(1024, ge=1)
    lr: float = Field(1e-2, gt=0)
    layers: list[int] = Field(default_factory=lambda: [200, 100])
    dropout: float = Field(0.1, ge=0, lt=1)
    embedding_dropout: float = Field(0.05, ge=0, lt=1)
    patience: int = Field(3, ge=1)
    log1p_columns: list[str] = Field(default_factory=lambda: ["capital_gain", "capital_loss"])
    # Inverse-propensity weighting of rows that carry a logged `propensity` (feedback loops).
    ips_weighting: bool = False
    ips_clip: float = Field(10.0, ge=1.0)
    # Not in params.yaml: tests and benchmarks shrink runs with this.
    limit_train_batches: int | float | None = None


def prepared_dir(settings: Settings, params: TabularParams | None = None) -> Path:
    """Where ``prepare`` writes the dataset's splits (a DVC stage output)."""
    params = params or TabularParams.from_settings(settings)
    return settings.outputs_dir / "prepared" / params.dataset
