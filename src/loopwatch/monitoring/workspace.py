"""The Evidently workspace: a project per model name, a run per window, dashboards as code,
and the ``evidently ui`` process that serves them (127.0.0.1 only by default).

Each window adds up to three snapshots, all stamped with the window's end: Evidently's drift
report, its quality report, and a "headline" snapshot holding our numbers (drift share,
accuracy, fairness gaps, labelled share...) as built-in MeanValue metrics, which is what the
panels under ``dashboards/`` plot. Panels are code: ``apply_dashboard`` replaces a project's
dashboard with the definitions, so re-applying is idempotent.
"""

from __future__ import annotations

import contextlib
import importlib.util
import os
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx

from loopwatch.monitoring import drift as ev
from loopwatch.monitoring.results import MonitoringResult, headline

# Constant series drawn as reference lines on the panels (the UI has no threshold lines).
FOUR_FIFTHS = "four_fifths_rule"
DRIFT_LINE = "drift_share_threshold"


def open_workspace(path: Path) -> Any:
    """The local workspace under ``path`` (created when missing)."""
    from evidently.ui.workspace import Workspace

    path.mkdir(parents=True, exist_ok=True)
    return Workspace(str(path))


def project_for(workspace: Any, name: str, description: str | None = None) -> Any:
    """The project ``name`` (by default a registered model's), created on first use."""
    found = workspace.search_project(name)
    if found:
        return found[0]
    return workspace.create_project(
        name, description=description or f"loopwatch monitoring of registered model {name}")


def dashboard_module(file: Path) -> Any:
    """A ``dashboards/*.py`` file as a module: dashboards/ sits outside the package
    (definitions are project files, reviewed like code), so it is loaded by path."""
    spec = importlib.util.spec_from_file_location(f"loopwatch_dashboards_{file.stem}", file)
    if spec is None or not file.exists():
        raise FileNotFoundError(f"no dashboard definition at {file}")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def add_window(
    workspace: Any,
    project: Any,
    result: MonitoringResult,
    four_fifths: float = 0.8,
    drift_share_threshold: float = 0.5,
) -> dict[str, str]:
    """Store the window's snapshots in the project; returns snapshot id by kind."""
    meta = {"model_name": result.model_name, "model_version": result.model_version}
    lines = {FOUR_FIFTHS: four_fifths, DRIFT_LINE: drift_share_threshold}
    snapshots = dict(result.snapshots)
    snapshots["headline"] = ev.headline_snapshot(
        headline(result) | lines, timestamp=result.window_end, tags=["loopwatch", "headline"],
        metadata=meta)
    return {kind: str(workspace.add_run(project.id, snap, include_data=False).id)
            for kind, snap in snapshots.items()}


def load_panels(dashboards_dir: Path, columns: Sequence[str],
                sensitive: Sequence[str]) -> list[tuple[str, Any]]:
    """(tab, panel) pairs from every ``dashboards/*.py`` that defines ``panels(...)``."""
    out: list[tuple[str, Any]] = []
    for file in sorted(dashboards_dir.glob("*.py")):
        module = dashboard_module(file)
        if hasattr(module, "panels"):
            out.extend(module.panels(columns=list(columns), sensitive=list(sensitive)))
    return out


def apply_dashboard(workspace: Any, project: Any, panels: Sequence[tuple[str, Any]]) -> int:
    """Replace the project's dashboard with ``panels`` (tab, panel); returns the panel count.

    One write of the whole model, not ``project.dashboard.add_panel`` per panel: in 0.7.23
    that lists a panel twice in a tab that already exists.
    """
    from evidently.sdk.models import DashboardModel, DashboardTabModel

    tabs: dict[str, list] = {}
    for tab, panel in panels:
        tabs.setdefault(tab, []).append(panel.id)
    workspace.save_dashboard(project.id, DashboardModel(
        tabs=[DashboardTabModel(title=title, panels=ids) for title, ids in tabs.items()],
        panels=[panel for _, panel in panels]))
    return len(panels)


def free_port(host: str = "127.0.0.1") -> int:
    with socket.socket() as s:
        s.bind((host, 0))
        return s.getsockname()[1]


@dataclass
class EvidentlyUI:
    """A running ``evidently ui``; use as a context manager or call ``stop``."""

    process: subprocess.Popen
    url: str
    log_path: Path

    def stop(self, timeout: float = 10.0) -> None:
        """End the UI and whatever it started (its own process group), then reap it."""
        if self.process.poll() is None:
            self._signal(signal.SIGTERM)
            try:
                self.process.wait(timeout)
            except subprocess.TimeoutExpired:
                self._signal(signal.SIGKILL)
                self.process.wait(timeout)

    def _signal(self, sig: int) -> None:
        with contextlib.suppress(ProcessLookupError):  # already gone
            os.killpg(self.process.pid, sig)

    def __enter__(self) -> EvidentlyUI:
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()


def start_ui(workspace_path: Path, host: str = "127.0.0.1", port: int | None = None,
             timeout: float = 90.0, log_path: Path | None = None) -> EvidentlyUI:
    """Start ``evidently ui`` on the workspace and wait until its API answers.

    DO_NOT_TRACK=1: without network the UI's telemetry children otherwise hang.
    """
    port = port or free_port(host)
    # Beside the workspace, not in it: the UI scans the workspace folder for projects.
    log_path = log_path or workspace_path.with_name(workspace_path.name + "-ui.log")
    cli = Path(sys.executable).with_name("evidently")
    command = [str(cli)] if cli.exists() else [sys.executable, "-m", "evidently"]
    env = {**os.environ, "DO_NOT_TRACK": "1"}
    with open(log_path, "ab") as log:  # the child keeps its own handle
        process = subprocess.Popen(
            [*command, "ui", "--workspace", str(workspace_path), "--host", host,
             "--port", str(port)], stdout=log, stderr=subprocess.STDOUT, env=env,
            start_new_session=True)  # a group of its own: stop() ends its children too
    ui = EvidentlyUI(process, f"http://{host}:{port}", log_path)
    try:
        wait_until_ready(ui, timeout)
    except BaseException:
        ui.stop()
        raise
    return ui


def wait_until_ready(ui: EvidentlyUI, timeout: float) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if ui.process.poll() is not None:
            raise RuntimeError(f"evidently ui exited with {ui.process.returncode}; "
                               f"see {ui.log_path}")
        try:
            if httpx.get(f"{ui.url}/api/version", timeout=2).status_code == 200:
                return
        except httpx.HTTPError:
            pass
        time.sleep(0.5)
    raise TimeoutError(f"evidently ui did not answer at {ui.url} within {timeout:.0f} s; "
                       f"see {ui.log_path}")
