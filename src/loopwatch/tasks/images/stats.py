"""Per-image statistics that monitoring tracks as plain columns: brightness, contrast, sharpness.

Cheap (numpy, no model) and readable: a darker camera shows in ``brightness``, fog or
over-exposure in ``contrast``, blur or a resized source in ``sharpness``, even when
the embedding drift score only says "something changed".
"""

from __future__ import annotations

import numpy as np

COLUMNS = ("brightness", "contrast", "sharpness")
_LUMA = np.array([0.299, 0.587, 0.114], dtype=np.float32)  # ITU-R BT.601 weights


def luminance(pixels: np.ndarray) -> np.ndarray:
    """Grey levels in [0, 1], shape (N, H, W), from uint8 (N, H, W) or (N, H, W, 3)."""
    x = pixels.astype(np.float32) / 255.0
    return x @ _LUMA if x.ndim == 4 else x


def image_stats(pixels: np.ndarray) -> dict[str, np.ndarray]:
    """Brightness (mean), RMS contrast (std) and sharpness (variance of the Laplacian).

    Sharpness uses the 4-neighbour Laplacian on the interior pixels; scaled by 100 so
    typical values are O(1) rather than O(0.01).
    """
    grey = luminance(pixels)
    lap = (grey[:, :-2, 1:-1] + grey[:, 2:, 1:-1] + grey[:, 1:-1, :-2] + grey[:, 1:-1, 2:]
           - 4 * grey[:, 1:-1, 1:-1])
    return {
        "brightness": grey.mean(axis=(1, 2)).astype(np.float64),
        "contrast": grey.std(axis=(1, 2)).astype(np.float64),
        "sharpness": (100 * lap.var(axis=(1, 2))).astype(np.float64),
    }
