"""Workspace round trip: snapshots stored, dashboard panels applied, `evidently ui` serving
them over HTTP, and the dashboard rendered by headless Chromium with its panels present."""

from __future__ import annotations

import importlib.util
import os
import subprocess
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from loopwatch.config import MonitoringParams
from loopwatch.monitoring import workspace
from loopwatch.monitoring.results import headline
from loopwatch.monitoring.stream import monitor_stream
from tests import snapshots
from tests.browser import needs_chromium, rendered, screenshot
from tests.conftest import REPO, tiny_table
from tests.integration.test_monitoring_frames import scored

MODEL = "adult-income"


def _titles() -> dict[str, str]:
    spec = importlib.util.spec_from_file_location("dash", REPO / "dashboards" / "monitoring.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module.TITLES


@pytest.fixture(scope="module")
def filled(tmp_path_factory):
    """A workspace holding three daily windows of a model whose x1 drifts more each day."""
    spec, reference = tiny_table(3_000, seed=0)
    params = MonitoringParams(n_boot=200)
    path = tmp_path_factory.mktemp("ws") / "evidently"
    ws = workspace.open_workspace(path)
    project = workspace.project_for(ws, MODEL)
    results = []
    for day in range(3):
        _, current = tiny_table(1_500, seed=10 + day)
        current["x1"] += 0.25 * day
        end = datetime(2025, 3, 1, tzinfo=UTC) + timedelta(days=day)
        result = monitor_stream([scored(current)], scored(reference), spec, params, MODEL, "3",
                                end - timedelta(days=1), end)
        workspace.add_window(ws, project, result)
        results.append(result)
    panels = workspace.load_panels(REPO / "dashboards", [*spec.continuous, *spec.categorical],
                                   spec.sensitive)
    workspace.apply_dashboard(ws, project, panels)
    return path, project.id, results, len(panels)


def test_workspace_round_trip(filled):
    path, project_id, results, n_panels = filled
    ws = workspace.open_workspace(path)  # reopened from disk
    project = workspace.project_for(ws, MODEL)
    assert project.id == project_id and len(ws.list_projects()) == 1
    snapshots = [ws.get_run(project_id, s) for s in ws.list_runs(project_id)]
    assert len(snapshots) == 3 * 3  # drift, quality, headline per window
    headlines = sorted((s for s in snapshots if "headline" in s.tags), key=lambda s: s.timestamp)
    stored = {r.metric_value_location.metric.params["column"]: r.value
              for r in headlines[-1].metric_results.values()}
    expected = headline(results[-1])
    assert stored["drift_share"] == pytest.approx(expected["drift_share"])
    assert stored[workspace.FOUR_FIFTHS] == 0.8
    assert stored["fairness.group.disparate_impact_ratio"] == pytest.approx(
        expected["fairness.group.disparate_impact_ratio"])
    model = project.dashboard.model()
    titles = {p.title for p in model.panels}
    assert set(_titles().values()) <= titles and len(titles) == n_panels
    assert [len(t.panels) for t in model.tabs] == [n_panels]  # each panel listed once
    # Dashboards as code: applying again replaces, never duplicates.
    again = workspace.load_panels(REPO / "dashboards", ["x1"], [])
    workspace.apply_dashboard(ws, project, again)
    assert len(project.dashboard.model().panels) == len(again) == n_panels


@pytest.fixture(scope="module")
def ui(filled):
    path, project_id, _, _ = filled
    with workspace.start_ui(path) as running:
        yield running, project_id


@pytest.mark.slow
def test_evidently_ui_lists_the_project_over_http(ui):
    running, project_id = ui
    assert running.url.startswith("http://127.0.0.1:")
    projects = snapshots.ui_projects(running.url)
    assert [(p["name"], p["id"]) for p in projects] == [(MODEL, str(project_id))]


@pytest.mark.slow
@needs_chromium
def test_dashboard_renders_in_headless_chromium(ui, tmp_path):
    running, project_id = ui
    url = f"{running.url}/projects/{project_id}"
    dom = rendered(url, tmp_path)
    for title in _titles().values():
        assert title in dom, f"panel {title!r} missing from the rendered dashboard"
    screenshot(url, tmp_path, "monitoring-dashboard", size=(1400, 3000))


@pytest.mark.slow
def test_loopwatch_ui_ends_its_children_on_sigterm(tmp_path):
    import signal
    import sys
    import time

    from tests.browser import wait_for
    from tests.integration.conftest import free_port

    port = free_port()
    ui = subprocess.Popen([sys.executable, "-m", "loopwatch.cli", "ui", "--port", str(port)],
                          env={**os.environ, "LOOPWATCH_STATE_DIR": str(tmp_path / ".state")},
                          cwd=tmp_path, stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                          text=True)
    wait_for(f"http://127.0.0.1:{port}/api/version", ui)
    ui.send_signal(signal.SIGTERM)  # what `kill` or a service manager sends
    assert ui.wait(timeout=30) is not None

    def leftovers() -> list[str]:
        found = []
        for proc in Path("/proc").iterdir():
            try:
                cmd = (proc / "cmdline").read_bytes().replace(b"\0", b" ").decode()
            except OSError:
                continue
            if "evidently" in cmd and f"--port {port}" in cmd:
                found.append(cmd)
        return found

    deadline = time.monotonic() + 15
    while leftovers() and time.monotonic() < deadline:
        time.sleep(0.3)
    assert leftovers() == []
