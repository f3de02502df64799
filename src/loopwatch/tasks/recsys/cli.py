"""`loopwatch recsys fetch|train|simulate|serve` and `loopwatch recommend USER`.

A few lines each over ``loopwatch.tasks.recsys``; heavy imports stay inside the commands.
"""

from __future__ import annotations

import typer

from loopwatch.tasks.recsys.params import RecsysParams


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

    @recsys.command("simulate")
    def simulate(
        generations: int = typer.Option(None, help="Retraining rounds (recsys.loop)."),
        track: bool = typer.Option(True, help="Log to MLflow and the Evidently workspace."),
    ) -> None:
        """The recommender feedback loop: retrained model vs random and ideal arms."""
        from loopwatch.tasks.recsys import experiment

        settings = load_settings()
        run, out = run_step(experiment.simulate_settings, settings, generations, track=track)
        typer.echo("\n".join(run.report.lines()))
        verdict = "FEEDBACK LOOP SUSPECTED" if run.alert.suspected else "no loop detected"
        typer.echo(f"alert (model vs random arm): {verdict}")
        for reason in run.alert.reasons:
            typer.echo(f"  - {reason}")
        typer.echo(f"plot: {run.report.figures[0]}")
        if track:
            typer.echo(f"MLflow run {out['run_id']}; {out['snapshots']} Evidently snapshots "
                       f"in project {RecsysParams.from_settings(settings).model_name}-loop")

    @recsys.command("serve")
    def serve(
        host: str = typer.Option("127.0.0.1", help="Interface."),
        port: int = typer.Option(8002, help="Port."),
    ) -> None:
        """Serve GET /recommend/{user}?k=10 from models:/NAME@champion."""
        import uvicorn

        from loopwatch.serving.recommend_app import champion_source, create_recommend_app
        from loopwatch.serving.server import open_store

        settings = load_settings()
        source = run_step(champion_source, settings)
        console.print(f"recommending with {source.name} v{source.version} on "
                      f"http://{host}:{port} (every shown item is logged to "
                      f"{settings.prediction_log_url}; ratings via POST /feedback)")
        app_ = create_recommend_app(source, open_store(settings), params=settings.params.serving)
        uvicorn.run(app_, host=host, port=port, log_level="warning")

    @recsys.command("monitor")
    def monitor(
        window: str = typer.Option("1d", help="How far back from now, e.g. 6h, 1d, 7d."),
    ) -> None:
        """Watch the served recommender's loop from the prediction log (Evidently + MLflow).

        Exposure, popularity of what was shown against the model's training data, and the
        naive vs IPS share of liked items, over the window's logged slates and ratings."""
        from loopwatch.tasks.recsys.live import monitor_live

        settings = load_settings()
        out = run_step(monitor_live, settings, window=window)
        typer.echo(f"{out.rows} shown items, {out.metrics['slates']:.0f} slates, "
                   f"{out.metrics['rated_share']:.0%} rated")
        for key, value in out.metrics.items():
            typer.echo(f"  {key:<22} {value:.4g}")
        typer.echo(f"MLflow run {out.run_id}; {out.snapshots} Evidently snapshots in project "
                   f"{RecsysParams.from_settings(settings).model_name}-live")

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
