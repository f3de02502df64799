"""Image-task settings: the ``tasks.images:`` section of params.yaml.

Defaults are the fast CPU baseline (the small CNN on 28x28 Fashion-MNIST); the
pretrained backbone is chosen with ``arch: efficientnet_lite0`` and a larger
``input_size`` (the backbone strides by 32, so 28 px would leave it a 1x1 map).
"""

from __future__ import annotations

from typing import Literal

from pydantic import Field

from loopwatch.tasks.base import TaskParams

Arch = Literal["small_cnn", "efficientnet_lite0"]


class ImageParams(TaskParams):
    section = "tasks.images"
    dataset: str = "fashion-mnist"  # a built-in dataset, or a folder given on the CLI
    model_name: str = "fashion-mnist"  # registered model name in MLflow
    arch: Arch = "small_cnn"
    input_size: int = Field(28, ge=16, le=512)  # pixels the network sees (images are resized)
    max_epochs: int = Field(5, ge=1)  # unfrozen epochs (fine_tune) or all (from scratch)
    freeze_epochs: int = Field(1, ge=0)  # head-only epochs before unfreezing (pretrained only)
    batch_size: int = Field(128, ge=1)
    lr: float = Field(3e-3, gt=0)  # peak one-cycle learning rate (the head's, when fine-tuning)
    # Discriminative learning rates: the stem gets lr / lr_ratio, the head lr, groups between
    # are spaced geometrically (fast.ai's ``slice(lr / ratio, lr)``).
    lr_ratio: float = Field(100.0, ge=1.0)
    weight_decay: float = Field(0.01, ge=0)
    label_smoothing: float = Field(0.0, ge=0, lt=1)
    augment: bool = True  # random horizontal flips (and shifts) of training batches
    # Random shift in pixels (zero fill). Measured on the small CNN, 3 epochs: shifts cost
    # 1.4 points (0.904 vs 0.918): in a few-epoch budget the model underfits, and harder
    # examples only slow it down. Longer runs are where shifts pay.
    max_shift: int = Field(0, ge=0, le=8)
    train_subset: int | None = Field(None, ge=10)  # rows of the training split used (None: all)
    valid_fraction: float = Field(0.1, gt=0, lt=1)  # held out of the training split
    num_workers: int = Field(0, ge=0)  # batches are sliced from in-memory tensors
    top_losses: int = Field(16, ge=1)  # images in the top-losses grid
