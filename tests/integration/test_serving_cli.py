"""`loopwatch score` and `loopwatch feedback` end to end on the registered champion."""

from __future__ import annotations

import pandas as pd
import pytest
from typer.testing import CliRunner

from loopwatch.cli import app
from loopwatch.runtime import embedded_env
from loopwatch.serving.log_store import LogStore


@pytest.fixture
def cli_env(served_model, tmp_path, monkeypatch):
    """Point the CLI at the served project, with a log of its own; env restored afterwards."""
    settings = served_model[0]
    log_url = f"sqlite:///{tmp_path / 'cli-predictions.db'}"
    for key, value in embedded_env(settings).items():  # what _settings() would setdefault
        monkeypatch.setenv(key, value)
    monkeypatch.setenv("LOOPWATCH_ROOT", str(settings.root))
    monkeypatch.setenv("LOOPWATCH_STATE_DIR", str(settings.state_dir))
    monkeypatch.setenv("LOOPWATCH_PREDICTION_LOG_URL", log_url)
    return log_url


def test_score_then_feedback(served_model, cli_env, tmp_path):
    _, spec, test, _ = served_model
    src, out = tmp_path / "rows.parquet", tmp_path / "scored.csv"
    test.head(60).to_parquet(src)
    runner = CliRunner()
    result = runner.invoke(app, ["score", str(src), "--out", str(out), "--no-progress",
                                 "--epsilon", "0.2", "--seed", "3"])
    assert result.exit_code == 0, result.output
    scored = pd.read_csv(out)
    assert len(scored) == 60 and (scored["model_version"] == 1).all()
    store = LogStore(cli_env)
    assert store.ids() == set(scored["prediction_id"])
    assert scored["explored"].any() and set(scored["propensity"].round(6)) == {0.9, 0.1}

    labels = scored[["prediction_id"]].assign(label=test.head(60)["label"].to_numpy())
    labels.loc[len(labels)] = ["not-an-id", "yes"]
    labels.to_csv(tmp_path / "labels.csv", index=False)
    first = runner.invoke(app, ["feedback", str(tmp_path / "labels.csv"), "--origin", "organic"])
    assert first.exit_code == 1 and "unknown prediction id: not-an-id" in first.output
    assert "60 stored" in first.output
    labels.iloc[:60].to_csv(tmp_path / "labels.csv", index=False)
    again = runner.invoke(app, ["feedback", str(tmp_path / "labels.csv"), "--origin", "organic"])
    assert again.exit_code == 0 and "60 already known" in again.output
    joined = store.read()
    assert joined["label"].notna().all() and (joined["label_origin"] == "organic").all()


def test_missing_origin_and_unknown_model_are_one_line_errors(served_model, cli_env, tmp_path):
    runner = CliRunner()
    pd.DataFrame({"prediction_id": ["a"], "label": ["yes"]}).to_csv(tmp_path / "l.csv",
                                                                    index=False)
    result = runner.invoke(app, ["feedback", str(tmp_path / "l.csv")])
    assert result.exit_code == 1 and "--origin" in result.output
    result = runner.invoke(app, ["score", str(tmp_path / "l.csv"), "--out",
                                 str(tmp_path / "o.csv"), "--model", "no-such-model"])
    assert result.exit_code == 1 and "no-such-model" in result.output
