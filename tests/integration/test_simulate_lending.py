"""`loopwatch simulate lending`: the selective-labels loop on real Adult, its MLflow run and
its Evidently snapshots. The slow test runs the defaults (6 generations x 3,000 applicants,
3 arms, seed 0) once and checks the directions measured with them, each against the run's
own standard errors:

- the revealed labels over-state the applicants' >50K rate (~0.50-0.56 against a truth of
  ~0.23), and the share of such labels in the training set (rho) grows every generation, so
  the naive rate of the whole training set drifts away from the truth (0.31 -> 0.44);
- SNIPS from the logged propensities recovers the rate within a few standard errors
  wherever there was exploration; without exploration it equals the naive rate;
- the model's accuracy on its revealed labels under-states its true accuracy (the approved
  are the hard cases; the easy denials never get a label), and IPS on the same labels
  recovers the true accuracy.
"""

import pytest
from mlflow.tracking import MlflowClient
from typer.testing import CliRunner

from loopwatch.cli import app
from tests.conftest import REPO, copy_adult, make_settings

ARMS = ("naive", "ips", "no-exploration")
GENERATIONS = 6


def test_cli_lending_needs_the_prepared_data(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("LOOPWATCH_STATE_DIR", str(tmp_path / ".state"))
    result = CliRunner().invoke(app, ["simulate", "lending", "--no-track", "--no-evidently"])
    assert result.exit_code == 1
    assert "no prepared data" in result.output and "loopwatch prepare" in result.output


@pytest.fixture(scope="module")
def lending_run(adult_raw, tmp_path_factory):
    from loopwatch.simulation import experiments
    from loopwatch.simulation.lending_loop import LendingData
    from loopwatch.tasks.tabular import adult

    tmp = tmp_path_factory.mktemp("lending")
    splits = adult.prepare(adult_raw, 0.2, 42)
    data = LendingData(adult.spec(), splits["train"], splits["valid"], splits["test"])
    report = experiments.lending(tmp / "out", data, workspace=tmp / "evidently",
                                 dashboards=REPO / "dashboards")
    uri = f"sqlite:///{tmp / 'mlflow.db'}"
    run_id = experiments.log_report(report, uri, tmp / "artifacts")
    return report, tmp, uri, run_id


@pytest.mark.slow
def test_revealed_labels_overstate_the_rate_and_snips_recovers_it(lending_run):
    report = lending_run[0]
    naive, ips = report.series["naive"], report.series["ips"]
    # every generation: the naive rate is off by more than 10 of its standard errors
    assert ((naive["naive_rate"] - naive["true_rate"]) > 10 * naive["naive_rate_se"]).all()
    assert report.metrics["naive_min_naive_bias"] > 0.2
    # ... while the IPS arm's SNIPS estimate stays within 3 of its own
    assert ((ips["snips_rate"] - ips["true_rate"]).abs() < 3 * ips["snips_rate_se"]).all()
    assert report.metrics["ips_max_snips_z"] < 3
    # the training set's naive rate drifts away from the truth as rho grows, IPS does not
    assert naive["train_naive_rate"].is_monotonic_increasing
    assert naive["train_naive_rate"].iloc[-1] - naive["true_rate"].mean() > 0.15
    assert (ips["train_ips_rate"] - ips["true_rate"].mean()).abs().max() < 0.04


@pytest.mark.slow
def test_rho_grows_and_the_revealed_labels_misjudge_accuracy(lending_run):
    report = lending_run[0]
    for arm in ARMS:
        h = report.series[arm]
        assert h["rho"].is_monotonic_increasing and h["rho"].iloc[-1] > 0.6
        assert len(h) == GENERATIONS
    for arm in ("naive", "ips"):
        h = report.series[arm]
        assert ((h["true_accuracy"] - h["observed_accuracy"]) > 0.05).all()
        assert ((h["ips_accuracy"] - h["true_accuracy"]).abs() < 3 * h["ips_accuracy_se"]).all()


@pytest.mark.slow
def test_without_exploration_the_selection_is_invisible_to_propensities(lending_run):
    report = lending_run[0]
    m, blind = report.metrics, report.series["no-exploration"]
    assert (blind["min_propensity"] == 1.0).all() and (blind["naive_ips_gap"] == 0).all()
    assert (blind["snips_rate"] == blind["naive_rate"]).all()
    assert m["no-exploration_min_naive_bias"] > 0.3  # yet the labels are further off
    # the detector sees the growing gap where ε > 0 revealed the selection, and, where no
    # decision was ever explored, rho rising with every propensity at 1 (unobservable selection)
    assert m["naive_loop_suspected"] == 1.0 and m["ips_loop_suspected"] == 1.0
    assert m["no-exploration_loop_suspected"] == 1.0
    # measured: 0.231 -> 0.177; only approvals are ever corrected (towards denial)
    assert m["no-exploration_approval_rate"] < m["no-exploration_first_approval_rate"] - 0.03


@pytest.mark.slow
def test_mlflow_and_the_workspace_hold_every_generation(lending_run):
    from loopwatch.monitoring import loop_snapshots, workspace

    report, tmp, uri, run_id = lending_run
    client = MlflowClient(uri)
    history = client.get_metric_history(run_id, "naive.rho")
    assert [h.step for h in history] == list(range(GENERATIONS))
    assert history[-1].value == pytest.approx(report.metrics["naive_rho"])
    assert len(client.get_metric_history(run_id, "ips.snips_rate")) == GENERATIONS
    children = client.search_runs([client.get_run(run_id).info.experiment_id],
                                  f"tags.mlflow.parentRunId = '{run_id}'")
    assert len(children) == GENERATIONS * len(ARMS)
    last = next(c for c in children if c.info.run_name == "ips-generation-5")
    assert last.data.params["ips"] == "True" and last.data.params["model_version"] == "5"
    assert [a.path for a in client.list_artifacts(run_id, "figures")] == [
        "figures/lending_loop.png"]
    assert report.figures[0].stat().st_size > 20_000

    assert report.params["evidently_snapshots"] == GENERATIONS * len(ARMS)
    ws = workspace.open_workspace(tmp / "evidently")
    project = loop_snapshots.open_project(ws)
    stored = loop_snapshots.read_generations(ws, project)
    assert stored.groupby("variant").size().to_dict() == {arm: GENERATIONS for arm in ARMS}
    naive = stored[stored["variant"] == "naive"].set_index("generation")
    assert naive["rho"].tolist() == pytest.approx(report.series["naive"]["rho"].tolist())
    assert naive["snips_rate"].iloc[-1] == pytest.approx(report.metrics["naive_snips_rate"])
    assert set(naive["units"]) == {"Female,Male"}
    model = project.dashboard.model()
    assert "lending" in [t.title for t in model.tabs]
    approval = next(p for p in model.panels if p.title == "Approval rate per group")
    assert "no-exploration: Female" in {v.legend for v in approval.values}


@pytest.mark.slow
def test_cli_runs_lending_on_the_prepared_data(adult_raw, tmp_path, monkeypatch):
    import shutil

    from loopwatch.tasks.tabular import pipeline

    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("LOOPWATCH_STATE_DIR", str(tmp_path / ".state"))
    copy_adult(adult_raw, tmp_path)
    pipeline.prepare(make_settings(tmp_path))
    shutil.copytree(REPO / "dashboards", tmp_path / "dashboards")
    result = CliRunner().invoke(app, ["simulate", "lending", "--generations", "2", "--no-track"])
    assert result.exit_code == 0, result.output
    assert "naive_snips_rate" in result.output
    assert "6 Evidently snapshots in project 'feedback-loop'" in result.output
    assert (tmp_path / ".state" / "simulations" / "lending_loop.png").exists()
