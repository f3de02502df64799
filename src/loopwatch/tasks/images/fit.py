"""Train an image classifier with Lightning: from scratch, or fast.ai's ``fine_tune``.

``fine_tune(epochs)`` = one (``freeze_epochs``) one-cycle stage training the new
head on a frozen body, then ``epochs`` one-cycle epochs of the whole network with
discriminative learning rates (half the peak, fast.ai's default) and a shorter
warm-up. A network trained from scratch gets a single one-cycle stage. One-cycle
ends at a tiny learning rate, so the last epoch is the one kept (no checkpoint).
"""

from __future__ import annotations

import lightning as L
import numpy as np
import torch
from torch.utils.data import DataLoader

from loopwatch.tasks.images.data import ImageSplits
from loopwatch.tasks.images.module import ImageClassifier, Stage, discriminative_lrs
from loopwatch.tasks.images.nets import NetConfig, as_tensor, build_net
from loopwatch.tasks.images.params import ImageParams
from loopwatch.training.run import Built
from loopwatch.training.trainer import batch_loader, build_trainer, fit


def make_loader(x: np.ndarray, y: np.ndarray, batch_size: int, shuffle: bool,
                num_workers: int = 0) -> DataLoader:
    # A last training batch of one image would crash BatchNorm (no variance): drop it.
    drop_last = shuffle and len(x) % batch_size == 1
    return batch_loader(as_tensor(x), torch.from_numpy(y), batch_size=batch_size,
                        shuffle=shuffle, drop_last=drop_last, num_workers=num_workers)


def channel_stats(x: np.ndarray) -> tuple[tuple[float, ...], tuple[float, ...]]:
    """Per-channel mean and std of uint8 images, in [0, 1] units (on up to 10k images)."""
    sample = as_tensor(x[:10_000]).float().div_(255)
    return (tuple(sample.mean(dim=(0, 2, 3)).tolist()),
            tuple(sample.std(dim=(0, 2, 3)).clamp_min(1e-3).tolist()))


def net_config(splits: ImageSplits, params: ImageParams) -> NetConfig:
    mean, std = channel_stats(splits.train_x)
    channels = 1 if splits.train_x.ndim == 3 else splits.train_x.shape[-1]
    return NetConfig(arch=params.arch, n_classes=len(splits.classes), in_channels=channels,
                     input_size=params.input_size, mean=mean, std=std)


def run_stage(module: ImageClassifier, stage: Stage, train: DataLoader, valid: DataLoader,
              params: ImageParams, callbacks: list[L.Callback]) -> None:
    module.stage = stage
    # "warn": some pooling kernels have no deterministic CPU/GPU implementation.
    trainer = build_trainer(params, callbacks=callbacks, max_epochs=stage.epochs,
                            deterministic="warn")
    fit(trainer, module, train, valid)
    module.epoch_offset += stage.epochs


def fine_tune(module: ImageClassifier, train: DataLoader, valid: DataLoader,
              params: ImageParams, callbacks: list[L.Callback]) -> None:
    """fast.ai's ``fine_tune``: frozen head epochs, then everything, discriminative lrs."""
    if params.freeze_epochs:
        module.freeze_body()
        run_stage(module, Stage(params.freeze_epochs, (params.lr,), pct_start=0.99),
                  train, valid, params, callbacks)
    module.unfreeze()
    lr = params.lr / 2
    n_groups = len(module.net.param_groups())
    run_stage(module, Stage(params.max_epochs, discriminative_lrs(lr, params.lr_ratio, n_groups),
                            pct_start=0.3, div=5.0), train, valid, params, callbacks)


def fit_one_cycle(module: ImageClassifier, train: DataLoader, valid: DataLoader,
                  params: ImageParams, callbacks: list[L.Callback]) -> None:
    lrs = (params.lr,) * len(module.net.param_groups())
    run_stage(module, Stage(params.max_epochs, lrs), train, valid, params, callbacks)


def build_images(splits: ImageSplits, params: ImageParams) -> Built:
    """The classifier (pretrained backbone or small CNN) and its loaders from the splits."""
    config = net_config(splits, params)
    pretrained = params.arch != "small_cnn"
    module = ImageClassifier(build_net(config, pretrained=pretrained),
                             weight_decay=params.weight_decay,
                             label_smoothing=params.label_smoothing, augment=params.augment,
                             max_shift=params.max_shift)
    train = make_loader(splits.train_x, splits.train_y, params.batch_size, shuffle=True,
                        num_workers=params.num_workers)
    valid = make_loader(splits.valid_x, splits.valid_y, params.batch_size * 4, shuffle=False)
    return Built(module, train, valid, state={"config": config, "pretrained": pretrained})


def run_schedule(built: Built, params: ImageParams, callbacks: list[L.Callback]) -> None:
    """Pretrained nets are fine-tuned (frozen head epochs, then all), others fit one cycle;
    the module is left on the CPU in eval mode, unfrozen."""
    schedule = fine_tune if built.state["pretrained"] else fit_one_cycle
    schedule(built.module, built.train, built.valid, params, callbacks)
    built.module = built.module.cpu().eval()
    built.module.frozen = False


def epoch_extras(trainer: L.Trainer, module: ImageClassifier) -> dict[str, float]:
    """What an image epoch reports beyond its metrics: the head's learning rate at the end
    of the epoch and whether the body was frozen."""
    return {"lr": float(trainer.optimizers[0].param_groups[-1]["lr"]),
            "frozen": float(module.frozen)}
