"""One monitoring run of the served tabular model: `loopwatch monitor --window 1d`.

Glue between the stores: the prediction log (what was served, with the labels
that arrived), MLflow (which version is champion, the DVC data version it was
trained on, its test accuracy, the history of earlier windows) and DVC (that
data version, materialised to rebuild the reference). It then runs the checks
of ``monitoring.stream``, asks the policy, and writes the Evidently snapshot, the HTML
report and the MLflow monitoring run.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

import pandas as pd
from mlflow.tracking import MlflowClient

from loopwatch.config import Settings
from loopwatch.data import versioning
from loopwatch.monitoring.policy import Decision, decide
from loopwatch.monitoring.report import write_html_report
from loopwatch.monitoring.results import MonitoringResult
from loopwatch.monitoring.stream import monitor_frames, monitor_stream
from loopwatch.monitoring.tracking import load_history, log_to_mlflow, summarize
from loopwatch.monitoring.window import (
    TAG_REFERENCE_WINDOW,
    parse_window,
    reference_path,
    store_snapshots,
)
from loopwatch.tasks.tabular import adult
from loopwatch.tasks.tabular.params import TabularParams
from loopwatch.tasks.tabular.spec import TabularSpec
from loopwatch.training.tracking import TAG_DATA


@dataclass
class WindowOutcome:
    result: MonitoringResult
    decision: Decision
    report: Path
    mlflow_run_id: str
    snapshots: dict[str, str]
    rows: int


def reference_frame(settings: Settings, client: MlflowClient, name: str, version: str,
                    champion) -> pd.DataFrame:
    """The data the version is meant to serve, scored by it; cached per version.

    A version tagged with ``TAG_REFERENCE_WINDOW`` (a retrained challenger) takes the
    logged traffic of that window. Otherwise its training split, found through lineage:
    the run's DVC data hash -> that ``data/`` from the DVC cache or remote -> the run's
    own split params -> the train split.
    """
    cache = reference_path(settings, name, version)
    if cache.exists():
        return pd.read_parquet(cache)
    run = client.get_run(client.get_model_version(name, version).run_id)
    if run.data.tags.get(TAG_REFERENCE_WINDOW):
        frame = _logged_reference(settings, name, run.data.tags[TAG_REFERENCE_WINDOW], champion)
    else:
        frame = _training_reference(settings, run, name, version, champion)
    cache.parent.mkdir(parents=True, exist_ok=True)
    frame.to_parquet(cache, index=False)
    return frame


def _logged_reference(settings: Settings, name: str, window: str, champion) -> pd.DataFrame:
    """The production traffic of ``start/end`` (ISO times), rescored by the new version.

    A retrained model's reference is the recent traffic it was retrained for, not its
    training rows: those are mostly the old population plus the labels its predecessor's
    decisions revealed (approvals, a selected sample), so against them the new normal
    would keep reading as drift.
    """
    from loopwatch.serving.log_store import LogStore
    from loopwatch.serving.reading import read_predictions

    start, _, end = window.partition("/")
    with LogStore(settings.prediction_log_url) as store:
        logged = read_predictions(store, start, end, model_name=name)
    if logged.empty:
        raise ValueError(f"no predictions of {name!r} logged in the reference window {window}")
    spec: TabularSpec = champion.spec
    columns = [c for c in (*spec.inputs, *spec.sensitive) if c in logged.columns]
    frame = logged[list(dict.fromkeys(columns))].copy()
    return _scored(frame, champion)


def _scored(frame: pd.DataFrame, champion) -> pd.DataFrame:
    proba = champion.predictor.predict_proba(frame)  # a DataFrame: the pandas path
    frame["score"] = proba[:, 1]
    frame["prediction"] = [champion.spec.classes[i] for i in proba.argmax(axis=1)]
    return frame


def _training_reference(settings: Settings, run, name: str, version: str,
                        champion) -> pd.DataFrame:
    md5 = run.data.tags.get(TAG_DATA)
    if not md5 or md5 == "untracked":
        raise ValueError(f"{name} v{version} (run {run.info.run_id}) has no DVC data tag "
                         f"{TAG_DATA!r}: train it through `loopwatch data fetch` + the pipeline")
    dataset = run.data.tags.get("loopwatch.dataset", "adult")
    if dataset != "adult":
        raise ValueError(f"no reference builder for dataset {dataset!r}")
    data_dir = versioning.restore_version(settings.root, md5, settings.state_dir / "versions" / md5,
                                          settings.dvc_remote_dir)
    params = run.data.params
    train = adult.prepare(data_dir / "raw" / dataset, float(params["tasks.tabular.valid_fraction"]),
                          int(params["tasks.tabular.split_seed"]))["train"]
    return _scored(train, champion)


def monitor_window(settings: Settings, window: str | None = None, end: datetime | None = None,
                   model_name: str | None = None) -> WindowOutcome:
    from loopwatch.serving.log_store import LogStore
    from loopwatch.serving.reading import (
        read_prediction_chunks,
        read_predictions,
        window_versions,
    )
    from loopwatch.tasks.tabular.champion import load_version
    from loopwatch.training.tracking import configure

    params = settings.params.monitoring
    name = model_name or TabularParams.from_settings(settings).model_name
    end = end or datetime.now(UTC)
    start = end - parse_window(window or params.window)
    client = configure(settings)
    with LogStore(settings.prediction_log_url) as store:
        versions = window_versions(store, start, end, model_name=name)
        rows = sum(versions.values())
        if not rows:
            raise ValueError(f"no predictions of {name!r} logged between {start:%Y-%m-%d %H:%M} "
                             f"and {end:%Y-%m-%d %H:%M} UTC: serve or `loopwatch score` some first")
        version = next(iter(versions))  # the window's main version: the one most served
        champion = load_version(settings.tracking_uri, name, version, alias=None)
        spec: TabularSpec = champion.spec
        reference = reference_frame(settings, client, name, version, champion)
        if rows > params.stream_above_rows:  # bounded memory: the log is read in chunks
            chunks = read_prediction_chunks(store, start, end, model_name=name,
                                            chunk_rows=params.chunk_rows)
            result = monitor_stream(chunks, reference_path(settings, name, version), spec,
                                    params, name, version, start, end)
        else:
            current = read_predictions(store, start, end, model_name=name)
            result = monitor_frames(current, reference, spec, params, name, version, start, end)
    baseline = client.get_run(client.get_model_version(name, version).run_id).data.metrics.get(
        "test_accuracy")
    history = load_history(client, name, experiment=settings.experiment)
    decision = decide(summarize(result, baseline), history, params)
    snapshots = store_snapshots(settings, name, result)
    report_dir = settings.state_dir / "reports" / f"{name}-{end:%Y%m%dT%H%M%S}"
    report = write_html_report(result, report_dir, decision)
    run_id = log_to_mlflow(result, client, name, version, experiment=settings.experiment,
                           decision=decision, baseline_accuracy=baseline, report_dir=report.parent)
    return WindowOutcome(result, decision, report, run_id, snapshots, rows)


def apply_dashboards(settings: Settings, model_name: str | None = None) -> int:
    """The dashboards of ``dashboards/*.py`` on the tabular model's Evidently project."""
    from loopwatch.monitoring.window import apply_dashboards as apply

    tab = TabularParams.from_settings(settings)
    spec = adult.spec(tab.sensitive_as_inputs)
    return apply(settings, model_name or tab.model_name, list(spec.inputs), list(spec.sensitive))
