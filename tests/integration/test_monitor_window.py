"""`loopwatch monitor` end to end on real Adult: DVC-versioned data, a registered champion,
drifted traffic scored into the prediction log, labels arriving late, then one window."""

import numpy as np
import pandas as pd
import pytest
from mlflow.tracking import MlflowClient

from loopwatch.monitoring.window import parse_window
from loopwatch.tasks.tabular import pipeline
from loopwatch.tasks.tabular import spec as tabular
from loopwatch.tasks.tabular.monitor import apply_dashboards, monitor_window
from loopwatch.tasks.tabular.params import prepared_dir
from tests.conftest import REPO, copy_adult, make_settings

pytestmark = pytest.mark.slow  # real data, a training run, Evidently reports


@pytest.fixture(scope="module")
def served(adult_raw, shared_cache, tmp_path_factory):
    from loopwatch.serving.feedback import FeedbackItem
    from loopwatch.serving.log_store import LogStore
    from loopwatch.serving.policy import DecisionPolicy
    from loopwatch.tasks.tabular.batch import score_file
    from loopwatch.tasks.tabular.champion import load_version

    root = tmp_path_factory.mktemp("proj")
    copy_adult(adult_raw, root)
    settings = make_settings(root, shared_cache, **{"tasks.tabular.max_epochs": 2,
                                                    "tasks.tabular.layers": [32]})
    pipeline.fetch_data(settings, try_url=False, log=lambda m: None)  # DVC-version data/
    pipeline.prepare(settings)
    pipeline.train(settings)
    pipeline.evaluate(settings)
    reg = pipeline.register(settings)

    _, splits = tabular.read_splits(prepared_dir(settings))
    traffic = splits["test"].sample(1500, random_state=0).reset_index(drop=True)
    traffic["age"] = traffic["age"] + 20  # covariate shift in one column
    truth = traffic.pop("income")
    source = root / "traffic.csv"
    traffic.to_csv(source, index=False)
    champion = load_version(settings.tracking_uri, reg.name, reg.version)
    store = LogStore(settings.prediction_log_url)
    score_file(source, root / "scored.csv", champion, store, DecisionPolicy(),
               rng=np.random.default_rng(0), progress=False)
    scored = pd.read_csv(root / "scored.csv")
    labelled = 600
    store.add_feedback([FeedbackItem(prediction_id=pid, label=label, origin="organic")
                        for pid, label in zip(scored["prediction_id"][:labelled],
                                              truth[:labelled], strict=True)])
    store.close()
    return settings, reg, labelled


def test_window_flags_the_shifted_column_and_records_everything(served):
    settings, reg, labelled = served
    out = monitor_window(settings, "1d")
    result = out.result
    assert out.rows == 1500 and result.n_labelled == labelled
    assert result.model_version == reg.version
    drifted = {c.column for c in result.drift.columns if c.drifted}
    assert "age" in drifted
    assert "education" not in drifted  # untouched columns stay quiet
    assert result.quality is not None and result.quality.accuracy > 0.7
    assert {f.attribute for f in result.fairness} == {"sex", "race"}
    assert out.decision.action in ("none", "retrain", "alert")
    assert out.report.exists() and out.report.read_text().count("age") >= 1
    run = MlflowClient(settings.tracking_uri).get_run(out.mlflow_run_id)
    assert run.data.tags.get("loopwatch.model_version") == reg.version
    assert "headline" in out.snapshots
    # the reference was rebuilt from the DVC version in the run's lineage and cached
    assert (settings.state_dir / "references" / f"{reg.name}-v{reg.version}.parquet").exists()


def test_a_large_window_is_streamed_in_chunks_with_the_same_verdicts(served):
    settings, _, _ = served
    in_memory = monitor_window(settings, "1d").result
    params = settings.params.monitoring.model_copy(update={"stream_above_rows": 500,
                                                           "chunk_rows": 400})
    small = replace_params(settings, params)
    streamed = monitor_window(small, "1d").result
    assert (in_memory.mode, streamed.mode) == ("memory", "stream")
    assert streamed.n_rows == 1500
    verdicts = {c.column: c.drifted for c in in_memory.drift.columns}
    assert {c.column: c.drifted for c in streamed.drift.columns} == verdicts


def replace_params(settings, monitoring):
    params = settings.params.model_copy(update={"monitoring": monitoring})
    return settings.model_copy(update={"params": params})


def test_dashboards_apply_to_the_project(served):
    import shutil

    settings, _, _ = served
    with pytest.raises(FileNotFoundError, match="no panel definitions"):
        apply_dashboards(settings)
    shutil.copytree(REPO / "dashboards", settings.root / "dashboards")
    assert apply_dashboards(settings) >= 5


def test_empty_window_is_a_clear_error(served):
    settings, _, _ = served
    from datetime import UTC, datetime

    with pytest.raises(ValueError, match="no predictions"):
        monitor_window(settings, "1m", end=datetime(2000, 1, 1, tzinfo=UTC))


def test_parse_window():
    assert parse_window("1d").total_seconds() == 86400
    assert parse_window("30m").total_seconds() == 1800
    with pytest.raises(ValueError, match="like 30m"):
        parse_window("yesterday")


def test_monitor_command_prints_the_verdict(served, monkeypatch):
    from typer.testing import CliRunner

    from loopwatch.cli import app

    settings, reg, _ = served
    monkeypatch.chdir(settings.root)
    monkeypatch.setenv("LOOPWATCH_STATE_DIR", str(settings.state_dir))
    result = CliRunner().invoke(app, ["monitor", "--window", "1d"])
    assert result.exit_code == 0, result.output
    assert f"1500 predictions of {reg.name} v{reg.version}, 600 labelled" in result.output
    assert "decision:" in result.output and "report:" in result.output
    bad = CliRunner().invoke(app, ["monitor", "--window", "fortnight"])
    assert bad.exit_code == 1 and "like 30m" in bad.output
