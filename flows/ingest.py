"""Prefect flow: fetch the dataset (checksummed), version data/ with DVC, push to the remote."""

from __future__ import annotations

from prefect import flow, get_run_logger, task

from loopwatch.config import Settings
from loopwatch.tasks.tabular import pipeline
from loopwatch.tasks.tabular.params import TabularParams


@task(name="fetch-and-version")
def fetch(settings: Settings, try_url: bool):
    dataset = TabularParams.from_settings(settings).dataset
    return pipeline.fetch_data(settings, dataset, try_url=try_url, log=get_run_logger().info)


@flow(name="ingest")
def ingest(root: str | None = None, try_url: bool = True) -> str | None:
    version = fetch(Settings.load(root), try_url)
    return None if version is None else version.md5


if __name__ == "__main__":
    print(f"data/ is DVC version {ingest()}")
