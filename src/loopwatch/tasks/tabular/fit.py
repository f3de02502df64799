"""The tabular classifier's build, fit and predictor (``training.run.fit_task`` seeds and
drives them): early-stopped, the best epoch checkpointed and restored."""

from __future__ import annotations

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
from loopwatch.training.run import Built
from loopwatch.training.trainer import batch_loader, build_trainer
from loopwatch.training.trainer import fit as fit_module
from loopwatch.training.weights import ips_weights

METRIC, MODE = MONITOR


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


def fit_built(built: Built, params: TabularParams, callbacks: list[L.Callback]) -> None:
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


def predictor_of(built: Built) -> TabularPredictor:
    return TabularPredictor(built.state["spec"], built.state["pre"], built.module.net)
