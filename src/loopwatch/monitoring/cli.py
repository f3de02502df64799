"""Monitoring commands (`loopwatch monitor`, `dashboards`, `ui`), added to the main CLI.

A few lines each over ``loopwatch.monitoring``; heavy imports stay inside the commands.
"""

from __future__ import annotations

import contextlib

import typer


def add_commands(app: typer.Typer) -> None:
    """Register the monitoring commands on the main Typer app."""
    from loopwatch.cli_common import console, load_settings, run_step  # noqa: F401  (used by the commands)

    @app.command()
    def monitor(
        window: str = typer.Option(None, help="How far back to read the log: 30m, 6h, 1d, 2w "
                                               "(default: params.yaml monitoring.window)."),
        model: str = typer.Option(None, help="Registered model name (default: params.yaml)."),
    ) -> None:
        """Drift, quality and fairness of a window of served predictions; the retraining call."""
        from loopwatch.monitoring.window import monitor_window

        out = run_step(monitor_window, load_settings(), window, model_name=model)
        r, d = out.result, out.decision
        typer.echo(f"{out.rows} predictions of {r.model_name} v{r.model_version}, "
                   f"{r.n_labelled} labelled")
        typer.echo(f"drift: {r.drift.n_drifted}/{len(r.drift.columns)} columns "
                   f"(share {r.drift.share:.2f}); dataset drift: {r.drift.dataset_drift}")
        if r.quality is not None:
            typer.echo(f"accuracy on labelled rows: {r.quality.accuracy:.4f}")
        typer.echo(f"decision: {d.action.upper()}")
        for reason in d.reasons:
            typer.echo(f"  - {reason}")
        typer.echo(f"report: {out.report}\nMLflow monitoring run: {out.mlflow_run_id}")


    @app.command()
    def dashboards(model: str = typer.Option(None, help="Registered model name.")) -> None:
        """Apply the panels defined in dashboards/*.py to the model's Evidently project."""
        from loopwatch.monitoring.window import apply_dashboards

        count = run_step(apply_dashboards, load_settings(), model)
        typer.echo(f"applied {count} panels; open them with `loopwatch ui`")


    @app.command()
    def ui(port: int = typer.Option(8001, help="Port on 127.0.0.1.")) -> None:
        """Start the Evidently UI on the monitoring workspace (Ctrl-C to stop)."""
        from loopwatch.monitoring.window import workspace_path
        from loopwatch.monitoring.workspace import start_ui

        path = workspace_path(load_settings())
        path.mkdir(parents=True, exist_ok=True)
        with start_ui(path, port=port) as running:
            typer.echo(f"Evidently UI on http://127.0.0.1:{port} (workspace {path})")
            with contextlib.suppress(KeyboardInterrupt):
                running.process.wait()
