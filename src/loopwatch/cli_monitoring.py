"""Monitoring commands (`loopwatch monitor`, `dashboards`, `ui`), added to the main CLI.

A few lines each over ``loopwatch.monitoring`` and the tasks' monitors; heavy imports stay
inside the commands. `monitor` defaults to the tabular task (the built-in loop's model).
"""

from __future__ import annotations

import contextlib
import signal

import typer


def add_commands(app: typer.Typer) -> None:
    """Register the monitoring commands on the main Typer app."""
    from loopwatch.cli_common import load_settings, run_step

    @app.command()
    def monitor(
        window: str = typer.Option(None, help="How far back to read the log: 30m, 6h, 1d, 2w "
                                               "(default: the task's monitoring window)."),
        model: str = typer.Option(None, help="Registered model name (default: the task's)."),
        task: str = typer.Option("tabular", help="Which task's served model to watch; a task "
                                 "without a monitor of its own gets the generic one (drift, "
                                 "quality naive and IPS, group accuracy, loop signals)."),
    ) -> None:
        """Drift, quality and fairness of a window of served predictions; the retraining call."""
        from loopwatch.tasks.registry import TaskRegistry

        settings = load_settings()
        chosen = run_step(TaskRegistry().get, task)
        own = getattr(chosen, "monitor_window", None)
        lines = (run_step(own, settings, window, model) if own is not None
                 else _generic(settings, chosen, window, model))
        typer.echo("\n".join(lines))

    @app.command()
    def dashboards(model: str = typer.Option(None, help="Registered model name.")) -> None:
        """Apply the panels defined in dashboards/*.py to the model's Evidently project."""
        from loopwatch.tasks.tabular.monitor import apply_dashboards

        count = run_step(apply_dashboards, load_settings(), model)
        typer.echo(f"applied {count} panels; open them with `loopwatch ui`")


    @app.command()
    def ui(port: int = typer.Option(8001, help="Port on 127.0.0.1.")) -> None:
        """Start the Evidently UI on the monitoring workspace (Ctrl-C to stop)."""
        from loopwatch.monitoring.window import workspace_path
        from loopwatch.monitoring.workspace import start_ui

        path = workspace_path(load_settings())
        path.mkdir(parents=True, exist_ok=True)
        # SIGTERM (a service manager, `kill`) ends this process like Ctrl-C does, so the
        # block below stops the UI instead of leaving it running without a parent.
        signal.signal(signal.SIGTERM, _interrupt)
        with start_ui(path, port=port) as running:
            typer.echo(f"Evidently UI on http://127.0.0.1:{port} (workspace {path})")
            with contextlib.suppress(KeyboardInterrupt):
                running.process.wait()


def _interrupt(*_) -> None:
    raise KeyboardInterrupt


def _generic(settings, task, window: str | None, model: str | None) -> list[str]:
    from loopwatch.cli_common import run_step
    from loopwatch.monitoring.served import watch_served

    params = run_step(task.params_model.from_settings, settings)
    return run_step(watch_served, settings, model or params.model_name,
                    list(getattr(task, "sensitive", ())), window).lines()
