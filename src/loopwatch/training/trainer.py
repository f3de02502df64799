"""The one Lightning Trainer builder: every task fits through it.

Accelerator, devices, strategy and precision come from the task's params (``TaskParams``),
so moving a task to a GPU or to DDP is a settings change, not a code change. Defaults:
``accelerator: auto`` (a GPU when present), bf16 mixed precision on a GPU and full
precision on the CPU (where mixed precision is only slower), no Lightning logger (the run
is ours: ``tracking`` logs it), no sanity validation steps.
"""

from __future__ import annotations

import warnings
from collections.abc import Sequence
from typing import Any

import lightning as L
import torch
from torch.utils.data import (
    BatchSampler,
    DataLoader,
    RandomSampler,
    SequentialSampler,
    TensorDataset,
)


def precision_for(accelerator: str, precision: str | None = None) -> str:
    """An explicit setting wins; else mixed precision on a GPU, full precision on the CPU."""
    if precision is not None:
        return precision
    gpu = torch.cuda.is_available() and accelerator in ("auto", "gpu", "cuda")
    return "bf16-mixed" if gpu else "32-true"


def build_trainer(params: Any, *, callbacks: Sequence[L.Callback] = (),
                  max_epochs: int | None = None, **overrides: Any) -> L.Trainer:
    """A Trainer from ``params`` (a ``TaskParams``); ``overrides`` for what one fit needs
    differently (checkpointing, ``limit_train_batches``, ``deterministic``)."""
    kwargs: dict[str, Any] = dict(
        accelerator=params.accelerator, devices=params.devices, strategy=params.strategy,
        precision=precision_for(params.accelerator, params.precision),
        max_epochs=max_epochs or params.max_epochs, callbacks=list(callbacks), logger=False,
        enable_checkpointing=False, enable_progress_bar=params.enable_progress_bar,
        enable_model_summary=False, num_sanity_val_steps=0, deterministic=True,
    )
    kwargs.update(overrides)
    return L.Trainer(**kwargs)


def batch_loader(*tensors: torch.Tensor, batch_size: int, shuffle: bool,
                 drop_last: bool = False, num_workers: int = 0) -> DataLoader:
    """Batches of in-memory ``tensors`` (one row per index of their first dimension).

    The sampler yields whole index batches and the dataset slices its tensors once per
    batch: fetching row by row and collating cost a quarter of the tabular task's epoch on
    CPU. No worker processes by default: they would only add start-up cost.
    """
    dataset = TensorDataset(*tensors)
    order = RandomSampler(dataset) if shuffle else SequentialSampler(dataset)
    return DataLoader(dataset, sampler=BatchSampler(order, batch_size, drop_last=drop_last),
                      batch_size=None, num_workers=num_workers,
                      persistent_workers=num_workers > 0)


def fit(trainer: L.Trainer, module: L.LightningModule, train: DataLoader,
        valid: DataLoader | None = None) -> None:
    """``trainer.fit`` without the worker-count advice: our loaders slice in-memory tensors
    whole batches at a time, where worker processes would only add start-up cost."""
    with warnings.catch_warnings():
        warnings.filterwarnings("ignore", message=".*does not have many workers.*")
        trainer.fit(module, train, valid)
