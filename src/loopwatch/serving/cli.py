"""Serving commands (`loopwatch serve`, `score`, `feedback`), added to the main CLI.

A few lines each over ``loopwatch.serving``; heavy imports stay inside the commands.
"""

from __future__ import annotations

from pathlib import Path

import typer


def _call(step, *args, **kwargs):
    """``loopwatch.cli.run_step`` (user errors as one line) plus "no champion to serve"."""
    from loopwatch.cli_common import console, run_step
    from loopwatch.serving.predictor import NoChampion

    try:
        return run_step(step, *args, **kwargs)
    except NoChampion as exc:
        console.print(f"[bold red]error:[/] {exc}")
        raise typer.Exit(1) from None


def add_commands(app: typer.Typer) -> None:
    """Register the serving commands on the main Typer app."""

    @app.command()
    def serve(
        model: str = typer.Option(None, help="Registered model (default: registry.model_name)."),
        host: str = typer.Option(None, help="Interface (default: serving.host, 127.0.0.1)."),
        port: int = typer.Option(None, help="Port (default: serving.port)."),
        seed: int = typer.Option(None, help="Seed of the exploration draws (default: random)."),
        images: bool = typer.Option(None, "--images/--no-images", help="Also serve the image "
                                    "champion (default: when one is registered)."),
        recommender: bool = typer.Option(None, "--recommender/--no-recommender",
                                         help="Also serve the recommender champion (default: "
                                              "when one is registered)."),
    ) -> None:
        """Serve models:/NAME@champion over HTTP; every prediction goes to the prediction log.

        The image and recommender champions join it (POST /predict/image, GET
        /recommend/{user}) when registered; their predictions are logged too."""
        from loopwatch.cli_common import console, load_settings
        from loopwatch.serving.server import serve as run_server

        _call(run_server, load_settings(), model_name=model, host=host, port=port, seed=seed,
              images=images, recommender=recommender, log=console.print)

    @app.command()
    def score(
        input: Path = typer.Argument(..., help="CSV or Parquet file of raw rows."),
        out: Path = typer.Option(..., "--out", "-o", help="Output file (.csv or .parquet)."),
        model: str = typer.Option(None, help="Registered model (default: registry.model_name)."),
        epsilon: float = typer.Option(None, help="Exploration share (default: serving.epsilon)."),
        seed: int = typer.Option(None, help="Seed of the exploration draws."),
        progress: bool = typer.Option(True, help="Show a progress bar."),
    ) -> None:
        """Batch-score a file with the champion, logging every row to the prediction log."""
        import numpy as np

        from loopwatch.cli_common import console, load_settings
        from loopwatch.serving.batch import score_file
        from loopwatch.serving.policy import DecisionPolicy
        from loopwatch.serving.server import champion_holder, open_store

        settings = load_settings()
        cfg = settings.params.serving
        champion = _call(lambda: champion_holder(settings, model, poll=False).current())
        policy = DecisionPolicy(cfg.threshold, cfg.epsilon if epsilon is None else epsilon)
        result = _call(score_file, input, out, champion, open_store(settings), policy,
                      rng=np.random.default_rng(seed), progress=progress)
        console.print(f"scored {result.rows} rows with {result.model_name} v{result.model_version}"
                      f" -> {result.output} (logged as batch {result.request_id})")

    @app.command()
    def feedback(
        file: Path = typer.Argument(..., help="CSV/Parquet/JSONL: prediction_id, label "
                                    "[, origin, arrived_at]."),
        origin: str = typer.Option(None, help="Origin for rows without one: organic | "
                                   "model-selected | exploration."),
    ) -> None:
        """Attach delayed ground-truth labels to logged predictions."""
        from loopwatch.cli_common import console, load_settings
        from loopwatch.serving.feedback import read_feedback_file
        from loopwatch.serving.server import open_store

        settings = load_settings()
        items = _call(read_feedback_file, file, origin)
        report = _call(open_store(settings).add_feedback, items)
        console.print(report.summary())
        for pid in report.unknown[:20]:
            console.print(f"  unknown prediction id: {pid}")
        for conflict in report.conflicts[:20]:
            console.print(f"  rejected: {conflict['message']}")
        if not report.ok:
            raise typer.Exit(1)
