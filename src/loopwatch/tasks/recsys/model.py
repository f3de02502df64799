"""Lightning modules for rating prediction: fastai's two collab models.

``DotProductBias`` is fastai's ``collab_learner`` default: user and item factors, a bias
per user and per item, and a sigmoid squashed into ``y_range`` = (0, 5.5) — a little past
the 1-5 scale, because a sigmoid only reaches its ends asymptotically and 5-star ratings
are common. ``EmbeddingNN`` is its ``use_nn=True`` variant: the two embeddings
concatenated and fed through an MLP. Index 0 of each embedding is the "unknown" id.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field

import lightning as L
import torch
from torch import nn

KINDS = ("dot", "nn")


@dataclass
class CollabConfig:
    n_users: int  # including the unknown slot 0
    n_items: int
    kind: str = "dot"
    n_factors: int = 50
    y_range: tuple[float, float] = (0.0, 5.5)
    layers: list[int] = field(default_factory=lambda: [100])  # nn only
    dropout: float = 0.1  # nn only

    def __post_init__(self) -> None:
        if self.kind not in KINDS:
            raise ValueError(f"model kind must be one of {KINDS}, got {self.kind!r}")
        self.y_range = tuple(self.y_range)

    def to_dict(self) -> dict:
        return asdict(self)


def emb_size(n: int) -> int:
    """fastai's rule of thumb for an embedding width (``emb_sz_rule``)."""
    return min(600, round(1.6 * n**0.56))


def sigmoid_range(x: torch.Tensor, low: float, high: float) -> torch.Tensor:
    return torch.sigmoid(x) * (high - low) + low


class DotProductBias(nn.Module):
    def __init__(self, cfg: CollabConfig):
        super().__init__()
        self.y_range = cfg.y_range
        self.user_factors = _embedding(cfg.n_users, cfg.n_factors)
        self.item_factors = _embedding(cfg.n_items, cfg.n_factors)
        self.user_bias = _embedding(cfg.n_users, 1)
        self.item_bias = _embedding(cfg.n_items, 1)

    def forward(self, users: torch.Tensor, items: torch.Tensor) -> torch.Tensor:
        dot = (self.user_factors(users) * self.item_factors(items)).sum(dim=1)
        raw = dot + self.user_bias(users)[:, 0] + self.item_bias(items)[:, 0]
        return sigmoid_range(raw, *self.y_range)

    def score_all_items(self, user: int) -> torch.Tensor:
        """Every item's predicted rating for one user (one matrix product, not n calls)."""
        u = torch.tensor([user])
        raw = (self.item_factors.weight @ self.user_factors(u)[0] + self.item_bias.weight[:, 0]
               + self.user_bias(u)[0, 0])
        return sigmoid_range(raw, *self.y_range)


class EmbeddingNN(nn.Module):
    def __init__(self, cfg: CollabConfig):
        super().__init__()
        self.y_range = cfg.y_range
        self.user_factors = _embedding(cfg.n_users, emb_size(cfg.n_users))
        self.item_factors = _embedding(cfg.n_items, emb_size(cfg.n_items))
        width = emb_size(cfg.n_users) + emb_size(cfg.n_items)
        blocks: list[nn.Module] = []
        for size in cfg.layers:
            blocks += [nn.Linear(width, size), nn.ReLU(), nn.BatchNorm1d(size),
                       nn.Dropout(cfg.dropout)]
            width = size
        self.mlp = nn.Sequential(*blocks, nn.Linear(width, 1))

    def forward(self, users: torch.Tensor, items: torch.Tensor) -> torch.Tensor:
        x = torch.cat([self.user_factors(users), self.item_factors(items)], dim=1)
        return sigmoid_range(self.mlp(x)[:, 0], *self.y_range)

    def score_all_items(self, user: int) -> torch.Tensor:
        items = torch.arange(self.item_factors.num_embeddings)
        return self(torch.full_like(items, user), items)


def _embedding(n: int, width: int) -> nn.Embedding:
    emb = nn.Embedding(n, width)
    nn.init.trunc_normal_(emb.weight, std=0.01)  # fastai's init: small, so the start is near y_mid
    return emb


def build_net(cfg: CollabConfig) -> nn.Module:
    return DotProductBias(cfg) if cfg.kind == "dot" else EmbeddingNN(cfg)


class CollabRegressor(L.LightningModule):
    """MSE on ratings, RMSE reported; AdamW (decoupled weight decay, as fastai) + one-cycle."""

    def __init__(self, config: dict, lr: float = 5e-3, weight_decay: float = 0.1):
        super().__init__()
        self.save_hyperparameters()
        self.net = build_net(CollabConfig(**config))

    def forward(self, users: torch.Tensor, items: torch.Tensor) -> torch.Tensor:
        return self.net(users, items)

    def _step(self, batch, stage: str) -> torch.Tensor:
        users, items, ratings, weights = batch
        err = (self(users, items) - ratings) ** 2
        loss = (err * weights).sum() / weights.sum()  # weights are 1 unless IPS-weighted
        self.log(f"{stage}_mse", loss, on_step=False, on_epoch=True, batch_size=len(users))
        if stage == "valid":  # exact epoch RMSE: sum the squared errors, sqrt at the end
            self._sse += float(err.sum())
            self._count += len(err)
        return loss

    def on_validation_epoch_start(self) -> None:
        self._sse, self._count = 0.0, 0

    def on_validation_epoch_end(self) -> None:
        if self._count:
            self.log("valid_rmse", (self._sse / self._count) ** 0.5)

    def training_step(self, batch, batch_idx: int) -> torch.Tensor:
        return self._step(batch, "train")

    def validation_step(self, batch, batch_idx: int) -> None:
        self._step(batch, "valid")

    def configure_optimizers(self):
        opt = torch.optim.AdamW(self.parameters(), lr=self.hparams.lr,
                                weight_decay=self.hparams.weight_decay)
        sched = torch.optim.lr_scheduler.OneCycleLR(
            opt, max_lr=self.hparams.lr, total_steps=self.trainer.estimated_stepping_batches)
        return {"optimizer": opt, "lr_scheduler": {"scheduler": sched, "interval": "step"}}

