"""Monitoring runs in MLflow: one run per window, linked to the model version it watched.

The run holds the window's headline numbers (``results.headline``) as one metrics batch, the
decision as tags, and the HTML report as artifacts; the registered model version gets a tag
pointing back at its latest monitoring run. ``load_history`` reads those runs back as the
policy's history, so MLflow is the only store the policy needs.
"""

from __future__ import annotations

import logging
import time
from datetime import UTC, datetime
from pathlib import Path

from mlflow.entities import Metric
from mlflow.exceptions import MlflowException
from mlflow.tracking import MlflowClient

from loopwatch.monitoring.policy import Decision, WindowSummary
from loopwatch.monitoring.results import MonitoringResult, headline, headline_key

log = logging.getLogger(__name__)

TAG_STAGE = "loopwatch.stage"  # same key as training/tracking.py: one filter finds any stage
TAG_MODEL = "loopwatch.model_name"
TAG_VERSION = "loopwatch.model_version"
TAG_WINDOW_START = "loopwatch.window_start"
TAG_WINDOW_END = "loopwatch.window_end"
TAG_DECISION = "loopwatch.decision"
TAG_REASONS = "loopwatch.decision_reasons"
TAG_MODE = "loopwatch.monitor_mode"
TAG_LAST_RUN = "loopwatch.last_monitoring_run"  # on the registered model version
BASELINE = "baseline_accuracy"
GAP_PREFIX = "fairness."
CI_SUFFIXES = (".ci_low", ".ci_high")


def summarize(result: MonitoringResult, baseline_accuracy: float | None = None,
              action: str = "none") -> WindowSummary:
    """The policy's view of one window; ``baseline_accuracy``: the version's test accuracy."""
    gaps = {f"{headline_key(f.attribute)}:{g.name}": (g.value, g.ci_low, g.ci_high)
            for f in result.fairness for g in f.gaps.values()}
    return WindowSummary(
        end=result.window_end or datetime.now(UTC), model_version=str(result.model_version),
        drift_share=result.drift.share, n_labelled=result.n_labelled,
        accuracy=None if result.quality is None else result.quality.accuracy,
        baseline_accuracy=baseline_accuracy, gaps=gaps, action=action)


def log_to_mlflow(
    result: MonitoringResult,
    client: MlflowClient,
    model_name: str,
    model_version: str,
    experiment: str = "loopwatch",
    decision: Decision | None = None,
    baseline_accuracy: float | None = None,
    report_dir: Path | None = None,
) -> str:
    """Log the window as a monitoring run tagged with the model version; returns the run id."""
    found = client.get_experiment_by_name(experiment)
    experiment_id = found.experiment_id if found else client.create_experiment(experiment)
    end = result.window_end or datetime.now(UTC)
    tags = {
        TAG_STAGE: "monitor", TAG_MODEL: model_name, TAG_VERSION: str(model_version),
        TAG_MODE: result.mode, TAG_WINDOW_END: end.isoformat(),
        "mlflow.runName": f"monitor-{model_name}-v{model_version}-{end:%Y%m%dT%H%M}",
    }
    if result.window_start is not None:
        tags[TAG_WINDOW_START] = result.window_start.isoformat()
    if decision is not None:
        tags[TAG_DECISION] = decision.action
        tags[TAG_REASONS] = "\n".join(decision.reasons)[:5000]  # MLflow's tag value limit
    run = client.create_run(experiment_id, start_time=int(time.time() * 1000), tags=tags)
    run_id = run.info.run_id
    try:
        values = headline(result)
        if baseline_accuracy is not None:
            values[BASELINE] = float(baseline_accuracy)
        stamp = int(end.timestamp() * 1000)
        metrics = [Metric(k, v, stamp, 0) for k, v in values.items()]
        for i in range(0, len(metrics), 1000):  # MLflow's per-batch limit
            client.log_batch(run_id, metrics=metrics[i:i + 1000], synchronous=True)
        if report_dir is not None:
            client.log_artifacts(run_id, str(report_dir), "monitoring_report")
    except Exception:
        client.set_terminated(run_id, "FAILED")
        raise
    client.set_terminated(run_id)
    _link_version(client, model_name, str(model_version), run_id)
    return run_id


def _link_version(client: MlflowClient, name: str, version: str, run_id: str) -> None:
    try:
        client.set_model_version_tag(name, version, TAG_LAST_RUN, run_id)
    except MlflowException as exc:  # an unregistered model (tests, ad-hoc runs): run tags suffice
        log.warning("model version %s/%s not tagged with its monitoring run: %s", name,
                    version, exc.message)


def load_history(client: MlflowClient, model_name: str, experiment: str = "loopwatch",
                 max_windows: int = 100) -> list[WindowSummary]:
    """Earlier monitoring windows of ``model_name`` (any version), oldest first."""
    found = client.get_experiment_by_name(experiment)
    if found is None:
        return []
    runs = client.search_runs(
        [found.experiment_id],
        filter_string=f"tags.`{TAG_STAGE}` = 'monitor' and tags.`{TAG_MODEL}` = '{model_name}'",
        order_by=["attributes.start_time DESC"], max_results=max_windows)
    out = []
    for run in runs:
        m, tags = run.data.metrics, run.data.tags
        gaps = {}
        for key, value in m.items():
            if key.startswith(GAP_PREFIX) and not key.endswith(CI_SUFFIXES):
                attribute, _, gap = key[len(GAP_PREFIX):].rpartition(".")
                gaps[f"{attribute}:{gap}"] = (value, m.get(key + ".ci_low"),
                                              m.get(key + ".ci_high"))
        out.append(WindowSummary(
            end=datetime.fromisoformat(tags[TAG_WINDOW_END]),
            model_version=tags.get(TAG_VERSION, ""), drift_share=m.get("drift_share", 0.0),
            n_labelled=int(m.get("labelled_rows", 0)), accuracy=m.get("accuracy"),
            baseline_accuracy=m.get(BASELINE), gaps=gaps,
            action=tags.get(TAG_DECISION, "none")))
    return sorted(out, key=lambda w: w.end)
