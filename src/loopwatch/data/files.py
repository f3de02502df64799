"""Users' own files (records to score, labels that arrived): one clear line when one
cannot be read, naming the file and the fix, instead of a parser's traceback."""

from __future__ import annotations

from pathlib import Path


def unreadable(path: Path, exc: ValueError) -> ValueError:
    """The error to show for ``exc``, raised while reading ``path`` (pandas' and pyarrow's
    read errors, and a bad text encoding, are all ``ValueError``s)."""
    import pandas as pd

    if isinstance(exc, UnicodeDecodeError):
        return ValueError(f"{path.name} is not UTF-8 text (byte {exc.object[exc.start]:#04x}): "
                          "save it as UTF-8, or as Parquet")
    if isinstance(exc, pd.errors.EmptyDataError):
        return ValueError(f"{path.name} is empty: give a header row and at least one row")
    kind = path.suffix.lstrip(".").upper() or "file"
    return ValueError(f"{path.name} is not a readable {kind} file: {str(exc).strip()}")
