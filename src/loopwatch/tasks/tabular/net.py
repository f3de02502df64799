"""The tabular network as a plain ``nn.Module``, free of Lightning.

What a served model rebuilds from its state dict: importing it costs torch only,
not Lightning (5 s of a server's start-up). ``tabular.py`` trains it.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field

import torch
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
