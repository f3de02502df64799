"""Tabular classifier in the spirit of fastai's tabular_learner.

``TabularNet`` (in ``tabular_net.py``) is a plain ``nn.Module``, what the served
MLflow model rebuilds; ``TabularClassifier`` is the LightningModule that trains it. The loss
(cross-entropy) is what the optimiser sees; accuracy, error rate and ROC AUC are
the metrics people judge by — kept apart, as the fast.ai text insists.
"""

from __future__ import annotations

import lightning as L
import torch
import torchmetrics
from torch import nn

from loopwatch.tasks.tabular.net import NetConfig, TabularNet, weighted_loss

__all__ = ["NetConfig", "TabularClassifier", "TabularNet", "weighted_loss"]


class TabularClassifier(L.LightningModule):
    def __init__(self, net_config: dict, lr: float = 1e-2, weight_decay: float = 1e-2):
        super().__init__()
        self.save_hyperparameters()
        self.net = TabularNet(NetConfig(**net_config))
        # Per-row losses so inverse-propensity weights can rescale rows (see weighted_loss).
        self.loss_fn = nn.CrossEntropyLoss(reduction="none")
        metrics = torchmetrics.MetricCollection(
            {
                "accuracy": torchmetrics.classification.BinaryAccuracy(),
                "roc_auc": torchmetrics.classification.BinaryAUROC(),
            }
        )
        self.train_metrics = metrics.clone(prefix="train_")
        self.valid_metrics = metrics.clone(prefix="valid_")
        # Epoch-mean losses accumulated here and logged once an epoch: a per-step
        # `self.log` cost ~1 ms a call on CPU, a fifth of a small model's step.
        self.losses = nn.ModuleDict({"train_": torchmetrics.MeanMetric(),
                                     "valid_": torchmetrics.MeanMetric()})

    def forward(self, cats: torch.Tensor, conts: torch.Tensor) -> torch.Tensor:
        return self.net(cats, conts)

    def _step(self, batch, metrics: torchmetrics.MetricCollection, stage: str) -> torch.Tensor:
        cats, conts, y, weight = batch
        logits = self(cats, conts)
        loss = weighted_loss(self.loss_fn(logits, y), weight)
        metrics.update(torch.softmax(logits, dim=1)[:, 1], y)
        self.losses[f"{stage}_"].update(loss.detach(), weight=len(y))
        return loss

    def training_step(self, batch, batch_idx):
        return self._step(batch, self.train_metrics, "train")

    def validation_step(self, batch, batch_idx):
        self._step(batch, self.valid_metrics, "valid")

    def on_train_epoch_end(self) -> None:
        self._log_epoch(self.train_metrics)

    def on_validation_epoch_end(self) -> None:
        self._log_epoch(self.valid_metrics)

    def _log_epoch(self, metrics: torchmetrics.MetricCollection) -> None:
        values = metrics.compute()
        prefix = metrics.prefix
        values[f"{prefix}error_rate"] = 1 - values[f"{prefix}accuracy"]
        values[f"{prefix}loss"] = self.losses[prefix].compute()
        self.log_dict(values, prog_bar=prefix == "valid_")
        metrics.reset()
        self.losses[prefix].reset()

    def configure_optimizers(self):
        opt = torch.optim.AdamW(self.parameters(), lr=self.hparams.lr,
                                weight_decay=self.hparams.weight_decay)
        sched = torch.optim.lr_scheduler.OneCycleLR(
            opt, max_lr=self.hparams.lr, total_steps=self.trainer.estimated_stepping_batches
        )
        return {"optimizer": opt, "lr_scheduler": {"scheduler": sched, "interval": "step"}}

    @torch.no_grad()
    def predict_proba(self, cats: torch.Tensor, conts: torch.Tensor) -> torch.Tensor:
        self.eval()
        return torch.softmax(self(cats, conts), dim=1)
