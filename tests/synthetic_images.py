"""Tiny generated image tasks: for tests and demos that must run in seconds, offline.

Three grey-scale classes a small network separates in one or two epochs — horizontal
stripes, vertical stripes, a bright disc — with random phase, position and noise, so
a model must learn the pattern rather than memorise pixels.
"""

from __future__ import annotations

import numpy as np

from loopwatch.tasks.images.data import ImageSplits

CLASSES = ("horizontal", "vertical", "disc")


def shapes(n: int, size: int = 16, seed: int = 0, noise: float = 0.15
           ) -> tuple[np.ndarray, np.ndarray]:
    """``n`` uint8 images (n, size, size) and labels 0..2, balanced and shuffled."""
    rng = np.random.default_rng(seed)
    labels = rng.permutation(np.arange(n) % len(CLASSES))
    yy, xx = np.mgrid[0:size, 0:size].astype(np.float32)
    images = np.empty((n, size, size), dtype=np.float32)
    for i, label in enumerate(labels):
        period, phase = rng.uniform(3, 5), rng.uniform(0, 2 * np.pi)
        if label == 0:
            img = 0.5 + 0.5 * np.sin(2 * np.pi * yy / period + phase)
        elif label == 1:
            img = 0.5 + 0.5 * np.sin(2 * np.pi * xx / period + phase)
        else:
            cy, cx = rng.uniform(size * 0.3, size * 0.7, size=2)
            img = (((yy - cy) ** 2 + (xx - cx) ** 2) < (size * rng.uniform(0.2, 0.3)) ** 2)
            img = img.astype(np.float32)
        images[i] = img + rng.normal(0, noise, size=img.shape)
    return (np.clip(images, 0, 1) * 255).round().astype(np.uint8), labels.astype(np.int64)


def shapes_splits(n_train: int = 240, n_valid: int = 60, n_test: int = 90, size: int = 16,
                  seed: int = 0) -> ImageSplits:
    x, y = shapes(n_train + n_valid + n_test, size, seed)
    a, b = n_train, n_train + n_valid
    return ImageSplits(x[:a], y[:a], x[a:b], y[a:b], x[b:], y[b:], CLASSES)
