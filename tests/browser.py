"""Headless Debian Chromium for the tests that check what a person sees in a UI.

``scripts/install_chromium.sh`` installs it (`make test` runs it; root and apt needed); the
tests skip with that reason when it is missing. A page is judged by its rendered DOM (the
single-page apps fetch and draw first: a virtual-time budget lets them) and by a
screenshot that must not be blank; ``LOOPWATCH_TEST_ARTIFACTS`` keeps the screenshots.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import time
import urllib.request
from pathlib import Path

import numpy as np
import pytest

CHROMIUM = Path("/usr/bin/chromium")
FLAGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
         "--disable-background-networking", "--disable-component-update", "--disable-sync"]
BUDGET = "--virtual-time-budget=20000"  # let the single-page app fetch and draw
needs_chromium = pytest.mark.skipif(
    not CHROMIUM.exists(), reason="Debian chromium not installed (/usr/bin/chromium): run "
                                  "scripts/install_chromium.sh as root")


def chromium(args: list[str], profile: Path, timeout: float = 120) -> subprocess.CompletedProcess:
    return subprocess.run([str(CHROMIUM), *FLAGS, f"--user-data-dir={profile}", *args],
                          capture_output=True, text=True, timeout=timeout)


def rendered(url: str, folder: Path) -> str:
    """The page's DOM after its scripts ran and it was laid out (lazy lists draw then)."""
    out = chromium([BUDGET, "--run-all-compositor-stages-before-draw",
                    "--window-size=1400,1800", "--dump-dom", url], folder / "profile-dom")
    assert out.returncode == 0, out.stderr[-2000:]
    return out.stdout


def screenshot(url: str, folder: Path, name: str, size: tuple[int, int] = (1400, 1800)) -> Path:
    """A PNG of the page, checked not to be blank, kept under LOOPWATCH_TEST_ARTIFACTS."""
    from PIL import Image

    png = folder / f"{name}.png"
    out = chromium([BUDGET, "--run-all-compositor-stages-before-draw",
                    f"--window-size={size[0]},{size[1]}", f"--screenshot={png}", url],
                   folder / f"profile-{name}")
    assert out.returncode == 0 and png.exists(), out.stderr[-2000:]
    pixels = np.asarray(Image.open(png).convert("L"), dtype=np.float64)
    assert pixels.shape == (size[1], size[0])
    assert pixels.std() > 10 and len(np.unique(pixels)) > 50  # drawn, not a blank page
    keep = os.environ.get("LOOPWATCH_TEST_ARTIFACTS")  # CI uploads this folder
    if keep:
        Path(keep).mkdir(parents=True, exist_ok=True)
        shutil.copyfile(png, Path(keep) / png.name)
    return png


def wait_for(url: str, process: subprocess.Popen, seconds: float = 120) -> None:
    """Until ``url`` answers 200 (the server is up), or fail with the process's output."""
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise AssertionError(f"server exited {process.returncode}: "
                                 f"{process.stdout.read()[-2000:] if process.stdout else ''}")
        try:
            with urllib.request.urlopen(url, timeout=2) as answer:
                if answer.status == 200:
                    return
        except OSError:
            time.sleep(0.3)
    raise AssertionError(f"{url} did not answer within {seconds:.0f} s")


def text_of(dom: str) -> str:
    """The page's visible words, tags stripped and white space folded."""
    import html
    import re

    return re.sub(r"\s+", " ", html.unescape(re.sub(r"<[^>]+>", " ", dom)).replace("\xa0", " "))
