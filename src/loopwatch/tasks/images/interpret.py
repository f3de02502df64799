"""Interpretation: confusion matrix, per-class accuracy, top losses (fast.ai's
``ClassificationInterpretation``), as numbers and as figures for MLflow.

Pure numpy in, matplotlib figures out (Agg backend: files, never windows).
"""

from __future__ import annotations

from dataclasses import dataclass

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402


@dataclass
class Interpretation:
    classes: tuple[str, ...]
    confusion: np.ndarray  # [actual, predicted] counts
    losses: np.ndarray  # per-example cross-entropy
    predicted: np.ndarray
    actual: np.ndarray
    proba: np.ndarray

    @classmethod
    def from_proba(cls, proba: np.ndarray, actual: np.ndarray,
                   classes: tuple[str, ...]) -> Interpretation:
        k = len(classes)
        predicted = proba.argmax(axis=1)
        confusion = np.bincount(actual * k + predicted, minlength=k * k).reshape(k, k)
        p_true = np.clip(proba[np.arange(len(actual)), actual], 1e-12, 1.0)
        return cls(tuple(classes), confusion, -np.log(p_true), predicted, actual, proba)

    def metrics(self, prefix: str = "test") -> dict[str, float]:
        n = len(self.actual)
        accuracy = float((self.predicted == self.actual).mean()) if n else float("nan")
        return {f"{prefix}_accuracy": accuracy, f"{prefix}_error_rate": 1 - accuracy,
                f"{prefix}_log_loss": float(self.losses.mean()) if n else float("nan")}

    def per_class_accuracy(self) -> dict[str, float]:
        """Recall per actual class: the share of each class the model gets right."""
        totals = self.confusion.sum(axis=1)
        return {name: float(self.confusion[i, i] / totals[i]) if totals[i] else float("nan")
                for i, name in enumerate(self.classes)}

    def most_confused(self, min_count: int = 1) -> list[tuple[str, str, int]]:
        """(actual, predicted, count) off the diagonal, most frequent first."""
        pairs = [(self.classes[i], self.classes[j], int(c))
                 for (i, j), c in np.ndenumerate(self.confusion) if i != j and c >= min_count]
        return sorted(pairs, key=lambda t: -t[2])

    def top_losses(self, k: int) -> np.ndarray:
        """Indices of the ``k`` examples with the highest loss, highest first."""
        return np.argsort(-self.losses, kind="stable")[:k]


def confusion_figure(interp: Interpretation, title: str = "test set"):
    k = len(interp.classes)
    fig, ax = plt.subplots(figsize=(1.0 + 0.6 * k, 0.8 + 0.55 * k))
    ax.imshow(interp.confusion, cmap="Blues")
    ax.set_xticks(range(k), interp.classes, rotation=60, ha="right")
    ax.set_yticks(range(k), interp.classes)
    ax.set_xlabel("predicted")
    ax.set_ylabel("actual")
    ax.set_title(title)
    peak = interp.confusion.max() or 1
    for (i, j), value in np.ndenumerate(interp.confusion):
        ax.text(j, i, f"{value}", ha="center", va="center", fontsize=7,
                color="white" if value > peak / 2 else "black")
    fig.tight_layout()
    return fig


def top_losses_figure(interp: Interpretation, pixels: np.ndarray, k: int = 16):
    """A grid of the worst examples titled like fast.ai's ``plot_top_losses``:
    predicted / actual / loss / probability of the actual class."""
    idx = interp.top_losses(k)
    cols = min(4, max(1, len(idx)))
    rows = max(1, -(-len(idx) // cols))
    fig, axes = plt.subplots(rows, cols, figsize=(2.6 * cols, 2.9 * rows), squeeze=False)
    for ax in axes.flat:
        ax.axis("off")
    for ax, i in zip(axes.flat, idx, strict=False):
        img = pixels[i]
        ax.imshow(img, cmap="gray" if img.ndim == 2 else None, vmin=0, vmax=255)
        actual, pred = interp.actual[i], interp.predicted[i]
        ax.set_title(f"{interp.classes[pred]}/{interp.classes[actual]}\n"
                     f"{interp.losses[i]:.2f} / {interp.proba[i, actual]:.2f}", fontsize=8)
    fig.suptitle("prediction/actual  loss/probability", fontsize=9)
    fig.tight_layout()
    return fig
