"""Tabular classifier in the spirit of fastai's tabular_learner.

``TabularNet`` is a plain ``nn.Module`` (what the served MLflow model rebuilds);
``TabularClassifier`` is the LightningModule that trains it. The loss
(cross-entropy) is what the optimiser sees; accuracy, error rate and ROC AUC are
the metrics people judge by — kept apart, as the fast.ai text insists.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field

import lightning as L
import torch
import torchmetrics
from torch import nn


def embedding_size(cardinality: int) -> int:
    """fastai's rule of thumb for an embedding's width."""
    return min(600, round(1.6 * cardinality**0.56))


@dataclass
class NetConfig:
    cardinalities: list[int]
    n_continuous: int
    layers: list[int] = field(default_factory=lambda: [200, 100])
    dropout: float = 0.1
    embedding_dropout: float = 0.05
    n_classes: int = 2

    def to_dict(self) -> dict:
        return asdict(self)


class TabularNet(nn.Module):
    """Embeddings for categoricals + batch-normed continuous -> MLP with BN and dropout."""

    def __init__(self, config: NetConfig):
        super().__init__()
        self.config = config
        self.embeddings = nn.ModuleList(
            nn.Embedding(card, embedding_size(card)) for card in config.cardinalities
        )
        self.embedding_dropout = nn.Dropout(config.embedding_dropout)
        self.continuous_bn = nn.BatchNorm1d(config.n_continuous) if config.n_continuous else None
        width = sum(e.embedding_dim for e in self.embeddings) + config.n_continuous
        blocks: list[nn.Module] = []
        for size in config.layers:
            blocks += [nn.Linear(width, size, bias=False), nn.BatchNorm1d(size), nn.ReLU(),
                       nn.Dropout(config.dropout)]
            width = size
        blocks.append(nn.Linear(width, config.n_classes))
        self.mlp = nn.Sequential(*blocks)

    def forward(self, cats: torch.Tensor, conts: torch.Tensor) -> torch.Tensor:
        parts = [emb(cats[:, i]) for i, emb in enumerate(self.embeddings)]
        x = self.embedding_dropout(torch.cat(parts, dim=1)) if parts else None
        if self.continuous_bn is not None:
            c = self.continuous_bn(conts)
            x = c if x is None else torch.cat([x, c], dim=1)
        return self.mlp(x)


def weighted_loss(per_row: torch.Tensor, weight: torch.Tensor) -> torch.Tensor:
    """Self-normalised weighted mean: Σ w·loss / Σ w (all-ones weights = the plain mean).

    Normalising by Σw keeps the loss scale (and so the learning rate) comparable
    whether or not inverse-propensity weights are on.
    """
    return (per_row * weight).sum() / weight.sum()


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

    def forward(self, cats: torch.Tensor, conts: torch.Tensor) -> torch.Tensor:
        return self.net(cats, conts)

    def _step(self, batch, metrics: torchmetrics.MetricCollection, stage: str) -> torch.Tensor:
        cats, conts, y, weight = batch
        logits = self(cats, conts)
        loss = weighted_loss(self.loss_fn(logits, y), weight)
        metrics.update(torch.softmax(logits, dim=1)[:, 1], y)
        self.log(f"{stage}_loss", loss, on_step=False, on_epoch=True, prog_bar=True,
                 batch_size=len(y))
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
        self.log_dict(values, prog_bar=prefix == "valid_")
        metrics.reset()

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
