"""What a person sees in the MLflow and Prefect UIs, rendered by headless Chromium.

The pages must show the numbers a run produced, labelled as loopwatch logs them: the MLflow
run page (per-epoch metrics, the best epoch, lineage tags), the registry page (versions and
the champion alias), and the Prefect flow-run page of a flow that publishes its results
(its INFO lines and the MLflow link, not "This run didn't generate logs") with its artifact.
"""

from __future__ import annotations

import os
import subprocess
import sys
import textwrap

import pytest
from mlflow.tracking import MlflowClient

from tests.browser import needs_chromium, rendered, screenshot, text_of, wait_for
from tests.conftest import REPO
from tests.integration.conftest import free_port

pytestmark = [pytest.mark.slow, needs_chromium]


def _serve(args: list[str], env: dict[str, str], health: str) -> subprocess.Popen:
    process = subprocess.Popen(args, env={**os.environ, **env}, stdout=subprocess.PIPE,
                               stderr=subprocess.STDOUT, text=True, start_new_session=True)
    try:
        wait_for(health, process)
    except AssertionError:
        process.kill()
        raise
    return process


def _stop(process: subprocess.Popen) -> None:
    os.killpg(process.pid, 15)
    process.wait(timeout=30)


def test_mlflow_run_and_registry_pages_show_what_the_run_logged(served_model, tmp_path):
    settings, _, _, out = served_model  # a tiny model trained and registered as champion
    port = free_port()
    ui = _serve([sys.executable, "-m", "loopwatch.cli", "mlflow-ui", "--port", str(port)],
                {"LOOPWATCH_STATE_DIR": str(settings.state_dir),
                 "LOOPWATCH_ROOT": str(settings.root)}, f"http://127.0.0.1:{port}/")
    try:
        base = f"http://127.0.0.1:{port}/#"
        experiment = MlflowClient(settings.tracking_uri).get_run(out.run_id).info.experiment_id
        run_page = f"{base}/experiments/{experiment}/runs/{out.run_id}"
        words = text_of(rendered(run_page, tmp_path))
        for label in ("train_loss", "valid_roc_auc", "best_epoch", "test_accuracy",
                      "loopwatch.data_md5", "loopwatch.git_commit"):
            assert label in words, f"{label!r} missing from the MLflow run page"
        screenshot(run_page, tmp_path, "mlflow-run")
        model_page = f"{base}/models/adult-income"
        words = text_of(rendered(model_page, tmp_path / "model"))
        assert "Version 1" in words and "@ champion" in words  # the alias serving loads
        assert "promotion.reason : no champion yet; test_accuracy=" in words
        screenshot(model_page, tmp_path, "mlflow-registry")
    finally:
        _stop(ui)


FLOW = textwrap.dedent("""
    from prefect import flow
    from flows.published import publish

    @flow(name="operator-view-check", flow_run_name="monitor-day-3")
    def check() -> str:
        from prefect.runtime import flow_run
        publish("monitoring-window", "Monitoring: model v2", [
            "drift share 0.29 (drifted: age, hours_per_week)", "decision: retrain"],
            {"MLflow monitoring run": "http://127.0.0.1:5000/#/experiments/1/runs/abc"})
        return flow_run.id

    print(check())
""")


def test_prefect_flow_run_page_tells_what_happened(tmp_path):
    port = free_port()
    api = f"http://127.0.0.1:{port}/api"
    env = {"PREFECT_HOME": str(tmp_path / "server"), "PREFECT_UI_API_URL": api,
           "PREFECT_SERVER_ANALYTICS_ENABLED": "false"}
    server = _serve([sys.executable, "-m", "prefect", "server", "start", "--host",
                     "127.0.0.1", "--port", str(port)], env, f"{api}/health")
    try:
        run = subprocess.run([sys.executable, "-c", FLOW], capture_output=True, text=True,
                             timeout=180, check=True, cwd=REPO,
                             env={**os.environ, "PREFECT_API_URL": api, "PYTHONPATH": str(REPO),
                                  "PREFECT_HOME": str(tmp_path / "client"),
                                  "PREFECT_LOGGING_LEVEL": "INFO"})
        flow_run = run.stdout.strip().splitlines()[-1]
        page = f"http://127.0.0.1:{port}/runs/flow-run/{flow_run}"
        words = text_of(rendered(page, tmp_path))
        assert "monitor-day-3" in words and "Completed" in words
        assert "drift share 0.29 (drifted: age, hours_per_week)" in words
        assert "http://127.0.0.1:5000/#/experiments/1/runs/abc" in words
        assert "didn't generate logs" not in words
        screenshot(page, tmp_path, "prefect-flow-run", size=(1400, 1000))
        artifact = text_of(rendered(f"http://127.0.0.1:{port}/artifacts/key/monitoring-window",
                                    tmp_path / "artifact"))
        assert "Monitoring: model v2" in artifact and "monitor-day-3" in artifact
    finally:
        _stop(server)
