"""End-of-run summaries: the numbers a person needs to trust a run, and where to look next."""

from __future__ import annotations

from typing import Any

from loopwatch.config import Settings


def training_summary(settings: Settings, data_version: str | None, counts: dict[str, int], trained,
                     metrics: dict[str, float], registration) -> dict[str, Any]:
    return {
        "data_version": data_version,
        "rows": counts,
        "run_id": trained.run_id,
        "epochs": trained.epochs_run,
        "valid": {k.removeprefix("best_"): v for k, v in trained.best_metrics.items()},
        "test": metrics,
        "model": f"{registration.name} v{registration.version}",
        "promoted": registration.decision.promote,
        "reason": registration.decision.reason,
        "champion": f"{registration.name} v{registration.champion_version}",
        "tracking_uri": settings.tracking_uri,
        "state_dir": str(settings.state_dir),
    }


def format_training_summary(s: dict[str, Any]) -> str:
    test = s["test"]
    lines = [
        "",
        "== loopwatch: training pipeline summary ==",
        f"data        DVC version {s['data_version']}  rows {s['rows']}",
        f"run         {s['run_id']}  ({s['epochs']} epochs)",
        f"test        accuracy {test['test_accuracy']:.4f}  error {test['test_error_rate']:.4f}"
        f"  ROC AUC {test['test_roc_auc']:.4f}",
        f"registry    {s['model']}: {'PROMOTED' if s['promoted'] else 'not promoted'}"
        f" — {s['reason']}",
        f"serving     models:/{s['champion'].split(' v')[0]}@champion = {s['champion']}",
        "",
        "Look closer:",
        f"  MLflow UI:   .venv/bin/loopwatch mlflow-ui   (store {s['tracking_uri']})",
        f"  state folder: {s['state_dir']}",
    ]
    return "\n".join(lines)
