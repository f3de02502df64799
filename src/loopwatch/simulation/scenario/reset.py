"""`--fresh`: forget the scenario's generated state, keep what is costly and harmless to keep."""

from __future__ import annotations

import shutil
from pathlib import Path

from loopwatch.config import Settings
from loopwatch.feedback import FEEDBACK_SUBDIR

# Kept: downloads (the verified source files), the DVC remote (content-addressed, so old
# objects never clash with new ones) and Prefect's home (its run history, and an embedded
# server might hold its database open).
KEEP = ("downloads", "dvc-remote", "prefect")


def fresh_start(settings: Settings) -> list[Path]:
    """Remove the loop's state (MLflow store, prediction log, workspace, reports, scenario
    state), the decision-revealed rows under data/feedback/ and the stage outputs."""
    removed: list[Path] = []
    state = settings.state_dir
    if state.exists():
        for child in sorted(state.iterdir()):
            if child.name in KEEP or child.resolve() == settings.cache_dir:
                continue
            _remove(child)
            removed.append(child)
    for extra in (settings.data_dir / FEEDBACK_SUBDIR, settings.outputs_dir):
        if extra.exists():
            _remove(extra)
            removed.append(extra)
    return removed


def _remove(path: Path) -> None:
    if path.is_dir() and not path.is_symlink():
        shutil.rmtree(path)
    else:
        path.unlink()
