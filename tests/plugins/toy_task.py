"""A fourth task defined entirely in tests/: 3-class classification of generated points.

It proves the spine knows no task: it registers through the same entry-point group as the
built-in tasks and goes train -> register -> serve -> log -> monitor with no spine change.
"""

from __future__ import annotations

import json
from pathlib import Path

import lightning as L
import numpy as np
import pandas as pd
import torch
from pydantic import Field
from torch import nn
from torch.utils.data import DataLoader, TensorDataset

from loopwatch.tasks.base import TaskParams
from loopwatch.training.run import Built, Evaluation

CLASSES = ("left", "middle", "right")
FEATURES = ("x", "y")


class ToyParams(TaskParams):
    section = "tasks.toy"
    model_name: str = "toy-points"
    max_epochs: int = 8
    batch_size: int = 64
    lr: float = 0.05
    rows: int = Field(900, ge=30)
    hidden: int = 16


def points(n: int, seed: int) -> pd.DataFrame:
    """Three blobs along x; ``group`` is a sensitive attribute unrelated to the class."""
    rng = np.random.default_rng(seed)
    label = rng.integers(0, 3, n)
    x = label * 2.0 + rng.normal(0, 0.5, n)
    y = rng.normal(0, 1, n)
    group = rng.choice(["a", "b"], n)
    return pd.DataFrame({"x": x, "y": y, "group": group,
                         "label": np.asarray(CLASSES, dtype=object)[label]})


class ToyModule(L.LightningModule):
    def __init__(self, hidden: int, lr: float):
        super().__init__()
        self.net = nn.Sequential(nn.Linear(2, hidden), nn.ReLU(), nn.Linear(hidden, 3))
        self.lr = lr

    def training_step(self, batch, batch_idx):
        x, y = batch
        loss = nn.functional.cross_entropy(self.net(x), y)
        self.log("train_loss", loss, on_step=False, on_epoch=True)
        return loss

    def validation_step(self, batch, batch_idx):
        x, y = batch
        logits = self.net(x)
        self.log("valid_loss", nn.functional.cross_entropy(logits, y), on_epoch=True)
        self.log("valid_accuracy", (logits.argmax(1) == y).float().mean(), on_epoch=True)

    def configure_optimizers(self):
        return torch.optim.Adam(self.parameters(), lr=self.lr)


def tensors(frame: pd.DataFrame):
    x = torch.tensor(frame[list(FEATURES)].to_numpy(np.float32))
    y = torch.tensor(frame["label"].map({c: i for i, c in enumerate(CLASSES)}).to_numpy())
    return TensorDataset(x, y)


class ToyPredictor:
    def __init__(self, net: nn.Module):
        self.net = net.eval()

    @torch.no_grad()
    def predict_frame(self, frame: pd.DataFrame) -> pd.DataFrame:
        missing = [c for c in FEATURES if c not in frame.columns]
        if missing:
            raise ValueError(f"missing column(s) {missing}")
        proba = torch.softmax(self.net(torch.tensor(
            frame[list(FEATURES)].to_numpy(np.float32))), dim=1).numpy()
        out = pd.DataFrame({"prediction": np.asarray(CLASSES, dtype=object)[proba.argmax(1)]})
        for i, c in enumerate(CLASSES):
            out[f"prob_{c}"] = proba[:, i].astype("float64")
        return out

    def save(self, folder: Path) -> Path:
        folder.mkdir(parents=True, exist_ok=True)
        hidden = self.net[0].out_features
        (folder / "toy.json").write_text(json.dumps({"hidden": hidden}))
        torch.save(self.net.state_dict(), folder / "weights.pt")
        return folder

    @classmethod
    def load(cls, folder: Path) -> ToyPredictor:
        hidden = json.loads((Path(folder) / "toy.json").read_text())["hidden"]
        module = ToyModule(hidden, 0.0)
        module.net.load_state_dict(torch.load(Path(folder) / "weights.pt", weights_only=True))
        return cls(module.net)


class ToyTask:
    name = "toy"
    params_model = ToyParams
    monitor = ("valid_accuracy", "max")
    sensitive = ("group",)  # accepted and logged by the generic route, sliced by monitoring

    def load_splits(self, settings, params: ToyParams) -> dict[str, pd.DataFrame]:
        frame = points(params.rows, params.seed)
        n = len(frame)
        return {"train": frame[: n * 3 // 5], "valid": frame[n * 3 // 5: n * 4 // 5],
                "test": frame[n * 4 // 5:]}

    def provenance(self, splits) -> pd.Series:
        """Generated rows: every label is organic (no model decided it would be seen)."""
        return pd.Series("organic", index=splits["train"].index)

    def build(self, splits, params: ToyParams) -> Built:
        module = ToyModule(params.hidden, params.lr)
        return Built(module, DataLoader(tensors(splits["train"]), batch_size=params.batch_size,
                                        shuffle=True),
                     DataLoader(tensors(splits["valid"]), batch_size=512),
                     samples=len(splits["train"]))

    def predictor(self, built: Built, splits) -> ToyPredictor:
        return ToyPredictor(built.module.net)

    def evaluate(self, predictor: ToyPredictor, splits, params: ToyParams) -> Evaluation:
        test = splits["test"]
        pred = predictor.predict_frame(test)["prediction"].to_numpy()
        return Evaluation({"test_accuracy": float((pred == test["label"].to_numpy()).mean())})

    def example(self, splits) -> pd.DataFrame:
        return splits["train"][list(FEATURES)].head(5)

    def reference_rows(self, splits) -> pd.DataFrame:
        """What serving should look like: the validation rows (inputs, group, label)."""
        return splits["valid"]
