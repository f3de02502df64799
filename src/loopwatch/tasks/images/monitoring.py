"""Image monitoring runs: the served window against the champion's training reference,
and a drift demo that sends clean and drifted traffic through the same logging path.

The reference is the ``monitoring/reference.parquet`` artifact of the champion's run
(validation embeddings + image statistics); current rows come from the prediction log
(``images.monitor_frame.frame_from_log``). The Evidently work is in
``monitoring/image_drift.py``.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

import pandas as pd

from loopwatch.config import Settings
from loopwatch.data.sources import Log
from loopwatch.monitoring.frame import REFERENCE_ARTIFACT
from loopwatch.tasks.images.params import ImageParams


@dataclass
class ImageMonitorOutcome:
    label: str
    rows: int
    result: object  # monitoring.image_drift.ImageDriftResult
    report: Path | None
    accuracy: float | None = None  # on rows whose true label is known (the demo's)


def load_champion(settings: Settings, model_name: str | None = None):
    from loopwatch.serving.server import holder_for
    from loopwatch.tasks.images.routes import load_image_version

    name = model_name or ImageParams.from_settings(settings).model_name
    return holder_for(settings, name, load_image_version, poll=False).current()


def champion_reference(settings: Settings, champion) -> pd.DataFrame:
    import mlflow

    local = mlflow.artifacts.download_artifacts(run_id=champion.info.run_id,
                                                artifact_path=REFERENCE_ARTIFACT,
                                                tracking_uri=settings.tracking_uri)
    return pd.read_parquet(local)


def report_dir(settings: Settings) -> Path:
    return settings.state_dir / "reports" / "images"


def check(settings: Settings, current: pd.DataFrame, reference: pd.DataFrame, label: str,
          *, method: str = "model", plot: bool = False) -> ImageMonitorOutcome:
    from loopwatch.monitoring.image_drift import image_drift_report

    result, snapshot = image_drift_report(
        current, reference, params=settings.params.monitoring, method=method, plot=plot,
        tags=("images", label))
    out = report_dir(settings)
    out.mkdir(parents=True, exist_ok=True)
    path = out / f"{label}-{datetime.now(UTC):%Y%m%dT%H%M%S}.html"
    snapshot.save_html(str(path))
    accuracy = None
    if "label" in current.columns and current["label"].notna().any():
        known = current[current["label"].notna()]
        accuracy = float((known["label"] == known["prediction"]).mean())
    return ImageMonitorOutcome(label, len(current), result, path, accuracy)


def monitor_window(settings: Settings, window: str = "1d", model_name: str | None = None,
                   *, method: str = "model", plot: bool = False) -> ImageMonitorOutcome:
    """Image drift of the last ``window`` of logged predictions against the reference."""
    from loopwatch.monitoring.window import parse_window
    from loopwatch.serving.server import open_store
    from loopwatch.tasks.images.monitor_frame import frame_from_log

    champion = load_champion(settings, model_name)
    start = datetime.now(UTC) - parse_window(window)
    # The champion's own version only: another version's embeddings live in another space.
    with open_store(settings) as store:
        logged = store.read(start, model_name=champion.info.name,
                            model_version=champion.info.version)
    if logged.empty:
        raise ValueError(f"no predictions of {champion.info.name!r} v{champion.info.version} "
                         f"in the last {window}")
    current = frame_from_log(logged)
    return check(settings, current, champion_reference(settings, champion),
                 f"{champion.info.name}-window", method=method, plot=plot)


def drift_demo(settings: Settings, n: int = 300, seed: int = 0, model_name: str | None = None,
               *, method: str = "model", splits=None,
               log: Log = print) -> list[ImageMonitorOutcome]:
    """Score ``n`` clean and ``n`` drifted test images (Fashion-MNIST unless ``splits`` are
    given) with the champion, log them like the service does (source ``demo``), read them
    back and check drift against the champion's reference."""
    from loopwatch.serving.rows import new_id
    from loopwatch.serving.server import open_store
    from loopwatch.tasks.images import data, traffic
    from loopwatch.tasks.images.decode import encode_png
    from loopwatch.tasks.images.monitor_frame import frame_from_log, log_inputs
    from loopwatch.tasks.images.routes import decode_uploads, image_rows

    champion = load_champion(settings, model_name)
    reference = champion_reference(settings, champion)
    splits = splits if splits is not None else data.load(settings.raw_dir / data.NAME)
    outcomes = []
    for label, drift in (("clean", None),
                         ("drifted", traffic.Drift.strong(len(splits.classes)))):
        pixels, truth = traffic.traffic(splits.test_x, splits.test_y, n, drift, seed)
        blobs = [encode_png(p) for p in pixels]
        decoded, sizes, formats = decode_uploads(champion.predictor, blobs, 40_000_000)
        pred = champion.predictor.predict_pixels(decoded)
        request_id = f"demo-{label}-{new_id()[:12]}"
        rows, _ = image_rows(champion, pred.proba,
                             log_inputs(blobs, decoded, pred.embeddings, sizes, formats),
                             "demo", request_id, {"kind": "image", "demo": label})
        with open_store(settings) as store:
            store.write_predictions(rows)
            logged = store.read(model_name=champion.info.name)
        current = frame_from_log(logged[logged["request_id"] == request_id])
        current["label"] = [splits.classes[i] for i in truth]
        outcome = check(settings, current, reference, f"demo-{label}", method=method)
        log(f"{label}: {n} images, accuracy {outcome.accuracy:.3f}\n{outcome.result.summary()}")
        outcomes.append(outcome)
    return outcomes

