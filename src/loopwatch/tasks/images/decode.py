"""Bytes in, pixels out: decode uploaded or stored images safely.

One place decides what an acceptable image is (PNG or JPEG, size limits), for the
folder source, the predictor and the HTTP endpoint alike. Pillow's decompression-bomb
guard is tightened to our own pixel limit, and a truncated or corrupt file is an
``ImageError`` (a 4xx at the service), never a crash.
"""

from __future__ import annotations

import io

import numpy as np

FORMATS = ("PNG", "JPEG")
MAX_PIXELS = 40_000_000  # ~6300 x 6300: far above any photo a classifier needs


class ImageError(ValueError):
    """Not an image we accept (corrupt, too large, or not PNG/JPEG)."""


def decode(data: bytes, *, max_pixels: int = MAX_PIXELS, formats: tuple[str, ...] = FORMATS):
    """A fully decoded ``PIL.Image`` from PNG/JPEG bytes."""
    from PIL import Image, UnidentifiedImageError

    if not data:
        raise ImageError("empty upload: expected PNG or JPEG bytes")
    try:
        with Image.open(io.BytesIO(data)) as probe:
            fmt, (w, h) = probe.format, probe.size
            if fmt not in formats:
                raise ImageError(f"{fmt} images are not accepted; send {' or '.join(formats)}")
            if w * h > max_pixels:
                raise ImageError(f"{w}x{h} pixels exceed the limit of {max_pixels}")
            probe.load()  # decodes everything: truncated data fails here, not later
            image = probe.copy()
            image.format = fmt  # copy() drops it; the prediction log records it
            return image
    except UnidentifiedImageError:
        raise ImageError("not an image: expected PNG or JPEG bytes") from None
    except (OSError, SyntaxError, Image.DecompressionBombError) as exc:
        raise ImageError(f"corrupt or unreadable image: {exc}") from None


def to_array(image, size: int, channels: int) -> np.ndarray:
    """uint8 pixels (size, size) for grey or (size, size, 3) for RGB, resized by Pillow."""
    from PIL import Image

    image = image.convert("L" if channels == 1 else "RGB")
    if image.size != (size, size):
        image = image.resize((size, size), Image.Resampling.BILINEAR, reducing_gap=None)
    return np.asarray(image, dtype=np.uint8)


def encode_png(pixels: np.ndarray) -> bytes:
    """PNG bytes of a uint8 (H, W) or (H, W, 3) array: test data, demo traffic."""
    from PIL import Image

    buf = io.BytesIO()
    Image.fromarray(np.ascontiguousarray(pixels)).save(buf, format="PNG")
    return buf.getvalue()
