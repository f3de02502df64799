"""The closed loop on real Adult rows (few, small models) under Prefect's test harness.

One module-scoped run of the main job's flow in two calls (a restart in between):
days 0-2 before the drift, days 3-5 with it. Each test reads what that run left in
the stores: the scenario state, MLflow runs and registry, the DVC versions.
"""

import pytest
from mlflow.tracking import MlflowClient

from tests.conftest import copy_adult

pytestmark = pytest.mark.slow  # ~2-3 min: Prefect harness, real training, Evidently each day

DRIFT_DAY = 3
PARAMS = f"""
tasks: {{tabular: {{max_epochs: 2, layers: [32], enable_progress_bar: false}}}}
monitoring: {{retrain_drift_share: 0.1, max_fairness_gap: 0.25, min_disparate_impact: null,
             n_boot: 100, consecutive_windows: 2}}
gate: {{n_boot: 100}}
scenario: {{applicants_per_day: 1000, drift_kind: population, drift_start_day: {DRIFT_DAY},
           gate_holdout_rows: 1500, label_delay_days: 1}}
"""


@pytest.fixture(scope="module")
def loop_run(prefect_harness, adult_raw, shared_cache, tmp_path_factory):
    from flows.closed_loop import closed_loop

    root = tmp_path_factory.mktemp("loop")
    (root / "params.yaml").write_text(PARAMS)
    copy_adult(adult_raw, root)
    env = {"LOOPWATCH_STATE_DIR": str(root / ".state"), "LOOPWATCH_CACHE_DIR": str(shared_cache)}
    with pytest.MonkeyPatch.context() as mp:
        for key, value in env.items():
            mp.setenv(key, value)
        first = closed_loop(days=DRIFT_DAY, root=str(root), try_url=False, progress=False)
        second = closed_loop(days=3, root=str(root), try_url=False, progress=False)
    from loopwatch.config import Settings

    settings = Settings.load(root, env=env)
    return settings, first, second


def test_drift_at_day_k_triggers_a_retrain_at_or_after_k_and_never_before(loop_run):
    _, first, second = loop_run
    before = [d for d in first["state"].days if d.day < DRIFT_DAY]
    assert [d.day for d in before] == [0, 1, 2]
    assert all(d.action == "none" and d.drift_share < 0.1 for d in before)
    days = second["state"].days
    retrains = [d.day for d in days if d.action == "retrain"]
    assert retrains and min(retrains) >= DRIFT_DAY, [(d.day, d.action) for d in days]
    drifted = [d for d in days if d.day >= DRIFT_DAY and d.model_version == "1"]
    assert drifted and all({"age", "hours_per_week"} <= set(d.drifted_columns) for d in drifted)


def test_each_generation_run_carries_its_dvc_data_hash(loop_run):
    settings, _, second = loop_run
    client = MlflowClient(settings.tracking_uri)
    generations = second["state"].generations
    assert len(generations) >= 2
    hashes = [g.data_version for g in generations]
    assert len(set(hashes)) == len(hashes)  # each retrain versioned new feedback rows
    for g in generations:
        run = client.get_run(g.run_id)
        assert run.data.tags["loopwatch.data_md5"] == g.data_version
        assert client.get_model_version("adult-income", g.model_version).run_id == g.run_id
        # the DVC remote holds that version: it can be restored
        assert (settings.dvc_remote_dir / "files" / "md5" / g.data_version[:2]
                / g.data_version[2:]).exists()
    retrained = generations[1]
    assert retrained.rows["model-selected"] > 0 and retrained.rows["exploration"] > 0
    run = client.get_run(retrained.run_id)
    assert run.data.tags["gate.decision"] in ("promoted", "rejected")
    assert "gate.challenger.accuracy" in run.data.metrics
    assert run.data.metrics["decision_dependent_label_share"] > 0


def test_state_survives_the_restart(loop_run):
    _, first, second = loop_run
    assert second["first_day"] == DRIFT_DAY
    days = second["state"].days
    assert [d.day for d in days] == list(range(6))
    assert first["state"].days[-1] == days[DRIFT_DAY - 1]  # nothing rewritten
    # labels revealed on day 2 waited on disk across the restart and arrived on day 3
    assert days[DRIFT_DAY].labels_arrived > 0


def test_gate_refuses_a_challenger_worse_on_fairness(loop_run):
    """A real model trained on labels that deny every woman: the gate keeps the champion."""
    from loopwatch.simulation.scenario.world import load_world
    from loopwatch.tasks.tabular.gate import gate_and_promote
    from loopwatch.tasks.tabular.pipeline import train_logged
    from loopwatch.training.gate import alias_history
    from loopwatch.training.registry import register_challenger
    from loopwatch.training.tracking import configure

    settings, _, second = loop_run
    settings = settings.model_copy(update={"params": settings.params.model_copy(update={
        "gate": settings.params.gate.model_copy(update={"accuracy_tolerance": 0.2})})})
    world = load_world(settings)
    unfair = world.organic_train.copy()
    unfair.loc[unfair["sex"] == "Female", "income"] = "<=50K"
    trained = train_logged(settings, world.spec, unfair, world.organic_valid,
                           run_name="unfair-challenger", stage="test")
    client = configure(settings)
    champion_before = client.get_model_version_by_alias("adult-income", "champion").version
    version = register_challenger(client, "adult-income", trained)
    outcome = gate_and_promote(settings, client, "adult-income", version,
                               world.gate_holdout(5), world.spec)
    assert not outcome.promote
    assert any(r.startswith("sex.") and "significant" in r for r in outcome.reasons), \
        outcome.reasons
    assert client.get_model_version_by_alias("adult-income", "champion").version == \
        champion_before
    assert client.get_run(trained.run_id).data.tags["gate.decision"] == "rejected"
    assert alias_history(client, "adult-income")[-1]["alias"] == "challenger"
