"""`loopwatch recsys fetch|train|simulate|serve` and `loopwatch recommend USER`.

A few lines each over ``loopwatch.tasks.recsys``; heavy imports stay inside the commands.
"""

from __future__ import annotations

import typer


def add_commands(app: typer.Typer) -> None:
    """Register the recommender commands on the main Typer app."""
    from loopwatch.cli_common import console, load_settings, run_step

    recsys = typer.Typer(help="MovieLens-100k collaborative filtering and its feedback loop.",
                         no_args_is_help=True)
    app.add_typer(recsys, name="recsys")

    @recsys.command("fetch")
    def fetch(
        offline: bool = typer.Option(False, help="Skip GroupLens; use the recbole wheel copy."),
        no_version: bool = typer.Option(False, help="Fetch only; do not `dvc add` / push."),
    ) -> None:
        """Fetch MovieLens-100k into data/raw/ml-100k (checksummed) and version data/."""
        from loopwatch.tasks.recsys import pipeline

        run_step(pipeline.fetch, load_settings(), try_url=not offline,
                 version=not no_version, log=console.print)

    @recsys.command("train")
    def train(register: bool = typer.Option(True, help="Register the model in MLflow.")) -> None:
        """Train the collab model; test RMSE vs baselines; log to MLflow and register."""
        from loopwatch.tasks.recsys.task import train as train_recsys

        out = run_step(train_recsys, load_settings(), register=register)
        for key, value in out.metrics.items():
            typer.echo(f"{key:<34} {value:.4f}")
        typer.echo(f"MLflow run {out.run_id}")
        if out.version is not None:
            verdict = "promoted to champion" if out.promoted else "kept as challenger"
            typer.echo(f"registered v{out.version}: {verdict} — {out.reason}")

    @recsys.command("simulate", hidden=True)
    def simulate() -> None:
        """Moved: `loopwatch simulate recommender` (the simulations live apart from tasks)."""
        console.print("[bold red]error:[/] this command moved: run `loopwatch simulate "
                      "recommender [--generations N] [--no-track]`")
        raise typer.Exit(2)

    @recsys.command("serve")
    def serve(
        host: str = typer.Option("127.0.0.1", help="Interface."),
        port: int = typer.Option(8002, help="Port."),
    ) -> None:
        """Serve GET /recommend/{user}?k=10 from models:/NAME@champion."""
        from loopwatch.serving.server import serve as run_server
        from loopwatch.tasks.recsys.task import RecsysTask

        console.print("(the same as `loopwatch serve --task recsys`; every shown item is "
                      "logged, ratings come back through POST /feedback)")
        run_step(run_server, load_settings(), [RecsysTask()], required=["recsys"], host=host,
                 port=port, log=console.print)

    @recsys.command("monitor")
    def monitor(
        window: str = typer.Option("1d", help="How far back from now, e.g. 6h, 1d, 7d."),
    ) -> None:
        """Watch the served recommender's loop from the prediction log (Evidently + MLflow):
        the same as `loopwatch monitor --task recsys`."""
        from loopwatch.tasks.recsys.task import RecsysTask

        typer.echo("\n".join(run_step(RecsysTask().monitor_window, load_settings(), window)))

    @app.command()
    def recommend(
        user: int = typer.Argument(..., help="MovieLens user id."),
        k: int = typer.Option(None, "-k", help="How many items (default recsys.k)."),
    ) -> None:
        """Top-k unseen movies for USER from models:/movielens-collab@champion."""
        from loopwatch.tasks.recsys import pipeline

        top = run_step(pipeline.recommend, load_settings(), user, k)
        for row in top.itertuples():
            typer.echo(f"{row.rank:>3}. {row.item_id:>5}  {row.score:.2f}  {row.title}")
