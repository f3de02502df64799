"""What a flow run leaves in the Prefect UI: its key results as INFO log lines and as
artifacts (a markdown summary, and links to the MLflow run and the HTML report), so the
flow-run page alone tells what happened without opening another tool.
"""

from __future__ import annotations

import re
from pathlib import Path

from prefect import get_run_logger
from prefect.artifacts import create_link_artifact, create_markdown_artifact

from loopwatch.config import Settings

MLFLOW_UI = "http://127.0.0.1:5000"  # `loopwatch mlflow-ui`'s default, for the embedded store


def mlflow_run_link(settings: Settings, run_id: str) -> str:
    """The run's page in the MLflow UI: the tracking server's own, or `loopwatch mlflow-ui`."""
    from mlflow.tracking import MlflowClient

    experiment = MlflowClient(settings.tracking_uri).get_run(run_id).info.experiment_id
    base = (settings.tracking_uri.rstrip("/") if settings.tracking_uri.startswith("http")
            else MLFLOW_UI)
    return f"{base}/#/experiments/{experiment}/runs/{run_id}"


def report_link(path: str | Path) -> str:
    return Path(path).resolve().as_uri()


def publish(key: str, title: str, lines: list[str], links: dict[str, str]) -> None:
    """Log ``lines`` at INFO and store them with ``links`` as the run's artifacts."""
    logger = get_run_logger()
    for line in lines:
        logger.info(line)
    for text, url in links.items():
        logger.info("%s: %s", text, url)
    body = "\n".join(f"- {line}" for line in lines)
    refs = "\n".join(f"- [{text}]({url})" for text, url in links.items())
    create_markdown_artifact(key=key, markdown=f"# {title}\n\n{body}\n\n{refs}\n",
                             description=title)
    for text, url in links.items():
        create_link_artifact(key=f"{key}-{_slug(text)}", link=url, link_text=text,
                             description=text)


def _slug(text: str) -> str:
    """Prefect artifact keys: lowercase letters, digits and dashes only."""
    return re.sub(r"[^a-z0-9]+", "-", text.lower()).strip("-")
