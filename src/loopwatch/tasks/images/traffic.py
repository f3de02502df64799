"""Drifted production traffic for image models: darker, rotated, noisy, another class mix.

Used by the tests (the drift report must notice it, and must stay quiet on clean
traffic) and by ``loopwatch images drift-demo``. Pure numpy + Pillow on uint8
images; seeded, so a demo shows the same numbers every time.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np


@dataclass(frozen=True)
class Drift:
    brightness: float = 1.0  # multiply pixels (0.5 = half as bright)
    rotate_deg: float = 0.0  # rotate each image by a random angle in +-rotate_deg
    noise: float = 0.0  # std of added Gaussian noise, in [0, 1] pixel units
    class_weights: tuple[float, ...] | None = None  # sampling weight per class (None: as is)

    @classmethod
    def strong(cls, n_classes: int) -> Drift:
        """The demo's drift: darker, tilted, noisy, with the first classes over-represented."""
        weights = tuple(4.0 if i < max(1, n_classes // 3) else 1.0 for i in range(n_classes))
        return cls(brightness=0.55, rotate_deg=25.0, noise=0.08, class_weights=weights)


def sample(labels: np.ndarray, n: int, rng: np.random.Generator,
           class_weights: tuple[float, ...] | None = None) -> np.ndarray:
    """Indices of ``n`` rows, drawn with the given per-class weights (the class-mix shift)."""
    if class_weights is None:
        return rng.choice(len(labels), size=n, replace=n > len(labels))
    w = np.asarray(class_weights, dtype=np.float64)[labels]
    return rng.choice(len(labels), size=n, replace=True, p=w / w.sum())


def apply(pixels: np.ndarray, drift: Drift, rng: np.random.Generator) -> np.ndarray:
    """A drifted copy of uint8 images (N, H, W[, 3])."""
    if drift.rotate_deg:
        angles = rng.uniform(-drift.rotate_deg, drift.rotate_deg, size=len(pixels))
        pixels = _rotate(pixels, angles)
    x = pixels.astype(np.float32) / 255.0 * drift.brightness
    if drift.noise:
        x = x + rng.normal(0.0, drift.noise, size=x.shape).astype(np.float32)
    return (np.clip(x, 0.0, 1.0) * 255).round().astype(np.uint8)


def _rotate(pixels: np.ndarray, angles: np.ndarray) -> np.ndarray:
    from PIL import Image

    return np.stack([np.asarray(Image.fromarray(img).rotate(float(angle),
                                                            Image.Resampling.BILINEAR))
                     for img, angle in zip(pixels, angles, strict=True)])


def traffic(pixels: np.ndarray, labels: np.ndarray, n: int, drift: Drift | None,
            seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    """``n`` images (and their true labels) as production would send them, drifted or clean."""
    rng = np.random.default_rng(seed)
    idx = sample(labels, n, rng, drift.class_weights if drift else None)
    images = pixels[idx]
    return (apply(images, drift, rng) if drift else images.copy()), labels[idx]
