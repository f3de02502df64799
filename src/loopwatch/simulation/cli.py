"""`loopwatch simulate`: the feedback-loop worlds, added to the main CLI."""

from __future__ import annotations

from collections.abc import Callable

import typer

from loopwatch.cli_common import console, load_settings, run_step


def add_commands(app: typer.Typer) -> None:
    """Register the simulation command on the main Typer app."""

    @app.command()
    def simulate(
        world: str = typer.Argument(
            ..., help="policing | attention | policing-loop | policing-learned | lending "
                      "(the selective-labels lending loop on the prepared Adult data) | "
                      "recommender (the MovieLens loop: retrained model vs random and ideal)"),
        days: int = typer.Option(10_000, help="policing: days per run"),
        runs: int = typer.Option(1000, help="independent runs (policing) / seeds (attention: 20)"),
        poisson: bool = typer.Option(False, help="policing: Poisson incident counts"),
        rates: str = typer.Option("0.3,0.2", help="policing: each district's incident rate "
                                  "(a discovery probability; a mean with --poisson)"),
        prior: str = typer.Option(None, help="policing: each district's prior patrol "
                                  "weight (default 1 each)"),
        fix: str = typer.Option("min-ratio", help="policing: the fix run beside no fix: "
                                "min-ratio (inverse propensity) | one-minus-p (the paper's "
                                "rule, right for 2 districts only) | none"),
        generations: int = typer.Option(None, help="lending (default 6), recommender "
                                        "(default tasks.recsys.loop.generations): "
                                        "retraining generations"),
        track: bool = typer.Option(True, help="log params, metrics and plots to MLflow"),
        evidently: bool = typer.Option(
            True, help="policing-loop/-learned, lending: a snapshot per generation in the "
                       "Evidently workspace's 'feedback-loop' project (see `loopwatch ui`)"),
    ) -> None:
        """Run a feedback-loop simulator; save its plot as PNG and log it to MLflow."""
        from loopwatch.simulation import experiments

        settings = load_settings()
        out_dir = settings.state_dir / "simulations"
        loop_args = {}
        if evidently:  # the monitoring workspace, so `loopwatch ui` shows both projects
            from loopwatch.monitoring.window import workspace_path

            panels = settings.root / "dashboards"  # absent outside a clone: snapshots only
            loop_args = {"workspace": workspace_path(settings),
                         "dashboards": panels if (panels / "feedback_loop.py").exists() else None}
        worlds: dict[str, Callable[[], experiments.ExperimentReport | None]] = {
            "policing": lambda: _policing(out_dir, rates, prior, days, runs, poisson, fix),
            "attention": lambda: experiments.attention(out_dir, runs=min(runs, 20)),
            # a retrained, logging model and the loop detector
            "policing-loop": lambda: experiments.policing_loop(out_dir, **loop_args),
            # the same loop with a Lightning model
            "policing-learned": lambda: experiments.policing_learned(out_dir, **loop_args),
            # selective labels: outcomes only where a loan was granted
            "lending": lambda: _lending(settings, out_dir, generations, loop_args),
            "recommender": lambda: _recommender(settings, generations, track),
        }
        if world not in worlds:
            *names, last = worlds
            console.print(f"[bold red]error:[/] unknown world {world!r}; "
                          f"choose {', '.join(names)} or {last}")
            raise typer.Exit(2)
        report = worlds[world]()
        if report is None:  # the recommender printed and recorded its own
            return
        typer.echo("\n".join(report.lines()))
        for figure in report.figures:
            typer.echo(f"plot: {figure}")
        if track:
            run_id = experiments.log_report(report, settings.tracking_uri, settings.artifact_dir)
            typer.echo(f"MLflow run {run_id} in experiment {experiments.EXPERIMENT!r}")
        if "evidently_snapshots" in report.params:
            typer.echo(f"{report.params['evidently_snapshots']} Evidently snapshots in project "
                       f"'feedback-loop' of {loop_args['workspace']}")


def _numbers(text: str, option: str) -> tuple[float, ...]:
    """'0.5,0.35' -> (0.5, 0.35); anything else is one clear line naming the option."""
    try:
        return tuple(float(x) for x in text.split(","))
    except ValueError:
        raise typer.BadParameter(f"{option} takes numbers separated by commas, e.g. "
                                 f"0.5,0.35; got {text!r}") from None


def _policing(out_dir, rates: str, prior: str | None, days: int, runs: int, poisson: bool,
              fix: str):
    from loopwatch.simulation import experiments

    rate_list = _numbers(rates, "--rates")
    priors = _numbers(prior, "--prior") if prior else (1.0,) * len(rate_list)
    return run_step(experiments.policing, out_dir, rates=rate_list, prior=priors, days=days,
                    runs=runs, poisson=poisson, fix=fix)


def _lending(settings, out_dir, generations: int | None, loop_args: dict):
    from loopwatch.simulation import experiments
    from loopwatch.simulation.scenario.world import load_world

    world = run_step(load_world, settings)  # the prepared Adult splits; none: one clear line
    return experiments.lending(out_dir, world, generations=generations or 6, **loop_args)


def _recommender(settings, generations: int | None, track: bool) -> None:
    """The recommender loop on the fetched MovieLens (``tasks.recsys.loop`` settings)."""
    from loopwatch.simulation.recommender import experiment
    from loopwatch.tasks.recsys.params import RecsysParams

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
