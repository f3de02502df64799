"""Prefect flow: fetch -> prepare -> train -> evaluate -> register.

Orchestration only: every task body is one call into loopwatch. Run it with
`python flows/train.py` (embedded Prefect, no server to start) or serve it as a
deployment.
"""

from __future__ import annotations

from loopwatch.config import Settings
from loopwatch.runtime import apply_embedded_env, quiet_library_logs

# Prefect reads PREFECT_HOME and its server settings when it is imported, so the
# embedded defaults must be in the environment first (setdefault: the user's win).
apply_embedded_env(Settings.load())

from prefect import flow, get_run_logger, task  # noqa: E402

from loopwatch import pipeline, summary  # noqa: E402


@task(name="fetch-data")
def fetch(settings: Settings, try_url: bool):
    return pipeline.fetch_data(settings, settings.params.data.dataset, try_url=try_url,
                               log=get_run_logger().info)


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
    data_version = fetch(settings, try_url)
    counts = prepare(settings)
    trained = train(settings)
    metrics = evaluate(settings)
    registration = register(settings)
    return summary.training_summary(settings, data_version, counts, trained, metrics,
                                    registration)


if __name__ == "__main__":
    result = train_pipeline()
    print(summary.format_training_summary(result))
