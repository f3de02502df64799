"""The LightningModule for images: augmentation on the batch, freezing, discriminative
learning rates and a one-cycle schedule per stage (fast.ai's ``fit_one_cycle``).

Batches arrive as uint8 (4x less to copy to a GPU) and become float in
``on_after_batch_transfer``, where the training augmentation runs too, on the device,
vectorised over the batch (fast.ai's batch transforms).
"""

from __future__ import annotations

from dataclasses import dataclass

import lightning as L
import torch
from torch import nn
from torch.nn import functional as F


@dataclass
class Stage:
    """One ``fit_one_cycle`` call: epochs, peak learning rate per parameter group, shape."""

    epochs: int
    lrs: tuple[float, ...]  # one per group the stage trains (frozen: the head's only)
    pct_start: float = 0.25  # share of steps spent warming up
    div: float = 25.0  # start lr = peak / div
    div_final: float = 1e5  # final lr = start / div_final


def discriminative_lrs(lr: float, ratio: float, n_groups: int) -> tuple[float, ...]:
    """fast.ai's ``slice(lr / ratio, lr)``: geometric from the stem to the head."""
    if n_groups == 1:
        return (lr,)
    return tuple(lr / ratio ** (1 - i / (n_groups - 1)) for i in range(n_groups))


def shift_flip(x: torch.Tensor, max_shift: int, flip: bool,
               generator: torch.Generator | None = None) -> torch.Tensor:
    """Random translation by up to ``max_shift`` pixels (zero fill) and horizontal flips."""
    n, _, h, w = x.shape
    dev = x.device
    if max_shift > 0:
        padded = F.pad(x, (max_shift,) * 4)
        dy = torch.randint(0, 2 * max_shift + 1, (n,), generator=generator).to(dev)
        dx = torch.randint(0, 2 * max_shift + 1, (n,), generator=generator).to(dev)
        rows = (dy[:, None] + torch.arange(h, device=dev))[:, :, None]  # (n, h, 1)
        cols = (dx[:, None] + torch.arange(w, device=dev))[:, None, :]  # (n, 1, w)
        batch = torch.arange(n, device=dev)[:, None, None]
        x = padded.permute(0, 2, 3, 1)[batch, rows, cols].permute(0, 3, 1, 2)
    if flip:
        mirror = (torch.rand(n, generator=generator) < 0.5).to(dev)
        x = torch.where(mirror[:, None, None, None], x.flip(-1), x)
    return x.contiguous()


class ImageClassifier(L.LightningModule):
    def __init__(self, net: nn.Module, weight_decay: float = 0.01, label_smoothing: float = 0.0,
                 augment: bool = True, max_shift: int = 0):
        super().__init__()
        self.save_hyperparameters(ignore=["net"])
        # channels-last convolutions measured 1.1-1.9x faster to train on this CPU (oneDNN).
        self.net = net.to(memory_format=torch.channels_last)
        self.frozen = False
        self.stage = Stage(1, (1e-3,))
        self.epoch_offset = 0  # epochs of earlier stages: MLflow steps keep counting up

    # -- freezing (fast.ai's freeze / unfreeze) -------------------------------------------
    def freeze_body(self) -> None:
        """Train the head only; the body runs without gradients (a frozen epoch is ~4x
        cheaper on a CPU). BatchNorm statistics still adapt to the new images."""
        self.frozen = True
        for group in self.net.param_groups()[:-1]:
            for p in group:
                p.requires_grad_(False)

    def unfreeze(self) -> None:
        self.frozen = False
        for p in self.net.parameters():
            p.requires_grad_(True)

    # -- data on the device ---------------------------------------------------------------
    def on_after_batch_transfer(self, batch, dataloader_idx: int):
        x, y = batch
        x = x.float().div_(255).contiguous(memory_format=torch.channels_last)
        if self._trainer is not None and self._trainer.training and self.hparams.augment:
            x = shift_flip(x, self.hparams.max_shift, flip=True)
        return x, y

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if self.frozen:
            with torch.no_grad():
                features = self.net.embed(x)
            return self.net.head(features)
        return self.net(x)

    def _step(self, batch, prefix: str) -> torch.Tensor:
        x, y = batch
        logits = self(x)
        loss = F.cross_entropy(logits, y, label_smoothing=self.hparams.label_smoothing
                               if prefix == "train" else 0.0)
        acc = (logits.argmax(1) == y).float().mean()
        n = len(y)
        self.log(f"{prefix}_loss", loss, on_step=False, on_epoch=True, batch_size=n)
        self.log(f"{prefix}_accuracy", acc, on_step=False, on_epoch=True, batch_size=n,
                 prog_bar=prefix == "valid")
        if prefix == "valid":
            self.log("valid_error_rate", 1 - acc, on_step=False, on_epoch=True, batch_size=n)
        return loss

    def training_step(self, batch, batch_idx):
        return self._step(batch, "train")

    def validation_step(self, batch, batch_idx):
        self._step(batch, "valid")

    def configure_optimizers(self):
        groups = self.net.param_groups()
        if self.frozen:
            groups = groups[-1:]
        lrs = self.stage.lrs[-len(groups):]
        if len(lrs) != len(groups):
            raise ValueError(f"stage has {len(self.stage.lrs)} learning rates for "
                             f"{len(groups)} parameter groups")
        optimizer = torch.optim.AdamW(
            [{"params": g, "lr": lr} for g, lr in zip(groups, lrs, strict=True)],
            weight_decay=self.hparams.weight_decay)
        steps = max(1, int(self.trainer.estimated_stepping_batches))
        schedule = torch.optim.lr_scheduler.OneCycleLR(
            optimizer, max_lr=list(lrs), total_steps=steps,
            pct_start=self.stage.pct_start, div_factor=self.stage.div,
            final_div_factor=self.stage.div_final)
        return {"optimizer": optimizer, "lr_scheduler": {"scheduler": schedule, "interval": "step"}}
