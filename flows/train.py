"""Prefect flow: ingest -> prepare -> train -> evaluate -> register.

Orchestration only: every task body is one call into loopwatch. Run it with
`python flows/train.py` (embedded Prefect, no server to start) or serve it as a
deployment (`loopwatch deploy`).
"""

from __future__ import annotations

from prefect import flow, task

from flows.ingest import ingest
from flows.published import mlflow_run_link, publish
from loopwatch import summary
from loopwatch.config import Settings
from loopwatch.runtime import quiet_library_logs
from loopwatch.tasks.tabular import pipeline


@task(name="prepare")
def prepare(settings: Settings):
    return pipeline.prepare(settings)


@task(name="train")
def train(settings: Settings):
    return pipeline.train(settings)


@task(name="evaluate")
def evaluate(settings: Settings):
    return pipeline.evaluate(settings)


@task(name="register")
def register(settings: Settings):
    return pipeline.register(settings)


@flow(name="train-pipeline")
def train_pipeline(root: str | None = None, try_url: bool = True) -> dict:
    settings = Settings.load(root)
    quiet_library_logs()
    data_version = ingest(root, try_url)
    counts = prepare(settings)
    trained = train(settings)
    metrics = evaluate(settings)
    registration = register(settings)
    out = summary.training_summary(settings, data_version, counts, trained, metrics, registration)
    publish("training", f"Training: {out['model']}", [
        f"data: DVC version {out['data_version']}, rows {out['rows']}",
        f"test accuracy {out['test']['test_accuracy']:.4f} after {out['epochs']} epochs",
        f"{out['model']}: {'promoted to champion' if out['promoted'] else 'challenger'} "
        f"({out['reason']})"], {"MLflow run": mlflow_run_link(settings, out["run_id"])})
    return out


if __name__ == "__main__":
    print(summary.format_training_summary(train_pipeline()))
