"""Prefect flow: ingest -> prepare -> train -> evaluate -> register.

Orchestration only: every task body is one call into loopwatch. Run it with
`python flows/train.py` (embedded Prefect, no server to start) or serve it as a
deployment (`loopwatch deploy`).
"""

from __future__ import annotations

from loopwatch.config import Settings
from loopwatch.runtime import apply_embedded_env, quiet_library_logs

# Prefect reads PREFECT_HOME and its server settings when it is imported, so the
# embedded defaults must be in the environment first (setdefault: the user's win).
apply_embedded_env(Settings.load())

from prefect import flow, task  # noqa: E402

from flows.ingest import ingest  # noqa: E402
from loopwatch import summary  # noqa: E402
from loopwatch.tasks.tabular import pipeline  # noqa: E402


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
    return summary.training_summary(settings, data_version, counts, trained, metrics, registration)


if __name__ == "__main__":
    print(summary.format_training_summary(train_pipeline()))
