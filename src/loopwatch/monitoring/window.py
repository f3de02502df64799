"""What every task's monitoring shares: windows of the prediction log ("6h", "1d"), the
Evidently workspace, the per-version reference cache, the snapshots stored per window and
the dashboards defined as code under ``dashboards/``.
"""

from __future__ import annotations

import re
from datetime import timedelta
from pathlib import Path
from typing import Any

from loopwatch.config import Settings

# A retrained version's reference: the logged traffic of this ISO window, 'start/end'.
TAG_REFERENCE_WINDOW = "loopwatch.reference_window"

UNITS = {"m": "minutes", "h": "hours", "d": "days", "w": "weeks"}


def parse_window(text: str) -> timedelta:
    match = re.fullmatch(r"\s*(\d+(?:\.\d+)?)\s*([mhdw])\s*", text)
    if not match:
        raise ValueError(f"window {text!r} is not like 30m, 6h, 1d or 2w")
    return timedelta(**{UNITS[match.group(2)]: float(match.group(1))})


def reference_path(settings: Settings, name: str, version: str) -> Path:
    return settings.state_dir / "references" / f"{name}-v{version}.parquet"


def workspace_path(settings: Settings) -> Path:
    return settings.state_dir / "evidently"


def store_snapshots(settings: Settings, name: str, result: Any) -> dict[str, str]:
    from loopwatch.monitoring.workspace import add_window, open_workspace, project_for

    workspace = open_workspace(workspace_path(settings))
    project = project_for(workspace, name)
    return add_window(workspace, project, result,
                      drift_share_threshold=settings.params.monitoring.retrain_drift_share)


def apply_dashboards(settings: Settings, name: str, columns: list[str],
                     sensitive: list[str]) -> int:
    """Apply every panel defined under ``dashboards/`` to the model's Evidently project."""
    from loopwatch.monitoring.workspace import (
        apply_dashboard,
        load_panels,
        open_workspace,
        project_for,
    )

    workspace = open_workspace(workspace_path(settings))
    project = project_for(workspace, name)
    folder = settings.root / "dashboards"
    panels = load_panels(folder, columns, sensitive)
    if not panels:
        raise FileNotFoundError(f"no panel definitions (a `panels(columns, sensitive)` function) "
                                f"in {folder}/*.py")
    return apply_dashboard(workspace, project, panels)
