"""A production retrain (no scenario calendar): the newest data/ with its decision-revealed
rows trains a challenger that only the gate can promote; lineage and provenance recorded."""

from __future__ import annotations

from datetime import UTC, datetime

import numpy as np
from mlflow.tracking import MlflowClient

from loopwatch.data.splits import split_frame
from loopwatch.feedback import append_feedback_rows
from loopwatch.tasks.tabular.params import TabularParams, prepared_dir
from loopwatch.tasks.tabular.pipeline import evaluate, register, train
from loopwatch.tasks.tabular.retrain import retrain_recent
from loopwatch.tasks.tabular.spec import write_splits
from tests.conftest import make_settings, tiny_table
from tests.integration.conftest import TINY_TRAIN


def test_a_wall_clock_retrain_trains_registers_and_gates_a_challenger(tmp_path):
    settings = make_settings(tmp_path, **TINY_TRAIN, **{"gate.n_boot": 0})
    spec, frame = tiny_table(900, seed=3)
    rest, test = split_frame(frame, 0.3, seed=1)
    organic, valid = split_frame(rest, 0.25, seed=2)
    write_splits({"train": organic, "valid": valid, "test": test}, spec,
                 prepared_dir(settings))
    train(settings)
    evaluate(settings)
    register(settings)
    # 120 rows a model decision revealed (with their propensity), as the feedback intake
    # keeps them under data/feedback/.
    revealed = tiny_table(120, seed=9)[1].assign(
        prediction_id=[f"p{i}" for i in range(120)], origin="model-selected",
        model_version="1", propensity=np.where(np.arange(120) % 4 == 0, 0.1, 1.0))
    append_feedback_rows(settings.data_dir, revealed, 0, TabularParams().dataset)

    end = datetime(2026, 3, 1, 12, tzinfo=UTC)
    out = retrain_recent(settings, "drift share 0.3 in 2 windows", window="6h", end=end)

    client = MlflowClient(settings.tracking_uri)
    run = client.get_run(out.run_id)
    assert run.info.run_name == "retrain-20260301T1200"  # wall clock, not a scenario day
    assert run.data.tags["loopwatch.reference_window"] == (
        "2026-03-01T06:00:00+00:00/2026-03-01T12:00:00+00:00")
    assert run.data.tags["loopwatch.stage"] == "retrain"
    assert run.data.tags["loopwatch.data_md5"] == out.data_version != "untracked"
    # Provenance of the training rows: the revealed rows are counted and are rho.
    n_fb_train = 120 - round(120 * TabularParams().valid_fraction)
    assert out.rows == {"organic": len(organic), "model-selected": n_fb_train}
    assert run.data.metrics["decision_dependent_label_share"] == \
        n_fb_train / (len(organic) + n_fb_train)
    assert out.challenger_version == "2"
    assert str(client.get_model_version_by_alias("adult-income", "challenger").version) == "2"
    champion = str(client.get_model_version_by_alias("adult-income", "champion").version)
    assert champion == out.champion_after == ("2" if out.promoted else "1")
    assert client.get_model_version("adult-income", "2").tags["gate.decision"] in (
        "promoted", "rejected") and out.reasons
