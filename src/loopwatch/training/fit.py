"""Fit a tabular classifier with Lightning: seeded, early-stopped, checkpointed."""

from __future__ import annotations

import warnings
from dataclasses import dataclass, field
from pathlib import Path

import lightning as L
import numpy as np
import pandas as pd
import torch
from torch.utils.data import (
    BatchSampler,
    DataLoader,
    RandomSampler,
    SequentialSampler,
    TensorDataset,
)

from loopwatch.config import TrainParams
from loopwatch.data.tabular import TabularSpec
from loopwatch.models.preprocessing import TabularPreprocessor
from loopwatch.models.tabular import NetConfig, TabularClassifier
from loopwatch.models.tabular_predictor import TabularPredictor

PROPENSITY = "propensity"  # logged probability of the decision that revealed a row's label
MONITOR = "valid_roc_auc"  # early stopping and the best checkpoint follow this metric


@dataclass
class FitResult:
    predictor: TabularPredictor
    module: TabularClassifier
    best_metrics: dict[str, float]
    epochs_run: int
    best_checkpoint: str | None
    history: list[dict[str, float]] = field(default_factory=list)


def ips_weights(frame: pd.DataFrame, clip: float | None) -> np.ndarray:
    """Inverse-propensity weights 1/p per row, clipped at ``clip``; 1 where not logged.

    A label revealed by a decision taken with probability p stands for 1/p such
    labels, which undoes the model's say over what it is retrained on (DESIGN §1).
    Clipping bounds the variance that tiny propensities bring, at the price of a
    little bias back towards the logged policy; ``None`` (or no ``propensity``
    column, e.g. organic data) gives every row weight 1.
    """
    if clip is None or PROPENSITY not in frame.columns:
        return np.ones(len(frame), dtype=np.float32)
    p = pd.to_numeric(frame[PROPENSITY], errors="coerce").to_numpy(dtype=float)
    if np.any((p <= 0) | (p > 1)):
        raise ValueError(f"column {PROPENSITY!r} must lie in (0, 1]; missing means organic")
    w = np.where(np.isnan(p), 1.0, 1.0 / np.where(np.isnan(p), 1.0, p))
    return np.minimum(w, clip).astype(np.float32)


def make_loader(spec: TabularSpec, pre: TabularPreprocessor, frame: pd.DataFrame,
                batch_size: int, shuffle: bool, weights: np.ndarray | None = None) -> DataLoader:
    if weights is None:
        weights = np.ones(len(frame), dtype=np.float32)
    cats, conts = pre.transform(frame)
    y = torch.from_numpy(spec.labels(frame))
    dataset = TensorDataset(cats, conts, y, torch.from_numpy(weights))
    # The sampler yields whole index batches and the dataset slices its tensors once per
    # batch: fetching row by row and collating cost a quarter of an epoch's time on CPU.
    # In-memory tensors, so no worker processes (they would only add start-up cost).
    order = RandomSampler(dataset) if shuffle else SequentialSampler(dataset)
    return DataLoader(dataset, sampler=BatchSampler(order, batch_size, drop_last=False),
                      batch_size=None, num_workers=0)


def build_module(
    spec: TabularSpec, pre: TabularPreprocessor, params: TrainParams
) -> TabularClassifier:
    config = NetConfig(cardinalities=pre.cardinalities, n_continuous=len(pre.continuous),
                       layers=list(params.layers), dropout=params.dropout,
                       embedding_dropout=params.embedding_dropout)
    return TabularClassifier(config.to_dict(), lr=params.lr, weight_decay=params.weight_decay)


def precision_for(accelerator: str) -> str:
    """Mixed precision on a GPU, full precision on the CPU (where it would only be slower)."""
    gpu = torch.cuda.is_available() and accelerator in ("auto", "gpu", "cuda")
    return "bf16-mixed" if gpu else "32-true"


def fit_tabular(
    spec: TabularSpec,
    train: pd.DataFrame,
    valid: pd.DataFrame,
    params: TrainParams,
    checkpoint_dir: Path,
    callbacks: list[L.Callback] | None = None,
) -> FitResult:
    L.seed_everything(params.seed, workers=True, verbose=False)
    pre = TabularPreprocessor.fit(train, spec.input_categorical, spec.input_continuous,
                                  log1p=params.log1p_columns)
    module = build_module(spec, pre, params)
    history = _History()
    ckpt = L.pytorch.callbacks.ModelCheckpoint(
        dirpath=checkpoint_dir, monitor=MONITOR, mode="max", save_top_k=1,
        filename="best-{epoch}",
        # Weights only: the checkpoint serves to restore the best epoch; optimizer state
        # would triple each write for a resume we never do.
        save_weights_only=True,
    )
    stop = L.pytorch.callbacks.EarlyStopping(monitor=MONITOR, mode="max", patience=params.patience)
    trainer = L.Trainer(
        accelerator=params.accelerator, devices=1, precision=precision_for(params.accelerator),
        max_epochs=params.max_epochs, callbacks=[ckpt, stop, history, *(callbacks or [])],
        logger=False, enable_progress_bar=params.enable_progress_bar,
        enable_model_summary=False, deterministic=True,
        limit_train_batches=params.limit_train_batches, num_sanity_val_steps=0,
    )
    with warnings.catch_warnings():
        warnings.filterwarnings("ignore", message=".*does not have many workers.*")
        trainer.fit(
            module,
            make_loader(spec, pre, train, params.batch_size, shuffle=True,
                        weights=ips_weights(train, params.ips_clip if params.ips_weighting
                                            else None)),
            make_loader(spec, pre, valid, params.batch_size * 4, shuffle=False),
        )
    if ckpt.best_model_path:  # serve the best epoch, not the last
        state = torch.load(ckpt.best_model_path, map_location="cpu", weights_only=False)
        module.load_state_dict(state["state_dict"])
    module = module.cpu().eval()
    best = history.best(MONITOR)
    return FitResult(TabularPredictor(spec, pre, module.net), module, best,
                     trainer.current_epoch, ckpt.best_model_path or None, history.rows)


class _History(L.Callback):
    """Keeps each epoch's metrics so the caller can report the best epoch's values."""

    def __init__(self) -> None:
        self.rows: list[dict[str, float]] = []

    def on_validation_epoch_end(self, trainer: L.Trainer, pl_module: L.LightningModule) -> None:
        if not trainer.sanity_checking:
            row = {k: float(v) for k, v in trainer.callback_metrics.items()}
            self.rows.append({"epoch": float(trainer.current_epoch), **row})

    def best(self, key: str) -> dict[str, float]:
        scored = [r for r in self.rows if key in r]
        if not scored:
            return {}
        top = max(scored, key=lambda r: r[key])
        return {f"best_{k}": v for k, v in top.items() if k.startswith("valid_") or k == "epoch"}
