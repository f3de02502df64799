"""A trained tabular model as one object that predicts on raw rows.

It is what the MLflow pyfunc wraps, what evaluation scores with, and what a
served model runs: preprocessing travels with the weights, so raw rows in,
labels and probabilities out.
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pandas as pd
import torch

from loopwatch.tasks.tabular.net import NetConfig, TabularNet
from loopwatch.tasks.tabular.preprocessing import TabularPreprocessor
from loopwatch.tasks.tabular.spec import TabularSpec


class TabularPredictor:

    def __init__(self, spec: TabularSpec, preprocessor: TabularPreprocessor, net: TabularNet):
        self.spec = spec
        self.preprocessor = preprocessor
        self.net = net.eval()

    @torch.no_grad()
    def predict_proba(self, frame: pd.DataFrame) -> np.ndarray:
        """Class probabilities, shape (n, 2), column order = ``spec.classes``."""
        if len(frame) == 0:
            return np.zeros((0, len(self.spec.classes)), dtype=np.float32)
        cats, conts = self.preprocessor.transform(frame)
        return torch.softmax(self.net(cats, conts), dim=1).numpy()

    def predict_frame(self, frame: pd.DataFrame) -> pd.DataFrame:
        """``prediction`` (class label) and one ``prob_<label>`` column per class."""
        proba = self.predict_proba(frame)
        labels = np.asarray(self.spec.classes, dtype=object)
        out = pd.DataFrame({"prediction": labels[proba.argmax(axis=1)] if len(proba) else []})
        for i, label in enumerate(self.spec.classes):
            out[f"prob_{label}"] = proba[:, i].astype("float64")
        return out

    def save(self, directory: Path) -> Path:
        directory.mkdir(parents=True, exist_ok=True)
        (directory / "spec.json").write_text(self.spec.to_json())
        (directory / "preprocessor.json").write_text(self.preprocessor.to_json())
        (directory / "net_config.json").write_text(json.dumps(self.net.config.to_dict()))
        torch.save(self.net.state_dict(), directory / "weights.pt")
        return directory

    @classmethod
    def load(cls, directory: Path) -> TabularPredictor:
        directory = Path(directory)
        spec = TabularSpec.from_json((directory / "spec.json").read_text())
        pre = TabularPreprocessor.from_json((directory / "preprocessor.json").read_text())
        net = TabularNet(NetConfig(**json.loads((directory / "net_config.json").read_text())))
        net.load_state_dict(torch.load(directory / "weights.pt", weights_only=True))
        return cls(spec, pre, net)
