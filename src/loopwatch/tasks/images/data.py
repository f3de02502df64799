"""Fashion-MNIST: fetch (real source, else the Debian package), read the idx files, split.

Users with a network get the files from the zalandoresearch release URLs; this
offline machine gets the same data from the Debian package ``dataset-fashion-mnist``
(``scripts/install_system_packages.sh`` installs it). Debian recompresses the .gz
files (their md5s differ from upstream's), so checksums are taken over the
*uncompressed* idx bytes, and those are what we store under ``data/raw/fashion-mnist``:
the same bytes whatever the source, hence the same DVC hash.
"""

from __future__ import annotations

import gzip
import shutil
import tempfile
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from loopwatch.data.sources import Log, SourceError, download_url, sha256_of

NAME = "fashion-mnist"
DEBIAN_DIR = Path("/usr/share/datasets/fashion-mnist")
DEBIAN_PACKAGE = "dataset-fashion-mnist"
MIRRORS = (  # tried in order; each serves <name>.gz
    "https://github.com/zalandoresearch/fashion-mnist/raw/master/data/fashion/",
    "http://fashion-mnist.s3-website.eu-central-1.amazonaws.com/",
)
CLASSES = ("T-shirt/top", "Trouser", "Pullover", "Dress", "Coat",
           "Sandal", "Shirt", "Sneaker", "Bag", "Ankle boot")


@dataclass(frozen=True)
class IdxFile:
    name: str  # stored uncompressed under data/raw/fashion-mnist/
    sha256: str  # of the uncompressed bytes

    @property
    def gz_name(self) -> str:
        return self.name + ".gz"


FILES = (
    IdxFile("train-images-idx3-ubyte",
            "c59f468a2f672dc815687fe0f83887768d799fd8a3f3276145d20f83aa44d888"),
    IdxFile("train-labels-idx1-ubyte",
            "bad3541b69d912435c50bb6ba87bec294ff4f6a2e1246121d8633921760443d9"),
    IdxFile("t10k-images-idx3-ubyte",
            "5b4141f0afbad91edebe8549f8fcffe087ea10ca49f1dbef5c9a5cd8815ce37b"),
    IdxFile("t10k-labels-idx1-ubyte",
            "0402a96d92fd2663957122ceb108a494c5af83dab82d92729df917d7dec38c34"),
)


def fetch(dest_dir: Path, *, try_url: bool = True, system_dir: Path = DEBIAN_DIR,
          mirrors: tuple[str, ...] = MIRRORS, url_timeout: float = 5.0, log: Log = print,
          downloader: Callable[[str, Path, float], None] = download_url,
          files: tuple[IdxFile, ...] = FILES) -> list[Path]:
    """Put the idx files in ``dest_dir``, checksum-verified; present ones are kept."""
    dest_dir.mkdir(parents=True, exist_ok=True)
    done = []
    for spec in files:
        target = dest_dir / spec.name
        if target.exists() and sha256_of(target) == spec.sha256:
            done.append(target)
            continue
        problems: list[str] = []
        with tempfile.TemporaryDirectory(dir=dest_dir) as tmp:
            staged = Path(tmp) / spec.name
            sources = [m + spec.gz_name for m in mirrors] if try_url else []
            for url in sources:
                try:
                    downloader(url, Path(tmp) / spec.gz_name, url_timeout)
                    _gunzip_checked(Path(tmp) / spec.gz_name, staged, spec)
                    log(f"{spec.name}: downloaded from {url}")
                    break
                except (OSError, EOFError, SourceError) as exc:
                    problems.append(f"{url}: {exc}")
            if not staged.exists():
                local = system_dir / spec.gz_name
                try:
                    _gunzip_checked(local, staged, spec)
                    log(f"{spec.name}: taken from {local} (Debian {DEBIAN_PACKAGE})")
                except (OSError, EOFError, SourceError) as exc:
                    problems.append(f"{local}: {exc}")
                    raise SourceError(
                        f"could not fetch {spec.name}; tried:\n  " + "\n  ".join(problems)
                        + f"\n(offline? install the Debian package: apt-get install "
                          f"{DEBIAN_PACKAGE})") from exc
            staged.replace(target)  # atomic: a failed fetch never half-writes good data
        done.append(target)
    return done


def _gunzip_checked(src: Path, dest: Path, spec: IdxFile) -> None:
    with gzip.open(src, "rb") as fh, dest.open("wb") as out:
        shutil.copyfileobj(fh, out)
    actual = sha256_of(dest)
    if actual != spec.sha256:
        dest.unlink()
        raise SourceError(f"checksum mismatch for {spec.name}: expected {spec.sha256}, "
                          f"got {actual}")


def read_idx(path: Path) -> np.ndarray:
    """An idx file (big-endian header: magic with the rank, then the sizes) as uint8 array."""
    raw = path.read_bytes()
    if len(raw) < 4 or raw[0] != 0 or raw[1] != 0 or raw[2] != 0x08:
        raise ValueError(f"{path} is not an unsigned-byte idx file")
    rank = raw[3]
    shape = tuple(int.from_bytes(raw[4 + 4 * i:8 + 4 * i], "big") for i in range(rank))
    data = np.frombuffer(raw, dtype=np.uint8, offset=4 + 4 * rank)
    if data.size != int(np.prod(shape)):
        raise ValueError(f"{path}: header says {shape}, found {data.size} values")
    return data.reshape(shape).copy()  # writable: torch refuses to share read-only buffers


@dataclass
class ImageSplits:
    """uint8 images (N, H, W) or (N, H, W, C) and int64 labels per split, plus class names."""

    train_x: np.ndarray
    train_y: np.ndarray
    valid_x: np.ndarray
    valid_y: np.ndarray
    test_x: np.ndarray
    test_y: np.ndarray
    classes: tuple[str, ...]

    def sizes(self) -> dict[str, int]:
        return {"train": len(self.train_y), "valid": len(self.valid_y), "test": len(self.test_y)}


def split_train(x: np.ndarray, y: np.ndarray, valid_fraction: float, seed: int,
                subset: int | None = None) -> tuple[np.ndarray, ...]:
    """Seeded train/valid split, stratified by class; ``subset`` caps the training rows."""
    rng = np.random.default_rng(seed)
    valid_idx, train_idx = [], []
    for label in np.unique(y):
        idx = rng.permutation(np.flatnonzero(y == label))
        n_valid = max(1, round(len(idx) * valid_fraction))
        valid_idx.append(idx[:n_valid])
        train_idx.append(idx[n_valid:])
    train_idx = rng.permutation(np.concatenate(train_idx))
    valid_idx = np.sort(np.concatenate(valid_idx))
    if subset is not None:
        train_idx = train_idx[:subset]
    return x[train_idx], y[train_idx].astype(np.int64), x[valid_idx], y[valid_idx].astype(np.int64)


def load(raw_dir: Path, valid_fraction: float = 0.1, seed: int = 42,
         subset: int | None = None) -> ImageSplits:
    """Fashion-MNIST from ``raw_dir``: train/valid from the 60k set, test = the 10k set."""
    missing = [f.name for f in FILES if not (raw_dir / f.name).exists()]
    if missing:
        raise FileNotFoundError(f"{raw_dir} lacks {missing}: run `loopwatch images fetch`")
    x, y = read_idx(raw_dir / FILES[0].name), read_idx(raw_dir / FILES[1].name)
    test_x, test_y = read_idx(raw_dir / FILES[2].name), read_idx(raw_dir / FILES[3].name)
    train_x, train_y, valid_x, valid_y = split_train(x, y, valid_fraction, seed, subset)
    return ImageSplits(train_x, train_y, valid_x, valid_y, test_x, test_y.astype(np.int64),
                       CLASSES)
