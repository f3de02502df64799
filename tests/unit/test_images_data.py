"""Fashion-MNIST source (offline: the URL fails, the Debian copy is used), idx reading,
splits, and the photo-folder source."""

from __future__ import annotations

import gzip
import hashlib
from pathlib import Path

import numpy as np
import pytest

from loopwatch.data.sources import SourceError
from loopwatch.tasks.images import data, folder
from loopwatch.tasks.images.decode import ImageError, decode, encode_png, to_array


def idx_bytes(array: np.ndarray) -> bytes:
    header = bytes([0, 0, 0x08, array.ndim]) + b"".join(
        int(n).to_bytes(4, "big") for n in array.shape)
    return header + array.astype(np.uint8).tobytes()


@pytest.fixture
def tiny_source(tmp_path):
    """A fake Debian folder of two gzipped idx files, and their specs."""
    system = tmp_path / "debian"
    system.mkdir()
    arrays = {"imgs-idx3-ubyte": np.arange(2 * 3 * 3).reshape(2, 3, 3),
              "lbls-idx1-ubyte": np.array([4, 7])}
    specs = []
    for name, array in arrays.items():
        raw = idx_bytes(array)
        (system / f"{name}.gz").write_bytes(gzip.compress(raw))
        specs.append(data.IdxFile(name, hashlib.sha256(raw).hexdigest()))
    return system, tuple(specs), arrays


def failing_download(url: str, dest: Path, timeout: float) -> None:
    raise OSError("network is unreachable")


def test_read_idx_round_trip_and_bad_header(tmp_path):
    path = tmp_path / "x-idx3-ubyte"
    array = np.random.default_rng(0).integers(0, 255, size=(5, 4, 3))
    path.write_bytes(idx_bytes(array))
    assert (data.read_idx(path) == array).all()
    path.write_bytes(b"\x00\x00\x0d\x01" + b"\x00" * 8)  # float data: not ours
    with pytest.raises(ValueError, match="unsigned-byte"):
        data.read_idx(path)
    path.write_bytes(idx_bytes(array)[:-3])
    with pytest.raises(ValueError, match="header says"):
        data.read_idx(path)


def test_url_failure_falls_back_to_the_debian_files(tiny_source, tmp_path):
    system, specs, arrays = tiny_source
    messages: list[str] = []
    dest = tmp_path / "raw"
    paths = data.fetch(dest, system_dir=system, files=specs, downloader=failing_download,
                       log=messages.append)
    assert [p.name for p in paths] == [s.name for s in specs]
    assert (data.read_idx(dest / "lbls-idx1-ubyte") == arrays["lbls-idx1-ubyte"]).all()
    assert all("Debian" in m for m in messages) and len(messages) == 2
    # present and verified: kept without touching any source
    calls = []
    data.fetch(dest, system_dir=tmp_path / "nowhere", files=specs,
               downloader=lambda *a: calls.append(a), log=messages.append)
    assert calls == [] and len(messages) == 2


def test_a_download_with_the_right_bytes_is_used_and_a_bad_one_is_not(tiny_source, tmp_path):
    system, specs, _ = tiny_source

    def good(url: str, dest: Path, timeout: float) -> None:
        dest.write_bytes((system / Path(url).name).read_bytes())

    def corrupt(url: str, dest: Path, timeout: float) -> None:
        dest.write_bytes(gzip.compress(b"\x00\x00\x08\x01\x00\x00\x00\x01\x09"))

    messages: list[str] = []
    data.fetch(tmp_path / "a", system_dir=tmp_path / "none", files=specs, downloader=good,
               mirrors=("https://example.org/fm/",), log=messages.append)
    assert all("downloaded from https://example.org/fm/" in m for m in messages)
    messages.clear()
    data.fetch(tmp_path / "b", system_dir=system, files=specs, downloader=corrupt,
               mirrors=("https://example.org/fm/",), log=messages.append)
    assert all("Debian" in m for m in messages)  # checksum mismatch -> fallback


def test_no_source_is_one_error_naming_every_attempt(tiny_source, tmp_path):
    _, specs, _ = tiny_source
    with pytest.raises(SourceError) as err:
        data.fetch(tmp_path / "raw", system_dir=tmp_path / "none", files=specs,
                   downloader=failing_download, mirrors=("https://a/", "https://b/"))
    text = str(err.value)
    assert "https://a/" in text and "https://b/" in text and "apt-get install" in text
    assert not list((tmp_path / "raw").iterdir())  # nothing half-written


def test_split_is_stratified_seeded_and_capped():
    y = np.repeat(np.arange(4), 50)
    x = np.arange(200)
    tx, ty, vx, vy = data.split_train(x, y, 0.2, seed=3)
    assert len(vx) == 40 and np.bincount(vy).tolist() == [10, 10, 10, 10]
    assert not set(tx) & set(vx) and len(tx) + len(vx) == 200
    again = data.split_train(x, y, 0.2, seed=3)
    assert (again[0] == tx).all()
    assert len(data.split_train(x, y, 0.2, seed=3, subset=25)[0]) == 25


@pytest.mark.skipif(not data.DEBIAN_DIR.exists(), reason="Debian dataset-fashion-mnist missing")
def test_real_fashion_mnist_offline(tmp_path):
    """Data test on the real set: checksums, shapes, the 10 balanced classes."""
    data.fetch(tmp_path, try_url=False, log=lambda m: None)
    splits = data.load(tmp_path, valid_fraction=0.1, seed=42)
    assert splits.sizes() == {"train": 54000, "valid": 6000, "test": 10000}
    assert splits.train_x.shape[1:] == (28, 28) and splits.train_x.dtype == np.uint8
    assert np.bincount(splits.test_y).tolist() == [1000] * 10
    assert np.bincount(splits.valid_y).tolist() == [600] * 10
    assert len(splits.classes) == 10 and splits.classes[9] == "Ankle boot"


def write_image(path: Path, value: int, fmt: str = "PNG") -> None:
    from PIL import Image

    path.parent.mkdir(parents=True, exist_ok=True)
    Image.new("RGB", (20, 12), (value, value // 2, 255 - value)).save(path, format=fmt)


def test_folder_per_class_skips_corrupt_files(tmp_path):
    for i in range(5):
        write_image(tmp_path / "cat" / f"c{i}.png", 200)
        write_image(tmp_path / "dog" / f"d{i}.jpg", 30, "JPEG")
    (tmp_path / "dog" / "broken.jpg").write_bytes(b"\xff\xd8\xff garbage")
    found = folder.read_folder(tmp_path, size=8)
    assert found.classes == ("cat", "dog") and found.pixels.shape == (10, 8, 8, 3)
    assert len(found.skipped) == 1 and "broken.jpg" in found.skipped[0]
    splits = folder.load_folder(tmp_path, size=8, valid_fraction=0.2, test_fraction=0.2)
    assert sum(splits.sizes().values()) == 10 and splits.classes == ("cat", "dog")


def test_label_function_over_file_names(tmp_path):
    for name in ("Abyssinian_1.png", "Bengal_2.png", "beagle_1.png", "pug_3.png"):
        write_image(tmp_path / name, 100)
    pairs = folder.scan(tmp_path, folder.is_cat_label)
    assert [label for _, label in pairs] == ["cat", "cat", "dog", "dog"]
    with pytest.raises(ValueError, match="need at least 2"):
        folder.read_folder(tmp_path, 8, label_fn=lambda p: "one")


def test_decode_accepts_png_jpeg_and_refuses_the_rest(tmp_path):
    from PIL import Image

    png = encode_png(np.full((6, 9), 77, dtype=np.uint8))
    image = decode(png)
    assert image.size == (9, 6) and image.format == "PNG"
    assert to_array(image, 4, 1).shape == (4, 4) and to_array(image, 4, 3).shape == (4, 4, 3)
    with pytest.raises(ImageError, match="not an image"):
        decode(b"hello, I am text")
    noisy = encode_png(np.random.default_rng(0).integers(0, 255, (64, 64), dtype=np.uint8))
    with pytest.raises(ImageError, match="corrupt"):
        decode(noisy[: len(noisy) * 3 // 4])  # truncated pixel data
    with pytest.raises(ImageError, match="exceed"):
        decode(png, max_pixels=50)
    gif = tmp_path / "x.gif"
    Image.new("L", (4, 4)).save(gif)
    with pytest.raises(ImageError, match="GIF images are not accepted"):
        decode(gif.read_bytes())
    with pytest.raises(ImageError, match="empty"):
        decode(b"")
