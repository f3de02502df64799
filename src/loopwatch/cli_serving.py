"""Serving commands (`loopwatch serve`, `score`, `feedback`), added to the main CLI.

A few lines each over ``loopwatch.serving``; heavy imports stay inside the commands. The
CLI layer may name tasks (the default one, the registry); the serving spine never does.
"""

from __future__ import annotations

from pathlib import Path

import typer

from loopwatch.cli_common import run_step

IMAGE_SUFFIXES = (".png", ".jpg", ".jpeg")


def write_frame(frame, path: Path) -> None:
    if path.suffix.lower() not in (".csv", ".parquet"):
        raise ValueError(f"--out {path}: write .csv or .parquet")
    (frame.to_csv if path.suffix.lower() == ".csv" else frame.to_parquet)(path, index=False)


def _serving_tasks(names: list[str] | None):
    """The tasks to serve: those named (all required), else every installed one, the tabular
    task first (it answers /health's model_version and is logged first)."""
    from loopwatch.tasks.registry import TaskRegistry

    registry = TaskRegistry()
    if names:
        return [run_step(registry.get, n) for n in names], list(names)
    order = sorted(registry.names(), key=lambda n: (n != "tabular", n))
    return [registry.get(n) for n in order], []


def add_commands(app: typer.Typer) -> None:
    """Register the serving commands on the main Typer app."""

    @app.command()
    def serve(
        task: list[str] = typer.Option(None, help="Serve only these tasks (repeat the option); "
                                       "each must have a champion. Default: every installed "
                                       "task that has one, the tabular task first."),
        host: str = typer.Option(None, help="Interface (default: serving.host, 127.0.0.1)."),
        port: int = typer.Option(None, help="Port (default: serving.port)."),
        seed: int = typer.Option(None, help="Seed of the exploration draws (default: random)."),
        insecure: bool = typer.Option(False, help="Serve beyond this machine without a token "
                                      "(LOOPWATCH_API_TOKEN): anyone who reaches it may post "
                                      "labels."),
        images: bool = typer.Option(None, "--images/--no-images", hidden=True),
        recommender: bool = typer.Option(None, "--recommender/--no-recommender", hidden=True),
    ) -> None:
        """Serve every task's champion over HTTP (POST /predict, POST /predict/image, GET
        /recommend/{user}, ...); every prediction goes to the prediction log."""
        from loopwatch.cli_common import console, load_settings
        from loopwatch.serving.server import serve as run_server

        if images is not None or recommender is not None:
            console.print("[bold red]error:[/] --images/--recommender are gone: every task "
                          "with a champion is served; choose with --task NAME (repeatable)")
            raise typer.Exit(2)
        tasks, required = _serving_tasks(task)
        run_step(run_server, load_settings(), tasks, required=required, host=host, port=port,
                 seed=seed, insecure=insecure, log=console.print)

    @app.command()
    def predict(
        file: Path = typer.Argument(..., help="A CSV or Parquet file of raw records (or a PNG "
                                    "/ JPEG for the images task)."),
        task: str = typer.Option(None, help="Whose champion predicts: default `images` for a "
                                 ".png/.jpg/.jpeg file, else `tabular`."),
        model: str = typer.Option(None, help="Registered model (default: the task's)."),
        top: int = typer.Option(5, help="Rows (or classes) to print."),
        out: Path = typer.Option(None, "--out", "-o", help="Write every prediction here "
                                 "(.csv or .parquet) instead of printing the first ones."),
    ) -> None:
        """Predict with models:/NAME@champion on raw inputs. Nothing is logged: `score` and
        `serve` log every decision."""
        from loopwatch.cli_common import console, load_settings
        from loopwatch.tasks.registry import TaskRegistry

        if task is None:
            task = "images" if file.suffix.lower() in IMAGE_SUFFIXES else "tabular"
        chosen = run_step(TaskRegistry().get, task)
        settings = load_settings()
        own = getattr(chosen, "predict_file", None)
        if own is not None:
            frame = run_step(own, settings, file, model)
        else:
            from loopwatch.serving.frames import predict_records

            name = model or run_step(chosen.params_model.from_settings, settings).model_name
            frame = run_step(predict_records, settings, name, file)
        if out is not None:
            run_step(write_frame, frame, out)
            console.print(f"{len(frame)} predictions -> {out}")
        else:
            typer.echo(frame.head(top).to_string(index=False))

    @app.command()
    def score(
        input: Path = typer.Argument(..., help="CSV or Parquet file of raw rows."),
        out: Path = typer.Option(..., "--out", "-o", help="Output file (.csv or .parquet)."),
        model: str = typer.Option(None, help="Registered model (default: "
                                  "tasks.tabular.model_name)."),
        epsilon: float = typer.Option(None, help="Exploration share (default: "
                                      "tasks.tabular.epsilon)."),
        seed: int = typer.Option(None, help="Seed of the exploration draws."),
        progress: bool = typer.Option(True, help="Show a progress bar."),
    ) -> None:
        """Batch-score a file with the champion, logging every row to the prediction log."""
        import numpy as np

        from loopwatch.cli_common import console, load_settings
        from loopwatch.serving.policy import DecisionPolicy
        from loopwatch.serving.server import open_store
        from loopwatch.tasks.tabular.batch import score_file
        from loopwatch.tasks.tabular.params import TabularParams
        from loopwatch.tasks.tabular.routes import champion_holder

        settings = load_settings()
        cfg = settings.params.serving
        champion = run_step(lambda: champion_holder(settings, model, poll=False).current())
        default = run_step(TabularParams.from_settings, settings).epsilon
        policy = DecisionPolicy(cfg.threshold, default if epsilon is None else epsilon)
        result = run_step(score_file, input, out, champion, open_store(settings), policy,
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
        items = run_step(read_feedback_file, file, origin)
        report = run_step(open_store(settings).add_feedback, items)
        console.print(report.summary())
        for pid in report.unknown[:20]:
            console.print(f"  unknown prediction id: {pid}")
        for conflict in report.conflicts[:20]:
            console.print(f"  rejected: {conflict['message']}")
        if not report.ok:
            raise typer.Exit(1)
