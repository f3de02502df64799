"""`loopwatch simulate`: experiments write plots and land in MLflow as runs."""

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
