"""The closed loop's memory: state file, labels in transit, the world's pools, --fresh."""

from datetime import date

import pandas as pd
import pytest

from loopwatch.simulation.scenario import state as st
from loopwatch.simulation.scenario.params import ScenarioParams
from loopwatch.simulation.scenario.reset import fresh_start
from loopwatch.simulation.scenario.world import day_end, decision_time, load_world
from loopwatch.tasks.tabular.params import prepared_dir
from tests.conftest import make_settings


def day(n, action="none"):
    return st.DayRecord(day=n, date=date(2026, 1, 5 + n), model_version="1", applicants=10,
                        approved=3, explored=1, labels_arrived=0, drift_on=False,
                        drift_share=0.0, accuracy=0.8, action=action)


def test_state_round_trips_and_a_rerun_day_replaces_its_record(tmp_path):
    path = st.state_path(tmp_path)
    state = st.ScenarioState()
    state.record_day(day(0))
    state.record_day(day(1, "retrain"))
    state.record_day(day(1, "alert"))  # the same day again, after a crash
    state.generations.append(st.GenerationRecord(generation=0, model_version="1", run_id="r",
                                                 data_version="abc.dir", day=None,
                                                 trigger="initial", promoted=True))
    state.save(path)
    loaded = st.ScenarioState.load(path)
    assert loaded.next_day == 2
    assert [(d.day, d.action) for d in loaded.days] == [(0, "none"), (1, "alert")]
    assert loaded.champion_generation.model_version == "1"
    assert not list(tmp_path.glob(".*tmp*"))  # the temporary file was renamed away


def test_a_corrupt_state_file_names_the_fix(tmp_path):
    path = st.state_path(tmp_path)
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text("{not json")
    with pytest.raises(ValueError, match="--fresh"):
        st.ScenarioState.load(path)


def test_pending_labels_arrive_on_their_day_and_not_before(tmp_path):
    rows = pd.DataFrame({"prediction_id": ["a", "b", "c"], "label_day": [3, 3, 5],
                         "income": [">50K", "<=50K", ">50K"]})
    st.save_pending(tmp_path, rows, decision_day=2)
    assert st.due_pending(tmp_path, 2)[0].empty
    due, files = st.due_pending(tmp_path, 4)
    assert sorted(due["prediction_id"]) == ["a", "b"] and len(files) == 1
    for f in files:
        f.unlink()
    due, _ = st.due_pending(tmp_path, 10)
    assert list(due["prediction_id"]) == ["c"]


def test_world_pools_are_disjoint_and_days_reproducible(tmp_path, tiny):
    from loopwatch.tasks.tabular.spec import write_splits

    spec, frame = tiny
    settings = make_settings(tmp_path, **{"scenario.applicants_per_day": 50})
    frame = frame.assign(row=range(len(frame)))
    splits = {"train": frame[:400], "valid": frame[400:500], "test": frame[500:]}
    write_splits(splits, spec, prepared_dir(settings))
    world = load_world(settings)
    pool, gate = set(world.applicant_pool["row"]), set(world.gate_pool["row"])
    assert not pool & gate and len(pool | gate) == 300
    assert abs(len(gate) - 0.3 * 300) <= 1
    assert world.applicants(4)["row"].tolist() == world.applicants(4)["row"].tolist()
    assert set(world.applicants(4)["row"]) <= pool
    assert set(world.gate_holdout(4)["row"]) <= gate
    p = ScenarioParams.from_settings(settings)
    assert day_end(p, 0) > decision_time(p, 0) > day_end(p, -1)


def test_fresh_start_keeps_downloads_and_removes_the_loop_state(tmp_path):
    settings = make_settings(tmp_path)
    for name in ("downloads/x.whl", "mlflow.db", "scenario/state.json", "prefect/p.db",
                 "evidently/ws/a"):
        path = settings.state_dir / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text("x")
    feedback = settings.data_dir / "feedback" / "adult" / "day=001.parquet"
    feedback.parent.mkdir(parents=True)
    feedback.write_text("x")
    raw = settings.raw_dir / "adult" / "adult.data"
    raw.parent.mkdir(parents=True)
    raw.write_text("x")
    fresh_start(settings)
    assert (settings.state_dir / "downloads" / "x.whl").exists()
    assert (settings.state_dir / "prefect" / "p.db").exists()
    assert not (settings.state_dir / "mlflow.db").exists()
    assert not (settings.state_dir / "scenario").exists()
    assert not feedback.exists() and raw.exists()
