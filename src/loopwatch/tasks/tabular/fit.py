"""Fit a tabular classifier with Lightning: seeded, early-stopped, checkpointed."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

import lightning as L
import numpy as np
import pandas as pd
import torch
from torch.utils.data import DataLoader

from loopwatch.tasks.tabular.module import NetConfig, TabularClassifier
from loopwatch.tasks.tabular.params import MONITOR, TabularParams
from loopwatch.tasks.tabular.predictor import TabularPredictor
from loopwatch.tasks.tabular.preprocessing import TabularPreprocessor
from loopwatch.tasks.tabular.spec import TabularSpec
from loopwatch.training.run import Built, History, best_epoch
from loopwatch.training.trainer import batch_loader, build_trainer
from loopwatch.training.trainer import fit as fit_module
from loopwatch.training.weights import ips_weights

METRIC, MODE = MONITOR


@dataclass
class FitResult:
    predictor: TabularPredictor
    module: TabularClassifier
    best_metrics: dict[str, float]
    epochs_run: int
    best_checkpoint: str | None
    history: list[dict[str, float]] = field(default_factory=list)


def make_loader(spec: TabularSpec, pre: TabularPreprocessor, frame: pd.DataFrame,
                batch_size: int, shuffle: bool, weights: np.ndarray | None = None) -> DataLoader:
    if weights is None:
        weights = np.ones(len(frame), dtype=np.float32)
    cats, conts = pre.transform(frame)
    return batch_loader(cats, conts, torch.from_numpy(spec.labels(frame)),
                        torch.from_numpy(weights), batch_size=batch_size, shuffle=shuffle)


def build_module(
    spec: TabularSpec, pre: TabularPreprocessor, params: TabularParams
) -> TabularClassifier:
    config = NetConfig(cardinalities=pre.cardinalities, n_continuous=len(pre.continuous),
                       layers=list(params.layers), dropout=params.dropout,
                       embedding_dropout=params.embedding_dropout)
    return TabularClassifier(config.to_dict(), lr=params.lr, weight_decay=params.weight_decay)


def build_tabular(spec: TabularSpec, train: pd.DataFrame, valid: pd.DataFrame,
                  params: TabularParams, checkpoint_dir: Path) -> Built:
    """Preprocessing fitted on ``train``, the embedding MLP, its loaders (IPS-weighted when
    ``ips_weighting``), early stopping and a best-epoch checkpoint on ``METRIC``."""
    pre = TabularPreprocessor.fit(train, spec.input_categorical, spec.input_continuous,
                                  log1p=params.log1p_columns)
    module = build_module(spec, pre, params)
    ckpt = L.pytorch.callbacks.ModelCheckpoint(
        dirpath=checkpoint_dir, monitor=METRIC, mode=MODE, save_top_k=1,
        filename="best-{epoch}",
        # Weights only: the checkpoint serves to restore the best epoch; optimizer state
        # would triple each write for a resume we never do.
        save_weights_only=True,
    )
    stop = L.pytorch.callbacks.EarlyStopping(monitor=METRIC, mode=MODE, patience=params.patience)
    weights = ips_weights(train, params.ips_clip if params.ips_weighting else None)
    return Built(module,
                 make_loader(spec, pre, train, params.batch_size, shuffle=True, weights=weights),
                 make_loader(spec, pre, valid, params.batch_size * 4, shuffle=False),
                 callbacks=[ckpt, stop], state={"spec": spec, "pre": pre, "ckpt": ckpt},
                 samples=len(train))


def fit_built(built: Built, params: TabularParams, callbacks: list[L.Callback]) -> L.Trainer:
    """Fit until early stopping, then restore the best epoch (served, not the last)."""
    trainer = build_trainer(params, callbacks=[*callbacks, *built.callbacks],
                            enable_checkpointing=True,
                            limit_train_batches=params.limit_train_batches)
    fit_module(trainer, built.module, built.train, built.valid)
    ckpt = built.state["ckpt"]
    if ckpt.best_model_path:
        state = torch.load(ckpt.best_model_path, map_location="cpu", weights_only=False)
        built.module.load_state_dict(state["state_dict"])
    built.module = built.module.cpu().eval()
    return trainer


def predictor_of(built: Built) -> TabularPredictor:
    return TabularPredictor(built.state["spec"], built.state["pre"], built.module.net)


def fit_tabular(
    spec: TabularSpec,
    train: pd.DataFrame,
    valid: pd.DataFrame,
    params: TabularParams,
    checkpoint_dir: Path,
    callbacks: list[L.Callback] | None = None,
) -> FitResult:
    """Fit outside a tracked run (the lending simulation retrains many models this way)."""
    L.seed_everything(params.seed, workers=True, verbose=False)
    built = build_tabular(spec, train, valid, params, checkpoint_dir)
    history = History()
    trainer = fit_built(built, params, [history, *(callbacks or [])])
    best = best_epoch(history.rows, MONITOR)
    return FitResult(predictor_of(built), built.module, best, trainer.current_epoch,
                     built.state["ckpt"].best_model_path or None, history.rows)
