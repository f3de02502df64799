"""Feedback-loop metrics as Evidently snapshots: one per generation, readable back from
disk, and the feedback-loop dashboard applied as code."""

from __future__ import annotations

import importlib.util
from dataclasses import replace

import pandas as pd
import pytest

from loopwatch.monitoring import loop_snapshots, workspace
from loopwatch.simulation.policing import stable_point
from loopwatch.simulation.policing_log import LoggedLoopConfig, simulate_logged_loop
from tests.conftest import REPO


def _dashboard():
    spec = importlib.util.spec_from_file_location("fl_dash", REPO / "dashboards" /
                                                  "feedback_loop.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_generation_values_from_a_hand_made_log():
    rows = pd.DataFrame({
        "unit": [0, 0, 0, 1, 1, 0],
        "label": [1.0, 0.0, 1.0, 1.0, 0.0, 1.0],
        "propensity": [0.8, 0.8, 0.5, 0.2, 0.2, 1.0],
        "origin": ["model-selected", "model-selected", "exploration", "exploration",
                   "model-selected", "organic"],
    })
    v = loop_snapshots.generation_values(rows, [0, 1], truth=[0.6, 0.4])
    assert v["exposure_share.A"] == pytest.approx(3 / 5)  # organic rows are no decisions
    assert v["naive_share.A"] == pytest.approx(3 / 4)
    ips_a, ips_b = 1 / 0.8 + 1 / 0.5 + 1.0, 1 / 0.2
    assert v["ips_share.A"] == pytest.approx(ips_a / (ips_a + ips_b))
    assert v["ess.A"] == pytest.approx((2.5 + 2) ** 2 / (2 * 1.5625 + 4))
    assert v["ess.B"] == pytest.approx(2.0)
    assert v["origin_share.organic"] == pytest.approx(1 / 6)
    assert v["rho"] == pytest.approx(5 / 6)
    assert v["min_propensity"] == pytest.approx(0.2)
    assert v["truth_share.B"] == 0.4


@pytest.fixture(scope="module")
def recorded(tmp_path_factory):
    """policing-loop's two variants, 4 generations each, stored with the dashboard."""
    base = LoggedLoopConfig(generations=4, decisions=500, seed=3)
    loops = {"naive": simulate_logged_loop(base),
             "ips": simulate_logged_loop(replace(base, ips=True))}
    path = tmp_path_factory.mktemp("ws") / "evidently"
    truth = stable_point(base.rates)
    ids = loop_snapshots.record_loops(path, "policing-loop",
                                      {k: v.rows for k, v in loops.items()}, [0, 1], truth,
                                      REPO / "dashboards")
    return path, loops, ids, truth


def test_one_snapshot_per_generation_with_its_values_readable_back(recorded):
    path, loops, ids, truth = recorded
    ws = workspace.open_workspace(path)  # reopened from disk
    project = loop_snapshots.open_project(ws)
    assert [p.name for p in ws.list_projects()] == [loop_snapshots.PROJECT]
    assert {k: len(v) for k, v in ids.items()} == {"naive": 4, "ips": 4}
    stored = loop_snapshots.read_generations(ws, project)
    assert len(stored) == len(ws.list_runs(project.id)) == 8
    for variant, loop in loops.items():
        mine = stored[stored["variant"] == variant]
        assert mine["generation"].tolist() == [0, 1, 2, 3]
        assert mine["timestamp"].is_monotonic_increasing  # the UI's x axis = generations
        for gen, row in mine.set_index("generation").iterrows():
            expected = loop_snapshots.generation_values(
                loop.rows[loop.rows["generation"] == gen], [0, 1], truth)
            assert row[list(expected)].astype(float).to_dict() == pytest.approx(expected)
    # What the detector sees, now on the dashboard: naive retraining widens the gap.
    gaps = stored.pivot(index="generation", columns="variant", values="naive_ips_gap")
    assert gaps["naive"].iloc[-1] > gaps["ips"].iloc[-1]


def test_feedback_loop_panels_are_applied(recorded):
    path, *_ = recorded
    ws = workspace.open_workspace(path)
    model = loop_snapshots.open_project(ws).dashboard.model()
    assert [t.title for t in model.tabs] == ["policing-loop"]
    titles = {p.title for p in model.panels}
    assert set(_dashboard().TITLES.values()) <= titles
    assert sum(len(t.panels) for t in model.tabs) == len(model.panels)  # each listed once
    exposure = next(p for p in model.panels if p.title == _dashboard().TITLES["exposure"])
    legends = {v.legend for v in exposure.values}
    assert legends == {"naive: exposure A", "naive: exposure B", "ips: exposure A",
                       "ips: exposure B"}
    assert all(v.tags == ["feedback-loop", "policing-loop", v.legend.split(":")[0]]
               for v in exposure.values)


def test_rerun_replaces_its_world_and_keeps_the_others(recorded, tmp_path):
    import shutil

    path, loops, _, truth = recorded
    copy = tmp_path / "evidently"
    shutil.copytree(path, copy)
    rows = {"naive": loops["naive"].rows[loops["naive"].rows["generation"] < 2]}
    loop_snapshots.record_loops(copy, "policing-loop", rows, [0, 1], truth, REPO / "dashboards")
    loop_snapshots.record_loops(copy, "other-world", rows, [0, 1], None, REPO / "dashboards")
    ws = workspace.open_workspace(copy)
    project = loop_snapshots.open_project(ws)
    stored = loop_snapshots.read_generations(ws, project)
    assert stored.groupby(["world", "variant"]).size().to_dict() == {
        ("other-world", "naive"): 2, ("policing-loop", "naive"): 2}
    assert [t.title for t in project.dashboard.model().tabs] == ["other-world", "policing-loop"]


def test_model_dashboards_do_not_pick_up_the_loop_panels():
    """`loopwatch dashboards` loads every dashboards/*.py with panels(): not this one."""
    titles = {p.title for _, p in workspace.load_panels(REPO / "dashboards", ["x1"], [])}
    assert titles and not titles & set(_dashboard().TITLES.values())
