"""Bring your own photos: a folder per class, or a label function over file names.

Two layouts, as in fast.ai:

- ``root/<class>/*.jpg`` (``label_from_folder``, the default);
- a flat folder whose file names say the class, e.g. the Oxford pets convention
  where cats' names start with a capital letter: ``label_fn=is_cat_label`` (fast.ai's
  ``is_cat``), or any ``Callable[[Path], str]``.

Images are decoded with ``decode.decode`` (PNG/JPEG only; a corrupt file is skipped
and reported, not fatal) and resized to one square size so they batch like
Fashion-MNIST; the result is the same ``ImageSplits`` the trainer takes.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from loopwatch.tasks.images.data import ImageSplits, split_train
from loopwatch.tasks.images.decode import ImageError, decode, to_array

SUFFIXES = (".png", ".jpg", ".jpeg")
LabelFn = Callable[[Path], str]


def label_from_folder(path: Path) -> str:
    return path.parent.name


def is_cat_label(path: Path) -> str:
    """fast.ai's ``is_cat`` for the Oxford-IIIT Pets names: cat breeds are capitalised."""
    return "cat" if path.name[:1].isupper() else "dog"


@dataclass
class FolderImages:
    pixels: np.ndarray  # uint8 (N, size, size[, 3])
    labels: np.ndarray  # int64 indices into ``classes``
    classes: tuple[str, ...]
    paths: list[Path]
    skipped: list[str] = field(default_factory=list)  # "path: why" for unreadable files


def scan(root: Path, label_fn: LabelFn | None = None) -> list[tuple[Path, str]]:
    """Image files under ``root`` (recursively, sorted) with their labels."""
    if not root.is_dir():
        raise FileNotFoundError(f"{root} is not a folder of images")
    label_fn = label_fn or label_from_folder
    files = sorted(p for p in root.rglob("*") if p.suffix.lower() in SUFFIXES and p.is_file())
    if not files:
        raise ValueError(f"no {'/'.join(SUFFIXES)} files under {root}")
    return [(p, label_fn(p)) for p in files]


def read_folder(root: Path, size: int, channels: int = 3,
                label_fn: LabelFn | None = None) -> FolderImages:
    pixels, labels, paths, skipped = [], [], [], []
    for path, label in scan(root, label_fn):
        try:
            pixels.append(to_array(decode(path.read_bytes()), size, channels))
        except (ImageError, OSError) as exc:
            skipped.append(f"{path}: {exc}")
            continue
        labels.append(label)
        paths.append(path)
    classes = tuple(sorted(set(labels)))
    if len(classes) < 2:
        raise ValueError(f"{root}: found {len(classes)} class(es) {classes}; need at least 2")
    index = {c: i for i, c in enumerate(classes)}
    return FolderImages(np.stack(pixels), np.array([index[c] for c in labels], dtype=np.int64),
                        classes, paths, skipped)


def load_folder(root: Path, size: int, channels: int = 3, label_fn: LabelFn | None = None,
                valid_fraction: float = 0.2, test_fraction: float = 0.2,
                seed: int = 42) -> ImageSplits:
    """Seeded, stratified train/valid/test splits of a folder of photos."""
    found = read_folder(root, size, channels, label_fn)
    rest_x, rest_y, test_x, test_y = split_train(found.pixels, found.labels, test_fraction, seed)
    train_x, train_y, valid_x, valid_y = split_train(
        rest_x, rest_y, valid_fraction / (1 - test_fraction), seed + 1)
    return ImageSplits(train_x, train_y, valid_x, valid_y, test_x, test_y, found.classes)
