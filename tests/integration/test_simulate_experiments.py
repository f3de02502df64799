"""`loopwatch simulate`: experiments write plots and land in MLflow as runs."""

import pytest
from mlflow.tracking import MlflowClient
from typer.testing import CliRunner

from loopwatch.cli import app
from loopwatch.simulation import experiments


def test_policing_report_is_logged_with_its_plot(tmp_path):
    report = experiments.policing(tmp_path / "out", days=2000, runs=200)
    m = report.metrics
    # the loop runs away without the fix and the fix holds the truth
    assert m["share_A_no_fix_mean"] > m["truth_share_A"] + 0.1
    assert abs(m["share_A_fix_mean"] - m["truth_share_A"]) < 0.03
    assert abs(m["ips_estimate_A"] - m["truth_share_A"]) < abs(m["naive_estimate_A"]
                                                               - m["truth_share_A"])
    uri = f"sqlite:///{tmp_path / 'mlflow.db'}"
    run_id = experiments.log_report(report, uri, tmp_path / "artifacts")
    client = MlflowClient(uri)
    run = client.get_run(run_id)
    assert run.data.metrics["share_A_fix_mean"] == m["share_A_fix_mean"]
    assert run.data.params["days"] == "2000"
    assert [a.path for a in client.list_artifacts(run_id, "figures")] == [
        "figures/policing_share.png"]


def test_cli_policing_takes_rates_prior_fix_and_poisson_for_any_number_of_districts(
        tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("LOOPWATCH_STATE_DIR", str(tmp_path / ".state"))
    args = ["simulate", "policing", "--rates", "0.5,0.35,0.15", "--prior", "3,2,1", "--fix",
            "min-ratio", "--poisson", "--days", "1500", "--runs", "100", "--no-track"]
    result = CliRunner().invoke(app, args)
    assert result.exit_code == 0, result.output
    metrics = dict(line.split() for line in result.output.splitlines()
                   if line.split() and line.split()[0].startswith(("truth_", "share_")))
    assert float(metrics["truth_share_C"]) == pytest.approx(0.15)
    assert abs(float(metrics["share_C_fix_mean"]) - 0.15) < 0.03  # min-ratio holds the truth
    none = CliRunner().invoke(app, args[:7] + ["none"] + args[8:])
    assert none.exit_code == 0 and "share_A_fix_mean" not in none.output
    for bad, says in ((["--prior", "1,1,1"], "one entry per district"),
                      (["--rates", "0.5;0.3"], "--rates takes numbers"),
                      (["--fix", "half"], "unknown fix 'half'")):
        out = CliRunner().invoke(app, ["simulate", "policing", "--days", "10", "--runs", "2",
                                       "--no-track", *bad])
        assert out.exit_code != 0 and says in out.output and "Traceback" not in out.output


def test_cli_runs_attention_without_tracking(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("LOOPWATCH_STATE_DIR", str(tmp_path / ".state"))
    result = CliRunner().invoke(app, ["simulate", "attention", "--runs", "3", "--no-track"])
    assert result.exit_code == 0, result.output
    assert "delta[uniform][d=0.05]" in result.output
    assert (tmp_path / ".state" / "simulations" / "attention_delta.png").stat().st_size > 1000


def test_cli_rejects_unknown_world(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("LOOPWATCH_STATE_DIR", str(tmp_path / ".state"))
    result = CliRunner().invoke(app, ["simulate", "weather"])
    assert result.exit_code == 2
    assert "unknown world 'weather'" in result.output


def test_policing_loop_report_logs_each_generation_and_the_detector_verdicts(tmp_path):
    report = experiments.policing_loop(tmp_path / "out", generations=10, seed=1)
    m = report.metrics
    assert m["naive_loop_suspected"] == 1.0 and m["ips_loop_suspected"] == 0.0
    assert m["naive_final_model_share_A"] > m["truth_share_A"] + 0.1
    assert abs(m["ips_final_model_share_A"] - m["truth_share_A"]) < 0.05
    uri = f"sqlite:///{tmp_path / 'mlflow.db'}"
    run_id = experiments.log_report(report, uri, tmp_path / "artifacts")
    history = MlflowClient(uri).get_metric_history(run_id, "naive.naive_ips_gap")
    assert [h.step for h in history] == list(range(10))
    assert history[-1].value > history[0].value  # the gap the detector watches grew


def test_policing_learned_report_tracks_each_generation_and_fills_the_workspace(tmp_path):
    from loopwatch.monitoring import loop_snapshots, workspace
    from tests.conftest import REPO

    ws_path = tmp_path / "evidently"
    report = experiments.policing_learned(tmp_path / "out", generations=6, seed=0,
                                          workspace=ws_path, dashboards=REPO / "dashboards")
    m = report.metrics
    assert m["naive_loop_suspected"] == 1.0 and m["ips_loop_suspected"] == 0.0
    # runaway: beyond 5 of the run's own standard errors; IPS: within 3 of them
    assert m["naive_final_model_share_A"] - m["truth_share_A"] > 5 * m["naive_final_share_se"]
    assert abs(m["ips_final_model_share_A"] - m["truth_share_A"]) < 3 * m["ips_final_share_se"]
    assert m["naive_final_patrol_share_A"] > m["naive_first_patrol_share_A"] + 0.05
    assert report.figures[0].name == "policing_learned.png"
    assert report.figures[0].stat().st_size > 10_000
    assert report.params["evidently_snapshots"] == 12  # 6 generations x 2 variants

    uri = f"sqlite:///{tmp_path / 'mlflow.db'}"
    run_id = experiments.log_report(report, uri, tmp_path / "artifacts")
    client = MlflowClient(uri)
    history = client.get_metric_history(run_id, "naive.patrol_share_A")
    assert [h.step for h in history] == list(range(6))
    assert history[-1].value > history[0].value
    assert len(client.get_metric_history(run_id, "ips.min_ess")) == 6
    parent = client.get_run(run_id)
    children = client.search_runs([parent.info.experiment_id],
                                  f"tags.mlflow.parentRunId = '{run_id}'")
    assert len(children) == 12
    last_naive = next(c for c in children if c.info.run_name == "naive-generation-5")
    assert last_naive.data.params["trained_on"] == "4-5"
    assert last_naive.data.params["train_rows"] == str(2 * 2 * 2000)
    assert last_naive.data.metrics["share_origin.exploration"] == pytest.approx(0.1, abs=0.02)
    assert last_naive.data.metrics["model_share_A"] == pytest.approx(
        m["naive_final_model_share_A"])

    ws = workspace.open_workspace(ws_path)
    stored = loop_snapshots.read_generations(ws, loop_snapshots.open_project(ws))
    assert stored.groupby("variant").size().to_dict() == {"ips": 6, "naive": 6}
    naive = stored[stored["variant"] == "naive"]
    assert naive["exposure_share.A"].iloc[-1] == pytest.approx(m["naive_final_patrol_share_A"])


@pytest.mark.slow
def test_cli_runs_policing_learned_with_defaults(tmp_path, monkeypatch):
    import shutil

    from tests.conftest import REPO

    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("LOOPWATCH_STATE_DIR", str(tmp_path / ".state"))
    shutil.copytree(REPO / "dashboards", tmp_path / "dashboards")
    result = CliRunner().invoke(app, ["simulate", "policing-learned"])
    assert result.exit_code == 0, result.output
    assert "naive_loop_suspected" in result.output
    assert "16 Evidently snapshots in project 'feedback-loop'" in result.output
    assert (tmp_path / ".state" / "simulations" / "policing_learned.png").exists()
