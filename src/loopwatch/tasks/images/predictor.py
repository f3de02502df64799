"""A trained image model that predicts from pixels or PNG/JPEG bytes, and saves as files.

Saved form: ``net.json`` (architecture, classes, sizes) + ``state_dict.pt`` (weights
only, loaded with ``weights_only=True``): no pickled Python objects, as for tabular
models. ``raw_size`` is the square size images are brought to before the network
(28 for Fashion-MNIST; the network itself resizes to its ``input_size``).
"""

from __future__ import annotations

import base64
import json
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch

from loopwatch.tasks.images.decode import decode, to_array
from loopwatch.tasks.images.nets import NetConfig, as_tensor, build_net

NET_FILE, WEIGHTS_FILE = "net.json", "state_dict.pt"


@dataclass
class ImagePrediction:
    proba: np.ndarray  # (N, n_classes)
    embeddings: np.ndarray  # (N, d): the pooled features before the head
    pixels: np.ndarray  # the uint8 images as the model saw them (before its own resize)

    def labels(self, classes: tuple[str, ...]) -> list[str]:
        return [classes[i] for i in self.proba.argmax(axis=1).tolist()]


class ImagePredictor:
    def __init__(self, config: NetConfig, net: torch.nn.Module, classes: tuple[str, ...],
                 raw_size: int, batch_size: int = 256):
        if len(classes) != config.n_classes:
            raise ValueError(f"{len(classes)} class names for {config.n_classes} outputs")
        self.config, self.classes, self.raw_size = config, tuple(classes), raw_size
        self.net = net.eval()
        self.batch_size = batch_size

    @property
    def channels(self) -> int:
        return self.config.in_channels

    # -- predicting ---------------------------------------------------------------------
    def predict_pixels(self, pixels: np.ndarray) -> ImagePrediction:
        """uint8 images (N, H, W) or (N, H, W, 3) at ``raw_size``: probabilities, embeddings."""
        probas, embeds = [], []
        with torch.inference_mode():
            x_all = as_tensor(pixels)
            for i in range(0, len(x_all), self.batch_size):
                x = x_all[i:i + self.batch_size].float().div_(255)
                features = self.net.embed(x)
                probas.append(torch.softmax(self.net.head(features), dim=1).float())
                embeds.append(features.float())
        d = len(self.classes)
        proba = torch.cat(probas).numpy().astype(np.float64) if probas else np.zeros((0, d))
        emb = torch.cat(embeds).numpy() if embeds else np.zeros((0, 0), dtype=np.float32)
        return ImagePrediction(proba, emb, pixels)

    def to_pixels(self, images: list[bytes]) -> np.ndarray:
        """Decode PNG/JPEG bytes (raises ``decode.ImageError``) to the model's raw size."""
        arrays = [to_array(decode(b), self.raw_size, self.channels) for b in images]
        shape = (self.raw_size, self.raw_size) + (() if self.channels == 1 else (3,))
        return np.stack(arrays) if arrays else np.zeros((0, *shape), dtype=np.uint8)

    def predict_bytes(self, images: list[bytes]) -> ImagePrediction:
        return self.predict_pixels(self.to_pixels(images))

    def predict_frame(self, frame):
        """The pyfunc contract: column ``image`` (bytes, or base64 text) -> label, probability,
        one ``prob_<class>`` column per class."""
        import pandas as pd

        if "image" not in frame.columns:
            raise ValueError(f"expected a column 'image' of PNG/JPEG bytes, got {list(frame)}")
        raw = [v if isinstance(v, bytes | bytearray) else base64.b64decode(v)
               for v in frame["image"]]
        pred = self.predict_bytes([bytes(b) for b in raw])
        out = pd.DataFrame({"label": pred.labels(self.classes),
                            "probability": pred.proba.max(axis=1) if len(pred.proba) else []})
        for j, name in enumerate(self.classes):
            out[f"prob_{name}"] = pred.proba[:, j]
        return out

    # -- files --------------------------------------------------------------------------
    def save(self, folder: Path) -> Path:
        folder.mkdir(parents=True, exist_ok=True)
        meta = {"config": self.config.to_dict(), "classes": list(self.classes),
                "raw_size": self.raw_size}
        (folder / NET_FILE).write_text(json.dumps(meta, indent=2))
        torch.save(self.net.state_dict(), folder / WEIGHTS_FILE)
        return folder

    @classmethod
    def load(cls, folder: Path) -> ImagePredictor:
        meta = json.loads((folder / NET_FILE).read_text())
        config = NetConfig.from_dict(meta["config"])
        net = build_net(config, pretrained=False)  # the saved weights replace everything
        state = torch.load(folder / WEIGHTS_FILE, map_location="cpu", weights_only=True)
        net.load_state_dict(state)
        return cls(config, net, tuple(meta["classes"]), int(meta["raw_size"]))
