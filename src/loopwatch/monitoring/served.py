"""`loopwatch monitor --task NAME` for a task served by the generic routes: one window of
its logged predictions watched against the champion's training-time reference.

Glue only: the prediction log (what was served, with the labels that arrived), MLflow
(the champion's run and the reference it logged), ``watch`` for the numbers, and the
records people read afterwards: an Evidently snapshot in the workspace project of the
model, and an MLflow run (stage ``monitor``) with every number.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

import pandas as pd

from loopwatch.config import Settings
from loopwatch.monitoring.frame import REFERENCE_ARTIFACT, FrameSchema, MonitorFrame
from loopwatch.monitoring.watch import WatchResult, watch
from loopwatch.monitoring.window import parse_window, workspace_path


@dataclass
class ServedWindow:
    result: WatchResult
    model_name: str
    model_version: str
    rows: int
    run_id: str

    def lines(self) -> list[str]:
        """What `loopwatch monitor --task NAME` shows of the window."""
        m, drift = self.result.metrics, self.result.drift
        return [f"{self.rows} predictions of {self.model_name} v{self.model_version}, "
                f"{m['labelled_rows']:.0f} labelled",
                f"drift: {drift.n_drifted}/{len(drift.columns)} columns "
                f"(share {drift.share:.2f})",
                *(f"{key}: {m[key]:.4f}" for key in ("accuracy", "accuracy_ips",
                                                     "decision_dependent_label_share",
                                                     "min_propensity") if key in m),
                *(f"  - {note}" for note in self.result.notes),
                f"MLflow monitoring run: {self.run_id}"]


def champion_reference(settings: Settings, name: str
                       ) -> tuple[str, list[str], pd.DataFrame]:
    """(version, input columns, reference frame) of ``models:/NAME@champion``."""
    import mlflow
    from mlflow.exceptions import MlflowException
    from mlflow.tracking import MlflowClient

    from loopwatch.serving.champion import NoChampion

    client = MlflowClient(settings.tracking_uri)
    try:
        mv = client.get_model_version_by_alias(name, "champion")
    except MlflowException as exc:
        if exc.error_code not in ("RESOURCE_DOES_NOT_EXIST", "INVALID_PARAMETER_VALUE"):
            raise  # the registry is unreachable or broken: not a missing model
        raise NoChampion(f"no champion of {name!r} to monitor: train and register one "
                         "first") from exc
    try:
        local = mlflow.artifacts.download_artifacts(run_id=mv.run_id,
                                                    artifact_path=REFERENCE_ARTIFACT,
                                                    tracking_uri=settings.tracking_uri)
    except (MlflowException, OSError) as exc:
        raise FileNotFoundError(f"{name} v{mv.version} has no {REFERENCE_ARTIFACT}: its task "
                                "logs no reference rows (a `reference_rows` hook)") from exc
    # Through this client's store, not the process-wide tracking URI (see load_logged).
    location = client.get_model_version_download_uri(name, mv.version)
    model = mlflow.models.Model.load(mlflow.artifacts.download_artifacts(
        artifact_uri=f"{location}/MLmodel", tracking_uri=settings.tracking_uri))
    return str(mv.version), list(model.signature.inputs.input_names()), pd.read_parquet(local)


def watch_served(settings: Settings, name: str, sensitive: list[str],
                 window: str | None = None, end: datetime | None = None) -> ServedWindow:
    import mlflow

    from loopwatch.serving.log_store import LogStore
    from loopwatch.serving.reading import read_predictions

    params = settings.params.monitoring
    end = end or datetime.now(UTC)
    start = end - parse_window(window or params.window)
    version, inputs, reference = champion_reference(settings, name)
    with LogStore(settings.prediction_log_url) as store:
        logged = read_predictions(store, start, end, model_name=name, model_version=version)
    if logged.empty:
        raise ValueError(f"no predictions of {name!r} v{version} logged between "
                         f"{start:%Y-%m-%d %H:%M} and {end:%Y-%m-%d %H:%M} UTC: serve some "
                         "first")
    schema = FrameSchema.infer(reference, inputs, sensitive)
    result = watch(MonitorFrame.from_log(logged, schema), MonitorFrame(schema, reference),
                   params, timestamp=end, tags=("watch", name))
    _store_snapshot(settings, name, result.snapshot)
    run_id = _log_run(settings, name, version, result, start, end, mlflow)
    return ServedWindow(result, name, version, len(logged), run_id)


def _store_snapshot(settings: Settings, name: str, snapshot: Any) -> None:
    from loopwatch.monitoring.workspace import open_workspace, project_for

    workspace = open_workspace(workspace_path(settings))
    workspace.add_run(project_for(workspace, name).id, snapshot, include_data=False)


def _log_run(settings: Settings, name: str, version: str, result: WatchResult,
             start: datetime, end: datetime, mlflow) -> str:
    # The same tags as the tabular monitor's runs, so the policy's history (and anyone
    # filtering on them) reads either kind of monitoring run.
    from loopwatch.monitoring.tracking import (
        TAG_MODEL,
        TAG_STAGE,
        TAG_VERSION,
        TAG_WINDOW_END,
        TAG_WINDOW_START,
    )

    # The champion was trained in this experiment, so it exists with its artifact location.
    mlflow.set_tracking_uri(settings.tracking_uri)
    mlflow.set_experiment(settings.experiment)
    with mlflow.start_run(run_name=f"{name}-monitor-{end:%Y%m%dT%H%M%S}") as run:
        mlflow.set_tags({TAG_STAGE: "monitor", TAG_MODEL: name, TAG_VERSION: version,
                         TAG_WINDOW_START: start.isoformat(), TAG_WINDOW_END: end.isoformat()})
        mlflow.log_metrics(result.metrics)
        mlflow.log_dict({"notes": result.notes,
                         "columns": [c.__dict__ for c in result.drift.columns]},
                        "monitoring/window.json")
    return run.info.run_id
