"""`loopwatch recsys fetch|train|simulate|serve` and `loopwatch recommend USER`.

A few lines each over ``loopwatch.recsys``; heavy imports stay inside the commands.
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
        from loopwatch.recsys import pipeline

        run_step(pipeline.fetch, load_settings(), try_url=not offline,
                 version=not no_version, log=console.print)

    @recsys.command("train")
    def train(register: bool = typer.Option(True, help="Register the model in MLflow.")) -> None:
        """Train the collab model; test RMSE vs baselines; log to MLflow and register."""
        from loopwatch.recsys import pipeline

        out = run_step(pipeline.train, load_settings(), register=register)
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
        from loopwatch.recsys import data, experiment, pipeline

        settings = load_settings()
        p = settings.params.recsys
        if generations is not None:
            p = p.model_copy(update={"loop": p.loop.model_copy(
                update={"generations": generations})})
        ml = run_step(data.load, pipeline.raw_dir(settings))
        run = run_step(experiment.simulate, ml, p, settings.state_dir / "simulations")
        typer.echo("\n".join(run.report.lines()))
        verdict = "FEEDBACK LOOP SUSPECTED" if run.alert.suspected else "no loop detected"
        typer.echo(f"alert (model vs random arm): {verdict}")
        for reason in run.alert.reasons:
            typer.echo(f"  - {reason}")
        typer.echo(f"plot: {run.report.figures[0]}")
        if track:
            out = experiment.record(run, settings)
            typer.echo(f"MLflow run {out['run_id']}; {out['snapshots']} Evidently snapshots "
                       f"in project {p.model_name}-loop")

    @recsys.command("serve")
    def serve(
        host: str = typer.Option("127.0.0.1", help="Interface."),
        port: int = typer.Option(8002, help="Port."),
    ) -> None:
        """Serve GET /recommend/{user}?k=10 from models:/NAME@champion."""
        import uvicorn

        from loopwatch.serving.recommend_app import champion_source, create_recommend_app

        settings = load_settings()
        source = run_step(champion_source, settings)
        console.print(f"recommending with {source.name} on http://{host}:{port}")
        uvicorn.run(create_recommend_app(source, epsilon=settings.params.recsys.epsilon),
                    host=host, port=port, log_level="warning")

    @app.command()
    def recommend(
        user: int = typer.Argument(..., help="MovieLens user id."),
        k: int = typer.Option(None, "-k", help="How many items (default recsys.k)."),
    ) -> None:
        """Top-k unseen movies for USER from models:/movielens-collab@champion."""
        from loopwatch.recsys import pipeline

        top = run_step(pipeline.recommend, load_settings(), user, k)
        for row in top.itertuples():
            typer.echo(f"{row.rank:>3}. {row.item_id:>5}  {row.score:.2f}  {row.title}")
